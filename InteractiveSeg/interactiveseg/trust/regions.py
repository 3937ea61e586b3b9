"""Where to scribble next: the most uncertain regions of a result, ranked.

A region is a connected component (face neighbours) of the voxels inside the user's
box whose uncertainty exceeds a threshold; only the box counts because the mask can
change nowhere else. Regions are ranked by their uncertainty mass, the sum of the
uncertainty over the region times the voxel volume (ml): it weighs a large, mildly
uncertain region against a small, very uncertain one by how much doubt each holds.
Ties go to the larger region, then to the lower voxel index, so the order is stable.

The centre is the region's centroid; a curved region's centroid can fall outside it,
so each region also has an anchor: its voxel nearest the centroid, a safe place to
centre the views or to paint.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import SimpleITK as sitk

from ..result import Result
from ..volume import Volume

DEFAULT_THRESHOLD = 0.0  # every voxel the engine calls uncertain (p inside (t0, t1), or near a contrary scribble)


@dataclass(frozen=True)
class UncertainRegion:
    rank: int  # 1 is the most uncertain
    centre_ijk: tuple  # centroid, voxel index (i, j, k), fractional
    centre_ras: tuple  # centroid in RAS millimetres
    anchor_ijk: tuple  # the region's voxel nearest the centroid (i, j, k), integers
    anchor_ras: tuple
    voxels: int
    volume_ml: float
    mean_uncertainty: float
    score: float  # uncertainty mass in ml: sum of uncertainty x voxel volume

    def as_dict(self) -> dict:
        return asdict(self)


def uncertain_regions(result: Result, volume: Volume, top: int = 5, threshold: float = DEFAULT_THRESHOLD,
                      min_voxels: int = 1) -> list:
    """The `top` most uncertain regions of a result, most uncertain first."""
    box = result.box
    (i0, j0, k0) = box.lower
    uncertainty = result.uncertainty[box.slices()]
    labels, count = _components(uncertainty > threshold)
    if count == 0:
        return []
    flat = labels.ravel()
    voxels = np.bincount(flat, minlength=count + 1)[1:]
    mass = np.bincount(flat, weights=uncertainty.ravel().astype(np.float64), minlength=count + 1)[1:]
    voxel_ml = float(np.prod(volume.spacing)) / 1000.0
    first_voxel = _first_index(flat, count)
    order = sorted((n for n in range(count) if voxels[n] >= min_voxels),
                   key=lambda n: (-mass[n], -voxels[n], first_voxel[n]))
    to_ras = volume.ijk_to_ras()
    regions = []
    for rank, n in enumerate(order[:top], start=1):
        kji = np.argwhere(labels == n + 1)
        centroid = kji.mean(axis=0)
        anchor = kji[np.argmin(((kji - centroid) ** 2).sum(axis=1))]
        offset = np.array([k0, j0, i0])
        centre_ijk = tuple(float(v) for v in (centroid + offset)[::-1])
        anchor_ijk = tuple(int(v) for v in (anchor + offset)[::-1])
        regions.append(UncertainRegion(
            rank=rank, centre_ijk=centre_ijk, centre_ras=_ras(to_ras, centre_ijk),
            anchor_ijk=anchor_ijk, anchor_ras=_ras(to_ras, anchor_ijk), voxels=int(voxels[n]),
            volume_ml=round(float(voxels[n]) * voxel_ml, 6), mean_uncertainty=float(mass[n] / voxels[n]),
            score=float(mass[n]) * voxel_ml))
    return regions


def _components(mask: np.ndarray) -> tuple:
    """Connected components (face neighbours) as a (k, j, i) label array numbered 1..count."""
    components = sitk.ConnectedComponentImageFilter()
    components.SetFullyConnected(False)
    labelled = components.Execute(sitk.GetImageFromArray(mask.astype(np.uint8)))
    return sitk.GetArrayFromImage(labelled), components.GetObjectCount()


def _first_index(flat_labels: np.ndarray, count: int) -> np.ndarray:
    """Raster index of each label's first voxel (a deterministic tie-break)."""
    first = np.full(count + 1, flat_labels.size, dtype=np.int64)
    nonzero = np.flatnonzero(flat_labels)
    np.minimum.at(first, flat_labels[nonzero], nonzero)
    return first[1:]


def _ras(ijk_to_ras: np.ndarray, ijk) -> tuple:
    return tuple(float(v) for v in (ijk_to_ras @ np.array([*ijk, 1.0]))[:3])
