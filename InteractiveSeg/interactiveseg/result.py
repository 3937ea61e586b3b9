"""What one round gives back: crop-sized arrays, expanded to the full grid on demand.

Only the crop region is stored (history stays small for large volumes); `mask`,
`probability` and `uncertainty` are full-size (k, j, i) arrays built when first read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .box import Box


@dataclass(eq=False)
class Result:
    box: Box  # the user's box, clipped to the volume
    region: Box  # the crop region: the box plus margin, all the network sees; the mask is empty outside the box
    region_probability: np.ndarray  # float32, crop shape (k, j, i)
    region_uncertainty: np.ndarray  # float32, crop shape
    volume_shape: tuple
    round: int
    seconds: float
    device: str
    warnings: list = field(default_factory=list)
    # Foreground voxels after each step of a refine round, in order (network grid voxels; the walk at the
    # image's resolution in crop voxels): where a round gained or lost, for diagnosing it.
    steps: dict = field(default_factory=dict)

    @cached_property
    def region_mask(self) -> np.ndarray:
        """Foreground inside the user's box: the box says where the object is."""
        k, j, i = np.indices(self.region_probability.shape, sparse=True)
        (i0, j0, k0) = self.region.lower
        inside = self.box.contains_kji(k + k0, j + j0, i + i0)
        return (self.region_probability >= 0.5) & inside

    @property
    def box_mask(self) -> np.ndarray:
        """`region_mask` cut to the user's box (box-shaped): what a round writes into an existing segment."""
        (i0, j0, k0), (bi0, bj0, bk0), (bi1, bj1, bk1) = self.region.lower, self.box.lower, self.box.upper
        return self.region_mask[bk0 - k0:bk1 - k0 + 1, bj0 - j0:bj1 - j0 + 1, bi0 - i0:bi1 - i0 + 1]

    @cached_property
    def mask(self) -> np.ndarray:
        return self._full(self.region_mask, bool)

    @cached_property
    def probability(self) -> np.ndarray:
        return self._full(self.region_probability, np.float32)

    @cached_property
    def uncertainty(self) -> np.ndarray:
        return self._full(self.region_uncertainty, np.float32)

    @property
    def voxels(self) -> int:
        return int(self.region_mask.sum())

    def _full(self, values: np.ndarray, dtype) -> np.ndarray:
        full = np.zeros(self.volume_shape, dtype=dtype)
        full[self.region.slices()] = values
        return full
