"""Model files: safetensors weights plus a JSON model card beside them.

`model.safetensors` holds only tensors (no code is ever unpickled); `model.json` says
how to build the network, how to prepare its input, which fine-tuning defaults were
measured for it, what it was trained on and how well it did. The card stores the
SHA-256 of the weights so that a damaged or swapped file is refused.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .errors import InputError, ModelError
from .image_io import atomic_write
from .normalization import CT_WINDOW
from .model_card import (DEFAULT_DIMS, FORMAT_VERSION, MODELS_DIR, SHIPPED_MODELS, card_path,  # noqa: F401
                         default_model_path, read_card, sha256_of, update_card)
from .networks import SplitNetwork, build_network

@dataclass
class LoadedModel:
    network: SplitNetwork
    card: dict
    path: Path

    @property
    def dims(self) -> int:
        return self.card["architecture"]["dims"]

    @property
    def grid_shape(self) -> tuple:
        return tuple(self.card["input"]["grid_shape"])


def save_model(path, network: SplitNetwork, card: dict) -> Path:
    """Write weights and card atomically; the card gets the weights' checksum."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise InputError(f"Model weights must be saved as .safetensors: {path}")
    tensors = {name: t.detach().cpu().contiguous() for name, t in network.state_dict().items()}

    def write_pair(tmp_weights):
        # The card is in place before the weights: if writing it fails, the old pair is left as it was.
        save_file(tensors, str(tmp_weights))
        text = json.dumps(dict(card, format_version=FORMAT_VERSION, sha256=sha256_of(tmp_weights)), indent=2,
                          sort_keys=False) + "\n"
        atomic_write(card_path(path), lambda tmp: Path(tmp).write_text(text))
    atomic_write(path, write_pair)
    return path


def load_model(path=None, dims: int | None = None, slices: int | None = None) -> LoadedModel:
    """Load and verify a model; None loads a shipped model (see default_model_path)."""
    path = Path(path) if path is not None else default_model_path(dims, slices)
    if path.suffix == ".json":
        path = path.with_suffix(".safetensors")
    if not path.is_file():
        raise ModelError(f"Model file not found: {path}")
    card = read_card(path)
    actual = sha256_of(path)
    if actual != card["sha256"]:
        raise ModelError(f"Model file {path} does not match the checksum in its card: "
                         "the file is damaged or was replaced.")
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
                  "margin_minimum": margin_minimum, "ct_window": list(CT_WINDOW)},
        "finetune_defaults": {},
        "training": {},
        "metrics": {},
    }

