"""A global label update: a random walker whose prior is the network's probability.

The per-image classifier learns "voxels that look like this"; a stroke should also say
"and what is connected to here". As in Grady's random walker with prior models (ECCV
workshops 2005), the foreground probability x minimises

    sum over neighbours p, q of  w_pq (x_p - x_q)^2   +   sum over voxels p of  lambda_p (x_p - prior_p)^2

with the strokes fixed (foreground 1; background strokes and the margin outside the box
0). w_pq = exp(-beta (I_p - I_q)^2 / mean (I_p - I_q)^2) is large between neighbours that
look alike, so a stroke's label spreads along the object and stops at its edges. lambda_p = gamma |2 prior_p - 1|
holds the voxels the network is sure of and leaves its uncertain band to the walk.

The minimiser solves the sparse, symmetric positive definite system (L + Lambda) x = b,
solved here matrix-free on the 6-neighbourhood by Jacobi-preconditioned conjugate
gradients, started from the prior: plain tensor operations on whatever device holds them.
"""
from __future__ import annotations

import torch

from .neighbours import offset_slices

AXES = ((1, 0, 0), (0, 1, 0), (0, 0, 1))


CHECK_EVERY = 10  # iterations between two calls of a walk's `check`

def edge_weights(image: torch.Tensor, spacing, beta: float) -> list:
    """(target, source, weight) per axis of the 6-neighbourhood; weights scale as 1/h^2 for anisotropic grids.

    The squared contrast is taken relative to its mean over the grid, so one beta serves a
    smooth CT and a noisy MR alike (a fixed scale would cut every edge of a noisy image).
    """
    unit = min(spacing)
    pairs = [(offset, step) + offset_slices(offset, image.shape)
             for offset, step in zip(AXES, spacing) if image.shape[offset.index(1)] > 1]
    contrasts = [(image[target] - image[source]) ** 2 for *_, target, source in pairs]
    scale = torch.cat([c.reshape(-1) for c in contrasts]).mean().clamp_min(1e-6) if contrasts else 1.0
    return [(target, source, (unit / step) ** 2 * torch.exp(-beta * contrast / scale))
            for (_, step, target, source), contrast in zip(pairs, contrasts)]


def prior_random_walk(prior: torch.Tensor, image: torch.Tensor, foreground: torch.Tensor, background: torch.Tensor,
                      spacing, beta: float, gamma: float, iterations: int = 200, tolerance: float = 1e-3,
                      edges: list | None = None, check=None) -> torch.Tensor:
    """Foreground probability (k, j, i) after the walk; foreground/background voxels are fixed at 1/0.

    prior: the network's probability; image: the normalised grid image; spacing (k, j, i)
    in mm. `edges` from edge_weights() may be passed to skip recomputing them. `check`, called
    every few iterations, may raise to stop the walk (a Cancel on a box of millions of voxels).
    """
    edges = edges if edges is not None else edge_weights(image, spacing, beta)
    prior = prior.float()
    fixed = foreground | background
    free = (~fixed).float()
    known = foreground.float()  # the fixed values: 1 on foreground, 0 on background
    hold = gamma * (2.0 * prior - 1.0).abs()
    degree = torch.zeros_like(prior)
    coupling = torch.zeros_like(prior)  # sum of w_pq x_q over fixed neighbours q
    for target, source, weight in edges:
        degree[target] += weight
        degree[source] += weight
        coupling[target] += weight * known[source]
        coupling[source] += weight * known[target]
    diagonal = (degree + hold).clamp_min(1e-6)
    rhs = free * (hold * prior + coupling)

    def operator(v: torch.Tensor) -> torch.Tensor:  # (L + Lambda) v on the free voxels, v zero on fixed ones
        out = diagonal * v
        for target, source, weight in edges:
            out[target] -= weight * v[source]
            out[source] -= weight * v[target]
        return free * out

    x = free * prior
    residual = rhs - operator(x)
    z = residual / diagonal
    direction = z.clone()
    rz = (residual * z).sum()
    limit = tolerance ** 2 * (rhs * rhs).sum().clamp_min(1e-12)
    for iteration in range(iterations):
        if check is not None and iteration % CHECK_EVERY == 0:
            check()
        if (residual * residual).sum() <= limit:
            break
        product = operator(direction)
        step = rz / (direction * product).sum().clamp_min(1e-20)
        x += step * direction
        residual -= step * product
        z = residual / diagonal
        rz, previous = (residual * z).sum(), rz
        direction = z + (rz / previous) * direction
    return (x + known).clamp(0.0, 1.0)
