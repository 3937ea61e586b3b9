"""Model files: safetensors weights plus a JSON model card beside them.

`model.safetensors` holds only tensors (no code is ever unpickled); `model.json` says
how to build the network, how to prepare its input, which fine-tuning defaults were
measured for it, what it was trained on and how well it did. The card stores the
SHA-256 of the weights so that a damaged or swapped file is refused.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .errors import InputError, ModelError
from .image_io import atomic_write
from .networks import DilatedNet, build_network

FORMAT_VERSION = 1
MODELS_DIR = Path(__file__).resolve().parent / "models"
SHIPPED_MODELS = {3: "default-3d", 2: "default-2d"}
# The model used when none is chosen, for single slices and 3D volumes alike: the 2D P-Net,
# run slice by slice, measured a higher box-only Dice on the held-out subjects (0.55) than
# the 3D PC-Net (0.35); both cards give the figures.
DEFAULT_DIMS = 2


@dataclass
class LoadedModel:
    network: DilatedNet
    card: dict
    path: Path

    @property
    def dims(self) -> int:
        return self.card["architecture"]["dims"]

    @property
    def grid_shape(self) -> tuple:
        return tuple(self.card["input"]["grid_shape"])


def card_path(weights_path) -> Path:
    return Path(weights_path).with_suffix(".json")


def default_model_path(dims: int | None = None) -> Path:
    """The shipped model of the given dimension (2 or 3); None: the recommended default."""
    return MODELS_DIR / f"{SHIPPED_MODELS[DEFAULT_DIMS if dims is None else dims]}.safetensors"


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_model(path, network: DilatedNet, card: dict) -> Path:
    """Write weights and card atomically; the card gets the weights' checksum."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise InputError(f"Model weights must be saved as .safetensors: {path}")
    tensors = {name: t.detach().cpu().contiguous() for name, t in network.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp)))
    card = dict(card, format_version=FORMAT_VERSION, sha256=sha256_of(path))
    text = json.dumps(card, indent=2, sort_keys=False) + "\n"
    atomic_write(card_path(path), lambda tmp: Path(tmp).write_text(text))
    return path


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
    for key in ("architecture", "input", "sha256"):
        if key not in card:
            raise ModelError(f"Model card {path} lacks the '{key}' entry.")
    if card.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
        raise ModelError(f"Model card {path} is of a newer format ({card['format_version']}); update InteractiveSeg.")
    return card


def load_model(path=None, dims: int | None = None) -> LoadedModel:
    """Load and verify a model; None loads a shipped model (see default_model_path)."""
    path = Path(path) if path is not None else default_model_path(dims)
    if path.suffix == ".json":
        path = path.with_suffix(".safetensors")
    if not path.is_file():
        raise ModelError(f"Model file not found: {path}")
    card = read_card(path)
    actual = sha256_of(path)
    if actual != card["sha256"]:
        raise ModelError(f"Model file {path} does not match the checksum in its card: the file is damaged or was replaced.")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelError(f"Model file {path} is not a readable safetensors file: {error}") from None
    try:
        network = build_network(card["architecture"])
        network.load_state_dict(tensors, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ModelError(f"Model file {path} does not match the architecture in its card: {str(error)[:300]}") from None
    network.eval()
    return LoadedModel(network, card, path)


def new_card(architecture: dict, grid_shape, margin_fraction: float = 0.1, margin_minimum: int = 3) -> dict:
    """The minimal card a network needs to be used; training adds data and metrics."""
    return {
        "name": architecture["name"],
        "architecture": architecture,
        "input": {"grid_shape": list(grid_shape), "margin_fraction": margin_fraction,
                  "margin_minimum": margin_minimum, "ct_window": [-1000.0, 1000.0]},
        "finetune_defaults": {},
        "training": {},
        "metrics": {},
    }

