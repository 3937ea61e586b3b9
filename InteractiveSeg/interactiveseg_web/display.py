"""How the page's views show the scene: window presets, the segment's look, the uncertainty legend, view labels.

Pure functions on MRML nodes, so the Workflow stays about the workflow and each look is
testable on a scene without views.
"""
from __future__ import annotations

import numpy as np
from vtk.util import numpy_support

from interactiveseg.normalization import guess_modality

# (window, level) in Hounsfield units; None: Slicer's automatic window from the histogram.
WINDOW_PRESETS = {
    "auto": ("Automatic", None),
    "ct-lung": ("CT lung", (1500.0, -600.0)),
    "ct-mediastinum": ("CT mediastinum", (350.0, 50.0)),
    "ct-bone": ("CT bone", (2000.0, 500.0)),
}
SEGMENT_COLOUR = (1.0, 0.82, 0.1)  # amber: apart from the green/magenta scribbles and the red box
SEGMENT_OPACITY = 0.35  # fill in the slice views; the outline stays opaque so the edge is always seen
ORIENTATION_LETTERS = (("L", "R"), ("P", "A"), ("I", "S"))  # RAS axis: (negative end, positive end)


def default_window(volume_node) -> str:
    """Mediastinum for CT (the usual first look at a body CT), automatic for everything else."""
    image = volume_node.GetImageData()
    if image is None or image.GetPointData().GetScalars() is None:
        return "auto"
    values = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())
    return "ct-mediastinum" if guess_modality(values) == "CT" else "auto"


def apply_window(volume_node, preset: str) -> None:
    if preset not in WINDOW_PRESETS:
        raise KeyError(f"unknown window preset {preset!r}")
    display = volume_node.GetDisplayNode()
    if display is None:
        return
    window_level = WINDOW_PRESETS[preset][1]
    if window_level is None:
        display.AutoWindowLevelOn()
    else:
        display.AutoWindowLevelOff()
        display.SetWindowLevel(*window_level)


def window_level(volume_node) -> tuple:
    """The window and level the views show now (also after a drag in a view)."""
    display = volume_node.GetDisplayNode()
    return (round(display.GetWindow(), 1), round(display.GetLevel(), 1)) if display is not None else (0.0, 0.0)


def style_segment(segmentation_node, segment_id: str, opacity: float) -> None:
    """The segment in its own colour, filled at `opacity` and outlined in the slice views."""
    segment = segmentation_node.GetSegmentation().GetSegment(segment_id)
    if segment is None:
        return
    segment.SetColor(*SEGMENT_COLOUR)
    display = segmentation_node.GetDisplayNode()
    display.SetVisibility2DFill(True)
    display.SetVisibility2DOutline(True)
    display.SetSegmentOpacity2DFill(segment_id, float(opacity))
    display.SetSegmentOpacity2DOutline(segment_id, 1.0)


def outline_box(roi_node) -> None:
    """Draw the box as an outline: a filled box, or its name written across it, hides the segment inside."""
    display = roi_node.GetDisplayNode()
    if display is None:
        return
    display.SetFillVisibility(False)
    display.SetPropertiesLabelVisibility(False)
    display.SetOutlineVisibility(True)
    display.SetOutlineOpacity(1.0)


def edge_letters(slice_node) -> dict:
    """Which patient direction each edge of a slice view faces, from its slice-to-RAS matrix (R/L, A/P, S/I)."""
    matrix = np.array([[slice_node.GetSliceToRAS().GetElement(r, c) for c in range(3)] for r in range(3)])
    letters = {}
    for column, (low_edge, high_edge) in ((0, ("left", "right")), (1, ("bottom", "top"))):
        axis = matrix[:, column]
        dominant = int(np.argmax(np.abs(axis)))
        negative, positive = ORIENTATION_LETTERS[dominant]
        toward_high = positive if axis[dominant] > 0 else negative
        toward_low = negative if axis[dominant] > 0 else positive
        letters[high_edge], letters[low_edge] = toward_high, toward_low
    return letters


def colour_ramp_css(color_node, stops: int = 8) -> str:
    """A CSS linear-gradient of a colour node's range, low (left) to high (right), for a legend."""
    lookup = color_node.GetLookupTable() if color_node is not None else None
    if lookup is None:
        return "linear-gradient(to right, black, white)"
    low, high = lookup.GetRange()
    colours = []
    for n in range(stops):
        rgb = [0.0, 0.0, 0.0]
        lookup.GetColor(low + (high - low) * n / (stops - 1), rgb)
        colours.append("rgb(" + ",".join(str(round(255 * c)) for c in rgb) + ")")
    return f"linear-gradient(to right, {', '.join(colours)})"
