"""Slicer's "Grow from seeds" (fast GrowCut) through the itk-growcut package.

Used the way the Slicer effect uses it: the intensity volume cut to a region around
the seeds, one label per segment (here foreground and background), seed locality
(distance penalty) 0 as the effect's default, voxel spacing honoured.
"""
from __future__ import annotations

import numpy as np

from .seeds import FOREGROUND, SeedImage


def warm_up() -> None:
    """Load ITK's lazily imported modules now, so the first round is not charged for it."""
    import itk
    itk.FastGrowCut  # noqa: B018 (attribute access triggers the load)
    itk.image_from_array


def grow_from_seeds(volume, seeds: SeedImage, distance_penalty: float = 0.0) -> np.ndarray:
    """Full-grid foreground mask; empty while there is no foreground seed (nothing to grow)."""
    if not seeds.has_foreground:
        return np.zeros(volume.shape, bool)
    import itk  # heavy; imported only when the baseline runs

    intensity = np.ascontiguousarray(volume.array[seeds.region.slices()], dtype=np.float32)
    image = itk.image_from_array(intensity)
    seed_image = itk.image_from_array(np.ascontiguousarray(seeds.labels))
    for each in (image, seed_image):
        each.SetSpacing([float(s) for s in volume.spacing])
    grown = itk.fast_grow_cut(image, seed_image=seed_image, distance_penalty=float(distance_penalty))
    return seeds.full_mask(itk.array_from_image(grown) == FOREGROUND)
