"""Box -> crop with margin -> network grid -> back to the crop -> paste into the full grid.

Boxes are inclusive voxel indices in (i, j, k) order, as Slicer extents are; numpy
arrays are indexed (k, j, i). Resampling treats voxels as cells (align_corners=False),
so the crop and the grid cover the same physical region and the round trip is exact
in position: only resolution is lost, never an offset.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .box import Box, box_margin


@dataclass(frozen=True)
class Crop:
    """A region of the full volume and the network grid it is resampled to."""
    region: Box
    grid_shape: tuple  # (k, j, i)

    @property
    def crop_shape(self) -> tuple:
        return tuple(reversed(self.region.size))  # (k, j, i)

    def grid_spacing(self, spacing_ijk) -> tuple:
        """Physical size (mm) of one grid voxel, (k, j, i) order."""
        return tuple(s * c / g for s, c, g in zip(reversed(spacing_ijk), self.crop_shape, self.grid_shape))

    def extract(self, array: np.ndarray) -> np.ndarray:
        return array[self.region.slices()]

    def to_grid(self, crop: torch.Tensor) -> torch.Tensor:
        """Resample a (C, k, j, i) crop to (C, *grid_shape) with linear interpolation."""
        return _resize(crop, self.grid_shape)

    def from_grid(self, grid: torch.Tensor) -> torch.Tensor:
        """Resample a (C, *grid_shape) tensor back to (C, *crop_shape)."""
        return _resize(grid, self.crop_shape)

    def mask_to_grid(self, mask: np.ndarray) -> torch.Tensor:
        """Resample a boolean crop mask to the grid without losing thin strokes.

        Each grid voxel takes the crop voxel under its centre (nearest), and each marked
        crop voxel also marks the grid voxel it falls in, so a one-voxel scribble survives
        downsampling.
        """
        mask = np.asarray(mask, dtype=bool)
        nearest = _resize(torch.from_numpy(mask[None].astype(np.float32)), self.grid_shape,
                          mode="nearest-exact")[0] > 0.5
        index = np.nonzero(mask)
        if len(index[0]):
            grid_index = [np.minimum((((idx + 0.5) * g) // c).astype(int), g - 1)
                          for idx, g, c in zip(index, self.grid_shape, self.crop_shape)]
            nearest[tuple(torch.from_numpy(a) for a in grid_index)] = True
        return nearest

    def outside_on_grid(self, box: Box) -> torch.Tensor:
        """Grid voxels wholly outside `box` (in the margin): certain background, as the user's box says."""
        inside = (~self.outside_in_region(box)).astype(np.float32)
        return self.to_grid(torch.from_numpy(inside)[None])[0] < 0.01

    def outside_in_region(self, box: Box) -> np.ndarray:
        """Crop voxels outside `box` (the margin), at the image's own resolution."""
        outside = np.ones(self.crop_shape, dtype=bool)
        offset = self.region.lower
        local = Box(tuple(lo - o for lo, o in zip(box.lower, offset)), tuple(u - o for u, o in zip(box.upper, offset)))
        outside[local.slices()] = False
        return outside

    def paste(self, full: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Write crop-shaped values into a copy of the full array and return it."""
        out = full.copy()
        out[self.region.slices()] = values
        return out


def make_crop(box: Box, shape_kji, grid_shape, margin_fraction: float, margin_minimum: int) -> Crop:
    """Clip the box, add the margin, and choose the grid for the crop.

    A grid axis of None keeps the crop's own size on that axis (a 2D network runs on
    every slice); a flat crop (a single slice) stays flat on a 3D grid.
    """
    box = box.clipped(shape_kji)
    region = box.expanded(box_margin(box, margin_fraction, margin_minimum, shape_kji), shape_kji)
    crop_shape = tuple(reversed(region.size))
    grid = tuple(c if g is None or c == 1 else int(g) for g, c in zip(grid_shape, crop_shape))
    return Crop(region, grid)


def _resize(tensor: torch.Tensor, shape, mode: str = "trilinear") -> torch.Tensor:
    if tuple(tensor.shape[1:]) == tuple(shape):
        return tensor
    kwargs = {} if mode.startswith("nearest") else {"align_corners": False}
    return F.interpolate(tensor[None].float(), size=tuple(shape), mode=mode, **kwargs)[0]
