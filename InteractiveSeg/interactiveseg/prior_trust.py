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
"""
from __future__ import annotations

import torch

from .geodesic import geodesic_distance

FLOOR = 0.02  # the least share of the hold kept: a region touching no stroke still has a prior


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
