"""A round honours the Segment Editor's masking and overwrite settings, and undo puts back what it took."""
import numpy as np
import pytest

import slicer
from interactiveseg import InputError

from scene_checks import scene_state
from InteractiveSegLib.editor_masking import segment_ids
from InteractiveSegLib.labelmaps import read_segment
from logic_scene import segment


@pytest.fixture
def editor(scene):
    """The Segment Editor module's parameter node, as Slicer makes it when the module is opened."""
    node = slicer.vtkMRMLSegmentEditorNode()
    node.SetSingletonTag("SegmentEditor")
    node = scene.AddNode(node)
    node.SetOverwriteMode(slicer.vtkMRMLSegmentEditorNode.OverwriteNone)
    return node


def new_segment_id(output):
    return [i for i in segment_ids(output) if i != "mine"][0]


def test_overwrite_all_takes_the_round_from_other_segments_and_undo_gives_it_back(
        scene, logic, volume, roi, output, tiny_model, editor):
    editor.SetOverwriteMode(slicer.vtkMRMLSegmentEditorNode.OverwriteAllSegments)
    result = segment(logic, volume, roi, output, model=tiny_model)
    assert (result.mask & output.mine_mask).any()  # the round covers some of "mine"
    mine = read_segment(output, "mine", volume)
    np.testing.assert_array_equal(mine, output.mine_mask & ~result.mask)
    np.testing.assert_array_equal(read_segment(output, new_segment_id(output), volume), result.mask)
    assert logic.undo()
    np.testing.assert_array_equal(read_segment(output, "mine", volume), output.mine_mask)


def test_overwrite_none_leaves_other_segments(scene, logic, volume, roi, output, tiny_model, editor):
    result = segment(logic, volume, roi, output, model=tiny_model)
    assert (result.mask & output.mine_mask).any()
    np.testing.assert_array_equal(read_segment(output, "mine", volume), output.mine_mask)


def test_overwrite_visible_spares_a_hidden_segment(scene, logic, volume, roi, output, tiny_model, editor):
    editor.SetOverwriteMode(slicer.vtkMRMLSegmentEditorNode.OverwriteVisibleSegments)
    output.GetDisplayNode().SetSegmentVisibility("mine", False)
    segment(logic, volume, roi, output, model=tiny_model)
    np.testing.assert_array_equal(read_segment(output, "mine", volume), output.mine_mask)


def test_editable_area_outside_all_segments_keeps_the_round_out_of_them(
        scene, logic, volume, roi, output, tiny_model, editor):
    editor.SetMaskMode(slicer.vtkMRMLSegmentationNode.EditAllowedOutsideAllSegments)
    result = segment(logic, volume, roi, output, model=tiny_model)
    written = read_segment(output, new_segment_id(output), volume)
    assert (result.mask & output.mine_mask).any()  # the engine's mask went into "mine"; the segment does not
    np.testing.assert_array_equal(written, result.mask & ~output.mine_mask)
    np.testing.assert_array_equal(read_segment(output, "mine", volume), output.mine_mask)


def test_editable_area_inside_one_segment(scene, logic, volume, roi, output, tiny_model, editor):
    editor.SetMaskMode(slicer.vtkMRMLSegmentationNode.EditAllowedInsideSingleSegment)
    editor.SetMaskSegmentID("mine")
    result = segment(logic, volume, roi, output, model=tiny_model)
    written = read_segment(output, new_segment_id(output), volume)
    assert written.any() and not (written & ~output.mine_mask).any()
    np.testing.assert_array_equal(written, result.mask & output.mine_mask)


@pytest.mark.parametrize("to_new_segmentation", [False, True])
def test_masking_inside_a_segment_the_output_lacks_is_refused_before_anything_runs(
        scene, logic, volume, roi, output, tiny_model, editor, to_new_segmentation):
    editor.SetMaskMode(slicer.vtkMRMLSegmentationNode.EditAllowedInsideSingleSegment)
    editor.SetMaskSegmentID("a segment of another segmentation")
    before = scene_state(scene)
    with pytest.raises(InputError, match="allows edits only inside segment"):
        logic.plan_segment(volume, roi, None if to_new_segmentation else output, model_path=str(tiny_model))
    assert scene_state(scene) == before


def test_editable_intensity_range_limits_the_round(scene, logic, volume, roi, output, tiny_model, editor):
    values = slicer.util.arrayFromVolume(volume)
    low, high = float(np.percentile(values[8:14, 12:28, 12:28], 40)), float(values.max())  # about the box
    editor.SetSourceVolumeIntensityMask(True)
    editor.SetSourceVolumeIntensityMaskRange(low, high)
    result = segment(logic, volume, roi, output, model=tiny_model)
    written = read_segment(output, new_segment_id(output), volume)
    editable = (values >= low) & (values <= high)
    assert (result.mask & ~editable).any()  # the range removes something the engine marked
    np.testing.assert_array_equal(written, result.mask & editable)
