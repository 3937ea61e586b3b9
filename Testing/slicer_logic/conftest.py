"""A real MRML scene from the `slicer-core` package, set up the way Slicer's application does.

These tests need slicer-core (`pip install slicer-core==5.11.0.6`). They fail rather than
skip without it: CI installs it, so a missing package is a broken setup, not a reason to
test less.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

import slicer

if not hasattr(slicer, "vtkMRMLScene"):
    raise ImportError("The 'slicer' module found is not slicer-core (Kitware's MRML package): "
                      "pip install slicer-core==5.11.0.6")

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "InteractiveSeg"))  # InteractiveSegLib, as Slicer's module path provides it


@pytest.fixture
def scene():
    """A fresh scene with the module logics Slicer registers before any segment is created."""
    scene = slicer.vtkMRMLScene()
    app = slicer.vtkSlicerApplicationLogic()
    app.SetMRMLScene(scene)
    colors = app.GetColorLogic()
    colors.SetMRMLScene(scene)
    colors.AddDefaultColorNodes()
    app.SetModuleLogic("Colors", colors)
    logics = {"Volumes": slicer.vtkSlicerVolumesLogic(), "Segmentations": slicer.vtkSlicerSegmentationsModuleLogic(),
              "Markups": slicer.vtkSlicerMarkupsLogic()}
    for name, logic in logics.items():
        logic.SetMRMLScene(scene)
        logic.SetMRMLApplicationLogic(app)
        app.SetModuleLogic(name, logic)
    previous = getattr(slicer, "mrmlScene", None)
    slicer.mrmlScene = scene  # for the slicer.util array helpers
    scene.keep_alive = (app, logics)  # VTK objects die with their last Python reference
    yield scene
    slicer.mrmlScene = previous
    scene.Clear(1)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A small random 3D model saved with its card, as a user's model file would be; about half
    of the test box comes out as foreground (see tiny_models.py)."""
    from interactiveseg import Box, Volume
    from slicer_scene import blob_image
    from tiny_models import half_foreground_model
    return half_foreground_model(tmp_path_factory.mktemp("model") / "tiny.safetensors",
                                 Volume(blob_image(), spacing=(1, 1, 2)), Box((11, 11, 6), (29, 29, 14)), (16, 32, 32))


@pytest.fixture
def compute():
    """Run a planned job in the worker and return its result without applying it to the scene."""
    from InteractiveSegLib.round_runner import DONE, RoundRunner

    def run(logic, job):
        status = RoundRunner(logic, apply=False).start_and_wait(job, timeout=120)
        if status.state != DONE:
            raise status.error
        return status.result
    return run
