"""Seeds for the seed-growing baselines: the user's strokes plus everything outside the box.

A box says "the object is in here", so the ring between the box and the crop region
is background; Slicer users get the same effect by painting a background segment
around the object. The crop region is the box grown as the engine grows it.
"""
from __future__ import annotations

import numpy as np

from ..box import Box, box_margin

FOREGROUND, BACKGROUND = 1, 2
MARGIN_FRACTION, MARGIN_MINIMUM = 0.1, 3  # the engine's default crop margin


def seed_region(box: Box, shape_kji) -> Box:
    box = box.clipped(shape_kji)
    return box.expanded(box_margin(box, MARGIN_FRACTION, MARGIN_MINIMUM, shape_kji), shape_kji)


class SeedImage:
    """Accumulated seeds over rounds, on the crop region; the newest stroke wins where strokes overlap."""

    def __init__(self, box: Box, shape_kji):
        self.box = box.clipped(shape_kji)
        self.region = seed_region(self.box, shape_kji)
        self.shape = shape_kji
        k, j, i = np.indices(tuple(reversed(self.region.size)), sparse=True)
        (i0, j0, k0) = self.region.lower
        self.inside_box = self.box.contains_kji(k + k0, j + j0, i + i0)
        self.labels = np.where(self.inside_box, 0, BACKGROUND).astype(np.uint8)

    def add(self, foreground=None, background=None) -> None:
        for mask, value in ((background, BACKGROUND), (foreground, FOREGROUND)):
            if mask is not None:
                self.labels[np.asarray(mask, bool)[self.region.slices()]] = value

    @property
    def has_foreground(self) -> bool:
        return bool((self.labels == FOREGROUND).any())

    def full_mask(self, region_foreground: np.ndarray) -> np.ndarray:
        """A crop-region foreground mask, restricted to the box, on the full grid."""
        full = np.zeros(self.shape, bool)
        full[self.region.slices()] = region_foreground & self.inside_box
        return full
