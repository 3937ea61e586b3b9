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

from .errors import InputError


@dataclass(frozen=True)
class Box:
    """Inclusive voxel box: lower and upper corners, each (i, j, k)."""
    lower: tuple
    upper: tuple

    @classmethod
    def from_ijk(cls, values) -> "Box":
        """From six numbers I0 J0 K0 I1 J1 K1 (inclusive), as the CLI's --box takes them."""
        values = [int(round(float(v))) for v in values]
        if len(values) != 6:
            raise InputError(f"A box needs six indices I0 J0 K0 I1 J1 K1, got {len(values)}.")
        return cls(tuple(values[:3]), tuple(values[3:]))

    def as_ijk(self) -> list:
        return [*self.lower, *self.upper]

    @property
    def size(self) -> tuple:
        """Number of voxels along (i, j, k)."""
        return tuple(u - l + 1 for l, u in zip(self.lower, self.upper))

    def clipped(self, shape_kji) -> "Box":
        """The part of the box inside a volume of the given (k, j, i) shape.

        An inverted box, or one that misses the volume entirely, is an error: silently
        segmenting somewhere else would be worse than stopping.
        """
        if any(u < l for l, u in zip(self.lower, self.upper)):
            raise InputError(f"Box is inverted or empty: lower {self.lower} is above upper {self.upper} (i, j, k).")
        limits = tuple(reversed(shape_kji))  # (i, j, k) sizes
        lower = tuple(max(0, l) for l in self.lower)
        upper = tuple(min(n - 1, u) for u, n in zip(self.upper, limits))
        if any(u < l for l, u in zip(lower, upper)):
            raise InputError(
                f"Box {self.as_ijk()} (I0 J0 K0 I1 J1 K1) lies outside the volume, whose index ranges are "
                f"0..{limits[0] - 1}, 0..{limits[1] - 1}, 0..{limits[2] - 1}.")
        return Box(lower, upper)

    def expanded(self, margin_ijk, shape_kji) -> "Box":
        """Grow by margin voxels on each side, then clip to the volume."""
        lower = tuple(l - m for l, m in zip(self.lower, margin_ijk))
        upper = tuple(u + m for u, m in zip(self.upper, margin_ijk))
        return Box(lower, upper).clipped(shape_kji)

    def slices(self) -> tuple:
        """numpy index (k, j, i) slices of the box."""
        (i0, j0, k0), (i1, j1, k1) = self.lower, self.upper
        return (slice(k0, k1 + 1), slice(j0, j1 + 1), slice(i0, i1 + 1))

    def contains_kji(self, k, j, i):
        (i0, j0, k0), (i1, j1, k1) = self.lower, self.upper
        return (i0 <= i) & (i <= i1) & (j0 <= j) & (j <= j1) & (k0 <= k) & (k <= k1)


def box_margin(box: Box, fraction: float, minimum: int, shape_kji) -> tuple:
    """Margin per axis: a fraction of the box size, at least `minimum` voxels; none along a flat axis."""
    limits = tuple(reversed(shape_kji))
    return tuple(0 if n == 1 else max(minimum, int(round(fraction * s))) for s, n in zip(box.size, limits))


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
        nearest = _resize(torch.from_numpy(mask[None].astype(np.float32)), self.grid_shape, mode="nearest-exact")[0] > 0.5
        index = np.nonzero(mask)
        if len(index[0]):
            grid_index = [np.minimum((((idx + 0.5) * g) // c).astype(int), g - 1)
                          for idx, g, c in zip(index, self.grid_shape, self.crop_shape)]
            nearest[tuple(torch.from_numpy(a) for a in grid_index)] = True
        return nearest

    def outside_on_grid(self, box: Box) -> torch.Tensor:
        """Grid voxels wholly outside `box` (in the margin): certain background, as the user's box says."""
        inside = np.zeros(self.crop_shape, dtype=np.float32)
        offset = self.region.lower
        local = Box(tuple(l - o for l, o in zip(box.lower, offset)), tuple(u - o for u, o in zip(box.upper, offset)))
        inside[local.slices()] = 1.0
        return self.to_grid(torch.from_numpy(inside)[None])[0] < 0.01

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
