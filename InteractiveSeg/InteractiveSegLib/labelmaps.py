"""Segments as boolean (k, j, i) arrays on the source volume's voxel grid.

Reading and writing go through vtkOrientedImageData placed on the volume's grid but
expressed in the segmentation node's coordinates, so a segmentation under another
(linear) transform than the volume, or with its own geometry, still lines up.
Writing changes only the given region of one segment: other segments, even on the same
shared labelmap layer, keep every voxel (Slicer moves a segment to a layer of its own when
it would overlap another).
"""
from __future__ import annotations

import numpy as np
import vtk
from vtk.util import numpy_support

import slicer
from interactiveseg import Box, InputError

from .matrices import ijk_to_ras, node_to_node, to_vtk
from .volume_nodes import shape_kji

_SEGMENTS = slicer.vtkSlicerSegmentationsModuleLogic


def full_region(volume_node) -> Box:
    k, j, i = shape_kji(volume_node)
    return Box((0, 0, 0), (i - 1, j - 1, k - 1))


def vtk_extent(region: Box) -> list:
    (i0, j0, k0), (i1, j1, k1) = region.lower, region.upper
    return [i0, i1, j0, j1, k0, k1]


def grid_image(volume_node, segmentation_node, region: Box, values=None) -> slicer.vtkOrientedImageData:
    """An unsigned-char image covering `region` of the volume's grid, in segmentation coordinates."""
    volume_to_segmentation = node_to_node(
        volume_node, segmentation_node,
        f"Volume '{volume_node.GetName()}' or segmentation '{segmentation_node.GetName()}'")
    image = slicer.vtkOrientedImageData()
    image.SetExtent(vtk_extent(region))
    image.AllocateScalars(vtk.VTK_UNSIGNED_CHAR, 1)
    image.SetImageToWorldMatrix(to_vtk(volume_to_segmentation @ ijk_to_ras(volume_node)))
    scalars = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())
    scalars[:] = 0 if values is None else np.asarray(values, dtype=np.uint8).ravel()
    image.GetPointData().GetScalars().Modified()
    return image


def require_segment(segmentation_node, segment_id: str):
    segment = segmentation_node.GetSegmentation().GetSegment(segment_id) if segment_id else None
    if segment is None:
        raise InputError(f"Segment '{segment_id}' is not in segmentation '{segmentation_node.GetName()}'.")
    return segment


def require_labelmap_source(segmentation_node) -> None:
    """Voxel results can only be written where segments are stored as labelmaps (not surfaces)."""
    segmentation = segmentation_node.GetSegmentation()
    labelmap = slicer.vtkSegmentationConverter.GetSegmentationBinaryLabelmapRepresentationName()
    if segmentation.GetNumberOfSegments() and segmentation.GetSourceRepresentationName() != labelmap:
        raise InputError(f"Segmentation '{segmentation_node.GetName()}' stores its segments as surfaces: "
                         "choose another segmentation, or make 'Binary labelmap' its source representation.")


def read_segment(segmentation_node, segment_id: str, volume_node, region: Box | None = None) -> np.ndarray:
    """Boolean (k, j, i) mask of one segment over `region` (default: the whole volume)."""
    segment = require_segment(segmentation_node, segment_id)
    region = region or full_region(volume_node)
    stored = slicer.vtkOrientedImageData()
    if not _SEGMENTS.GetSegmentBinaryLabelmapRepresentation(segmentation_node, segment_id, stored, False):
        raise InputError(f"Segment '{segment.GetName()}' has no voxel (labelmap) representation.")
    shape = tuple(reversed(region.size))
    if stored.IsEmpty():
        return np.zeros(shape, dtype=bool)
    reference = grid_image(volume_node, segmentation_node, region)
    resampled = slicer.vtkOrientedImageData()
    slicer.vtkOrientedImageDataResample.ResampleOrientedImageToReferenceOrientedImage(
        stored, reference, resampled, False, False)
    values = numpy_support.vtk_to_numpy(resampled.GetPointData().GetScalars()).reshape(shape)
    # Segments on a shared layer are told apart by their label value.
    return values == segment.GetLabelValue()


def write_segment_region(segmentation_node, segment_id: str, volume_node, region: Box, mask: np.ndarray) -> None:
    """Replace one segment's voxels inside `region` by `mask` (region-shaped); nothing else changes.

    The segment is rewritten whole, with its own voxels outside the region: Slicer's
    replace keeps nothing outside the image it is given, and merging only the region
    (minimum, then maximum) would also clear other segments sharing the labelmap layer.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != tuple(reversed(region.size)):
        raise ValueError(f"Mask shape {mask.shape} does not match region {region.as_ijk()}.")
    whole = read_segment(segmentation_node, segment_id, volume_node)
    whole[region.slices()] = mask
    if not whole.any():
        # Replacing with an all-zero image empties the data, but slice views keep drawing the
        # old voxels (their display pipeline is not told); clearing the segment tells them.
        _SEGMENTS.ClearSegment(segmentation_node, segment_id)
        return
    image = grid_image(volume_node, segmentation_node, full_region(volume_node), whole)
    if not _SEGMENTS.SetBinaryLabelmapToSegment(image, segmentation_node, segment_id, _SEGMENTS.MODE_REPLACE):
        raise RuntimeError(f"Could not write segment '{segment_id}' of '{segmentation_node.GetName()}'.")


def export_to_labelmap(segmentation_node, segment_id: str, volume_node, labelmap_node) -> None:
    """Export one segment to a labelmap volume node on the source volume's grid (label 1 inside)."""
    require_segment(segmentation_node, segment_id)
    ids = vtk.vtkStringArray()
    ids.InsertNextValue(segment_id)
    if not _SEGMENTS.ExportSegmentsToLabelmapNode(segmentation_node, ids, labelmap_node, volume_node):
        raise RuntimeError(f"Could not export segment '{segment_id}' to '{labelmap_node.GetName()}'.")
