"""The local trame-slicer 2.0.0 fix (interactiveseg_web.paint_fix): painting works with it, not without."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from interactiveseg_web import paint_fix

SCRIPT = Path(__file__).with_name("paint_in_view.py")


def _paint(mode: str) -> dict:
    done = subprocess.run([sys.executable, str(SCRIPT), mode], capture_output=True, text=True, timeout=180)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"no result (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return json.loads(lines[-1][len("RESULT "):])


def test_without_the_fix_choosing_paint_fails_as_reported():
    # When this starts failing, trame-slicer has fixed the bug: delete paint_fix.py and this test.
    assert "paint_interaction_stopped" in _paint("nofix")["error"]


def test_with_the_fix_a_stroke_paints_the_foreground_scribble():
    outcome = _paint("fix")
    assert outcome["error"] == "", outcome
    assert outcome["foreground_voxels"] > 0


def test_the_fix_is_applied_once():
    from trame_slicer.segmentation.segmentation_paint_pipeline import SegmentationPaintPipeline
    assert paint_fix.apply() and paint_fix.apply()
    patched = SegmentationPaintPipeline.SetActive
    assert paint_fix.apply() and SegmentationPaintPipeline.SetActive is patched
