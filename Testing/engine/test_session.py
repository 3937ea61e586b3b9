import threading

import numpy as np
import pytest

from interactiveseg import Cancelled, InputError, Session, Settings
from interactiveseg.overlap import dice

from engine_fixtures import BLOB_BOX


@pytest.fixture
def blob_session(blob_volume, blob_model_path):
    volume, _, _ = blob_volume
    return Session(volume, model=blob_model_path, device="cpu", settings=Settings(learning_rate=0.01))


def blob_b_scribble(volume, blob_b):
    fg = np.zeros(volume.shape, dtype=bool)
    fg[8, 15, 25:32] = True  # a short stroke across the middle of blob B
    assert blob_b[fg].all()
    return fg


def test_segment_finds_blob_a_only_and_stays_inside_the_box(blob_session, blob_volume):
    _, blob_a, blob_b = blob_volume
    result = blob_session.segment(BLOB_BOX)
    assert result.mask[blob_a].mean() > 0.4
    assert result.mask[blob_b].mean() < 0.1
    outside = np.ones(result.mask.shape, dtype=bool)
    outside[BLOB_BOX.slices()] = False
    assert not result.mask[outside].any()
    assert result.mask.shape == result.probability.shape == result.uncertainty.shape == blob_a.shape


def test_a_foreground_scribble_in_a_missed_region_raises_dice_there(blob_session, blob_volume):
    volume, blob_a, blob_b = blob_volume
    before = blob_session.segment(BLOB_BOX)
    after = blob_session.refine(foreground=blob_b_scribble(volume, blob_b))
    half = (slice(None), slice(None), slice(20, None))  # the half of the box that holds blob B
    dice_before, dice_after = dice(before.mask[half], blob_b[half]), dice(after.mask[half], blob_b[half])
    assert dice_after > dice_before + 0.3, (dice_before, dice_after)
    assert after.mask[blob_b].mean() > before.mask[blob_b].mean() + 0.3
    assert after.round == 1


def test_undo_and_reset_return_to_earlier_rounds(blob_session, blob_volume):
    volume, _, blob_b = blob_volume
    first = blob_session.segment(BLOB_BOX)
    second = blob_session.refine(foreground=blob_b_scribble(volume, blob_b))
    bg = np.zeros(volume.shape, dtype=bool)
    bg[8, 7, 5:30] = True
    blob_session.refine(background=bg)
    assert blob_session.round == 2
    undone = blob_session.undo()
    assert undone is second and blob_session.round == 1
    # After undo the next refine starts from round 1's weights: the same as refining again.
    again = blob_session.refine(background=bg)
    assert again.round == 2
    reset = blob_session.reset()
    assert reset is first and blob_session.round == 0
    # Reset restores the pretrained weights: unsupervised refining from here matches a fresh session.
    fresh = Session(volume, model=blob_session.model, device="cpu", settings=blob_session.settings)
    fresh.segment(BLOB_BOX)
    np.testing.assert_array_equal(blob_session.refine().probability, fresh.refine().probability)
    assert blob_session.undo() is first and blob_session.undo() is None


def test_same_inputs_and_seed_give_the_same_output(blob_volume, blob_model_path):
    volume, _, blob_b = blob_volume
    masks = []
    for _ in range(2):
        session = Session(volume, model=blob_model_path, device="cpu", settings=Settings(iterations=10, seed=7))
        session.segment(BLOB_BOX)
        masks.append(session.refine(foreground=blob_b_scribble(volume, blob_b)).probability)
    np.testing.assert_array_equal(masks[0], masks[1])


def test_cancel_leaves_the_session_at_the_previous_round(blob_session, blob_volume):
    volume, _, blob_b = blob_volume
    first = blob_session.segment(BLOB_BOX)
    stop = threading.Event()
    seen = []

    def progress(fraction, message):
        seen.append(fraction)
        if len(seen) == 3:
            stop.set()

    with pytest.raises(Cancelled):
        blob_session.refine(foreground=blob_b_scribble(volume, blob_b), progress=progress, cancel=stop.is_set)
    assert len(seen) == 3 and blob_session.round == 0 and blob_session.result is first
    unsupervised = blob_session.refine()
    assert unsupervised.round == 1  # the session still works, from the pretrained weights


def test_progress_reports_increasing_fractions_up_to_one(blob_session):
    blob_session.segment(BLOB_BOX)
    seen = []
    blob_session.refine(progress=lambda f, m: seen.append(f))
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)


def test_bad_scribbles_give_clear_errors_and_change_nothing(blob_session, blob_volume):
    volume, _, blob_b = blob_volume
    with pytest.raises(InputError, match="segment before"):
        blob_session.refine()
    first = blob_session.segment(BLOB_BOX)
    fg = blob_b_scribble(volume, blob_b)
    cases = [
        (dict(foreground=np.zeros((3, 3, 3), bool)), "image grid"),
        (dict(foreground=np.zeros(volume.shape, bool)), "empty"),
        (dict(foreground=fg, background=fg), "both foreground and background"),
        (dict(foreground=fg.astype(np.int16) * 7), "boolean or 0/1"),
    ]
    outside = np.zeros(volume.shape, dtype=bool)
    outside[15, 0, 39] = True
    cases.append((dict(foreground=outside), "inside the box"))
    for kwargs, message in cases:
        before = {k: v.copy() for k, v in kwargs.items()}
        with pytest.raises(InputError, match=message):
            blob_session.refine(**kwargs)
        for k in kwargs:
            np.testing.assert_array_equal(kwargs[k], before[k])
    assert blob_session.round == 0 and blob_session.result is first


def test_a_foreground_stroke_in_the_margin_is_ignored_with_a_note(blob_session, blob_volume):
    volume, _, blob_b = blob_volume
    first = blob_session.segment(BLOB_BOX)
    (i0, j0, k0), (i1, j1, k1) = first.region.lower, first.region.upper
    margin = np.zeros(volume.shape, dtype=bool)
    margin[k0:k1 + 1, j0:j1 + 1, i0:i1 + 1] = True
    margin[first.box.slices()] = False
    stroke = np.zeros(volume.shape, dtype=bool)
    stroke[tuple(np.argwhere(margin)[0])] = True
    with pytest.raises(InputError, match="inside the box"):  # nothing else to go on
        blob_session.refine(foreground=stroke)
    refined = blob_session.refine(foreground=stroke | blob_b_scribble(volume, blob_b))
    assert any("outside the box" in note for note in refined.warnings)
    assert refined.probability[stroke].max() < 0.5 and not refined.mask[stroke].any()


def test_settings_are_checked():
    with pytest.raises(InputError, match="t0 < t1"):
        Settings(t0=0.9, t1=0.1).validated()
    with pytest.raises(InputError, match="Unknown setting"):
        Settings().updated(omegaa=3)


def test_a_single_slice_is_segmented_in_2d(random_model_path):
    from interactiveseg import Volume
    rng = np.random.default_rng(0)
    image = rng.normal(0, 1, (40, 50))
    image[10:30, 15:35] += 5
    session = Session(Volume(image), model=random_model_path, device="cpu")
    result = session.segment([12, 8, 0, 37, 31, 0])
    assert result.mask.shape == (1, 40, 50)
    assert not result.mask[:, :8].any() and not result.mask[:, :, :12].any()


def test_ablation_switches_change_what_refine_does(blob_volume, blob_model_path):
    volume, _, blob_b = blob_volume
    fg = blob_b_scribble(volume, blob_b)
    outputs = {}
    for name, settings in {"full": Settings(learning_rate=0.01),
                           "no_weights": Settings(learning_rate=0.01, uncertainty_weights=False),
                           "crf": Settings(fine_tune=False)}.items():
        session = Session(volume, model=blob_model_path, device="cpu", settings=settings)
        session.segment(BLOB_BOX)
        outputs[name] = session.refine(foreground=fg)
    assert outputs["crf"].mask[fg].all()  # the CRF keeps scribbles as hard labels
    assert not np.array_equal(outputs["full"].probability, outputs["no_weights"].probability)
    assert not np.array_equal(outputs["full"].probability, outputs["crf"].probability)


def test_gpu_out_of_memory_falls_back_to_cpu_with_a_message(blob_volume, random_model_path):
    """CUDA cannot run here, so the error a GPU raises is raised by the computation itself."""
    import torch
    volume, _, _ = blob_volume
    session = Session(volume, model=random_model_path, device="cpu")
    first = session.segment(BLOB_BOX)
    session.device = torch.device("cuda")  # as if the session had started on a GPU
    calls = []

    def compute():
        calls.append(str(session.device))
        if len(calls) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return "done"

    assert session._with_fallback(compute) == "done"
    assert calls == ["cuda", "cpu"] and session.device.type == "cpu"
    assert any("ran out of memory" in w for w in session._take_warnings())
    with pytest.raises(RuntimeError, match="something else"):
        session._with_fallback(lambda: (_ for _ in ()).throw(RuntimeError("something else")))
    assert session.result is first and session.round == 0


def test_fine_tuning_every_layer_runs_and_undo_restores_the_features(blob_volume, blob_model_path):
    volume, _, blob_b = blob_volume
    session = Session(volume, model=blob_model_path, device="cpu",
                      settings=Settings(finetune_scope="all", iterations=3, alternations=1))
    first = session.segment(BLOB_BOX)
    refined = session.refine(foreground=blob_b_scribble(volume, blob_b))
    assert not np.allclose(refined.probability, first.probability)
    assert session.undo() is first
    # Features and weights are back to round 0's: the same stroke gives the same round again.
    again = session.refine(foreground=blob_b_scribble(volume, blob_b))
    np.testing.assert_allclose(again.probability, refined.probability, atol=1e-5)


def test_a_2d_network_segments_a_volume_slice_by_slice(tmp_path, blob_volume):
    from tiny_models import save_tiny_model
    volume, _, blob_b = blob_volume
    path = save_tiny_model(tmp_path / "p.safetensors", (None, 24, 24), dims=2)
    session = Session(volume, model=path, device="cpu", settings=Settings(iterations=2))
    result = session.segment(BLOB_BOX)
    assert session.grid_shape[0] == result.region.size[2]  # one grid slice per volume slice
    refined = session.refine(foreground=blob_b_scribble(volume, blob_b))
    assert refined.mask[blob_b_scribble(volume, blob_b)].all()


def test_unsupervised_refine_with_nothing_certain_leaves_the_prediction(blob_volume, blob_model_path):
    volume, _, _ = blob_volume
    # The walk is off: it would smooth the map; the point here is that fine-tuning skips the update.
    session = Session(volume, model=blob_model_path, device="cpu", settings=Settings(t0=0.0, t1=1.0, random_walk=False))
    first = session.segment(BLOB_BOX)
    second = session.refine()  # only the margin is certain (background): no weight update, no crash
    np.testing.assert_allclose(second.probability, first.probability, atol=1e-6)


def test_cancelling_a_new_box_keeps_the_previous_box_and_its_rounds(blob_session, blob_volume):
    volume, _, blob_b = blob_volume
    blob_session.segment(BLOB_BOX)
    refined = blob_session.refine(foreground=blob_b_scribble(volume, blob_b))
    with pytest.raises(Cancelled):
        blob_session.segment([0, 0, 0, 20, 20, 10], cancel=lambda: True)
    assert blob_session.result is refined and blob_session.round == 1
    # The weights are still round 1's: undoing and refining again gives the same result.
    again = Session(volume, model=blob_session.model, device="cpu", settings=blob_session.settings)
    again.segment(BLOB_BOX)
    np.testing.assert_array_equal(again.refine(foreground=blob_b_scribble(volume, blob_b)).probability,
                                  refined.probability)
    bg = np.zeros(volume.shape, dtype=bool)
    bg[8, 7, 5:30] = True
    np.testing.assert_array_equal(blob_session.refine(background=bg).probability,
                                  again.refine(background=bg).probability)


def test_a_new_box_that_fails_after_its_first_pass_keeps_the_previous_box(blob_session, blob_volume, monkeypatch):
    volume, _, blob_b = blob_volume
    blob_session.segment(BLOB_BOX)
    refined = blob_session.refine(foreground=blob_b_scribble(volume, blob_b))

    def out_of_memory(*args, **kwargs):  # the first-mask walk on a large box can fail so
        raise MemoryError("cannot allocate")
    monkeypatch.setattr("interactiveseg.session.first_mask_region", out_of_memory)
    with pytest.raises(MemoryError):
        blob_session.segment([0, 0, 0, 20, 20, 10])
    monkeypatch.undo()
    assert blob_session.result is refined and blob_session.round == 1
    bg = np.zeros(volume.shape, dtype=bool)
    bg[8, 7, 5:30] = True
    again = Session(volume, model=blob_session.model, device="cpu", settings=blob_session.settings)
    again.segment(BLOB_BOX)
    again.refine(foreground=blob_b_scribble(volume, blob_b))
    np.testing.assert_array_equal(blob_session.refine(background=bg).probability,
                                  again.refine(background=bg).probability)


def test_a_round_retried_on_the_cpu_after_out_of_memory_starts_from_the_last_rounds_weights(
        blob_volume, blob_model_path, monkeypatch):
    import torch
    import interactiveseg.session as session_module
    volume, _, blob_b = blob_volume
    stroke = blob_b_scribble(volume, blob_b)
    clean = Session(volume, model=blob_model_path, device="cpu")
    clean.segment(BLOB_BOX)
    expected = clean.refine(foreground=stroke).probability

    session = Session(volume, model=blob_model_path, device="cpu")
    session.segment(BLOB_BOX)
    walk, calls = session_module.global_update, []

    def walk_once_out_of_memory(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # as if on a GPU: the grid walk, after fine-tuning changed the weights, runs out
            session.device = torch.device("cuda")
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return walk(*args, **kwargs)
    monkeypatch.setattr(session_module, "global_update", walk_once_out_of_memory)
    np.testing.assert_allclose(session.refine(foreground=stroke).probability, expected, atol=1e-6)
    assert len(calls) == 2 and session.device.type == "cpu"


def test_2d_features_in_passes_equal_one_pass_and_cancel_stops_between_them():
    import torch
    from interactiveseg.finetune import SLICES_PER_PASS, compute_features
    from interactiveseg.preprocess import as_network_batch, from_network_batch
    from tiny_models import tiny_network
    network = tiny_network(dims=2)[0].eval()
    image = torch.randn(2 * SLICES_PER_PASS + 3, 20, 20)  # (k, j, i): three passes, the last one short
    with torch.no_grad():
        whole = from_network_batch(network.features(as_network_batch(image[None], 2)), 2)
    reported = []
    torch.testing.assert_close(compute_features(network, image, 2, progress=lambda f, m: reported.append(f)), whole)
    assert reported == [SLICES_PER_PASS / image.shape[0], 2 * SLICES_PER_PASS / image.shape[0], 1.0]  # per pass
    calls = []
    with pytest.raises(Cancelled):
        compute_features(network, image, 2, cancel=lambda: calls.append(1) or len(calls) > 1)
    assert len(calls) == 2  # the first pass ran, the second was refused
