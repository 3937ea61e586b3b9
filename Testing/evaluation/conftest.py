"""Small cases for the evaluation tests: a synthetic ellipsoid in noise and a tiny untrained model."""
from __future__ import annotations

import pytest

from interactiveseg import load_model

import scipy  # noqa: F401  the evaluation's optional dependencies are required here: CI installs them

from evaluation_fixtures import ellipsoid_case
from tiny_models import save_tiny_model


@pytest.fixture(scope="session")
def ellipsoid():
    return ellipsoid_case()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """An untrained tiny PC-Net, biased towards background so that it is confident, not uncertain."""
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    return load_model(save_tiny_model(path, (12, 32, 32), channels=6, class_bias=(1.5, -1.5)))
