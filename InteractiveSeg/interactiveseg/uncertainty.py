"""Which voxels the fine-tuning should trust, and how uncertain each voxel is.

BIFSeg's weight map: omega on scribbled voxels (the user is sure), 0 on uncertain
voxels (they would teach the network its own mistakes), 1 elsewhere. A voxel is
uncertain when the network hesitates (t0 < p < t1) or when it lies geodesically close
to a scribble yet carries the opposite label (the user has shown it is probably wrong).
"""
from __future__ import annotations

import torch


def network_uncertain(probability: torch.Tensor, t0: float, t1: float) -> torch.Tensor:
    return (probability > t0) & (probability < t1)


def interaction_uncertain(labels: torch.Tensor, near_foreground: torch.Tensor,
                          near_background: torch.Tensor) -> torch.Tensor:
    """Near a foreground scribble but labelled background, or the reverse."""
    return (near_foreground & ~labels) | (near_background & labels)


def loss_weights(foreground: torch.Tensor, background: torch.Tensor, uncertain: torch.Tensor,
                 omega: float) -> torch.Tensor:
    weights = torch.ones(foreground.shape, device=foreground.device)
    weights[uncertain] = 0.0
    weights[foreground | background] = omega  # a scribble outranks any doubt
    return weights


def uncertainty_map(probability: torch.Tensor, t0: float, t1: float,
                    interaction: torch.Tensor | None = None) -> torch.Tensor:
    """0 where the network is confident, up to 1 at p = 0.5 inside (t0, t1); 1 where scribbles disagree."""
    hesitation = (1.0 - (2.0 * probability - 1.0).abs()) * network_uncertain(probability, t0, t1)
    if interaction is not None:
        hesitation = torch.maximum(hesitation, interaction.float())
    return hesitation
