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


def geodesic_distance(image: torch.Tensor, seeds: torch.Tensor, spacing, intensity_weight: float,
                      max_distance: float) -> torch.Tensor:
    """Distance from the seed voxels; voxels farther than max_distance get +inf.

    image, seeds: (k, j, i) tensors on one device; spacing: (k, j, i) step lengths.
    """
    distance = torch.full(image.shape, math.inf, device=image.device)
    if not bool(seeds.any()):
        return distance
    distance[seeds] = 0.0
    offsets = neighbour_offsets(image.shape)
    steps = []
    for offset in offsets:
        target, source = offset_slices(offset, image.shape)
        length = offset_length(offset, spacing)
        contrast = intensity_weight * (image[target] - image[source])
        steps.append((target, source, torch.sqrt(length ** 2 + contrast ** 2)))
    shortest = min(offset_length(o, spacing) for o in offsets)
    # Each sweep moves the front by at least one step; in-place updates usually move it further.
    for _ in range(int(math.ceil(max_distance / shortest)) + 1):
        before = distance.clone()
        for target, source, cost in steps:
            view = distance[target]
            view.copy_(torch.minimum(view, distance[source] + cost))
        if torch.equal(before, distance):
            break
    distance[distance > max_distance] = math.inf
    return distance
