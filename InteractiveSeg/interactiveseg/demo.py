"""The built-in example: the bundled chest CT, a box around the right lung, two scribbles.

`interactiveseg demo` runs the whole interaction once (segment, then refine) and writes
a Slicer segmentation, a labelmap of the scribbles and a picture, so a new user sees
the product work before bringing data of their own.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .box import Box

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
SAMPLE_IMAGE = SAMPLES_DIR / "CTChest4.nrrd"
SAMPLE_REFERENCE = SAMPLES_DIR / "CTChest4-reference.seg.nrrd"
REFERENCE_LABEL = 5  # right lung in the reference segmentation

# The right lung's extent in the sample (inclusive I0 J0 K0 I1 J1 K1) grown by two voxels in-plane.
DEMO_BOX = Box.from_ijk([54, 32, 7, 113, 101, 33])
# Strokes as a clinician would paint them on axial slice k=20: (i0, i1, j, k, label).
DEMO_STROKES = [(82, 100, 70, 20, "foreground"), (57, 72, 68, 20, "background")]


def demo_scribbles(shape_kji) -> tuple:
    """Foreground and background masks of the demo strokes, on the sample's grid."""
    masks = {"foreground": np.zeros(shape_kji, dtype=bool), "background": np.zeros(shape_kji, dtype=bool)}
    for i0, i1, j, k, label in DEMO_STROKES:
        masks[label][k, j, i0:i1 + 1] = True
    return masks["foreground"], masks["background"]
