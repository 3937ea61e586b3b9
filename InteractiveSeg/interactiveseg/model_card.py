"""Model cards: the JSON beside each model's weights, read and written without torch.

The Slicer module reads cards (fine-tuning defaults, the model's name) before torch is
installed, and the worker protocol carries only paths: so this file needs nothing but
the standard library and the atomic writer.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from .errors import ModelError
from .image_io import atomic_write

FORMAT_VERSION = 1
MODELS_DIR = Path(__file__).resolve().parent / "models"
SCHEMA_PATH = MODELS_DIR / "model-card.schema.json"  # what every card must look like (tested on the shipped ones)
SHIPPED_MODELS = {3: "default-3d", 2: "default-2d"}
# The model used when none is chosen for a volume: the 3D U-Net. On the development subjects, box
# and three rounds of strokes, it scored 0.825 against the 2.5D U-Net's 0.819, and a round takes a
# third of the time (the README's "The default model" gives both models' figures). A single-slice
# image gets the 2.5D U-Net, which was trained on slices.
DEFAULT_DIMS = 3


def card_path(weights_path) -> Path:
    return Path(weights_path).with_suffix(".json")


def default_model_path(dims: int | None = None, slices: int | None = None) -> Path:
    """The shipped model of the given dimension (2 or 3); None: the recommended default for an
    image of `slices` slices (the 2D model for a single slice, DEFAULT_DIMS otherwise)."""
    if dims is None:
        dims = 2 if slices == 1 else DEFAULT_DIMS
    return MODELS_DIR / f"{SHIPPED_MODELS[dims]}.safetensors"


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# Every section of a card, and the code that writes it: nothing in a card is written by hand.
SECTION_WRITERS = {
    "name": "new_card (training)", "architecture": "new_card (training)", "input": "new_card (training)",
    "format_version": "save_model", "sha256": "save_model",
    "training": "interactiveseg train",
    # the defaults search; `train --init` inherits both from the initial model, saying whose they are
    "finetune_defaults": "python -m interactiveseg.evaluation.defaults_search --write-card",
    "finetune_defaults_search": "python -m interactiveseg.evaluation.defaults_search --write-card",
    "metrics": "interactiveseg evaluate-box --write-card",
    "limitations": "interactiveseg evaluate-box --write-card",
    "spectral_signature": "interactiveseg signature",
}


@dataclass
class ModelCard:
    """The JSON beside a model's weights, section by section (SECTION_WRITERS says who writes which).

    Models carry their card as a plain dict (`LoadedModel.card`); this type is the one
    definition of what a card holds, used to read, check and write it.
    """
    name: str
    architecture: dict
    input: dict
    sha256: str = ""
    format_version: int = FORMAT_VERSION
    finetune_defaults: dict = field(default_factory=dict)
    finetune_defaults_search: dict | None = None
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    limitations: list | None = None
    spectral_signature: dict | None = None

    @classmethod
    def from_dict(cls, data: dict, where: str = "") -> "ModelCard":
        unknown = set(data) - set(SECTION_WRITERS)
        if unknown:
            raise ModelError(f"Model card {where} has sections no code writes: {', '.join(sorted(unknown))}.")
        missing = [key for key in ("name", "architecture", "input") if key not in data]
        if missing:
            raise ModelError(f"Model card {where} lacks the {', '.join(missing)} section(s).")
        return cls(**data)

    def to_dict(self) -> dict:
        """The card's JSON object; sections never written (None) are left out."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def update_sections(card_file, **sections) -> Path:
    """Replace whole sections of a card on disk (the weights, and so the checksum, stay as they are)."""
    unknown = set(sections) - set(SECTION_WRITERS)
    if unknown:
        raise ValueError(f"not a model card section: {', '.join(sorted(unknown))}")  # a bug, not bad input
    return update_card(card_file, lambda card: card.update(sections))


def update_card(card_file, change) -> Path:
    """Let `change(card)` edit a card JSON in place on disk; the weights, and so the checksum, stay as they are."""
    path = Path(card_file)
    card = json.loads(path.read_text())
    change(card)
    text = json.dumps(card, indent=2) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    return path


def read_card(path) -> dict:
    path = card_path(path)
    if not path.is_file():
        raise ModelError(f"Model card not found: {path} (each .safetensors needs its .json card beside it).")
    try:
        card = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"Model card {path} is not valid JSON: {error}") from None
    if not isinstance(card, dict):
        raise ModelError(f"Model card {path} is not a JSON object.")
    if card.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
        raise ModelError(f"Model card {path} is of a newer format ({card['format_version']}); update InteractiveSeg.")
    if "sha256" not in card:
        raise ModelError(f"Model card {path} lacks the 'sha256' entry.")
    return ModelCard.from_dict(card, str(path)).to_dict()
