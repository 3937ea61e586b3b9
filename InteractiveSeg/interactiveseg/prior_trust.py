"""How firmly the walk's prior should hold, judged by where the user drew against the network.

The grid walk (random_walk.py, finetune.global_update) holds each voxel to the network's
probability with a strength gamma |2p - 1|: what the network is sure of stays, unless a
stroke's label reaches it. A stroke drawn deep in a region the network was sure of, and
wrong about, shows that this sureness is not to be held; a stroke on a boundary it
hesitated over shows little. Both are measured against the pretrained network's first
map, on every stroke so far.

- Its background: judged by the foreground strokes, and weakened everywhere it holds. The
  margin outside the box always anchors the background, so a foreground stroke then
  reaches the whole region connected to it, as in a walk without prior.
- Its foreground: judged by the background strokes, and weakened only near them
  (geodesically: connected and alike). The foreground has no anchor but its strokes and
  its prior, so weakened everywhere it would drain away to the margin.

Weakened near a stroke is not enough when the wrong region is large: in the bundled chest
CT's "tissue" the network takes both lungs, and a background stroke in a lung, against
thousands of voxels each held a little, moved nothing, round after round. With
`stroke_claims` the background strokes also claim what they reach first (`claimed`): a walk
without prior, from those strokes to the mask's surroundings and the foreground strokes. The
prior's foreground there is scaled down by the same contradiction before the walk, so the
stroke takes the region up to its edges, as a seed does in Grow from seeds.
"""
from __future__ import annotations

import numpy as np
import torch

from .components import components_touching
from .geodesic import geodesic_distance
from .random_walk import prior_random_walk

FLOOR = 0.02  # the least share of the hold kept: a region touching no stroke still has a prior
# A claim on more of the mask than this is not made. A background stroke on the object's own
# intensity (a rim voxel the reference leaves out) reaches the whole uniform object before the
# mask's edge; a stroke in a wrong region takes that region only, a part of the mask.
CLAIM_MOST = 0.5


def contradiction(probability: torch.Tensor, strokes: torch.Tensor, label: int) -> float:
    """Mean confidence |2p - 1| with which the network called the stroke voxels the other label (0 where it
    agreed); 0 without strokes."""
    p = probability.float()[strokes]
    if p.numel() == 0:
        return 0.0
    wrong = (1.0 - 2.0 * p) if label == 1 else (2.0 * p - 1.0)
    return float(wrong.clamp_min(0.0).mean())


def kept_share(probability: torch.Tensor, strokes: torch.Tensor, label: int, power: float) -> float:
    """How much of its hold the network's calls of the other label keep, judged by the strokes of `label`:
    (1 - contradiction) ** power, at least FLOOR ** power."""
    return max(FLOOR, 1.0 - contradiction(probability, strokes, label)) ** power


def hold_scale(first: torch.Tensor, prior: torch.Tensor, image: torch.Tensor, foreground: torch.Tensor,
               background: torch.Tensor, spacing, power: float, reach: float,
               intensity_weight: float) -> torch.Tensor | float:
    """Per voxel, the share of the walk's hold kept: (1 - contradiction) ** power on the prior's background;
    on its foreground, the same share near the background strokes, rising to 1 over `reach` grid voxels.

    first: the pretrained network's probability; prior: the walk's prior (the fine-tuned network's).
    """
    if power == 0:
        return 1.0
    keep_background = kept_share(first, foreground, 1, power)
    keep_foreground = torch.ones_like(prior)
    lost = 1.0 - kept_share(first, background, 0, power)
    if reach > 0 and lost > 0:
        unit = reach * min(spacing)
        distance = geodesic_distance(image, background, spacing, intensity_weight, 3.0 * unit)
        keep_foreground = 1.0 - lost * torch.exp(-distance / unit)  # exp(-inf) = 0 beyond the bound
    return torch.where(prior < 0.5, torch.tensor(keep_background, device=prior.device), keep_foreground)


def after_claims(first: torch.Tensor, prior: torch.Tensor, image: torch.Tensor, foreground: torch.Tensor,
                 background: torch.Tensor, outside_box: torch.Tensor | None, spacing, beta: float, edges: list,
                 iterations: int, most: float = CLAIM_MOST) -> torch.Tensor:
    """The walk's prior with what the background strokes claim (`claimed`) scaled down by how surely the
    pretrained network (`first`) called those strokes foreground: p (1 - contradiction x claim).
    A claim on more than `most` of the prior's mask is not made: the walk alone answers those strokes."""
    lost = contradiction(first, background, 0)
    if lost == 0:
        return prior
    claim = claimed(prior, image, foreground, background, outside_box, spacing, beta, edges, iterations)
    if float((claim >= 0.5)[prior >= 0.5].float().mean()) > most:
        return prior
    return prior * (1.0 - lost * claim)


def claimed(prior: torch.Tensor, image: torch.Tensor, foreground: torch.Tensor, background: torch.Tensor,
            outside_box: torch.Tensor | None, spacing, beta: float, edges: list, iterations: int) -> torch.Tensor:
    """Per voxel in [0, 1], how firmly the background strokes claim it from the prior's mask.

    A walk without prior from the background strokes (1) to what bounds the mask (0): the
    foreground strokes and the prior's background around the mask, which reaches the margin
    outside the box. Holes inside the mask (a cavity the network left out, the spot a
    fine-tuned network learnt from an earlier stroke) bound nothing. Voxels the walk gives
    above one half reach a background stroke before the mask's edge or a foreground stroke, as a
    seed in Grow from seeds or the random walker would take them.
    """
    around = surrounding(prior < 0.5, outside_box)
    sources = background & ~around
    if not bool(sources.any()):
        return torch.zeros_like(prior)
    sinks = (foreground | around) & ~sources
    return prior_random_walk(torch.zeros_like(prior), image, sources, sinks, spacing, beta, 0.0, iterations,
                             edges=edges)


def surrounding(background: torch.Tensor, outside_box: torch.Tensor | None) -> torch.Tensor:
    """The background's components that touch the margin outside the box (the grid's border without a box)."""
    anchors = outside_box.cpu().numpy() if outside_box is not None and bool(outside_box.any()) else None
    mask = background.cpu().numpy()
    if anchors is None:
        anchors = np.ones_like(mask)
        anchors[1:-1, 1:-1, 1:-1] = False
    return torch.from_numpy(components_touching(mask | anchors, anchors)).to(background.device)
