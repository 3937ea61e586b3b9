"""Helpers shared by the web tests (a module of its own: `conftest` names clash across test folders)."""
from __future__ import annotations

import sys
import time
from pathlib import Path


REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "InteractiveSeg"))  # InteractiveSegLib and interactiveseg_web, as installed

FAST = {"iterations": 2, "alternations": 1}  # a round in seconds on two cores


def finish(workflow, timeout: float = 120.0) -> None:
    """Poll a running round to its end, as the server loop does."""
    deadline = time.monotonic() + timeout
    while not workflow.poll():
        assert time.monotonic() < deadline, f"the round did not finish within {timeout} s"
        time.sleep(0.05)


def add_box(workflow, box):
    """A Markups ROI over an engine Box (inclusive IJK corners), as two clicks would make it."""
    from InteractiveSegLib.roi_box import roi_over_box
    workflow.roi_node = roi_over_box(workflow.scene, workflow.volume_node, box)
    return workflow.roi_node
