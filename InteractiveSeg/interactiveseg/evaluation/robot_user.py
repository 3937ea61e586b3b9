"""A simulated clinician: draws the box, then corrects the worst error with a short stroke per round.

Box: the structure's bounding box, each side pushed out by a random margin (a fraction
of the extent) plus a few voxels of jitter, never inwards, so the object is inside.
Stroke: on the axial slice with the most wrong voxels, the largest connected missed
region (a foreground stroke) or false region (a background stroke), whichever is
larger; the stroke runs through the region's deepest point along its long axis, stays
a few voxels inside its border and is cut to a limited length, as a brush stroke is.
Everything random comes from a generator seeded by (seed, case, structure, round), so
the same errors give the same strokes for every method.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import ndimage

from ..box import Box
from .strokes import principal_axis, straight_stroke


@dataclass(frozen=True)
class RobotUser:
    seed: int = 0
    margin_fraction: tuple = (0.0, 0.1)  # per-box margin, as a fraction of the extent on each axis
    jitter: int = 2  # extra voxels, drawn per side
    stroke_mm: float = 30.0  # longest stroke
    border_voxels: float = 2.0  # how far inside the region a stroke stays, when the region allows
    strokes_per_round: int = 1
    min_region_voxels: int = 1  # smaller errors are not worth a stroke

    def rng(self, *keys) -> np.random.Generator:
        """A generator that depends only on the seed and the given keys (stable across runs)."""
        mixed = [self.seed] + [zlib.crc32(str(k).encode()) for k in keys]
        return np.random.default_rng(mixed)

    def box(self, reference: np.ndarray, *keys) -> Box:
        """A box around the reference, as a user drags it: a little loose, a little uneven."""
        rng = self.rng("box", *keys)
        lower, upper = _extent_ijk(reference)
        limits = tuple(reversed(reference.shape))
        fraction = rng.uniform(*self.margin_fraction)
        new_lower, new_upper = [], []
        for axis in range(3):
            size = upper[axis] - lower[axis] + 1
            grow = [int(round(fraction * size)) + int(rng.integers(0, self.jitter + 1)) for _ in range(2)]
            if limits[axis] == 1:
                grow = [0, 0]
            new_lower.append(max(0, lower[axis] - grow[0]))
            new_upper.append(min(limits[axis] - 1, upper[axis] + grow[1]))
        return Box(tuple(new_lower), tuple(new_upper))

    name: ClassVar[str] = "error-driven"  # a simulated user (evaluation/users.py): the largest error, corrected

    def strokes(self, mask: np.ndarray, reference: np.ndarray, spacing_ijk, *keys, result=None, image=None) -> tuple:
        """New (foreground, background) strokes for this round; both empty when nothing is worth fixing.

        `result` and `image` are not used: this user compares the mask with the reference only."""
        rng = self.rng("strokes", *keys)
        foreground = np.zeros(reference.shape, bool)
        background = np.zeros(reference.shape, bool)
        missed, false = reference & ~mask, mask & ~reference
        for _ in range(self.strokes_per_round):
            # Voxels already painted this round count as corrected, so a second stroke goes elsewhere.
            remaining_missed, remaining_false = missed & ~foreground, false & ~background
            chosen = self._worst_region(remaining_missed, remaining_false)
            if chosen is None:
                break
            k, region, is_foreground = chosen
            stroke = self._stroke(region, spacing_ijk[:2], rng)
            (foreground if is_foreground else background)[k][stroke] = True
            # Mark the whole region as handled for this round's further strokes.
            (missed if is_foreground else false)[k][region] = False
        return foreground, background

    def _worst_region(self, missed: np.ndarray, false: np.ndarray):
        """(slice k, 2D region mask, is_foreground) of the largest error on the worst slice."""
        per_slice = missed.sum(axis=(1, 2)) + false.sum(axis=(1, 2))
        if per_slice.max() < self.min_region_voxels:
            return None
        k = int(np.argmax(per_slice))  # first of equal slices: deterministic
        fg_region, fg_size = _largest_component(missed[k])
        bg_region, bg_size = _largest_component(false[k])
        if max(fg_size, bg_size) < self.min_region_voxels:
            return None
        return (k, fg_region, True) if fg_size >= bg_size else (k, bg_region, False)

    def _stroke(self, region: np.ndarray, spacing_ij, rng: np.random.Generator) -> np.ndarray:
        """A straight stroke inside a 2D region (j, i), through its deepest part, along its long axis."""
        sampling = (float(spacing_ij[1]), float(spacing_ij[0]))  # (j, i) mm
        depth = ndimage.distance_transform_edt(region, sampling=sampling)
        unit = min(sampling)
        # Stay `border_voxels` inside; a thin region only allows its ridge.
        floor = min(self.border_voxels * unit, depth.max())
        allowed = depth >= floor - 1e-6
        deep = np.argwhere(depth >= depth.max() - 1e-6)
        start = deep[rng.integers(len(deep))]
        points = np.argwhere(allowed) * np.array(sampling)
        return straight_stroke(allowed, start, _long_axis(points, rng), sampling, self.stroke_mm)


def _extent_ijk(mask: np.ndarray) -> tuple:
    if not mask.any():
        raise ValueError("The reference structure is empty.")
    lower, upper = [], []
    for axis in (2, 1, 0):  # i, j, k
        other = tuple(a for a in range(3) if a != axis)
        hit = np.nonzero(mask.any(axis=other))[0]
        lower.append(int(hit[0]))
        upper.append(int(hit[-1]))
    return tuple(lower), tuple(upper)


def _largest_component(mask2d: np.ndarray) -> tuple:
    labels, count = ndimage.label(mask2d)
    if count == 0:
        return mask2d, 0
    sizes = np.bincount(labels.ravel())[1:]
    best = int(np.argmax(sizes)) + 1
    return labels == best, int(sizes[best - 1])


def _long_axis(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit vector along the principal axis of the points (mm), turned by up to 15 degrees."""
    if len(points) < 2:
        return np.array([0.0, 1.0])
    axis = principal_axis(points)
    angle = np.deg2rad(rng.uniform(-15.0, 15.0))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return rotation @ axis
