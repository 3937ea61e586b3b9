"""Shifted views of a (k, j, i) grid, the building block of the CRF and geodesic passes.

Working with whole-array shifts keeps both algorithms as plain tensor operations, so
they run on whatever device holds the tensors, with no compiled extension.
"""
from __future__ import annotations

import itertools
import math


def neighbour_offsets(shape, radius=(1, 1, 1)) -> list:
    """Offsets (dk, dj, di) within the radius, skipping the centre and axes of size one."""
    ranges = [range(-r, r + 1) if n > 1 else range(0, 1) for r, n in zip(radius, shape)]
    return [o for o in itertools.product(*ranges) if any(o)]


def offset_slices(offset, shape) -> tuple:
    """(target, source) index tuples so that target voxel p pairs with source voxel p + offset."""
    target, source = [], []
    for d, n in zip(offset, shape):
        target.append(slice(max(0, -d), n - max(0, d)))
        source.append(slice(max(0, d), n - max(0, -d)))
    return tuple(target), tuple(source)


def offset_length(offset, spacing) -> float:
    return math.sqrt(sum((d * s) ** 2 for d, s in zip(offset, spacing)))
