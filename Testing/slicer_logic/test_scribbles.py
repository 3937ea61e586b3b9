"""The scribble segmentation: its own node, two fixed segments, sparse snapshots for undo."""
import numpy as np

from interactiveseg import Box

from slicer_scene import add_linear_transform, add_volume
from InteractiveSegLib.labelmaps import write_segment_region
from InteractiveSegLib.scribbles import (BACKGROUND, FOREGROUND, Scribbles, clear_scribbles, create_scribble_node,
                                         drawn_on, ensure_segments, is_scribble_node, read_scribbles, write_scribbles)

SHAPE = (6, 10, 12)


def test_scribble_node_is_marked_and_follows_the_volume(scene):
    shift = np.eye(4)
    shift[:3, 3] = (3, 4, 5)
    volume = add_volume(scene, np.random.default_rng(0).normal(size=SHAPE).astype(np.float32))
    volume.SetAndObserveTransformNodeID(add_linear_transform(scene, shift).GetID())
    node = create_scribble_node(scene, volume)
    assert is_scribble_node(node) and drawn_on(node) is volume
    assert node.GetTransformNodeID() == volume.GetTransformNodeID()
    assert set(node.GetSegmentation().GetSegmentIDs()) == {FOREGROUND, BACKGROUND}
    node.GetSegmentation().RemoveSegment(BACKGROUND)  # the user deleted one
    ensure_segments(node)
    assert node.GetSegmentation().GetSegment(BACKGROUND) is not None
    plain = scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    assert not is_scribble_node(plain) and not is_scribble_node(None)


def test_read_write_clear(scene):
    volume = add_volume(scene, np.random.default_rng(0).normal(size=SHAPE).astype(np.float32))
    node = create_scribble_node(scene, volume)
    assert read_scribbles(node, volume).empty
    fg = np.zeros(SHAPE, dtype=bool)
    fg[2, 3, 4:8] = True
    write_segment_region(node, FOREGROUND, volume, Box((0, 0, 0), (11, 9, 5)), fg)
    painted = read_scribbles(node, volume)
    assert list(painted.foreground) == list(np.flatnonzero(fg)) and len(painted.background) == 0
    clear_scribbles(node)
    assert read_scribbles(node, volume).empty
    write_scribbles(node, volume, painted)  # what undo does
    restored_fg, restored_bg = read_scribbles(node, volume).masks()
    np.testing.assert_array_equal(restored_fg, fg)
    assert not restored_bg.any()


def test_snapshot_round_trip():
    fg = np.zeros(SHAPE, dtype=bool)
    bg = np.zeros(SHAPE, dtype=bool)
    fg[1, 2, 3] = bg[5, 9, 11] = True
    snapshot = Scribbles.from_masks(fg, bg)
    back_fg, back_bg = snapshot.masks()
    np.testing.assert_array_equal(back_fg, fg)
    np.testing.assert_array_equal(back_bg, bg)
    assert not snapshot.empty and Scribbles.from_masks(~fg & False, bg & False).empty


def test_scribbles_of_a_transformed_volume_sit_on_its_voxels(scene):
    """The volume-to-segmentation transform must not be baked into the scribble grid twice."""
    from slicer_scene import add_linear_transform
    from InteractiveSegLib.scribbles import create_scribble_node
    volume = add_volume(scene, np.zeros((6, 10, 12), np.int16), spacing=(1.0, 2.0, 3.0), origin=(5.0, -4.0, 2.0))
    shift = np.eye(4)
    shift[:3, 3] = (100.0, 0.0, 0.0)
    volume.SetAndObserveTransformNodeID(add_linear_transform(scene, shift).GetID())
    node = create_scribble_node(scene, volume)
    geometry = node.GetSegmentation().GetConversionParameter("Reference image geometry")
    values = [float(v) for v in geometry.split(";")[:12]]  # the geometry's 4x4 IJK-to-RAS matrix, row by row
    matrix = np.array(values + [0, 0, 0, 1]).reshape(4, 4)
    from InteractiveSegLib.matrices import ijk_to_ras
    np.testing.assert_allclose(matrix, ijk_to_ras(volume), atol=1e-6)  # the volume's own grid, not shifted
