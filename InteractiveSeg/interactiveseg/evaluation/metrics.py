"""Boundary distance between a mask and the reference, in millimetres (Dice: interactiveseg.overlap).

HD95 follows the common convention (MedPy, the Medical Segmentation Decathlon): the
larger of the two directed 95th percentiles of surface-to-surface distances, with
distances measured on the physical grid so anisotropic voxels count at their size.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage


def hd95(mask: np.ndarray, reference: np.ndarray, spacing_ijk) -> float | None:
    """95% Hausdorff distance in mm; None when exactly one of the two masks is empty."""
    mask, reference = np.asarray(mask, bool), np.asarray(reference, bool)
    if not mask.any() and not reference.any():
        return 0.0
    if not mask.any() or not reference.any():
        return None
    window = _common_window(mask, reference)
    mask, reference = mask[window], reference[window]
    sampling = tuple(reversed(tuple(float(s) for s in spacing_ijk)))  # (k, j, i) like the arrays
    to_reference = _surface_distances(mask, reference, sampling)
    to_mask = _surface_distances(reference, mask, sampling)
    return float(max(np.percentile(to_reference, 95), np.percentile(to_mask, 95)))


def _surface(mask: np.ndarray) -> np.ndarray:
    # Full 3x3x3 connectivity: every voxel touching the outside belongs to the surface.
    return mask & ~ndimage.binary_erosion(mask, structure=np.ones((3, 3, 3), bool), border_value=0)


def _surface_distances(source: np.ndarray, target: np.ndarray, sampling) -> np.ndarray:
    """Distance from each surface voxel of `source` to the nearest surface voxel of `target`."""
    to_target = ndimage.distance_transform_edt(~_surface(target), sampling=sampling)
    return to_target[_surface(source)]


def _common_window(a: np.ndarray, b: np.ndarray, pad: int = 1) -> tuple:
    """The bounding box of both masks plus a voxel, so distance maps stay small on large volumes."""
    both = a | b
    window = []
    for axis in range(3):
        other = tuple(x for x in range(3) if x != axis)
        hit = np.nonzero(both.any(axis=other))[0]
        window.append(slice(max(0, hit[0] - pad), hit[-1] + 1 + pad))
    return tuple(window)
