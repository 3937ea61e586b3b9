"""Fixtures for the web front end: a small model, a trame-slicer scene, a Workflow on it.

These tests need the `web` extra (trame-slicer, slicer-core) and, for the browser test,
Debian's chromium and Playwright. They fail rather than skip without them: CI installs
them, so a missing package is a broken setup, not a reason to test less.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")  # no X display on CI

import slicer  # noqa: E402
import trame_slicer  # noqa: E402,F401  (fails collection when the web extra is missing)

from web_helpers import FAST  # noqa: E402  (also puts InteractiveSeg/ on sys.path)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A small random 3D model whose output is about half foreground inside the demo box.

    Untrained, a network says "background" almost everywhere; shifting its last bias by
    the median logit makes masks with both values, so that changes and misplaced writes show.
    """
    import torch

    from interactiveseg import Session, model_file, networks, read_volume
    from interactiveseg.demo import DEMO_BOX, SAMPLE_IMAGE
    torch.manual_seed(0)
    architecture = networks.pcnet_architecture(channels=4, compress_channels=2, classifier_channels=8)
    network = networks.build_network(architecture)
    card = model_file.new_card(architecture, grid_shape=(16, 48, 48))
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    model_file.save_model(path, network, card)
    probability = Session(read_volume(SAMPLE_IMAGE), path, "cpu").segment(DEMO_BOX).region_probability
    probability = np.clip(probability, 1e-6, 1 - 1e-6)
    with torch.no_grad():
        network.classifier[-1].bias[1] -= float(np.median(np.log(probability / (1 - probability))))
    model_file.save_model(path, network, card)
    return path


@pytest.fixture
def workflow(tiny_model):
    """A Workflow on a fresh trame-slicer scene, without views or a server."""
    from trame_slicer.core import SlicerApp

    from interactiveseg_web.workflow import Workflow
    previous = getattr(slicer, "mrmlScene", None)
    app = SlicerApp()
    yield Workflow(app, model_path=str(tiny_model), settings=FAST)
    slicer.mrmlScene = previous  # Workflow points slicer.util's helpers at its scene
    app.scene.Clear(1)
