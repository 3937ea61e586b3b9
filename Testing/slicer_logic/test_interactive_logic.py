"""The interactive loop end to end on a real scene with a real (tiny, untrained) engine model."""
import shutil
import time

import numpy as np
import pytest

import slicer
from interactiveseg import Cancelled, InputError, ModelError

from scene_checks import scene_state
from logic_scene import FAST, SHAPE, segment
from slicer_scene import add_roi, add_volume
from InteractiveSegLib.labelmaps import read_segment, write_segment_region
from InteractiveSegLib.module_nodes import module_nodes
from InteractiveSegLib.matrices import ijk_to_ras
from InteractiveSegLib.scribbles import BACKGROUND, FOREGROUND, read_scribbles
from InteractiveSegLib.round_runner import CANCELLED, DONE, RUNNING, RoundRunner

def paint(logic, volume, foreground=(), background=()):
    """Scribbles as the Segment Editor would leave them: voxels in the scribble segmentation."""
    from interactiveseg import Box
    node = logic.ensure_scribble_node(volume, logic.scribble_node)
    k, j, i = SHAPE
    whole = Box((0, 0, 0), (i - 1, j - 1, k - 1))
    for segment_id, voxels in ((FOREGROUND, foreground), (BACKGROUND, background)):
        mask = read_segment(node, segment_id, volume)
        for kji in voxels:
            mask[kji] = True
        write_segment_region(node, segment_id, volume, whole, mask)
    return node


def test_segment_refine_undo(scene, logic, volume, roi, output, tiny_model):
    logic.ensure_scribble_node(volume)
    before = scene_state(scene)
    first = segment(logic, volume, roi, output, model=tiny_model)
    segments = output.GetSegmentation()
    assert segments.GetNumberOfSegments() == 2
    new_id = [s for s in segments.GetSegmentIDs() if s != "mine"][0]
    assert segments.GetSegment(new_id).GetName() == "InteractiveSeg"
    assert 0 < first.voxels < np.prod(first.box.size)  # a mask with both values, so misplaced writes show
    result_mask = read_segment(output, new_id, volume)
    np.testing.assert_array_equal(result_mask, first.mask)
    assert not result_mask[~_inside(first.box)].any()  # the result stays in the user's box
    np.testing.assert_array_equal(read_segment(output, "mine", volume), output.mine_mask)
    assert logic.device == "cpu" and logic.rounds == 1 and logic.can_refine

    paint(logic, volume, foreground=[(10, 20, 20), (10, 21, 20)], background=[(10, 14, 14)])
    second = logic.refine()
    assert second.round == 1 and (second.mask != first.mask).any()
    np.testing.assert_array_equal(read_segment(output, new_id, volume), second.mask)
    np.testing.assert_array_equal(read_segment(output, "mine", volume), output.mine_mask)
    assert logic.rounds == 2

    assert logic.undo()  # back to the first round, in the scene and in the engine
    np.testing.assert_array_equal(read_segment(output, new_id, volume), first.mask)
    assert logic.result is first
    assert read_scribbles(logic.scribble_node, volume).empty  # that round's strokes went with it
    assert logic.undo()  # the segment the first round added is gone again
    assert scene_state(scene) == before
    assert not logic.undo()


def test_accept_clears_scribbles_and_keeps_the_segment(scene, logic, volume, roi, tiny_model):
    result = segment(logic, volume, roi, model=tiny_model)  # no segmentation chosen: one is made
    made = slicer.util.getNodesByClass("vtkMRMLSegmentationNode", scene)
    output = [n for n in made if n is not logic.scribble_node][0]
    assert output.GetName() == "CT segmentation"
    paint(logic, volume, foreground=[(10, 20, 20)])
    logic.accept()
    assert read_scribbles(logic.scribble_node, volume).empty
    assert not logic.can_refine and logic.rounds == 0
    segment_id = output.GetSegmentation().GetNthSegmentID(0)
    np.testing.assert_array_equal(read_segment(output, segment_id, volume), result.mask)
    with pytest.raises(InputError, match="press Segment"):
        logic.plan_refine()


def test_undo_removes_the_segmentation_the_round_made(scene, logic, volume, roi, tiny_model):
    before = scene_state(scene)
    segment(logic, volume, roi, model=tiny_model)
    assert len(scene_state(scene)) > len(before)
    logic.undo()
    assert scene_state(scene) == before


def test_undo_restores_scribbles_of_that_round(scene, logic, volume, roi, output, tiny_model):
    segment(logic, volume, roi, output, model=tiny_model)
    paint(logic, volume, foreground=[(10, 20, 20)])
    logic.refine()
    paint(logic, volume, background=[(10, 13, 13)])
    logic.refine()
    logic.undo()
    fg, bg = read_scribbles(logic.scribble_node, volume).masks()
    assert fg[10, 20, 20] and not bg.any()  # the first round's stroke stays, the second's is gone


def erase(logic, volume, segment_id, voxels):
    """The Segment Editor's Erase on the scribble segmentation."""
    from interactiveseg import Box
    k, j, i = SHAPE
    mask = read_segment(logic.scribble_node, segment_id, volume)
    for kji in voxels:
        mask[kji] = False
    write_segment_region(logic.scribble_node, segment_id, volume, Box((0, 0, 0), (i - 1, j - 1, k - 1)), mask)


def test_an_erased_scribble_no_longer_counts(scene, logic, volume, roi, output, tiny_model, compute):
    segment(logic, volume, roi, output, model=tiny_model)
    paint(logic, volume, foreground=[(10, 20, 20)])
    logic.refine()
    erase(logic, volume, FOREGROUND, [(10, 20, 20)])
    paint(logic, volume, background=[(10, 14, 14)])
    job = logic.plan_refine()  # the strokes the engine is sent: the whole layer as it is drawn now
    sent = job.request["arrays"]
    assert job.request["header"]["replace"] and len(sent["foreground"]) == 0 and len(sent["background"]) == 1
    assert logic.apply(job, compute(logic, job)).round == 2


def test_undo_keeps_a_made_segmentation_that_got_other_segments(scene, logic, volume, roi, tiny_model):
    segment(logic, volume, roi, model=tiny_model)  # makes "CT segmentation"
    made = [n for n in slicer.util.getNodesByClass("vtkMRMLSegmentationNode", scene) if n is not logic.scribble_node][0]
    theirs = made.GetSegmentation().AddEmptySegment("theirs", "Added by hand")
    logic.undo()
    assert scene.IsNodePresent(made)
    assert list(made.GetSegmentation().GetSegmentIDs()) == [theirs]


def test_a_failed_write_leaves_scene_and_engine_in_step(scene, logic, volume, roi, output, tiny_model, monkeypatch,
                                                        compute):
    first = segment(logic, volume, roi, output, model=tiny_model)
    paint(logic, volume, foreground=[(10, 20, 20)])
    before = scene_state(scene)
    job = logic.plan_refine()
    result = compute(logic, job)

    def fail(*_):
        raise RuntimeError("the segment's source representation changed")
    monkeypatch.setattr("InteractiveSegLib.labelmaps.write_segment_region", fail)
    with pytest.raises(RuntimeError):
        logic.apply(job, result)
    monkeypatch.undo()
    assert scene_state(scene) == before and logic.rounds == 1 and not logic.busy
    assert logic.result is first  # the engine dropped the round the scene never got
    assert logic.refine().round == 1


def test_new_box_clears_scribbles_and_undo_brings_them_back(scene, logic, volume, roi, output, tiny_model):
    segment(logic, volume, roi, output, model=tiny_model)
    paint(logic, volume, foreground=[(10, 20, 20)])
    segment(logic, volume, roi, output, model=tiny_model)
    assert read_scribbles(logic.scribble_node, volume).empty
    logic.undo()
    assert read_scribbles(logic.scribble_node, volume).masks()[0][10, 20, 20]
    # The engine cannot return to the earlier box: refining needs a new Segment.
    with pytest.raises(InputError, match="press Segment"):
        logic.plan_refine()


def test_uncertainty_overlay_follows_rounds(scene, logic, volume, roi, output, tiny_model):
    scribble_node = logic.ensure_scribble_node(volume)
    before = scene_state(scene)
    logic.show_uncertainty = True
    result = segment(logic, volume, roi, output, model=tiny_model)
    overlay = logic.uncertainty_node
    values = slicer.util.arrayFromVolume(overlay)
    assert values.shape == tuple(reversed(result.region.size))
    np.testing.assert_allclose(values, result.region_uncertainty)
    np.testing.assert_allclose(ijk_to_ras(overlay)[:3, 3], (ijk_to_ras(volume) @ [*result.region.lower, 1])[:3])
    owned = {n.GetID() for n in module_nodes(scene)}
    assert owned == {overlay.GetID(), scribble_node.GetID()}  # the module's own, not the volume or the output
    logic.undo()
    assert logic.uncertainty_node is None and not scene.IsNodePresent(overlay)
    assert scene_state(scene) == before


def test_finding_the_modules_nodes_holds_no_reference_to_any_node(scene, volume):
    # Run on every panel update: a collection it leaked would keep every volume ever loaded in memory.
    references = volume.GetReferenceCount()
    for _ in range(5):
        module_nodes(scene)
    assert volume.GetReferenceCount() == references


def test_export_labelmap(scene, logic, volume, roi, output, tiny_model):
    result = segment(logic, volume, roi, output, model=tiny_model)
    labelmap = logic.export_labelmap()
    assert labelmap.IsA("vtkMRMLLabelMapVolumeNode")
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(labelmap) > 0, result.mask)


def test_export_of_a_segment_the_user_deleted_says_so(scene, logic, volume, roi, output, tiny_model):
    segment(logic, volume, roi, output, model=tiny_model)
    output.GetSegmentation().RemoveAllSegments()
    before = scene_state(scene)
    with pytest.raises(InputError, match="is not in segmentation"):
        logic.export_labelmap()
    assert scene_state(scene) == before


def test_existing_segment_is_rewritten_only_inside_the_box(scene, logic, volume, roi, output, tiny_model):
    result = segment(logic, volume, roi, output, "mine", model=tiny_model)
    after = read_segment(output, "mine", volume)
    inside = _inside(result.box)
    margin = _inside(result.region) & ~inside  # seen by the network, never written
    assert output.mine_mask[margin].any()
    np.testing.assert_array_equal(after[inside], result.mask[inside])
    np.testing.assert_array_equal(after[~inside], output.mine_mask[~inside])
    logic.undo()
    np.testing.assert_array_equal(read_segment(output, "mine", volume), output.mine_mask)


# Bad input: a message, and the scene exactly as it was --------------------------------


def test_bad_inputs_leave_the_scene_unchanged(scene, logic, volume, roi, output, tiny_model):
    rgb = add_volume(scene, np.random.default_rng(0).integers(0, 255, (4, 8, 8, 3)).astype(np.uint8),
                     node_class="vtkMRMLVectorVolumeNode", name="photo")
    series = add_volume(scene, np.random.default_rng(0).normal(size=(4, 8, 8, 6)).astype(np.float32),
                        node_class="vtkMRMLVectorVolumeNode", name="series")
    far = add_roi(scene, (900, 900, 900), (10, 10, 10), name="far away")
    damaged = tiny_model.parent / "damaged.safetensors"
    shutil.copy(tiny_model, damaged)
    shutil.copy(tiny_model.with_suffix(".json"), damaged.with_suffix(".json"))
    data = bytearray(damaged.read_bytes())
    data[-1] ^= 0xFF
    damaged.write_bytes(bytes(data))
    before = scene_state(scene)
    cases = [
        (lambda: segment(logic, None, roi, output, model=tiny_model), InputError, "Select a source volume"),
        (lambda: segment(logic, rgb, roi, output, model=tiny_model), InputError, "RGB"),
        (lambda: segment(logic, series, roi, output, model=tiny_model), InputError, "4D"),
        (lambda: segment(logic, volume, far, output, model=tiny_model), InputError, "outside volume"),
        (lambda: segment(logic, volume, None, output, model=tiny_model), InputError, "Place a box"),
        (lambda: segment(logic, volume, roi, output, model=damaged), ModelError, "checksum"),
        (lambda: segment(logic, volume, roi, output, "gone", model=tiny_model), InputError, "not in segmentation"),
        (lambda: logic.refine(), InputError, "press Segment"),
        (lambda: logic.segment(volume, roi, output, model_path=str(tiny_model), settings={"t0": 0.9, "t1": 0.1}),
         InputError, "t0"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
        assert scene_state(scene) == before, message
        assert not logic.busy


def test_refine_without_scribbles_is_refused(scene, logic, volume, roi, output, tiny_model):
    segment(logic, volume, roi, output, model=tiny_model)
    logic.ensure_scribble_node(volume)
    before = scene_state(scene)
    with pytest.raises(InputError, match="Paint foreground or background"):
        logic.refine()
    assert scene_state(scene) == before and logic.rounds == 1


def test_scribble_segmentation_is_never_the_output(scene, logic, volume, roi, tiny_model):
    scribbles = logic.ensure_scribble_node(volume)
    with pytest.raises(InputError, match="scribble segmentation"):
        segment(logic, volume, roi, scribbles, model=tiny_model)


def test_going_back_to_a_volume_paints_on_its_own_scribbles(scene, logic, volume):
    other = add_volume(scene, slicer.util.arrayFromVolume(volume) * 2, name="other")
    first = logic.ensure_scribble_node(volume)
    on_other = logic.ensure_scribble_node(other, first)
    assert on_other is not first
    assert logic.ensure_scribble_node(volume, on_other) is first  # not a third scribble segmentation
    assert {n.GetID() for n in module_nodes(scene)} == {first.GetID(), on_other.GetID()}


# The worker process: progress, cancel, results that come too late ----------------------


def test_a_round_in_the_worker_reports_progress_and_applies(scene, logic, volume, roi, output, tiny_model):
    segment(logic, volume, roi, output, model=tiny_model)
    paint(logic, volume, foreground=[(10, 20, 20)])
    job = logic.plan_refine()
    assert logic.busy and not logic.can_undo
    with pytest.raises(InputError, match="still running"):
        logic.plan_refine()
    runner, seen = RoundRunner(logic), []
    runner.start(job)
    while (status := runner.poll()).state == RUNNING:
        seen.append(status.fraction)
        time.sleep(0.005)
    assert status.state == DONE and status.result.round == 1
    assert seen and 0.0 <= min(seen) and max(seen) <= 1.0
    assert logic.rounds == 2 and not logic.busy


def test_cancel_stops_the_round_and_leaves_everything(scene, logic, volume, roi, output, tiny_model):
    first = segment(logic, volume, roi, output, model=tiny_model)
    paint(logic, volume, foreground=[(10, 20, 20)])
    before = scene_state(scene)
    runner = RoundRunner(logic)
    runner.start(logic.plan_refine())
    runner.cancel()  # pressed at once: the engine stops at its first check
    status = runner.wait(30)
    assert status.state == CANCELLED and isinstance(status.error, Cancelled)
    assert scene_state(scene) == before and logic.rounds == 1 and logic.result is first and not logic.busy


def test_a_result_that_arrives_after_cancel_is_dropped(scene, logic, volume, roi, output, tiny_model, compute):
    first = segment(logic, volume, roi, output, model=tiny_model)
    paint(logic, volume, foreground=[(10, 20, 20)])
    before = scene_state(scene)
    job = logic.plan_refine()
    compute(logic, job)  # the engine finished just as the user pressed Cancel
    logic.abandon(job)
    assert scene_state(scene) == before
    assert logic.result is first  # the engine went back to the round the scene shows
    assert logic.refine().round == 1


def test_removed_output_while_computing(scene, logic, volume, roi, output, tiny_model, compute):
    job = logic.plan_segment(volume, roi, output, model_path=str(tiny_model), settings=FAST)
    result = compute(logic, job)
    scene.RemoveNode(output)
    with pytest.raises(InputError, match="removed"):
        logic.apply(job, result)
    assert logic.rounds == 0 and not logic.busy


def _inside(box):
    mask = np.zeros(SHAPE, dtype=bool)
    mask[box.slices()] = True
    return mask


def test_next_uncertain_region_cycles_in_world_coordinates(scene, logic, volume, roi, tiny_model):
    from slicer_scene import add_linear_transform
    logic.segment(volume, roi, model_path=str(tiny_model), settings=dict(FAST, t0=0.0, t1=1.0))  # all uncertain
    first = logic.next_uncertain_region()
    assert first is not None
    region, point = first
    assert region.rank == 1
    np.testing.assert_allclose(point, (ijk_to_ras(volume) @ [*region.anchor_ijk, 1])[:3], atol=1e-6)
    ranks = [region.rank] + [logic.next_uncertain_region()[0].rank for _ in range(5)]
    count = len(logic.uncertain_regions(5))
    assert ranks == [(n % count) + 1 for n in range(6)]  # in rank order, then from the top again
    shift = np.eye(4)
    shift[:3, 3] = (10.0, -5.0, 2.5)
    volume.SetAndObserveTransformNodeID(add_linear_transform(scene, shift).GetID())
    region_now, moved = logic.next_uncertain_region()  # the seventh call: index 6 of the cycle
    assert region_now == logic.uncertain_regions(5)[6 % count]
    assert np.allclose(moved - (ijk_to_ras(volume) @ [*region_now.anchor_ijk, 1])[:3], (10.0, -5.0, 2.5))


def test_familiarity_is_none_without_a_signature_and_a_verdict_with_one(logic, volume, roi, tiny_model):
    assert logic.familiarity() is None  # nothing segmented yet
    logic.segment(volume, roi, model_path=str(tiny_model), settings=FAST)
    assert logic.familiarity() is None  # the tiny model's card has no spectral signature
    from InteractiveSegLib.guidance import familiarity_text
    assert "no spectral signature" in familiarity_text(None)
    text = familiarity_text({"verdict": "similar to training data", "score": 1.234, "threshold": 2.0})
    assert text.startswith("similar to training data") and "1.23" in text


def test_custom_settings_start_from_the_models_card(logic, tiny_model, tmp_path):
    import json
    model = tmp_path / "tuned.safetensors"
    shutil.copy(tiny_model, model)
    card = json.loads(tiny_model.with_suffix(".json").read_text())
    card["finetune_defaults"] = {"omega": 7.5, "iterations": 33, "t0": 0.15, "t1": 0.85, "learning_rate": 0.004}
    model.with_suffix(".json").write_text(json.dumps(card))
    assert logic.model_settings(str(model)) == {"iterations": 33, "omega": 7.5, "t0": 0.15, "t1": 0.85,
                                                "learning_rate": 0.004}
    with pytest.raises(ModelError):
        logic.model_settings(str(tmp_path / "missing.safetensors"))


def test_the_default_models_settings_follow_the_image_as_the_worker_does(logic):
    """The worker loads the 2D model for a single slice and the 3D one for a volume; the panel must agree."""
    from interactiveseg.model_card import default_model_path, read_card
    from interactiveseg.settings import Settings
    shipped = {dims: Settings.from_card(read_card(default_model_path(dims))).panel_values() for dims in (2, 3)}
    assert shipped[2] != shipped[3]  # otherwise this test could not tell them apart
    assert logic.model_settings("", slices=1) == shipped[2]
    assert logic.model_settings("", slices=40) == shipped[3]


def test_a_failure_after_the_write_puts_the_segment_back(scene, logic, volume, roi, output, tiny_model, monkeypatch,
                                                         compute):
    paint(logic, volume, foreground=[(10, 20, 20)])
    before = scene_state(scene)
    job = logic.plan_segment(volume, roi, output, "mine", model_path=str(tiny_model), settings=FAST)
    result = compute(logic, job)

    def fail(*_):
        raise RuntimeError("the scribble segmentation could not be cleared")
    monkeypatch.setattr(logic, "_clear_scribbles_for_new_box", fail)
    with pytest.raises(RuntimeError):
        logic.apply(job, result)
    np.testing.assert_array_equal(read_segment(output, "mine", volume), output.mine_mask)
    assert scene_state(scene) == before and logic.rounds == 0 and not logic.busy


def test_an_output_made_without_display_nodes_is_shown(scene, logic, volume, roi, tiny_model):
    """A segmentation made from the node selector has no display node until the first round."""
    bare = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Made by the selector")
    assert bare.GetDisplayNode() is None
    logic.segment(volume, roi, bare, model_path=str(tiny_model), settings=FAST)
    assert bare.GetDisplayNode() is not None


def test_the_output_of_a_transformed_volume_is_on_its_grid(scene, logic, volume, roi, tiny_model):
    from slicer_scene import add_linear_transform
    shift = np.eye(4)
    shift[:3, 3] = (100.0, 0.0, 0.0)
    moved = add_linear_transform(scene, shift).GetID()
    volume.SetAndObserveTransformNodeID(moved)
    roi.SetAndObserveTransformNodeID(moved)  # the box moves with it
    result = logic.segment(volume, roi, model_path=str(tiny_model), settings=FAST)
    made = [n for n in slicer.util.getNodesByClass("vtkMRMLSegmentationNode", scene) if n is not logic.scribble_node][0]
    assert made.GetTransformNodeID() == volume.GetTransformNodeID()
    np.testing.assert_array_equal(read_segment(made, made.GetSegmentation().GetNthSegmentID(0), volume), result.mask)



def test_the_shipped_model_is_asked_for_by_name_so_a_remote_engine_loads_its_own(logic, volume, roi, tiny_model):
    shipped = logic.plan_segment(volume, roi)
    assert shipped.request["header"]["model"] == ""  # not this computer's path to it
    logic.abandon(shipped)
    chosen = logic.plan_segment(volume, roi, model_path=str(tiny_model))
    assert chosen.request["header"]["model"] == str(tiny_model)
