"""Box dilation and erosion of boolean masks, and a mask's boundary band, in plain torch.

A box's maximum is separable, so a dilation is done one axis at a time, as ORs of shifted
views: several times faster on the CPU than max pooling the mask as floats. Voxels beyond the
grid count as neither inside nor outside, so a mask touching the grid's edge keeps its border.
"""
from __future__ import annotations

import math

import torch


def grow(mask: torch.Tensor, radius) -> torch.Tensor:
    """Dilation of a (k, j, i) bool mask by a box of `radius` voxels per axis."""
    grown = mask.clone()
    for axis, r in enumerate(radius):
        source = grown.clone()
        for shift in range(1, r + 1):
            if shift >= mask.shape[axis]:
                break
            n = mask.shape[axis] - shift
            grown.narrow(axis, 0, n).logical_or_(source.narrow(axis, shift, n))
            grown.narrow(axis, shift, n).logical_or_(source.narrow(axis, 0, n))
    return grown


def shrink(mask: torch.Tensor, radius) -> torch.Tensor:
    """Erosion of a (k, j, i) bool mask by a box of `radius` voxels per axis."""
    return ~grow(~mask, radius)


def boundary_band(mask: torch.Tensor, radius) -> torch.Tensor:
    """Voxels within `radius` (voxels per axis, k, j, i) of the mask's boundary, on either side."""
    return grow(mask, radius) & ~shrink(mask, radius)


def image_voxels(grid_voxels: float, grid_spacing, spacing) -> list:
    """`grid_voxels` grid voxels as whole image voxels per axis (k, j, i), at least one."""
    return [max(1, math.ceil(grid_voxels * g / h - 1e-6)) for g, h in zip(grid_spacing, spacing)]
