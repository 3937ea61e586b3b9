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
    from slicer_scene import new_scene
    previous = getattr(slicer, "mrmlScene", None)
    scene = new_scene()
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


# The logic tests' scene: a rotated volume, a box, a logic on the shared worker, a user's segmentation.
# (InteractiveSegLib is imported inside: it is importable only once the path above is set.)

@pytest.fixture
def volume(scene):
    from slicer_scene import add_volume, blob_image, rotation
    from logic_scene import SHAPE
    return add_volume(scene, blob_image(SHAPE), spacing=(1.0, 1.0, 2.0), origin=(-20, -20, 0),
                      directions=rotation("S", 10), name="CT")


@pytest.fixture
def roi(scene, volume):
    from slicer_scene import add_roi
    from InteractiveSegLib.matrices import ijk_to_ras
    center = (ijk_to_ras(volume) @ [20, 20, 10, 1])[:3]
    return add_roi(scene, center, (16, 16, 16))


@pytest.fixture
def logic(scene, engine):
    from InteractiveSegLib.logic import InteractiveSegmentationLogic
    return InteractiveSegmentationLogic(scene, engine)


@pytest.fixture
def output(scene, volume):
    """A segmentation the user already has, with a segment of their own near the box."""
    import numpy as np
    from interactiveseg import Box
    from logic_scene import SHAPE
    from InteractiveSegLib.labelmaps import write_segment_region
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "My segmentation")
    node.CreateDefaultDisplayNodes()
    node.SetReferenceImageGeometryParameterFromVolumeNode(volume)
    mine = node.GetSegmentation().AddEmptySegment("mine", "Mine")
    mask = np.zeros(SHAPE, dtype=bool)
    mask[8:12, 15:25, 5:30] = True  # runs through the box and out of it
    k, j, i = SHAPE
    write_segment_region(node, mine, volume, Box((0, 0, 0), (i - 1, j - 1, k - 1)), mask)
    node.mine_mask = mask
    return node
