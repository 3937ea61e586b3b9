"""Fixtures for the web front end: a small model, a trame-slicer scene, a Workflow on it.

These tests need the `web` extra (trame-slicer, slicer-core) and, for the browser test,
Debian's chromium and Playwright. They fail rather than skip without them: CI installs
them, so a missing package is a broken setup, not a reason to test less.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")  # no X display on CI

import slicer  # noqa: E402
import trame_slicer  # noqa: E402,F401  (fails collection when the web extra is missing)

from web_helpers import FAST  # noqa: E402  (also puts InteractiveSeg/ on sys.path)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A small random 3D model whose output is about half foreground inside the demo box."""
    from interactiveseg import read_volume
    from interactiveseg.demo import DEMO_BOX, SAMPLE_IMAGE
    from tiny_models import half_foreground_model
    return half_foreground_model(tmp_path_factory.mktemp("model") / "tiny.safetensors",
                                 read_volume(SAMPLE_IMAGE), DEMO_BOX, (16, 48, 48))


@pytest.fixture
def workflow(tiny_model, engine, tmp_path):
    """A Workflow on a fresh trame-slicer scene, without views or a server."""
    from trame_slicer.core import SlicerApp

    from interactiveseg_web.workflow import Workflow
    previous = getattr(slicer, "mrmlScene", None)
    app = SlicerApp()
    from InteractiveSegLib.logic import InteractiveSegmentationLogic
    yield Workflow(app, model_path=str(tiny_model), settings=FAST,
                   logic=InteractiveSegmentationLogic(app.scene, engine), keep_dir=tmp_path / "kept")
    slicer.mrmlScene = previous  # Workflow points slicer.util's helpers at its scene
    app.scene.Clear(1)
