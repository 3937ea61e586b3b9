"""A PNG picture of a segmentation: axial, coronal and sagittal slices through its centre.

Views follow Slicer's conventions (axial: patient's right on the left, anterior up;
coronal: superior up; sagittal: anterior on the left) and physical aspect ratios, so
the picture looks as the volume does in Slicer. Pillow only: no plotting stack needed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .image_io import atomic_write
from .volume import Volume

COLORS = {"mask": (230, 80, 50), "foreground": (40, 220, 60), "background": (60, 140, 255), "box": (255, 220, 0)}
PANEL_SIZE = 320


def render_png(path, volume: Volume, mask: np.ndarray, foreground=None, background=None, box=None) -> Path:
    lps = _to_lps_axes(volume)  # (array, spacing) with axes (z, y, x) increasing to S, P, L
    layers = {name: _reorient(a, volume) for name, a in
              (("mask", mask), ("foreground", foreground), ("background", background)) if a is not None}
    if box is not None:
        box_mask = np.zeros(volume.shape, dtype=bool)
        box_mask[box.slices()] = True
        layers["box"] = _reorient(box_mask, volume)
    image, spacing = lps
    strokes = [layers[n] for n in ("foreground", "background") if n in layers]
    # Views through the scribbles when there are any (what the user painted), else through the mask.
    focus = np.logical_or.reduce(strokes) if strokes and np.any(strokes) else layers.get("mask")
    centre = _centre(focus, image.shape)
    panels = [
        _panel(image[centre[0]], layers, lambda a: a[centre[0]], (spacing[1], spacing[2]), "axial"),
        _panel(image[:, centre[1]][::-1], layers, lambda a: a[:, centre[1]][::-1], (spacing[0], spacing[2]), "coronal"),
        _panel(image[:, :, centre[2]][::-1], layers, lambda a: a[:, :, centre[2]][::-1], (spacing[0], spacing[1]),
               "sagittal"),
    ]
    canvas = Image.new("RGB", (sum(p.width for p in panels) + 8 * (len(panels) - 1), max(p.height for p in panels)))
    x = 0
    for panel in panels:
        canvas.paste(panel, (x, 0))
        x += panel.width + 8
    atomic_write(Path(path), lambda tmp: canvas.save(tmp, format="PNG"))
    return Path(path)


def _to_lps_axes(volume: Volume):
    return _reorient(volume.array, volume), _axes_spacing(volume)


def _axis_map(volume: Volume):
    """For array axes (k, j, i): which LPS axis each follows (2=S, 1=P, 0=L) and its sign."""
    columns = volume.direction  # columns: i, j, k directions
    result = []
    for array_axis, column in ((0, 2), (1, 1), (2, 0)):
        vector = columns[:, column]
        lps_axis = int(np.argmax(np.abs(vector)))
        result.append((array_axis, lps_axis, np.sign(vector[lps_axis])))
    return result


def _reorient(array: np.ndarray, volume: Volume) -> np.ndarray:
    """Permute and flip so that axes are (S, P, L) increasing: (k, j, i) for an LPS-aligned grid."""
    mapping = _axis_map(volume)
    order = [None, None, None]
    for array_axis, lps_axis, _ in mapping:
        order[2 - lps_axis] = array_axis
    out = np.transpose(array, order)
    for array_axis, lps_axis, sign in mapping:
        if sign < 0:
            out = np.flip(out, axis=2 - lps_axis)
    return out


def _axes_spacing(volume: Volume):
    spacing = [0.0, 0.0, 0.0]
    kji_spacing = tuple(reversed(volume.spacing))
    for array_axis, lps_axis, _ in _axis_map(volume):
        spacing[2 - lps_axis] = kji_spacing[array_axis]
    return spacing


def _centre(mask, shape):
    if mask is not None and mask.any():
        return [int(round(c)) for c in np.argwhere(mask).mean(axis=0)]
    return [s // 2 for s in shape]


def _panel(slice_2d, layers, take, spacing, title) -> Image.Image:
    low, high = np.percentile(slice_2d, (1, 99))
    gray = np.clip((slice_2d - low) / max(high - low, 1e-6) * 255, 0, 255).astype(np.uint8)
    rgb = np.repeat(gray[..., None], 3, axis=2).astype(np.float32)
    for name in ("mask", "foreground", "background"):
        if name in layers:
            region = take(layers[name]).astype(bool)
            alpha = 0.45 if name == "mask" else 0.9
            rgb[region] = (1 - alpha) * rgb[region] + alpha * np.array(COLORS[name])
    if "box" in layers:
        box = take(layers["box"]).astype(bool)
        edge = box & ~_eroded(box)
        rgb[edge] = COLORS["box"]
    height_mm, width_mm = slice_2d.shape[0] * spacing[0], slice_2d.shape[1] * spacing[1]
    scale = PANEL_SIZE / max(height_mm, width_mm)
    size = (max(1, int(round(width_mm * scale))), max(1, int(round(height_mm * scale))))
    panel = Image.fromarray(rgb.astype(np.uint8)).resize(size, Image.NEAREST)
    ImageDraw.Draw(panel).text((4, 2), title, fill=(255, 255, 255))
    return panel


def _eroded(mask: np.ndarray) -> np.ndarray:
    """4-neighbour erosion; outside the slice counts as empty, so edges on the border still show."""
    padded = np.pad(mask, 1)
    return (padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:])
