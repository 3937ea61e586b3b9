"""A second simulated user, after the protocol of the CVPR 2025 interactive 3D segmentation challenge.

The challenge (JunMa11/CVPR-MedSegFMCompetition, CVPR25_iter_eval.py) starts from a box and
then makes five corrections. Each correction goes to the largest 3D error component (the
26-connected components of prediction XOR reference), at the voxel deepest inside it (the
maximum of its Euclidean distance transform; ties broken by a fixed seed): a foreground
correction where the reference has the object, a background one where it does not.

The challenge gives a click there. Here every method gets the same short stroke through
that point instead (on its axial slice, along the component's long axis, at most
`stroke_mm` long, inside the component), so that methods built for strokes and for clicks
are compared alike. The box is drawn as the other robot draws it: the reference's
bounding box with a random margin and jitter.

Scores as in the challenge: DSC and NSD (normalised surface Dice, 2 mm tolerance; 0 when
DSC is at most 0.2) per step, their area under the curve over the five correction steps
(trapezoids, unit spacing), and the final values.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import ndimage

from .metrics import _common_window, _surface
from .robot_user import RobotUser, _long_axis
from .strokes import straight_stroke

STEPS = 5  # corrections after the box
NSD_TOLERANCE_MM = 2.0
NSD_MIN_DICE = 0.2


@dataclass(frozen=True)
class CvprRobot(RobotUser):
    """Box like RobotUser's; corrections by the CVPR 2025 rule, one per round."""
    stroke_mm: float = 10.0
    click_seed: int = 42

    def correction_point(self, mask: np.ndarray, reference: np.ndarray):
        """(k, j, i) deepest voxel of the largest 3D error component, its component, foreground?; None if no error."""
        error = mask != reference
        if not error.any():
            return None
        labels, _ = ndimage.label(error, structure=np.ones((3, 3, 3), bool))
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        component = labels == int(np.argmax(sizes))
        depth = ndimage.distance_transform_edt(np.pad(component, 1))[1:-1, 1:-1, 1:-1]
        deepest = np.argwhere(depth == depth.max())
        point = tuple(int(v) for v in deepest[np.random.default_rng(self.click_seed).integers(len(deepest))])
        return point, component, bool(reference[point])

    name: ClassVar[str] = "cvpr25"

    def strokes(self, mask: np.ndarray, reference: np.ndarray, spacing_ijk, *keys, result=None, image=None) -> tuple:
        foreground = np.zeros(reference.shape, bool)
        background = np.zeros(reference.shape, bool)
        found = self.correction_point(np.asarray(mask, bool), np.asarray(reference, bool))
        if found is None:
            return foreground, background
        (k, j, i), component, is_foreground = found
        stroke = self._stroke_through(component[k], (j, i), spacing_ijk[:2], self.rng("strokes", *keys))
        (foreground if is_foreground else background)[k][stroke] = True
        return foreground, background

    def _stroke_through(self, region: np.ndarray, start, spacing_ij, rng: np.random.Generator) -> np.ndarray:
        """A straight stroke through `start`, inside the 2D region, along its long axis."""
        sampling = np.array((float(spacing_ij[1]), float(spacing_ij[0])))  # (j, i) mm
        direction = _long_axis(np.argwhere(region) * sampling, rng)
        return straight_stroke(region, start, direction, sampling, self.stroke_mm)


def nsd(mask: np.ndarray, reference: np.ndarray, spacing_ijk, tolerance_mm: float = NSD_TOLERANCE_MM) -> float:
    """Normalised surface Dice: the share of both surfaces within `tolerance_mm` of the other.

    Surfaces are counted in voxels (each surface voxel weighs the same), not in surfel
    areas as the challenge's surface-distance package does: close, not identical.
    """
    mask, reference = np.asarray(mask, bool), np.asarray(reference, bool)
    if not mask.any() or not reference.any():
        return float(mask.any() == reference.any())
    window = _common_window(mask, reference, pad=int(np.ceil(tolerance_mm / min(spacing_ijk))) + 1)
    mask, reference = mask[window], reference[window]
    sampling = tuple(reversed(tuple(float(s) for s in spacing_ijk)))
    surface_mask, surface_reference = _surface(mask), _surface(reference)
    to_reference = ndimage.distance_transform_edt(~surface_reference, sampling=sampling)[surface_mask]
    to_mask = ndimage.distance_transform_edt(~surface_mask, sampling=sampling)[surface_reference]
    close = (to_reference <= tolerance_mm).sum() + (to_mask <= tolerance_mm).sum()
    return float(close / (len(to_reference) + len(to_mask)))


def challenge_nsd(dice_value: float, mask, reference, spacing_ijk) -> float:
    """NSD as the challenge scores it: 0 when Dice is at most 0.2."""
    return nsd(mask, reference, spacing_ijk) if dice_value > NSD_MIN_DICE else 0.0


def area_under_steps(values) -> float:
    """Trapezoid area under the correction steps' scores (unit spacing), as the challenge's AUC."""
    values = np.asarray(values, dtype=float)
    return float(((values[1:] + values[:-1]) / 2).sum())
