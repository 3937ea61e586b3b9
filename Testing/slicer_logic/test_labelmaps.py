"""Segments as arrays on the volume grid: region writes that touch nothing else, transforms, export."""
import numpy as np
import pytest

import slicer
import vtk
from interactiveseg import Box, InputError

from slicer_scene import add_linear_transform, add_volume, rotation
from InteractiveSegLib.labelmaps import export_to_labelmap, read_segment, require_labelmap_source, write_segment_region
from InteractiveSegLib.matrices import ijk_to_ras

SHAPE = (10, 20, 30)  # (k, j, i)


@pytest.fixture
def volume(scene):
    array = np.random.default_rng(0).normal(size=SHAPE).astype(np.float32)
    return add_volume(scene, array, spacing=(1.0, 1.5, 2.0), origin=(4, -6, 10), directions=rotation("S", 15))


@pytest.fixture
def segmentation(scene, volume):
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "segmentation")
    node.CreateDefaultDisplayNodes()
    node.SetReferenceImageGeometryParameterFromVolumeNode(volume)
    return node


def ball(center_kji, radius):
    k, j, i = np.indices(SHAPE)
    return (k - center_kji[0]) ** 2 + (j - center_kji[1]) ** 2 + (i - center_kji[2]) ** 2 < radius ** 2


def fill(segmentation, segment_id, volume, mask):
    k, j, i = SHAPE
    write_segment_region(segmentation, segment_id, volume, Box((0, 0, 0), (i - 1, j - 1, k - 1)), mask)


def test_region_write_changes_only_that_region_of_that_segment(scene, volume, segmentation):
    segments = segmentation.GetSegmentation()
    target = segments.AddEmptySegment("target", "Target")
    other = segments.AddEmptySegment("other", "Other")
    before_target, before_other = ball((5, 10, 12), 6), ball((5, 10, 16), 6)  # overlapping balls
    fill(segmentation, target, volume, before_target)
    fill(segmentation, other, volume, before_other)
    np.testing.assert_array_equal(read_segment(segmentation, other, volume), before_other)

    region = Box((10, 4, 2), (21, 15, 7))
    new = np.zeros(tuple(reversed(region.size)), dtype=bool)
    new[1:5, 2:9, 3:11] = True
    write_segment_region(segmentation, target, volume, region, new)

    after = read_segment(segmentation, target, volume)
    np.testing.assert_array_equal(after[region.slices()], new)
    outside = np.ones(SHAPE, dtype=bool)
    outside[region.slices()] = False
    np.testing.assert_array_equal(after[outside], before_target[outside])
    # The other segment keeps every voxel, also where the two now overlap.
    np.testing.assert_array_equal(read_segment(segmentation, other, volume), before_other)
    np.testing.assert_array_equal(read_segment(segmentation, other, volume, region), before_other[region.slices()])


def test_empty_segment_reads_as_zeros(scene, volume, segmentation):
    segments = segmentation.GetSegmentation()
    full = segments.AddEmptySegment("full")
    fill(segmentation, full, volume, ball((5, 10, 15), 4))
    empty = segments.AddEmptySegment("empty")  # may share the first segment's layer
    assert not read_segment(segmentation, empty, volume).any()


def test_segmentation_under_another_transform_stays_on_the_volume_grid(scene, volume, segmentation):
    shift = np.eye(4)
    shift[:3, 3] = (7.0, -3.0, 2.5)
    segmentation.SetAndObserveTransformNodeID(add_linear_transform(scene, shift).GetID())
    segment = segmentation.GetSegmentation().AddEmptySegment("moved")
    mask = ball((4, 9, 14), 3)
    fill(segmentation, segment, volume, mask)
    np.testing.assert_array_equal(read_segment(segmentation, segment, volume), mask)
    # Stored in the segmentation's own coordinates: the transform's inverse moved it there.
    stored = slicer.vtkOrientedImageData()
    slicer.vtkSlicerSegmentationsModuleLogic.GetSegmentBinaryLabelmapRepresentation(
        segmentation, segment, stored, False)
    matrix = vtk.vtkMatrix4x4()
    stored.GetImageToWorldMatrix(matrix)
    stored_origin = np.array([matrix.GetElement(r, 3) for r in range(3)])
    np.testing.assert_allclose(stored_origin, (np.linalg.inv(shift) @ ijk_to_ras(volume))[:3, 3], atol=1e-6)


def test_export_to_labelmap_on_the_volume_grid(scene, volume, segmentation):
    segment = segmentation.GetSegmentation().AddEmptySegment("liver", "Liver")
    mask = ball((5, 10, 15), 5)
    fill(segmentation, segment, volume, mask)
    labelmap = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "label")
    export_to_labelmap(segmentation, segment, volume, labelmap)
    values = slicer.util.arrayFromVolume(labelmap)
    assert values.shape == SHAPE
    np.testing.assert_array_equal(values > 0, mask)
    assert set(np.unique(values)) == {0, 1}
    np.testing.assert_allclose(ijk_to_ras(labelmap), ijk_to_ras(volume), atol=1e-6)


def test_missing_segment_and_surface_segmentations_are_refused(scene, volume, segmentation):
    with pytest.raises(InputError, match="not in segmentation"):
        read_segment(segmentation, "nope", volume)
    segmentation.GetSegmentation().AddEmptySegment("s")
    segmentation.GetSegmentation().SetSourceRepresentationName("Closed surface")
    with pytest.raises(InputError, match="surfaces"):
        require_labelmap_source(segmentation)


def test_segments_sharing_a_layer_keep_their_voxels(scene, volume, segmentation):
    segments = segmentation.GetSegmentation()
    target, other = segments.AddEmptySegment("target"), segments.AddEmptySegment("other")
    before_other = ball((5, 10, 22), 4)
    fill(segmentation, target, volume, ball((5, 10, 8), 4))
    fill(segmentation, other, volume, before_other)
    assert segments.GetNumberOfLayers() == 1  # disjoint, so Slicer keeps them on one layer
    region = Box((0, 0, 0), (29, 19, 9))  # the whole volume, both segments inside
    for new in (ball((5, 10, 12), 3), ball((5, 10, 20), 4)):  # beside the other segment, then over it
        write_segment_region(segmentation, target, volume, region, new)
        np.testing.assert_array_equal(read_segment(segmentation, target, volume), new)
        np.testing.assert_array_equal(read_segment(segmentation, other, volume), before_other)
