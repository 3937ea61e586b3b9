"""Small random models for the tests: one place that builds them (shared by every test folder).

An untrained network says "background" almost everywhere, which would make every mask
a test compares empty. Shifting its last bias by the median logit over a test box makes
about half of that box foreground, so that changes and misplaced writes show.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from interactiveseg import Session, model_file, networks


def tiny_architecture(dims: int = 3, channels: int = 4) -> dict:
    """A few thousand parameters: PC-Net in 3D, P-Net in 2D."""
    make = networks.pcnet_architecture if dims == 3 else networks.pnet_architecture
    return make(channels=channels, compress_channels=max(channels // 2, 1), classifier_channels=2 * channels)


def tiny_network(dims: int = 3, channels: int = 4, seed: int = 0, class_bias=None) -> tuple:
    """(network, architecture), random from `seed`; `class_bias` sets the last layer's (background, foreground) bias."""
    torch.manual_seed(seed)
    architecture = tiny_architecture(dims, channels)
    network = networks.build_network(architecture)
    if class_bias is not None:
        with torch.no_grad():
            network.classifier[-1].bias.copy_(torch.tensor(class_bias, dtype=torch.float32))
    return network, architecture


def save_tiny_model(path: Path, grid_shape, dims: int = 3, channels: int = 4, seed: int = 0, class_bias=None) -> Path:
    """A tiny random model saved with its card at `path`, as a user's model file would be."""
    network, architecture = tiny_network(dims, channels, seed, class_bias)
    return model_file.save_model(path, network, model_file.new_card(architecture, grid_shape))


def half_foreground_model(path: Path, volume, box, grid_shape) -> Path:
    """Save a tiny random PC-Net at `path` whose output is about half foreground inside `box`."""
    network, architecture = tiny_network()
    card = model_file.new_card(architecture, grid_shape=grid_shape)
    model_file.save_model(path, network, card)
    probability = np.clip(Session(volume, path, "cpu").segment(box).region_probability, 1e-6, 1 - 1e-6)
    with torch.no_grad():
        network.classifier[-1].bias[1] -= float(np.median(np.log(probability / (1 - probability))))
    return model_file.save_model(path, network, card)
