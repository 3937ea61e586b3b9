"""The page's actions on a real trame-slicer scene, without a browser: rounds, saving, bad input."""
from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from scene_checks import scene_state
from web_helpers import add_box, finish
from interactiveseg import Box
from interactiveseg.demo import DEMO_BOX, SAMPLE_IMAGE, demo_scribbles
from InteractiveSegLib.labelmaps import full_region, read_segment, write_segment_region


def _loaded(workflow):
    assert workflow.act("load", SAMPLE_IMAGE), workflow.status.text
    return workflow


def _paint(workflow, foreground, background=None):
    node = workflow.logic.ensure_scribble_node(workflow.volume_node, workflow.logic.scribble_node)
    region = full_region(workflow.volume_node)
    write_segment_region(node, "foreground", workflow.volume_node, region, foreground)
    if background is not None:
        write_segment_region(node, "background", workflow.volume_node, region, background)


def test_segment_refine_undo_accept_and_save(workflow, tmp_path):
    _loaded(workflow)
    add_box(workflow, DEMO_BOX)
    assert workflow.act("segment"), workflow.status.text
    assert workflow.busy
    finish(workflow)
    first = workflow.summary()
    assert first["rounds"] == 1 and first["segment_voxels"] > 0, workflow.status.text

    foreground, background = demo_scribbles(np.shape(read_segment(workflow.segmentation_node, workflow.segment_id,
                                                                  workflow.volume_node)))
    _paint(workflow, foreground, background)
    assert workflow.act("refine"), workflow.status.text
    finish(workflow)
    second = workflow.summary()
    assert second["rounds"] == 2, workflow.status.text
    assert second["segment_digest"] != first["segment_digest"]
    assert second["foreground_in_segment"] == second["foreground_voxels"] == int(foreground.sum())
    assert second["background_in_segment"] == 0

    path = tmp_path / "out.seg.nrrd"
    assert workflow.act("save", path), workflow.status.text
    saved = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
    assert int(np.count_nonzero(saved)) == second["segment_voxels"]

    assert workflow.act("undo")
    assert workflow.summary()["segment_digest"] == first["segment_digest"]
    assert workflow.act("accept")
    assert workflow.summary()["rounds"] == 0 and workflow.segment_id == ""


def test_uncertainty_overlay_follows_the_toggle(workflow):
    _loaded(workflow)
    add_box(workflow, DEMO_BOX)
    workflow.act("segment")
    finish(workflow)
    assert workflow.act("show_uncertainty", True)
    assert workflow.summary()["uncertainty_shown"]
    assert workflow.act("show_uncertainty", False)
    assert not workflow.summary()["uncertainty_shown"]


def test_cancel_drops_the_round(workflow):
    _loaded(workflow)
    add_box(workflow, DEMO_BOX)
    before = scene_state(workflow.scene)
    assert workflow.act("segment") and workflow.act("cancel")
    finish(workflow)
    assert workflow.status.text == "Cancelled: nothing was changed."
    assert scene_state(workflow.scene) == before
    assert workflow.summary()["rounds"] == 0


def test_a_file_that_is_not_an_image_leaves_the_scene_alone(workflow, tmp_path):
    _loaded(workflow)
    before = scene_state(workflow.scene)
    bad = tmp_path / "notes.nrrd"
    bad.write_text("this is not an image\n")
    assert not workflow.act("load", bad)
    assert workflow.status.error and "Cannot read" in workflow.status.text
    assert scene_state(workflow.scene) == before
    assert workflow.summary()["volume"] == "CTChest4"


def test_a_4d_volume_is_refused(workflow, tmp_path):
    _loaded(workflow)
    before = scene_state(workflow.scene)
    path = tmp_path / "series.nrrd"
    array = np.random.default_rng(0).integers(0, 100, (3, 4, 8, 8)).astype(np.int16)
    sitk.WriteImage(sitk.GetImageFromArray(array, isVector=False), str(path))
    assert sitk.ReadImage(str(path)).GetDimension() == 4
    assert not workflow.act("load", path)
    assert workflow.status.error and "4D" in workflow.status.text
    assert scene_state(workflow.scene) == before


def test_a_box_outside_the_volume_is_refused(workflow):
    _loaded(workflow)
    roi = add_box(workflow, DEMO_BOX)
    roi.SetCenter(5000.0, 5000.0, 5000.0)
    before = scene_state(workflow.scene)
    assert not workflow.act("segment")
    assert workflow.status.error and "outside" in workflow.status.text
    assert not workflow.busy
    assert scene_state(workflow.scene) == before


def test_refine_without_a_box_is_refused(workflow):
    _loaded(workflow)
    before = scene_state(workflow.scene)
    assert not workflow.act("refine")
    assert workflow.status.error and "Place a box" in workflow.status.text
    assert scene_state(workflow.scene) == before


def test_segment_without_a_volume_or_box_says_what_is_missing(workflow):
    assert not workflow.act("segment") and "Load a volume" in workflow.status.text
    _loaded(workflow)
    assert not workflow.act("segment") and "Place a box" in workflow.status.text


def test_saving_needs_a_segment_and_the_seg_nrrd_suffix(workflow, tmp_path):
    _loaded(workflow)
    assert not workflow.act("save", tmp_path / "a.seg.nrrd") and "Nothing to save" in workflow.status.text
    add_box(workflow, Box((60, 40, 10), (90, 80, 20)))
    workflow.act("segment")
    finish(workflow)
    assert not workflow.act("save", tmp_path / "a.nii.gz") and ".seg.nrrd" in workflow.status.text
    assert not (tmp_path / "a.nii.gz").exists()


def test_accepted_segments_are_saved(workflow, tmp_path):
    _loaded(workflow)
    add_box(workflow, Box((60, 40, 10), (90, 80, 20)))
    workflow.act("segment")
    finish(workflow)
    assert workflow.act("accept"), workflow.status.text
    assert workflow.act("save", tmp_path / "a.seg.nrrd"), workflow.status.text
    assert (tmp_path / "a.seg.nrrd").is_file()


def test_a_round_the_engine_refuses_at_once_says_why(tiny_model, tmp_path):
    """A worker that cannot start ends the round before the first poll: the page must not say "Segmenting..."."""
    from trame_slicer.core import SlicerApp
    import slicer
    from InteractiveSegLib.engine_client import EngineClient
    from InteractiveSegLib.logic import InteractiveSegmentationLogic
    from interactiveseg_web.workflow import Workflow
    previous = getattr(slicer, "mrmlScene", None)
    app = SlicerApp()
    failing = EngineClient(python=str(tmp_path / "no-such-python"))
    workflow = Workflow(app, model_path=str(tiny_model), logic=InteractiveSegmentationLogic(app.scene, failing),
                        keep_dir=tmp_path / "kept")
    try:
        _loaded(workflow)
        add_box(workflow, Box((60, 40, 10), (90, 80, 20)))
        workflow.act("segment")
        assert not workflow.busy
        assert workflow.status.error and "Segmenting" not in workflow.status.text, workflow.status.text
    finally:
        slicer.mrmlScene = previous
        app.scene.Clear(1)


def test_an_uploaded_image_is_kept_under_its_own_name_and_loaded(workflow, tmp_path):
    folder = tmp_path / "uploads"
    content = SAMPLE_IMAGE.read_bytes()
    assert workflow.act("load_upload", "CTChest4.nrrd", content, folder), workflow.status.text
    assert workflow.volume_path == folder / "CTChest4.nrrd"
    assert workflow.summary()["volume"] == workflow.volume_node.GetName()
    loaded = workflow.volume_node
    assert workflow.act("load_upload", "CTChest4.nrrd", content, folder), workflow.status.text
    assert workflow.volume_path == folder / "CTChest4-2.nrrd"  # the first upload is not overwritten
    assert (folder / "CTChest4.nrrd").read_bytes() == content
    assert workflow.volume_node is not loaded


def test_bad_uploads_are_refused_and_leave_no_file(workflow, tmp_path):
    folder = tmp_path / "uploads"
    _loaded(workflow)
    before = scene_state(workflow.scene)
    for name, content, message in [("notes.txt", b"hello", "not an image file"),
                                   ("../../escape.nrrd", b"", "arrived empty"),
                                   ("broken.nrrd", b"NRRD0004\nnot really\n", "Cannot read")]:
        assert not workflow.act("load_upload", name, content, folder)
        assert workflow.status.error and message in workflow.status.text, workflow.status.text
    assert scene_state(workflow.scene) == before
    assert not folder.exists() or not any(folder.iterdir())
    assert not (tmp_path / "escape.nrrd").exists()
