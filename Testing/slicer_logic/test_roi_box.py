"""Markups ROI to voxel box: axis-aligned, rotated, under parent transforms, and the bad cases."""
import itertools

import numpy as np
import pytest

import slicer
from interactiveseg import Box, InputError

from slicer_scene import add_linear_transform, add_roi, add_volume, rotation
from InteractiveSegLib.matrices import ijk_to_ras
from InteractiveSegLib.roi_box import box_from_roi


def expected_box(corners_ras, volume_ijk_to_ras, shape_kji):
    """Independent reference: voxel centres inside the IJK bounding box of the ROI's RAS corners."""
    ijk = (np.linalg.inv(volume_ijk_to_ras) @ np.c_[corners_ras, np.ones(8)].T)[:3]
    lower = np.maximum(np.ceil(ijk.min(axis=1) - 1e-3), 0).astype(int)
    upper = np.minimum(np.floor(ijk.max(axis=1) + 1e-3), np.array(shape_kji[::-1]) - 1).astype(int)
    return Box(tuple(lower), tuple(upper))


def corners(center, size, axes=np.eye(3)):
    half = np.asarray(size) / 2
    return np.array([center + axes @ (np.array(signs) * half) for signs in itertools.product((-1, 1), repeat=3)])


def voxels_inside(roi, volume_node):
    """Brute force with the ROI's own test: (i, j, k) of every voxel centre inside it."""
    i, j, k = volume_node.GetImageData().GetDimensions()
    matrix = ijk_to_ras(volume_node)
    inside = []
    for index in itertools.product(range(i), range(j), range(k)):
        ras = (matrix @ [*index, 1])[:3]
        if roi.IsPointInROIWorld(list(ras)):
            inside.append(index)
    return np.array(inside)


@pytest.fixture
def volume(scene):
    # Anisotropic, oblique, off-origin: errors in axis order or RAS/LPS show up here.
    array = np.random.default_rng(0).normal(size=(12, 20, 16)).astype(np.float32)
    return add_volume(scene, array, spacing=(1.0, 0.7, 2.0), origin=(-5, 8, 3), directions=rotation("S", 20))


def test_axis_aligned_roi_matches_crop_volume_on_voxel_edges(scene):
    node = add_volume(scene, np.random.default_rng(0).normal(size=(10, 20, 30)).astype(np.float32),
                      spacing=(1, 2, 3), origin=(10, 20, 30))
    # Faces on voxel edges: voxels 3..7 along i, 2..6 along j, 1..4 along k.
    roi = add_roi(scene, center=(15, 28, 37.5), size=(5, 10, 12))
    box = box_from_roi(roi, node)
    assert box == Box((3, 2, 1), (7, 6, 4))
    extent = [0] * 6
    assert slicer.vtkSlicerCropVolumeLogic.GetVoxelBasedCropOutputExtent(roi, node, extent, True)
    assert box.as_ijk() == [extent[0], extent[2], extent[4], extent[1], extent[3], extent[5]]


def test_rotated_roi_gives_its_bounding_box_in_ijk(scene, volume):
    axes = rotation("S", 35) @ rotation("A", 15)
    center, size = (ijk_to_ras(volume) @ [8, 10, 6, 1])[:3], np.array([8.0, 5.0, 9.0])
    roi = add_roi(scene, center, size, axes)
    box = box_from_roi(roi, volume)
    assert box == expected_box(corners(center, size, axes), ijk_to_ras(volume), (12, 20, 16))
    inside = voxels_inside(roi, volume)
    assert len(inside) > 20
    assert np.all(inside.min(axis=0) >= box.lower) and np.all(inside.max(axis=0) <= box.upper)


def test_roi_and_volume_parent_transforms(scene, volume):
    roi_transform = np.eye(4)
    roi_transform[:3, :3] = rotation("R", 30)
    roi_transform[:3, 3] = (4.0, -3.0, 6.0)
    volume_transform = np.eye(4)
    volume_transform[:3, 3] = (1.5, 2.0, -4.0)
    # An ROI that lands on the volume's middle once both transforms apply.
    middle_world = volume_transform @ ijk_to_ras(volume) @ [8, 10, 6, 1]
    center, size = (np.linalg.inv(roi_transform) @ middle_world)[:3], np.array([6.0, 4.0, 7.0])
    roi = add_roi(scene, center, size)
    roi.SetAndObserveTransformNodeID(add_linear_transform(scene, roi_transform, "roi moved").GetID())
    volume.SetAndObserveTransformNodeID(add_linear_transform(scene, volume_transform, "volume moved").GetID())
    world = (roi_transform @ np.c_[corners(center, size), np.ones(8)].T).T[:, :3]
    # The volume's voxels sit at volume_transform @ IJKToRAS in the world.
    assert box_from_roi(roi, volume) == expected_box(world, volume_transform @ ijk_to_ras(volume), (12, 20, 16))


def test_single_slice_image_takes_its_slice(scene):
    node = add_volume(scene, np.random.default_rng(0).normal(size=(1, 30, 40)).astype(np.float32), spacing=(1, 1, 5))
    roi = add_roi(scene, center=(20, 15, 0), size=(10, 8, 1))  # thinner than the slice, through its centre
    assert box_from_roi(roi, node) == Box((15, 11, 0), (25, 19, 0))


def test_roi_partly_outside_is_clipped(scene, volume):
    far = ijk_to_ras(volume) @ [15, 19, 11, 1]  # the last voxel, on the volume's corner
    box = box_from_roi(add_roi(scene, far[:3], (6, 6, 6)), volume)
    assert box.upper == (15, 19, 11)
    assert all(lo < u for lo, u in zip(box.lower, box.upper))


def test_bad_rois_are_refused_with_a_message(scene, volume):
    with pytest.raises(InputError, match="Place a box"):
        box_from_roi(None, volume)
    with pytest.raises(InputError, match="outside volume"):
        box_from_roi(add_roi(scene, (500, 500, 500), (10, 10, 10), name="far"), volume)
    unplaced = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "unplaced")
    with pytest.raises(InputError, match="not placed"):
        box_from_roi(unplaced, volume)
    middle = (ijk_to_ras(volume) @ [8, 10, 6, 1])[:3]
    inside_out = add_roi(scene, middle, (5, 5, 5), name="inverted")
    inside_out.InsideOutOn()
    with pytest.raises(InputError, match="inside-out"):
        box_from_roi(inside_out, volume)
    points = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "points")
    with pytest.raises(InputError, match="not a Markups ROI"):
        box_from_roi(points, volume)


def test_warping_transform_is_refused(scene, volume):
    import vtk
    grid = vtk.vtkImageData()
    grid.SetDimensions(4, 4, 4)
    grid.SetSpacing(20, 20, 20)
    grid.SetOrigin(-30, -30, -30)
    grid.AllocateScalars(vtk.VTK_DOUBLE, 3)
    warp = slicer.vtkOrientedGridTransform()
    warp.SetDisplacementGridData(grid)
    node = scene.AddNewNodeByClass("vtkMRMLGridTransformNode", "warp")
    node.SetAndObserveTransformFromParent(warp)
    roi = add_roi(scene, (ijk_to_ras(volume) @ [8, 10, 6, 1])[:3], (5, 5, 5))
    roi.SetAndObserveTransformNodeID(node.GetID())
    with pytest.raises(InputError, match="non-linear"):
        box_from_roi(roi, volume)
