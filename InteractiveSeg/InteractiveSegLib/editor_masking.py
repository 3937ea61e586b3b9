"""The Segment Editor's masking and overwrite settings, applied to a round's result.

A user who set "Editable area: outside all segments" or "Modify other segments: overwrite
all" in the Segment Editor expects every tool that writes segments to honour it. They
live in the Segment Editor module's parameter node (the scene's vtkMRMLSegmentEditorNode
with singleton tag "SegmentEditor"); with no such node nothing is masked and no other
segment changes. The editable area follows vtkMRMLSegmentationNode::GenerateEditMask:
inside or outside all, or the visible, segments (the edited one does not mask itself
out), or inside one chosen segment; and within the source volume's editable intensity
range when that is on.
"""
from __future__ import annotations

import numpy as np

import slicer
from interactiveseg import Box

from interactiveseg.errors import InputError

from . import labelmaps

EDITOR_SINGLETON = "SegmentEditor"


def user_editor_node(scene):
    """The Segment Editor module's parameter node, or None before the module was ever opened."""
    return scene.GetSingletonNode(EDITOR_SINGLETON, "vtkMRMLSegmentEditorNode")


def check_mask_segment(editor_node, segmentation_node) -> None:
    """Refuse a round that "inside one segment" masking would let write nothing: the Segment Editor's
    chosen segment belongs to its own segmentation, which need not be the output."""
    single = slicer.vtkMRMLSegmentationNode.EditAllowedInsideSingleSegment
    if editor_node is None or editor_node.GetMaskMode() != single:
        return
    mask_id = editor_node.GetMaskSegmentID()
    if segmentation_node is None or not mask_id or segmentation_node.GetSegmentation().GetSegment(mask_id) is None:
        where = "a new segmentation" if segmentation_node is None else f"segmentation '{segmentation_node.GetName()}'"
        raise InputError(f"The Segment Editor's Masking allows edits only inside segment '{mask_id}', which is not in "
                         f"{where}: nothing could be written. Change the Editable area in the Segment Editor.")


def editable_area(editor_node, segmentation_node, volume_node, region: Box, segment_id: str) -> np.ndarray | None:
    """Where a round may change `segment_id`, as a region-shaped bool mask; None: everywhere."""
    if editor_node is None:
        return None
    node = slicer.vtkMRMLSegmentationNode
    mode = editor_node.GetMaskMode()
    area = None
    if mode != node.EditAllowedEverywhere:
        inside = mode in (node.EditAllowedInsideAllSegments, node.EditAllowedInsideVisibleSegments,
                          node.EditAllowedInsideSingleSegment)
        if mode == node.EditAllowedInsideSingleSegment:
            ids = [editor_node.GetMaskSegmentID()] if editor_node.GetMaskSegmentID() else []
        elif mode in (node.EditAllowedInsideVisibleSegments, node.EditAllowedOutsideVisibleSegments):
            ids = visible_segment_ids(segmentation_node)
        else:
            ids = segment_ids(segmentation_node)
        if not inside:
            ids = [i for i in ids if i != segment_id]
        covered = _union(segmentation_node, ids, volume_node, region)
        area = covered if inside else ~covered
    if editor_node.GetSourceVolumeIntensityMask():
        low, high = editor_node.GetSourceVolumeIntensityMaskRange()
        values = slicer.util.arrayFromVolume(volume_node)[region.slices()]
        in_range = (values >= low) & (values <= high)
        area = in_range if area is None else area & in_range
    return area


def overwritten_segments(editor_node, segmentation_node, segment_id: str) -> list:
    """The other segments that lose the voxels a round gives `segment_id`, by the overwrite mode."""
    if editor_node is None or editor_node.GetOverwriteMode() == slicer.vtkMRMLSegmentEditorNode.OverwriteNone:
        return []
    if editor_node.GetOverwriteMode() == slicer.vtkMRMLSegmentEditorNode.OverwriteVisibleSegments:
        ids = visible_segment_ids(segmentation_node)
    else:
        ids = segment_ids(segmentation_node)
    return [i for i in ids if i != segment_id]


def segment_ids(segmentation_node) -> list:
    segmentation = segmentation_node.GetSegmentation()
    return [segmentation.GetNthSegmentID(n) for n in range(segmentation.GetNumberOfSegments())]


def visible_segment_ids(segmentation_node) -> list:
    display = segmentation_node.GetDisplayNode()
    if display is None:
        return []
    return [i for i in segment_ids(segmentation_node) if display.GetSegmentVisibility(i)]


def _union(segmentation_node, ids, volume_node, region: Box) -> np.ndarray:
    covered = np.zeros(tuple(reversed(region.size)), dtype=bool)
    for segment_id in ids:
        if segmentation_node.GetSegmentation().GetSegment(segment_id) is not None:
            covered |= labelmaps.read_segment(segmentation_node, segment_id, volume_node, region)
    return covered
