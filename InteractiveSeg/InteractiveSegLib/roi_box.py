"""A Markups ROI (any rotation, any linear parent transforms) to the engine's voxel box.

The engine works on boxes aligned with the volume's voxel axes. A rotated ROI becomes the
smallest such box that holds it: every voxel whose centre lies inside the ROI's corners'
bounding box in IJK. (Crop Volume keeps only voxels lying wholly inside; centres are used
here so that an ROI drawn on a single-slice image still selects that slice.)
"""
from __future__ import annotations

import itertools

import numpy as np

from slicer.util import NodeModify
from interactiveseg import Box, InputError

from .matrices import ijk_to_ras, node_to_node, to_numpy
from .volume_nodes import shape_kji

_TOLERANCE = 1e-3  # voxels: a face exactly on a voxel centre still takes that voxel


def roi_to_ijk(roi_node, volume_node) -> np.ndarray:
    """Matrix from the ROI's object coordinates (centre at 0, axes along its edges) to volume IJK."""
    object_to_node = to_numpy(roi_node.GetObjectToNodeMatrix())
    roi_to_volume = node_to_node(roi_node, volume_node,
                                 f"ROI '{roi_node.GetName()}' or volume '{volume_node.GetName()}'")
    return np.linalg.inv(ijk_to_ras(volume_node)) @ roi_to_volume @ object_to_node


def box_from_roi(roi_node, volume_node) -> Box:
    """The voxel box of the volume covered by the ROI, clipped to the volume."""
    if roi_node is None:
        raise InputError("Place a box (ROI) around the object first.")
    if not roi_node.IsA("vtkMRMLMarkupsROINode"):
        raise InputError(f"'{roi_node.GetName()}' is not a Markups ROI.")
    radius = np.zeros(3)
    roi_node.GetRadiusXYZ(radius)
    if roi_node.GetNumberOfDefinedControlPoints() == 0 or not np.all(radius > 0):
        raise InputError(f"ROI '{roi_node.GetName()}' is not placed yet, or is flat: drag a box around the object.")
    if roi_node.GetInsideOut():
        raise InputError(f"ROI '{roi_node.GetName()}' is inside-out: turn off 'Inside out' in the Markups module.")
    corners = np.array([[sx * radius[0], sy * radius[1], sz * radius[2], 1.0]
                        for sx, sy, sz in itertools.product((-1, 1), repeat=3)])
    ijk = (roi_to_ijk(roi_node, volume_node) @ corners.T)[:3]
    lower = np.ceil(ijk.min(axis=1) - _TOLERANCE).astype(int)
    upper = np.floor(ijk.max(axis=1) + _TOLERANCE).astype(int)
    if np.any(upper < lower):
        raise InputError(f"ROI '{roi_node.GetName()}' lies between voxel centres: make it larger.")
    box = Box(tuple(int(v) for v in lower), tuple(int(v) for v in upper))
    try:
        return box.clipped(shape_kji(volume_node))
    except InputError:
        raise InputError(f"ROI '{roi_node.GetName()}' lies outside volume '{volume_node.GetName()}': "
                         "move it over the object.") from None


def roi_over_box(scene, volume_node, box: Box, name: str = "Box"):
    """A new Markups ROI covering an engine Box (inclusive IJK corners) of the volume, as two clicks would place it."""
    matrix = ijk_to_ras(volume_node)
    lower, upper = np.array(box.lower, float), np.array(box.upper, float)
    roi = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", scene.GenerateUniqueName(name))
    roi.SetCenter(*(matrix @ [*((lower + upper) / 2), 1.0])[:3])
    roi.SetSize(*np.abs(matrix[:3, :3] @ (upper - lower)))
    return roi


def slice_range(roi_node, volume_node) -> tuple:
    """The first and last slice (volume K index, 0-based) the ROI covers: what Segment will see."""
    box = box_from_roi(roi_node, volume_node)
    return box.lower[2], box.upper[2]


def set_slice_range(roi_node, volume_node, first: int, last: int) -> None:
    """Move and resize the ROI along its edge closest to the volume's K axis so it covers slices first..last.

    The ROI's other edges stay as they are. The K extent of the ROI's corners is solved for
    exactly, tilt included, so `slice_range` reads back (first, last) unless the volume clips it.
    """
    first, last = int(first), int(last)
    slices = shape_kji(volume_node)[0]
    if not 0 <= first <= last < slices:
        raise InputError(f"The box's slices must lie within 0-{slices - 1}, first before last: got {first}-{last}.")
    to_ijk = roi_to_ijk(roi_node, volume_node)
    radius = np.zeros(3)
    roi_node.GetRadiusXYZ(radius)
    k_per_mm = to_ijk[2, :3]  # how far one mm along each ROI edge moves in K
    axis = int(np.argmax(np.abs(k_per_mm)))
    others = sum(radius[b] * abs(k_per_mm[b]) for b in range(3) if b != axis)  # K spread of the other edges
    half_span = (last - first) / 2.0 - others
    if abs(k_per_mm[axis]) < 1e-9 or half_span < 0:
        raise InputError(f"ROI '{roi_node.GetName()}' is tilted so far that it cannot cover only slices "
                         f"{first}-{last}: straighten it in the Markups module.")
    shift = ((first + last) / 2.0 - to_ijk[2, 3]) / k_per_mm[axis]  # mm along that edge, from the centre
    offset = np.zeros(4)
    offset[axis], offset[3] = shift, 1.0
    centre = (to_numpy(roi_node.GetObjectToNodeMatrix()) @ offset)[:3]
    radius[axis] = max(half_span / abs(k_per_mm[axis]), 1e-3)  # a one-slice box is thin, not flat
    with NodeModify(roi_node):  # one Modified event: observers redraw once
        roi_node.SetCenter(*centre)
        roi_node.SetRadiusXYZ(*radius)

