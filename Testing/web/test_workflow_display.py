"""What the page shows and keeps: a new volume replaces the old one, the box's slices, windows, names, letters."""
from __future__ import annotations

import numpy as np
import slicerio

import slicer
from web_helpers import add_box, finish
from interactiveseg import Box
from interactiveseg.demo import DEMO_BOX, SAMPLE_IMAGE, demo_scribbles
from InteractiveSegLib.matrices import to_numpy, to_vtk
from InteractiveSegLib.labelmaps import full_region, read_segment, write_segment_region
from InteractiveSegLib.roi_box import box_from_roi
from interactiveseg_web import display


def _segmented(workflow):
    assert workflow.act("load", SAMPLE_IMAGE), workflow.status.text
    add_box(workflow, DEMO_BOX)
    assert workflow.act("segment"), workflow.status.text
    finish(workflow)
    assert workflow.summary()["rounds"] == 1, workflow.status.text
    return workflow


def _count(scene, class_name) -> int:
    return scene.GetNodesByClass(class_name).GetNumberOfItems()


def test_loading_replaces_the_volume_and_keeps_unsaved_work_on_disk(workflow):
    _segmented(workflow)
    foreground, _ = demo_scribbles(tuple(reversed(workflow.volume_node.GetImageData().GetDimensions())))
    node = workflow.logic.ensure_scribble_node(workflow.volume_node)
    write_segment_region(node, "foreground", workflow.volume_node, full_region(workflow.volume_node), foreground)
    workflow.act("show_uncertainty", True)
    assert workflow.summary()["uncertainty_shown"]
    segmented = read_segment(workflow.segmentation_node, workflow.segment_id, workflow.volume_node)

    assert workflow.act("load", SAMPLE_IMAGE), workflow.status.text
    facts = workflow.summary()
    assert facts["volume"] == "CTChest4" and facts["volumes_in_scene"] == 1
    assert not facts["box"] and facts["rounds"] == 0 and facts["segment_voxels"] == 0
    assert not facts["uncertainty_shown"] and not workflow.logic.show_uncertainty
    assert _count(workflow.scene, "vtkMRMLMarkupsROINode") == 0
    assert _count(workflow.scene, "vtkMRMLSegmentationNode") == 0  # the output and the scribbles both went
    assert _count(workflow.scene, "vtkMRMLScalarVolumeDisplayNode") == 1  # no orphaned display nodes either

    kept = workflow.keep_dir / "CTChest4.unsaved.seg.nrrd"
    assert str(kept) in workflow.status.text
    segmentation = slicerio.read_segmentation(str(kept))
    assert [s["name"] for s in segmentation["segments"]] == ["InteractiveSeg"]
    assert int(np.count_nonzero(segmentation["voxels"])) == int(segmented.sum())


def test_saved_work_is_not_written_again_when_the_volume_changes(workflow, tmp_path):
    _segmented(workflow)
    assert workflow.act("save", tmp_path / "out.seg.nrrd"), workflow.status.text
    assert workflow.act("load", SAMPLE_IMAGE), workflow.status.text
    assert "not saved" not in workflow.status.text
    assert not workflow.keep_dir.exists() or not any(workflow.keep_dir.iterdir())


def test_the_box_slices_can_be_read_and_set(workflow):
    assert workflow.act("load", SAMPLE_IMAGE)
    add_box(workflow, Box((60, 40, 10), (90, 80, 24)))
    assert workflow.summary()["box_slices"] == (10, 24)
    assert workflow.act("set_box_slices", "7", "31"), workflow.status.text
    box = box_from_roi(workflow.roi_node, workflow.volume_node)
    assert (box.lower, box.upper) == ((60, 40, 7), (90, 80, 31))  # the other edges stay
    assert workflow.summary()["box_slices"] == (7, 31)
    assert workflow.act("set_box_slices", 12, 12)
    assert workflow.summary()["box_slices"] == (12, 12)

    slices = workflow.summary()["slices"]
    for first, last, message in [(5, 2, "first before last"), (0, slices, "within"), ("a", 3, "whole numbers")]:
        center = list(workflow.roi_node.GetCenter())
        assert not workflow.act("set_box_slices", first, last)
        assert message in workflow.status.text, workflow.status.text
        assert list(workflow.roi_node.GetCenter()) == center
    assert workflow.summary()["box_slices"] == (12, 12)


def test_a_tilted_box_gets_exactly_the_slices_asked_for(workflow):
    assert workflow.act("load", SAMPLE_IMAGE)
    roi = add_box(workflow, Box((60, 40, 10), (90, 80, 20)))
    angle = np.deg2rad(30)  # the ROI's own rotation about R: its edges no longer follow the slices
    tilted = np.eye(4)
    tilted[1:3, 1:3] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    tilted[:3, 3] = roi.GetCenter()
    roi.SetAndObserveObjectToNodeMatrix(to_vtk(tilted))
    assert workflow.summary()["box_slices"] != (10, 20)
    assert workflow.act("set_box_slices", 8, 26), workflow.status.text
    assert workflow.summary()["box_slices"] == (8, 26)
    assert np.allclose(to_numpy(roi.GetObjectToNodeMatrix())[:3, :3], tilted[:3, :3])  # still tilted


def test_window_presets_and_the_drag_state(workflow):
    assert workflow.act("load", SAMPLE_IMAGE)
    assert workflow.window == "ct-mediastinum"  # a CT opens in the soft-tissue window
    assert workflow.summary()["window"] == [350.0, 50.0]
    assert workflow.act("set_window", "ct-lung")
    assert workflow.summary()["window"] == [1500.0, -600.0]
    assert not workflow.act("set_window", "brain") and "Unknown window preset" in workflow.status.text
    assert workflow.summary()["window"] == [1500.0, -600.0]
    interaction = workflow.scene.GetNodeByID("vtkMRMLInteractionNodeSingleton")
    assert interaction.GetCurrentInteractionMode() == interaction.AdjustWindowLevel  # a drag sets the window
    workflow.act("set_tool", "foreground")
    assert interaction.GetCurrentInteractionMode() == interaction.ViewTransform  # a drag paints
    workflow.act("set_tool", "")
    assert interaction.GetCurrentInteractionMode() == interaction.AdjustWindowLevel


def test_the_segment_is_saved_under_its_name_and_rounds_are_numbered_from_one(workflow, tmp_path):
    _segmented(workflow)
    assert workflow.status.text.startswith("Round 1 done")
    assert workflow.act("set_segment_name", "Right ")  # typed so far: the field keeps its space
    assert workflow.segment_name == "Right "
    assert workflow.act("set_segment_name", "  Right   lung ")
    assert not workflow.act("set_segment_name", "   ") and "name" in workflow.status.text
    foreground, background = demo_scribbles(tuple(reversed(workflow.volume_node.GetImageData().GetDimensions())))
    node = workflow.logic.ensure_scribble_node(workflow.volume_node)
    write_segment_region(node, "foreground", workflow.volume_node, full_region(workflow.volume_node), foreground)
    assert workflow.act("refine"), workflow.status.text
    finish(workflow)
    assert workflow.status.text.startswith("Round 2 done"), workflow.status.text
    assert workflow.act("undo") and workflow.status.text.startswith("Round 2 undone. Round 1 is shown")
    assert workflow.act("save", tmp_path / "lung.seg.nrrd")
    segment = slicerio.read_segmentation(str(tmp_path / "lung.seg.nrrd"))["segments"][0]
    assert segment["name"] == "Right lung"
    display_node = workflow.segmentation_node.GetDisplayNode()
    assert display_node.GetVisibility2DOutline()
    assert np.allclose(workflow.segmentation_node.GetSegmentation().GetSegment(workflow.segment_id).GetColor(),
                       display.SEGMENT_COLOUR)


def _slice_node(orientation: str):
    """A slice node with Slicer's own orientation presets (patient right on the screen's left, as Slicer shows it)."""
    scene = slicer.vtkMRMLScene()
    slicer.vtkMRMLSliceNode.AddDefaultSliceOrientationPresets(scene, True)
    node = scene.AddNewNodeByClass("vtkMRMLSliceNode")
    node.SetOrientation(orientation)
    return node


def test_edge_letters_follow_the_slice_orientation():
    # Slicer's radiological convention: the patient's right is on the screen's left.
    assert display.edge_letters(_slice_node("Axial")) == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    assert display.edge_letters(_slice_node("Coronal")) == {"left": "R", "right": "L", "top": "S", "bottom": "I"}
    assert display.edge_letters(_slice_node("Sagittal")) == {"left": "A", "right": "P", "top": "S", "bottom": "I"}
    flipped = _slice_node("Axial")
    matrix = flipped.GetSliceToRAS()
    matrix.SetElement(0, 0, 1.0)  # a view flipped left-right shows L on the left
    flipped.UpdateMatrices()
    assert display.edge_letters(flipped)["left"] == "L" and display.edge_letters(flipped)["right"] == "R"
