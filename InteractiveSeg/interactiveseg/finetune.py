"""Image-specific fine-tuning: alternate label updates (CRF) and weight updates (weighted loss).

With the network fixed, the labels come from a CRF on the softened prediction in which
scribbles are hard constraints. With the labels fixed, the network is trained on them
with BIFSeg's weighted cross-entropy: omega on scribbles, 0 on uncertain voxels, 1
elsewhere, with the two labels balanced to equal shares. The margin around the user's
box is background for certain: it enters the CRF as hard labels and the loss with weight 1.
The loss is `bifseg_loss` with `bifseg_weights`. By default only the classifier block
learns, on features computed once per box, and each step sees a random sample of voxels
(the classifier is per-voxel, so a sample gives an unbiased loss at a fraction of the cost).
After fine-tuning, `global_update` spreads the strokes along the object with a random
walk whose prior is the network's probability (random_walk.py), and `native_update`
repeats the walk at the image's own resolution; the session calls both.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import torch
import torch.nn.functional as F

from .appearance import with_appearance
from .crf import crf_kernels, crf_refine
from .components import keep_object
from .devices import mixed_precision
from .errors import Cancelled
from .geodesic import geodesic_distance
from .morphology import boundary_band, image_voxels
from .networks import SplitNetwork
from .prior_trust import after_claims, hold_scale
from .preprocess import from_network_batch, network_batch
from .random_walk import edge_weights, prior_random_walk
from .settings import Settings
from .uncertainty import interaction_uncertain, loss_weights, network_uncertain

Progress = Optional[Callable[[float, str], None]]
Cancel = Optional[Callable[[], bool]]


@dataclass
class GridState:
    """What a box gives on the network grid; computed once per box."""
    image: torch.Tensor  # (k, j, i) normalised intensities
    features: torch.Tensor  # (C, k, j, i), from the pretrained feature blocks
    spacing: tuple  # (k, j, i) mm per grid voxel
    dims: int
    outside_box: torch.Tensor | None = None  # grid voxels in the margin, outside the user's box
    pairwise: dict = field(default_factory=dict)  # CRF kernels and walk edges, by their parameters

    def voxel_rows(self) -> torch.Tensor:
        """The features as one (voxels, C) row per voxel, made once per feature map: picking a sample of
        voxels is then a copy of whole rows, several times faster than gathering columns of (C, voxels)."""
        if getattr(self, "_rows_of", None) is not self.features:  # new features (all layers tuned, moved to CPU)
            self._rows = self.features.reshape(self.features.shape[0], -1).t().contiguous()
            self._rows_of = self.features
        return self._rows

    def inside_box(self) -> torch.Tensor:
        """Grid voxels inside the user's box (all of them when no box was given)."""
        if self.outside_box is None:
            return torch.ones_like(self.image, dtype=torch.bool)
        return ~self.outside_box

    def known_background(self, foreground: torch.Tensor) -> torch.Tensor:
        """The margin outside the box is background (the user said the object is inside), unless painted."""
        if self.outside_box is None:
            return torch.zeros_like(foreground)
        return self.outside_box & ~foreground

    def crf_kernels(self, params) -> list:
        return self._pairwise(("crf", params), crf_kernels, params)

    def walk_edges(self, beta: float) -> list:
        return self._pairwise(("walk", beta), edge_weights, beta)

    def _pairwise(self, key, make, parameter) -> list:
        """Neighbour weights depend on the image only: made once per box and parameter value."""
        if key not in self.pairwise:
            self.pairwise[key] = make(self.image, self.spacing, parameter)
        return self.pairwise[key]


def apply_classifier(network: SplitNetwork, features: torch.Tensor, extra: tuple | None = None) -> torch.Tensor:
    """Logits (2, n) for features (C, n): the 1x1 classifier applied voxel by voxel.

    A 1x1 convolution is a matrix product per voxel; computing it as one (as F.linear)
    is several times faster than a convolution over an n x 1 image, forwards and backwards.
    `extra`, (rows (n, E), weight (hidden, E)), adds inputs to the first layer (StrokeInputs).
    """
    x = features.t()
    for position, layer in enumerate(network.classifier):
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.Conv3d)):
            x = F.linear(x, layer.weight.flatten(1), layer.bias)
            if position == 0 and extra is not None:
                x = x + F.linear(extra[0].to(x.dtype), extra[1].to(x.dtype))
        else:
            x = layer(x)
    return x.t()


def predict(network: SplitNetwork, state: GridState, chunk: int = 1 << 20,
            extra: "StrokeInputs | None" = None) -> torch.Tensor:
    """Foreground probability (k, j, i) from the cached features."""
    flat = state.features.reshape(state.features.shape[0], -1)
    with torch.no_grad(), mixed_precision(flat.device):
        parts = [torch.softmax(apply_classifier(network, flat[:, s:s + chunk],
                                                StrokeInputs.part_of(extra, slice(s, s + chunk))).float(), 0)[1]
                 for s in range(0, flat.shape[1], chunk)]
    return torch.cat(parts).reshape(state.image.shape)


class StrokeInputs:
    """Where the strokes are, as more inputs to the classifier's first layer: exp(-d / reach) for
    the geodesic distance d to the foreground and to the background strokes (`stroke_input_reach`),
    and the normalised intensity (`stroke_input_intensity`). Their weights start at zero each round
    (the classifier's map unchanged) and are learnt with the head, so a stroke teaches "what is near
    and connected to here" as well as "what looks like this". Only when the head alone learns."""

    def __init__(self, state: GridState, distances: tuple, settings: Settings, hidden: int):
        reach = settings.stroke_input_reach * min(state.spacing)
        # The distances reach at least 5 reaches (stroke_distances), where exp(-d / reach) < 0.01;
        # farther voxels get 0.
        columns = [torch.exp(-distance / reach).reshape(-1) for distance in distances if reach > 0]
        if settings.stroke_input_intensity:
            columns.append(state.image.reshape(-1))
        self.rows = torch.stack(columns, 1).contiguous()
        self.weight = torch.zeros(hidden, self.rows.shape[1], device=self.rows.device, requires_grad=True)

    @classmethod
    def for_round(cls, network: SplitNetwork, state: GridState, distances: tuple,
                  settings: Settings) -> "StrokeInputs | None":
        """The round's inputs, or None when the settings ask for none or every layer learns.
        `distances`: the geodesic distances to the foreground and background strokes (stroke_distances)."""
        wanted = settings.stroke_input_reach > 0 or settings.stroke_input_intensity
        if not wanted or settings.finetune_scope != "classifier":
            return None
        return cls(state, distances, settings, network.classifier[0].out_channels)

    @staticmethod
    def part_of(extra: "StrokeInputs | None", index) -> tuple | None:
        """apply_classifier's `extra` for the voxels at `index` (None without inputs)."""
        return None if extra is None else (extra.rows[index], extra.weight)


SLICES_PER_PASS = 16  # a 2D network sees the box this many slices at a time


def compute_features(network: SplitNetwork, image: torch.Tensor, dims: int, cancel: Cancel = None,
                     progress: Progress = None) -> torch.Tensor:
    """The network's features of the whole grid: image (k, j, i) -> features (C, k, j, i).

    A 2D network runs on a few slices at a time: memory stays bounded for a tall box, and
    Cancel is honoured and progress reported between passes (a 3D network is one pass).
    """
    batch = network_batch(network, image[None])
    parts = []
    step = SLICES_PER_PASS if dims == 2 else batch.shape[0]
    with torch.no_grad(), mixed_precision(image.device):
        for start in range(0, batch.shape[0], step):
            check_cancel(cancel)
            parts.append(network.features(batch[start:start + step]).float())
            if progress is not None:
                progress(min(1.0, (start + step) / batch.shape[0]), "computing features")
    # Contiguous once here, so the flat views predict() and voxel_rows() take need no copy.
    return from_network_batch(torch.cat(parts), dims).contiguous()


def crf_only(state: GridState, probability: torch.Tensor, foreground: torch.Tensor,
             background: torch.Tensor, settings: Settings, progress: Progress = None, cancel: Cancel = None) -> tuple:
    """The CRF with scribbles as hard labels, without any learning (the CNN + CRF ablation)."""
    check_cancel(cancel)
    refined = crf_refine(probability, state.image, foreground, background | state.known_background(foreground),
                         state.spacing, settings.crf, state.crf_kernels(settings.crf))
    if progress:
        progress(1.0, "CRF done")
    return refined, torch.zeros_like(foreground)


def global_update(state: GridState, probability: torch.Tensor, foreground: torch.Tensor,
                  background: torch.Tensor, settings: Settings, first: torch.Tensor | None = None) -> torch.Tensor:
    """The random walker with the network's probability as prior and the strokes (and the margin
    outside the box) as fixed labels: a stroke's label reaches what is connected to it.
    `first`, the pretrained network's map, judges how firmly the prior holds, and with
    `stroke_claims` how much of it the background strokes take back (prior_trust.py)."""
    gamma = settings.walk_gamma
    fixed_background = background | state.known_background(foreground)
    edges = state.walk_edges(settings.walk_beta)
    if first is not None and settings.stroke_claims:
        probability = after_claims(first, probability, state.image, foreground, background, state.outside_box,
                                   state.spacing, settings.walk_beta, edges, settings.walk_iterations)
    if first is not None:
        gamma = gamma * hold_scale(first, probability, state.image, foreground, background, state.spacing,
                                   settings.trust_power, settings.trust_reach, settings.geodesic_intensity_weight)
    return prior_random_walk(probability, state.image, foreground, fixed_background, state.spacing,
                             settings.walk_beta, gamma, settings.walk_iterations, edges=edges)


def native_update(prior: torch.Tensor, image: torch.Tensor, foreground: torch.Tensor, background: torch.Tensor,
                  outside_box: torch.Tensor, spacing, grid_spacing, settings: Settings, cancel: Cancel = None
                  ) -> torch.Tensor:
    """The walk once more on the box's crop at the image's own resolution, from the grid's result.

    The network grid is coarser than a large box's voxels, and a stroke downsampled to it
    grows to whole grid voxels; here the strokes count voxel by voxel and the boundary
    follows the image's own edges. `prior` is the grid result resampled to the crop, and the
    walk starts from it, so its iterations go to the boundary rather than to the whole object.

    The edge weights are per voxel (random_walk.edge_weights), so the prior's weight scales
    with the voxel's area, (h / h_grid)^2: a stroke then reaches as many millimetres as on
    the grid, not as many voxels (on a box smaller than the grid, a background stroke would
    otherwise wash out the whole object).

    The grid walk has already spread the strokes along the object; this one only places the
    boundary. So it may move the grid's boundary by at most `native_band` grid voxels: voxels
    farther from it keep the grid's label, and a stroke cannot leak along a neighbouring
    structure that the grid walk kept out (0: no limit).

    With `native_appearance`, the prior first moves by the object's intensities within one grid
    voxel of its boundary (appearance.py), where the grid's resampled boundary can be a voxel off.
    """
    gamma = settings.native_gamma * (min(spacing) / min(grid_spacing)) ** 2
    fixed_fg, fixed_bg = foreground, background | (outside_box & ~foreground)
    if settings.native_appearance > 0:
        prior = with_appearance(prior, image, foreground, background, image_voxels(1, grid_spacing, spacing),
                                settings.native_appearance)
    if settings.native_band:
        inside = prior > 0.5
        far = ~boundary_band(inside, image_voxels(settings.native_band, grid_spacing, spacing))
        fixed_fg = fixed_fg | (inside & far & ~background)
        fixed_bg = fixed_bg | (~inside & far & ~fixed_fg)
    beta = settings.walk_beta if settings.native_beta is None else settings.native_beta
    return prior_random_walk(prior, image, fixed_fg, fixed_bg, spacing, beta, gamma, settings.walk_iterations,
                             check=lambda: check_cancel(cancel))


def fine_tune(network: SplitNetwork, state: GridState, probability: torch.Tensor,
              foreground: torch.Tensor, background: torch.Tensor, settings: Settings,
              progress: Progress = None, cancel: Cancel = None) -> tuple:
    """Fine-tune `network` in place; returns (new probability, interaction-uncertain mask).

    Raises Cancelled between steps when cancel() turns true; the caller keeps the
    previous weights, so a cancelled round leaves nothing behind.
    """
    device = state.image.device
    generator = torch.Generator().manual_seed(settings.seed)
    trainable = (network.classifier.parameters() if settings.finetune_scope == "classifier"
                 else network.parameters())
    groups = [{"params": list(trainable)}]
    distances = stroke_distances(state, foreground, background, settings)
    extra = StrokeInputs.for_round(network, state, distances, settings)
    if extra is not None:
        groups.append({"params": [extra.weight], "lr": settings.learning_rate * settings.stroke_input_lr})
    optimizer = torch.optim.Adam(groups, lr=settings.learning_rate)
    near = settings.geodesic_radius * min(state.spacing)
    near_fg, near_bg = (distance <= near for distance in distances)
    known_background = state.known_background(foreground)
    interaction = torch.zeros_like(foreground)
    total = settings.alternations * settings.iterations
    for alternation in range(settings.alternations):
        check_cancel(cancel)
        # Label update with the network fixed.
        labels = crf_refine(probability, state.image, foreground, background | known_background, state.spacing,
                            settings.crf, state.crf_kernels(settings.crf)) > 0.5
        if settings.keep_connected:  # a stray blob is taught as background, not learnt as the object
            labels = keep_object(labels.float(), state.inside_box(), foreground) >= 0.5
        interaction = interaction_uncertain(labels, near_fg, near_bg) & ~(foreground | background)
        uncertain = network_uncertain(probability, settings.t0, settings.t1) | interaction
        if not settings.uncertainty_weights:
            uncertain = torch.zeros_like(uncertain)
        uncertain &= ~known_background
        targets = labels.reshape(-1).long()
        weights = bifseg_weights(foreground, background, uncertain, targets, settings.omega, settings.balance_power)
        candidates = torch.nonzero(weights > 0).squeeze(1)
        if not all(bool((weights[targets == label] > 0).any()) for label in (0, 1)):
            # One label has no certain voxel: training on the other alone would only erase it.
            if progress:
                progress((alternation + 1) / settings.alternations, "nothing certain to learn from")
            continue
        # Weight update with the labels fixed.
        network.train()
        for step in range(settings.iterations):
            check_cancel(cancel)
            index = _sample(candidates, settings.pixels_per_step, generator, settings.finetune_scope)
            loss = bifseg_loss(_logits(network, state, index, settings.finetune_scope, extra), targets[index],
                               weights[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if progress:
                done = alternation * settings.iterations + step + 1
                progress(done / total, f"fine-tuning {done}/{total}, loss {loss.item():.3f}")
        network.eval()
        if settings.finetune_scope == "all":
            state.features = compute_features(network, state.image, state.dims)
        probability = predict(network, state, extra=extra).to(device)
    return probability, interaction


def bifseg_weights(foreground: torch.Tensor, background: torch.Tensor, uncertain: torch.Tensor,
                   targets: torch.Tensor, omega: float, balance_power: float = 1.0) -> torch.Tensor:
    """BIFSeg's per-voxel loss weights, flat: scribbles omega, uncertain voxels 0, the rest 1
    (uncertainty.loss_weights), then scaled so that each label carries half of the total (balance_labels)."""
    return balance_labels(loss_weights(foreground, background, uncertain, omega).reshape(-1), targets, balance_power)


def bifseg_loss(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The loss image-specific fine-tuning minimises: cross-entropy weighted voxel by voxel, sum(w CE) / sum(w).

    logits (2, n), targets (n,) in {0, 1}, weights (n,) from bifseg_weights.
    """
    per_voxel = F.cross_entropy(logits.t().float(), targets, reduction="none")
    return (weights * per_voxel).sum() / weights.sum().clamp_min(1e-6)


def balance_labels(weights: torch.Tensor, targets: torch.Tensor, power: float = 1.0) -> torch.Tensor:
    """Scale weights so that each label carries half of the total (`power` 1; 0 leaves them as they are,
    and between, the labels' shares move part of the way to halves).

    Without this, a short stroke or a small object is a fraction of a percent of the
    loss and the fine-tuning learns nothing from it; worse, when a weak first mask is
    mostly uncertain (weight 0), only background would remain to learn from.
    """
    total = weights.sum()
    balanced = weights.clone()
    for label in (0, 1):
        share = weights[targets == label].sum()
        if share > 0:
            balanced[targets == label] *= (0.5 * total / share) ** power
    return balanced


def stroke_distances(state: GridState, foreground: torch.Tensor, background: torch.Tensor,
                     settings: Settings) -> tuple:
    """Geodesic distances to the foreground and to the background strokes, once per round for both of
    their uses: "near a scribble" (`geodesic_radius`) and the head's inputs (5 x `stroke_input_reach`).
    Bounded at the larger of the two; below a bound the distances are exact, so either use reads the same."""
    bound = max(settings.geodesic_radius, 5 * settings.stroke_input_reach) * min(state.spacing)
    return tuple(geodesic_distance(state.image, seeds, state.spacing, settings.geodesic_intensity_weight, bound)
                 for seeds in (foreground, background))


def _logits(network: SplitNetwork, state: GridState, index: torch.Tensor, scope: str,
            extra: StrokeInputs | None = None) -> torch.Tensor:
    if scope == "classifier":
        return apply_classifier(network, state.voxel_rows()[index].t(), StrokeInputs.part_of(extra, index))
    with mixed_precision(state.image.device):
        logits = from_network_batch(network(network_batch(network, state.image[None])), state.dims)
    return logits.reshape(2, -1)[:, index]


def _sample(candidates: torch.Tensor, limit: int, generator: torch.Generator, scope: str) -> torch.Tensor:
    if scope == "all" or candidates.numel() <= limit:
        return candidates
    # With replacement: a permutation of every candidate per step cost more than the step itself.
    pick = torch.randint(candidates.numel(), (limit,), generator=generator).to(candidates.device)
    return candidates[pick]


def check_cancel(cancel: Cancel) -> None:
    """Raise Cancelled once cancel() is true: the callers' points where a round may stop."""
    if cancel is not None and cancel():
        raise Cancelled("Cancelled: the session is unchanged.")
