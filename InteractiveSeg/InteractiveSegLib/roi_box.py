"""A Markups ROI (any rotation, any linear parent transforms) to the engine's voxel box.

The engine works on boxes aligned with the volume's voxel axes. A rotated ROI becomes the
smallest such box that holds it: every voxel whose centre lies inside the ROI's corners'
bounding box in IJK. (Crop Volume keeps only voxels lying wholly inside; centres are used
here so that an ROI drawn on a single-slice image still selects that slice.)
"""
from __future__ import annotations

import itertools

import numpy as np

from interactiveseg import Box, InputError

from .matrices import ijk_to_ras, node_to_node, to_numpy
from .volume_nodes import shape_kji

_TOLERANCE = 1e-3  # voxels: a face exactly on a voxel centre still takes that voxel


def roi_to_ijk(roi_node, volume_node) -> np.ndarray:
    """Matrix from the ROI's object coordinates (centre at 0, axes along its edges) to volume IJK."""
    object_to_node = to_numpy(roi_node.GetObjectToNodeMatrix())
    roi_to_volume = node_to_node(roi_node, volume_node, f"ROI '{roi_node.GetName()}' or volume '{volume_node.GetName()}'")
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
