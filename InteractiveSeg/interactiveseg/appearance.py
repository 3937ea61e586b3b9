"""The object's own intensities, learnt from the current mask, as evidence at its boundary.

The walks place the boundary where the prior and the image's edges agree. Where the prior's
boundary is a voxel off (a coarse grid, a network that is a voxel too wide on this image), the
edge alone does not pull it back. The mask's sure interior and a ring just outside it tell
which intensities are the object's on this image; their log-likelihood ratio moves the prior
within a band around its boundary, and nowhere else, so a distant region of the object's
intensity is not added.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .morphology import grow, shrink

BINS = 32
CLAMP = 3.0  # |log-likelihood ratio| at most: one intensity never overrules the prior outright


def intensity_log_odds(image: torch.Tensor, inside: torch.Tensor, outside: torch.Tensor,
                       where: torch.Tensor | None = None) -> torch.Tensor:
    """log p(I | object) - log p(I | background) per voxel, from histograms of `inside` and `outside`
    voxels (bool masks like `image`); 0 where either sample is empty. With `where`, only at those voxels
    (a flat tensor in their order)."""
    values = image if where is None else image[where]
    low, high = float(image.min()), float(image.max())
    if not bool(inside.any()) or not bool(outside.any()) or high <= low:
        return torch.zeros_like(values)
    smooth = torch.tensor([0.25, 0.5, 0.25], device=image.device)[None, None]
    densities = []
    for sample in (inside, outside):
        counts = torch.histc(image[sample].float(), BINS, low, high)
        counts = F.conv1d(counts[None, None], smooth, padding=1)[0, 0] + 1.0  # smoothed; +1: no empty bin
        densities.append(counts / counts.sum())
    ratio = (densities[0].log() - densities[1].log()).clamp(-CLAMP, CLAMP)
    bins = ((values - low) / (high - low) * BINS).long().clamp(0, BINS - 1)
    return ratio[bins]


def with_appearance(prior: torch.Tensor, image: torch.Tensor, foreground: torch.Tensor, background: torch.Tensor,
                    radius, weight: float) -> torch.Tensor:
    """The prior with `weight` x the intensity log-odds added to its logit within `radius` (voxels per axis,
    k, j, i) of its boundary. Inside is the mask eroded by `radius` and the foreground strokes; outside,
    the ring between `radius` and 2 x `radius` beyond the mask and the background strokes."""
    mask = prior > 0.5
    near, core = grow(mask, radius), shrink(mask, radius)
    inside = (core | foreground) & ~background
    outside = ((grow(near, radius) & ~near) | background) & ~foreground  # grow(near, r) is grow(mask, 2r)
    band = near & ~core
    p = prior[band].clamp(1e-4, 1 - 1e-4)
    moved = prior.clone()
    moved[band] = torch.sigmoid(torch.log(p / (1 - p)) + weight * intensity_log_odds(image, inside, outside, band))
    return moved
