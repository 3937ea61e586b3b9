"""A fully local CRF solved by mean-field iterations, with scribbles as hard labels.

Potts model on a 3x3x3 neighbourhood of the network grid: an appearance kernel
exp(-d^2 / 2 theta_a^2 - dI^2 / 2 theta_i^2) pulls similar-looking neighbours to the
same label, a smoothness kernel exp(-d^2 / 2 theta_s^2) removes specks. Network
probabilities are softened (clipped to [1 - c, c]) first: a CNN's near-0/1 outputs
would otherwise outweigh every pairwise term and the CRF could not move anything.

With two labels, mean field needs only the foreground channel: the label-1 minus
label-0 logit is unary + sum_q w_pq (2 Q1(q) - 1).
"""
from __future__ import annotations

import math
import torch

from .neighbours import neighbour_offsets, offset_length, offset_slices
from .settings import CrfParameters


def crf_kernels(image: torch.Tensor, spacing, params: CrfParameters) -> list:
    """Pairwise weights per neighbour offset; they depend on the image only, so compute once per box."""
    unit = min(spacing)
    relative = tuple(s / unit for s in spacing)
    kernels = []
    for offset in neighbour_offsets(image.shape):
        target, source = offset_slices(offset, image.shape)
        d2 = offset_length(offset, relative) ** 2
        contrast = (image[target] - image[source]) ** 2
        weight = (params.appearance_weight * torch.exp(-d2 / (2 * params.theta_spatial ** 2)
                                                       - contrast / (2 * params.theta_intensity ** 2))
                  + params.smoothness_weight * math.exp(-d2 / (2 * params.theta_smooth ** 2)))
        kernels.append((target, source, weight))
    return kernels


def crf_refine(probability: torch.Tensor, image: torch.Tensor, foreground: torch.Tensor,
               background: torch.Tensor, spacing, params: CrfParameters, kernels: list | None = None) -> torch.Tensor:
    """Foreground probability after mean-field inference; scribbled voxels are fixed.

    All tensors are (k, j, i) on one device; spacing is (k, j, i) in mm. `kernels` from
    crf_kernels() may be passed to skip recomputing them.
    """
    kernels = kernels if kernels is not None else crf_kernels(image, spacing, params)
    p = probability.float().clamp(1.0 - params.confidence, params.confidence)
    unary = torch.log(p) - torch.log1p(-p)
    total = torch.zeros_like(p)  # sum_q w_pq, so that sum_q w_pq (2 Q1 - 1) = 2 sum_q w_pq Q1 - total
    for target, _, weight in kernels:
        total[target] += weight
    q = _clamp_scribbles(p, foreground, background)
    for _ in range(params.iterations):
        message = torch.zeros_like(q)
        for target, source, weight in kernels:
            message[target] += weight * q[source]
        q = _clamp_scribbles(torch.sigmoid(unary + 2.0 * message - total), foreground, background)
    return q


def _clamp_scribbles(q: torch.Tensor, foreground: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    q = q.clone()
    q[foreground] = 1.0
    q[background] = 0.0
    return q
