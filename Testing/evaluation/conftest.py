"""Small cases for the evaluation tests: a synthetic ellipsoid in noise and a tiny untrained model."""
from __future__ import annotations

import pytest
import torch

from interactiveseg import load_model, save_model
from interactiveseg.model_file import new_card
from interactiveseg.networks import build_network, pcnet_architecture

import scipy  # noqa: F401  the evaluation's optional dependencies are required here: CI installs them

from evaluation_fixtures import ellipsoid_case


@pytest.fixture(scope="session")
def ellipsoid():
    return ellipsoid_case()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """An untrained tiny PC-Net, biased towards background so that it is confident, not uncertain."""
    torch.manual_seed(0)
    architecture = pcnet_architecture(channels=6, compress_channels=3, classifier_channels=12)
    network = build_network(architecture)
    with torch.no_grad():
        network.classifier[-1].bias.copy_(torch.tensor([1.5, -1.5]))
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_model(path, network, new_card(architecture, (12, 32, 32)))
    return load_model(path)
