"""Small random models for tests that need masks with both values (shared by test folders).

An untrained network says "background" almost everywhere, which would make every mask
a test compares empty. Shifting its last bias by the median logit over a test box makes
about half of that box foreground, so that changes and misplaced writes show.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from interactiveseg import Session, model_file, networks


def half_foreground_model(path: Path, volume, box, grid_shape) -> Path:
    """Save a tiny random PC-Net at `path` whose output is about half foreground inside `box`."""
    torch.manual_seed(0)
    architecture = networks.pcnet_architecture(channels=4, compress_channels=2, classifier_channels=8)
    network = networks.build_network(architecture)
    card = model_file.new_card(architecture, grid_shape=grid_shape)
    model_file.save_model(path, network, card)
    probability = np.clip(Session(volume, path, "cpu").segment(box).region_probability, 1e-6, 1 - 1e-6)
    with torch.no_grad():
        network.classifier[-1].bias[1] -= float(np.median(np.log(probability / (1 - probability))))
    return model_file.save_model(path, network, card)
