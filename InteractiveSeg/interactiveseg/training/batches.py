"""Training batches drawn from the cache: real, synthesized and procedural-object samples.

Each item first picks its kind by the configured mix. Real and synthesized items pick a
subject uniformly, then one of its structures, then a cached box of that structure
(real image or a synthesized variant), so one large atlas cannot drown the other
subjects. Object items take any cached crop as the surrounding tissue and paste a
procedural object into it (synthesis.paste_objects). A 2D network gets one slice with
its `context` neighbours on each side as channels; a 3D network the whole grid.

A batch is a function of (seed, step, rank) alone, so a resumed run draws the same.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch

from .cache import TrainingCache
from .samples import augment, pick_slices
from .synthesis import paste_objects

@dataclass(frozen=True)
class Mix:
    """Shares of the three kinds of training item; they are normalised to sum to 1."""
    real: float = 0.4
    synthesized: float = 0.3
    objects: float = 0.3

    def probabilities(self) -> np.ndarray:
        p = np.array([self.real, self.synthesized, self.objects], dtype=float)
        if (p < 0).any() or p.sum() <= 0:
            raise ValueError(f"Mix shares must be non-negative and not all zero: {self}")
        return p / p.sum()


class BatchMaker:
    def __init__(self, cache: TrainingCache, dims: int, context: int = 0, mix: Mix = Mix(), seed: int = 0):
        self.cache, self.dims, self.context, self.seed = cache, dims, context, seed
        self.by_kind = {"real": defaultdict(lambda: defaultdict(list)),
                        "synthesized": defaultdict(lambda: defaultdict(list))}
        for index, entry in enumerate(cache.entries):
            kind = "real" if entry.variant == "real" else "synthesized"
            self.by_kind[kind][entry.subject][entry.structure].append(index)
        probabilities = mix.probabilities()
        if not self.by_kind["synthesized"]:  # a cache built without synthesis: its share goes to real items
            probabilities[0] += probabilities[1]
            probabilities[1] = 0.0
        self.probabilities = probabilities
        self.real_indices = [i for s in self.by_kind["real"].values() for group in s.values() for i in group]

    def _pick(self, kind: str, rng: np.random.Generator) -> int:
        subjects = self.by_kind[kind]
        subject = sorted(subjects)[rng.integers(len(subjects))]
        structures = subjects[subject]
        structure = sorted(structures)[rng.integers(len(structures))]
        choices = structures[structure]
        return choices[rng.integers(len(choices))]

    def _slice_stack(self, image: torch.Tensor, target: torch.Tensor, rng: np.random.Generator) -> tuple:
        """One slice k, mostly one that shows the object, with its neighbours: ((1 + 2c, j, i), (j, i))."""
        depth = image.shape[1]
        k = pick_slices(target, 1, rng)[0]
        rows = np.clip(np.arange(k - self.context, k + self.context + 1), 0, depth - 1)
        return image[0, rows], target[k]

    def batch(self, step: int, size: int, rank: int = 0) -> tuple:
        """(images (N, C, *spatial), targets (N, *spatial) bool), augmented."""
        rng = np.random.default_rng([self.seed, step, rank])
        kinds = rng.choice(3, size=size, p=self.probabilities)
        images, targets, object_rows = [], [], []
        for n, kind in enumerate(kinds):
            if kind == 2:
                index = self.real_indices[rng.integers(len(self.real_indices))]
            else:
                index = self._pick("real" if kind == 0 else "synthesized", rng)
            image, target = self.cache.sample(index)
            if self.dims == 2:  # else the whole (1, k, j, i) grid
                image, target = self._slice_stack(image, target, rng)
            images.append(image)
            targets.append(target)
            if kind == 2:
                object_rows.append(n)
        images, targets = torch.stack(images), torch.stack(targets)
        if object_rows:
            images, targets = self._with_objects(images, targets, object_rows, rng)
        return augment(images, targets, rng)

    def _with_objects(self, images, targets, rows, rng):
        """Paste a procedural object into the chosen items; the object alone becomes their target."""
        chosen = images[rows]
        if self.dims == 2:
            c = chosen.shape[1]
            half_depth = rng.uniform(2.0, 20.0, len(rows))  # the object's half-extent in slices
            centre = rng.uniform(-1.1, 1.1, len(rows))
            offsets = np.arange(c) - c // 2
            depth = torch.from_numpy((centre[:, None] + offsets[None] / half_depth[:, None]).astype(np.float32))
            pasted, object_targets = paste_objects(chosen, depth, rng)
        else:
            d = chosen.shape[2]
            depth = torch.linspace(-1.08, 1.08, d)[None].expand(len(rows), d)
            pasted, object_targets = paste_objects(chosen[:, 0], depth, rng, middle_only=False)
            pasted = pasted[:, None]
        images, targets = images.clone(), targets.clone()
        images[rows], targets[rows] = pasted, object_targets
        return images, targets
