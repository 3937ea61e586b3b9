"""The user's box: inclusive voxel indices in (i, j, k) order, as Slicer extents are.

Plain numpy, no torch: the Slicer module and the worker protocol use it before (or
without) the engine's heavy parts.
"""
from __future__ import annotations

from dataclasses import dataclass

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
        return tuple(u - lo + 1 for lo, u in zip(self.lower, self.upper))

    def clipped(self, shape_kji) -> "Box":
        """The part of the box inside a volume of the given (k, j, i) shape.

        An inverted box, or one that misses the volume entirely, is an error: silently
        segmenting somewhere else would be worse than stopping.
        """
        if any(u < lo for lo, u in zip(self.lower, self.upper)):
            raise InputError(f"Box is inverted or empty: lower {self.lower} is above upper {self.upper} (i, j, k).")
        limits = tuple(reversed(shape_kji))  # (i, j, k) sizes
        lower = tuple(max(0, lo) for lo in self.lower)
        upper = tuple(min(n - 1, u) for u, n in zip(self.upper, limits))
        if any(u < lo for lo, u in zip(lower, upper)):
            raise InputError(
                f"Box {self.as_ijk()} (I0 J0 K0 I1 J1 K1) lies outside the volume, whose index ranges are "
                f"0..{limits[0] - 1}, 0..{limits[1] - 1}, 0..{limits[2] - 1}.")
        return Box(lower, upper)

    def expanded(self, margin_ijk, shape_kji) -> "Box":
        """Grow by margin voxels on each side, then clip to the volume."""
        lower = tuple(lo - m for lo, m in zip(self.lower, margin_ijk))
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
