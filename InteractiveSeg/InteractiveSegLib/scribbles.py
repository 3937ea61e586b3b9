"""Foreground and background scribbles: two segments of a segmentation node of their own.

Keeping scribbles apart from the user's segmentation means painting them with the Segment
Editor can never erase or overwrite one of the user's segments, and no user segment is
ever read as a scribble.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import slicer
from interactiveseg import InputError

from .labelmaps import full_region, read_segment, write_segment_region
from .volume_nodes import shape_kji

ATTRIBUTE = "InteractiveSeg.Scribbles"  # marks the node, so it is found again after a scene reload
FOREGROUND = "foreground"
BACKGROUND = "background"
_SEGMENTS = {  # id: (name, colour)
    FOREGROUND: ("Foreground scribbles", (0.0, 0.75, 0.3)),
    BACKGROUND: ("Background scribbles", (0.85, 0.2, 0.65)),
}


def is_scribble_node(node) -> bool:
    return node is not None and node.GetAttribute(ATTRIBUTE) == "1"


def create_scribble_node(scene, volume_node):
    """A new scribble segmentation on the volume's grid and under the volume's transform."""
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", scene.GenerateUniqueName("InteractiveSeg scribbles"))
    node.SetAttribute(ATTRIBUTE, "1")
    node.CreateDefaultDisplayNodes()
    # Transform first: the geometry call bakes the volume-to-segmentation transform into the grid,
    # which must be identity by then (vtkMRMLSegmentationNode::SetReferenceImageGeometryParameterFromVolumeNode).
    node.SetAndObserveTransformNodeID(volume_node.GetTransformNodeID())
    node.SetReferenceImageGeometryParameterFromVolumeNode(volume_node)
    ensure_segments(node)
    return node


def drawn_on(node):
    """The volume whose grid the scribbles are painted on."""
    return node.GetNodeReference(slicer.vtkMRMLSegmentationNode.GetReferenceImageGeometryReferenceRole())


def ensure_segments(node) -> None:
    """Add the two scribble segments if they are missing (the user may have deleted one)."""
    segmentation = node.GetSegmentation()
    for segment_id, (name, colour) in _SEGMENTS.items():
        if segmentation.GetSegment(segment_id) is None:
            segmentation.AddEmptySegment(segment_id, name, colour)


@dataclass(frozen=True)
class Scribbles:
    """Scribble voxels as flat indices into the (k, j, i) grid: strokes are sparse, so this stays small."""
    shape: tuple
    foreground: np.ndarray
    background: np.ndarray

    @classmethod
    def from_masks(cls, foreground: np.ndarray, background: np.ndarray) -> "Scribbles":
        return cls(foreground.shape, np.flatnonzero(foreground), np.flatnonzero(background))

    @classmethod
    def none(cls, volume_node) -> "Scribbles":
        no_voxels = np.zeros(0, dtype=np.int64)
        return cls(shape_kji(volume_node), no_voxels, no_voxels)

    def masks(self) -> tuple:
        out = []
        for indices in (self.foreground, self.background):
            mask = np.zeros(int(np.prod(self.shape)), dtype=bool)
            mask[indices] = True
            out.append(mask.reshape(self.shape))
        return tuple(out)

    @property
    def empty(self) -> bool:
        return not (len(self.foreground) or len(self.background))


def read_scribbles(node, volume_node) -> Scribbles:
    if not is_scribble_node(node):
        raise InputError("Paint foreground or background scribbles first.")
    ensure_segments(node)
    return Scribbles.from_masks(read_segment(node, FOREGROUND, volume_node),
                                read_segment(node, BACKGROUND, volume_node))


def write_scribbles(node, volume_node, scribbles: Scribbles) -> None:
    """Replace both scribble segments (used by undo)."""
    ensure_segments(node)
    region = full_region(volume_node)
    for segment_id, mask in zip((FOREGROUND, BACKGROUND), scribbles.masks()):
        write_segment_region(node, segment_id, volume_node, region, mask)


def clear_scribbles(node) -> None:
    ensure_segments(node)
    for segment_id in (FOREGROUND, BACKGROUND):
        slicer.vtkSlicerSegmentationsModuleLogic.ClearSegment(node, segment_id)
