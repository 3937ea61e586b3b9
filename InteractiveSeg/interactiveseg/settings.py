"""Fine-tuning settings: defaults here, measured defaults from the model card, user overrides last."""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from .errors import InputError

# What each annotation admits: settings arrive as JSON from the panel, the worker and the command line.
_TYPES = {"float": (int, float), "int": (int,), "bool": (bool,), "str": (str,)}


@dataclass(frozen=True)
class CrfParameters:
    confidence: float = 0.8  # probabilities are clipped to [1 - confidence, confidence]
    iterations: int = 5
    appearance_weight: float = 1.0
    smoothness_weight: float = 0.3
    theta_spatial: float = 2.0  # in units of the smallest grid spacing
    theta_intensity: float = 0.5  # in normalised intensity units
    theta_smooth: float = 1.0


@dataclass(frozen=True)
class Settings:
    omega: float = 5.0  # loss weight of scribbled voxels
    t0: float = 0.2  # network-uncertain band: t0 < p < t1
    t1: float = 0.8
    alternations: int = 2  # label update (CRF) <-> weight update rounds
    iterations: int = 20  # gradient steps per alternation
    learning_rate: float = 1e-3
    pixels_per_step: int = 32768  # voxels sampled per step when only the classifier learns
    geodesic_radius: float = 4.0  # "near a scribble", in smallest grid spacings
    geodesic_intensity_weight: float = 4.0
    finetune_scope: str = "classifier"  # "classifier" (fast, cached features) or "all"
    fine_tune: bool = True  # False: refine applies only the CRF with scribbles (an ablation)
    uncertainty_weights: bool = True  # False: weight 1 on every non-scribble voxel (an ablation)
    keep_connected: bool = True  # keep only the object's component(s): the largest, and those a stroke touches
    local_edits: bool = False  # True: a round changes the mask only where its strokes touch (measured worse)
    protect_depth: float = 0.0  # >0: a removed part deeper than this (grid voxels) needs a background stroke on it
    carry_result: bool = True  # a round's label update starts from the last result, not the network's own map
    random_walk: bool = True  # after fine-tuning, spread the strokes along the object (random_walk.py)
    walk_beta: float = 10.0  # edge sensitivity: w = exp(-beta dI^2 / mean dI^2) between neighbours
    walk_gamma: float = 0.01  # how firmly the network's sure voxels hold their probability
    walk_iterations: int = 100  # conjugate-gradient iterations at most
    native_walk: bool = True  # then walk again at the image's resolution (the grid can be coarser)
    native_gamma: float = 0.1  # the prior's hold in that walk, per grid voxel's area
    native_band: int = 0  # grid voxels that walk may move the grid's boundary by; 0: no limit
    native_beta: float | None = None  # that walk's edge sensitivity; None: walk_beta
    native_appearance: float = 0.0  # >0: that walk's prior moves by the object's intensities near its boundary
    first_walk_band: int = 0  # >0: grid voxels the first mask's boundary may move onto edges (region_walk.py)
    first_walk_gamma: float = 0.01  # the network's hold in that walk, per grid voxel's area
    trust_power: float = 0.0  # >0: strokes against a sure network weaken the walk's prior hold (prior_trust.py)
    trust_reach: float = 0.0  # grid voxels over which a background stroke weakens the prior's foreground; 0: not
    stroke_claims: bool = False  # a background stroke inside the mask takes back the region it reaches first
    one_way_rounds: bool = False  # a round with strokes of one label only: background only removes, foreground adds
    stroke_input_reach: float = 0.0  # >0: distance to the strokes is a head input, fading over this (grid voxels)
    stroke_input_intensity: bool = False  # with it, the normalised intensity too
    stroke_input_lr: float = 10.0  # those inputs' learning rate, times learning_rate
    balance_power: float = 1.0  # 1: each label half of the loss (a small object's boundary moves out); 0: as counted
    seed: int = 0
    crf: CrfParameters = field(default_factory=CrfParameters)

    # The settings a user may change in the Slicer panel; the parameter node's defaults come from here too.
    PANEL_FIELDS = ("iterations", "omega", "t0", "t1", "learning_rate")

    @classmethod
    def from_card(cls, card: dict, **overrides) -> "Settings":
        measured = dict(card.get("finetune_defaults") or {})
        crf = CrfParameters(**measured.pop("crf", {}))
        known = {f.name for f in fields(cls)}
        settings = cls(crf=crf, **{k: v for k, v in measured.items() if k in known})
        return settings.with_overrides(overrides)  # a "crf" mapping or crf.NAME keys change the CRF's

    def updated(self, **overrides) -> "Settings":
        unknown = set(overrides) - {f.name for f in fields(self)}
        if unknown:
            raise InputError(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
        return replace(self, **{k: v for k, v in overrides.items() if v is not None}).validated()

    def with_overrides(self, overrides: dict) -> "Settings":
        """Settings with some values changed; "crf.NAME" keys (or a "crf" dict) change the CRF parameters.

        Keys are those of as_dict(), so a dict from a report, a CLI's KEY=VALUE or a panel round-trips.
        """
        overrides = dict(overrides or {})
        crf = dict(overrides.pop("crf", None) or {})
        crf.update({k.split(".", 1)[1]: overrides.pop(k) for k in list(overrides) if k.startswith("crf.")})
        if crf:
            unknown = set(crf) - {f.name for f in fields(CrfParameters)}
            if unknown:
                raise InputError(f"Unknown CRF setting(s): {', '.join(sorted(unknown))}.")
            overrides["crf"] = replace(self.crf, **crf)
        return self.updated(**overrides)

    def as_dict(self) -> dict:
        """Plain values, the CRF's nested under "crf" (JSON-ready; with_overrides takes it back)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["crf"] = {f.name: getattr(self.crf, f.name) for f in fields(self.crf)}
        return values

    def panel_values(self) -> dict:
        """The values the Slicer panel shows (PANEL_FIELDS)."""
        return {name: getattr(self, name) for name in self.PANEL_FIELDS}

    def validated(self) -> "Settings":
        if not isinstance(self.crf, CrfParameters):
            raise InputError('CRF settings go in a "crf" mapping of their own names, or as crf.NAME keys.')
        _check_types(self)
        _check_types(self.crf, "crf.")
        if not 0.0 <= self.t0 < self.t1 <= 1.0:
            raise InputError(f"Thresholds must satisfy 0 <= t0 < t1 <= 1, got t0={self.t0}, t1={self.t1}.")
        if self.omega <= 0:
            raise InputError(f"omega must be positive, got {self.omega}.")
        if self.iterations < 1 or self.alternations < 1:
            raise InputError("iterations and alternations must be at least 1.")
        if self.learning_rate <= 0:
            raise InputError(f"learning_rate must be positive, got {self.learning_rate}.")
        if self.finetune_scope not in ("classifier", "all"):
            raise InputError(f"finetune_scope must be 'classifier' or 'all', got {self.finetune_scope!r}.")
        if self.walk_beta < 0 or self.walk_gamma <= 0 or self.native_gamma <= 0 or self.walk_iterations < 1:
            raise InputError("walk_beta must be >= 0, walk_gamma and native_gamma > 0, walk_iterations >= 1.")
        if self.stroke_input_reach < 0 or self.stroke_input_lr <= 0:
            raise InputError("stroke_input_reach must be >= 0 grid voxels and stroke_input_lr > 0.")
        if not 0.0 <= self.balance_power <= 1.0:
            raise InputError(f"balance_power must be from 0 to 1, got {self.balance_power}.")
        if self.protect_depth < 0:
            raise InputError(f"protect_depth must be >= 0 grid voxels, got {self.protect_depth}.")
        if self.native_beta is not None and self.native_beta < 0:
            raise InputError(f"native_beta must be >= 0, got {self.native_beta}.")
        if self.trust_power < 0 or self.trust_reach < 0:
            raise InputError(f"trust_power and trust_reach must be >= 0, got {self.trust_power}, {self.trust_reach}.")
        if self.native_appearance < 0:
            raise InputError(f"native_appearance must be >= 0, got {self.native_appearance}.")
        if self.native_band < 0:
            raise InputError(f"native_band must be >= 0 grid voxels, got {self.native_band}.")
        if self.first_walk_band < 0 or self.first_walk_gamma <= 0:
            raise InputError(f"first_walk_band must be >= 0 grid voxels and first_walk_gamma > 0, got "
                             f"{self.first_walk_band}, {self.first_walk_gamma}.")
        if not 0.5 < self.crf.confidence < 1.0:
            raise InputError(f"CRF confidence must be in (0.5, 1), got {self.crf.confidence}.")
        return self


def _check_types(values, prefix: str = "") -> None:
    """A value of the wrong type (a string for a number, 2.5 steps, "yes" for true) is refused by name."""
    for f in fields(values):
        value, kind = getattr(values, f.name), f.type.replace(" | None", "")
        if kind not in _TYPES or (value is None and f.type.endswith("| None")):
            continue
        if not isinstance(value, _TYPES[kind]) or (kind != "bool" and isinstance(value, bool)):
            wanted = {"float": "a number", "int": "a whole number", "bool": "true or false", "str": "a name"}[kind]
            raise InputError(f"Setting {prefix}{f.name} must be {wanted}, got {value!r}.")
