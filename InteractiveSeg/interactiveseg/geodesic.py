"""Geodesic distance from scribbles, bounded to a radius, in plain torch.

The cost of a step between neighbours p and q is sqrt(|p - q|^2 + (lambda * (I_p - I_q))^2),
so distance grows fast across intensity edges: a pixel is "near" a scribble only if it
is reachable without crossing an edge. Only distances up to `max_distance` matter here
(pixels near a scribble), so a few parallel relaxation sweeps over the 26-neighbourhood
suffice instead of a full raster-scan solver.
"""
from __future__ import annotations

import math

import torch

from .neighbours import neighbour_offsets, offset_length, offset_slices


def geodesic_steps(image: torch.Tensor, spacing, intensity_weight: float) -> list:
    """Step cost to each neighbour, per (target, source) pair of shifted views."""
    steps = []
    for offset in neighbour_offsets(image.shape):
        target, source = offset_slices(offset, image.shape)
        length = offset_length(offset, spacing)
        contrast = intensity_weight * (image[target] - image[source])
        steps.append((target, source, torch.sqrt(length ** 2 + contrast ** 2), length))
    return steps


def geodesic_distance(image: torch.Tensor, seeds: torch.Tensor, spacing, intensity_weight: float,
                      max_distance: float) -> torch.Tensor:
    """Distance from the seed voxels; voxels farther than max_distance get +inf.

    image, seeds: (k, j, i) tensors on one device; spacing: (k, j, i) step lengths.
    Only the block around the seeds that max_distance can reach is computed: strokes are
    local, so this is a small part of the grid.
    """
    distance = torch.full(image.shape, math.inf, device=image.device)
    if not bool(seeds.any()):
        return distance
    block = _reachable_block(seeds, spacing, max_distance)
    distance[block] = _bounded_distance(image[block], seeds[block], spacing, intensity_weight, max_distance)
    return distance


def _reachable_block(seeds: torch.Tensor, spacing, max_distance: float) -> tuple:
    """Slices of the seeds' bounding box grown by the distance, clipped to the grid."""
    index = torch.nonzero(seeds)
    lower, upper = index.min(0).values.tolist(), index.max(0).values.tolist()
    return tuple(slice(max(0, lo - math.ceil(max_distance / s)), min(n, hi + math.ceil(max_distance / s) + 1))
                 for lo, hi, s, n in zip(lower, upper, spacing, seeds.shape))


def _bounded_distance(image, seeds, spacing, intensity_weight, max_distance):
    distance = torch.full(image.shape, math.inf, device=image.device)
    distance[seeds] = 0.0
    steps = geodesic_steps(image, spacing, intensity_weight)
    if not steps:  # a single voxel: nothing to propagate to
        return distance
    shortest = min(length for *_, length in steps)
    # Each sweep moves the front by at least one step; in-place updates usually move it further.
    for _ in range(int(math.ceil(max_distance / shortest)) + 1):
        before = distance.clone()
        for target, source, cost, _ in steps:
            view = distance[target]
            view.copy_(torch.minimum(view, distance[source] + cost))
        if torch.equal(before, distance):
            break
    distance[distance > max_distance] = math.inf
    return distance
