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
    """A small randomly initialised 3D model saved with its card, as a user's model file would be.

    Untrained, it says "background" almost everywhere, which would make every mask the
    tests compare empty. Its last bias is shifted so that about half of the test box comes
    out as foreground: masks with both values, so that misplaced writes show.
    """
    import numpy as np
    import torch
    from interactiveseg import Box, Session, Volume, model_file, networks
    from slicer_scene import blob_image
    torch.manual_seed(0)
    architecture = networks.pcnet_architecture(channels=4, compress_channels=2, classifier_channels=8)
    network = networks.build_network(architecture)
    card = model_file.new_card(architecture, grid_shape=(16, 32, 32))
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    model_file.save_model(path, network, card)
    result = Session(Volume(blob_image(), spacing=(1, 1, 2)), path, "cpu").segment(Box((11, 11, 6), (29, 29, 14)))
    probability = np.clip(result.region_probability, 1e-6, 1 - 1e-6)
    median_logit = float(np.median(np.log(probability / (1 - probability))))
    with torch.no_grad():
        network.classifier[-1].bias[1] -= median_logit
    model_file.save_model(path, network, card)
    return path
