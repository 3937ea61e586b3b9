"""Every compared method behind one interface: start from a box, then take each round's new strokes.

    method = make_method("full", model=loaded, settings=settings)
    mask = method.start(volume, box)          # round 0: the box only
    mask = method.correct(foreground, background)  # later rounds: this round's strokes only

The engine variants are the ablation the BIFSeg paper reports, each ending with the random
walk as the full method does (random_walk.py), and the full method without it; the two
baselines are what Slicer users pick today. Seed-growing baselines cannot segment from a box alone,
so their round 0 is empty: every method gets the same number of strokes per round.
"""
from __future__ import annotations

import numpy as np

from ..session import Session
from ..settings import Settings
from . import growcut, random_walker
from .growcut import grow_from_seeds
from .random_walker import DEFAULT_BETA, random_walk
from .seeds import SeedImage

LABELS = {
    "cnn": "CNN only",
    "cnn_crf": "CNN + CRF + walk (no fine-tuning)",
    "unsupervised": "Unsupervised fine-tuning + walk",
    "supervised_unweighted": "Fine-tuning without uncertainty weights + walk",
    "full_no_walk": "BIFSeg without the walk",
    "full": "Full method (BIFSeg + random walk)",
    "growcut": "Grow from seeds (GrowCut)",
    "random_walker": "Random walker",
}
ENGINE_METHODS = ("cnn", "cnn_crf", "unsupervised", "supervised_unweighted", "full_no_walk", "full")
BASELINES = ("growcut", "random_walker")
ALL_METHODS = ENGINE_METHODS + BASELINES


class EngineMethod:
    """One engine session; `mode` picks the ablation."""

    def __init__(self, name: str, model, settings: Settings, device: str = "cpu"):
        self.name, self.model, self.device = name, model, device
        if name == "cnn_crf":
            settings = settings.updated(fine_tune=False)
        elif name == "supervised_unweighted":
            settings = settings.updated(uncertainty_weights=False)
        elif name == "full_no_walk":
            settings = settings.updated(random_walk=False)
        self.settings = settings
        self.session = None
        self.mask = None

    @property
    def result(self):
        """The engine's current round (what an uncertainty-guided user looks at); None before start."""
        return self.session.result if self.session is not None else None

    def start(self, volume, box) -> np.ndarray:
        self.session = Session(volume, model=self.model, device=self.device, settings=self.settings)
        self.mask = self.session.segment(box).mask
        return self.mask

    def correct(self, foreground: np.ndarray, background: np.ndarray) -> np.ndarray:
        if self.name == "cnn":
            return self.mask  # never refines
        if self.name == "unsupervised":
            self.mask = self.session.refine().mask  # the strokes are not used
        elif foreground.any() or background.any():
            self.mask = self.session.refine(foreground=foreground, background=background).mask
        return self.mask


class SeedMethod:
    """GrowCut or random walker on the accumulated strokes plus the outside of the box."""

    def __init__(self, name: str, beta: float = DEFAULT_BETA):
        self.name, self.beta = name, beta
        self.volume = self.seeds = None
        (growcut if name == "growcut" else random_walker).warm_up()

    def start(self, volume, box) -> np.ndarray:
        self.volume, self.seeds = volume, SeedImage(box, volume.shape)
        return self._run()

    def correct(self, foreground: np.ndarray, background: np.ndarray) -> np.ndarray:
        self.seeds.add(foreground, background)
        return self._run()

    def _run(self) -> np.ndarray:
        if self.name == "growcut":
            return grow_from_seeds(self.volume, self.seeds)
        return random_walk(self.volume, self.seeds, beta=self.beta)


def make_method(name: str, model=None, settings: Settings | None = None, device: str = "cpu",
                beta: float = DEFAULT_BETA):
    if name in ENGINE_METHODS:
        return EngineMethod(name, model, settings or Settings.from_card(model.card), device)
    if name in BASELINES:
        return SeedMethod(name, beta=beta)
    raise ValueError(f"Unknown method {name!r}; choose from {', '.join(ALL_METHODS)}.")
