"""The walk at the image's own resolution: edges the network grid cannot resolve, and strokes voxel by voxel."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from interactiveseg import Session, Settings, Volume
from interactiveseg.errors import InputError
from interactiveseg.components import component_labels
from interactiveseg.finetune import native_update
from interactiveseg.morphology import boundary_band
from interactiveseg.geometry import Box
from interactiveseg.overlap import dice
from interactiveseg.preprocess import prepare_input
from interactiveseg.region_walk import walk_on_region

from engine_fixtures import BLOB_BOX, TINY_GRID


def square_image(shape=(4, 90, 90), seed=0):
    """A bright square with sharp edges that fall between the voxels of a three times coarser grid."""
    generator = torch.Generator().manual_seed(seed)
    square = torch.zeros(shape, dtype=torch.bool)
    square[:, 31:62, 29:60] = True
    image = 0.05 * torch.randn(shape, generator=generator) + 2.0 * square
    frame = torch.ones(shape, dtype=torch.bool)  # the margin outside the box
    frame[:, 3:-3, 3:-3] = False
    return image, square, frame


def through_coarse_grid(mask: torch.Tensor, factor: int) -> torch.Tensor:
    """What a grid `factor` times coarser in-plane gives back: the mask, blurred to the grid and back."""
    k, j, i = mask.shape
    coarse = F.interpolate(mask.float()[None, None], size=(k, j // factor, i // factor), mode="trilinear")
    return F.interpolate(coarse, size=mask.shape, mode="trilinear")[0, 0].clamp(0, 1)


def test_the_boundary_follows_the_image_where_the_grid_is_coarser():
    image, square, frame = square_image()
    prior = through_coarse_grid(square, 3)
    nothing = torch.zeros_like(square)
    walked = native_update(prior, image, nothing, nothing, frame, (2.0, 1.0, 1.0), (2.0, 3.0, 3.0), Settings())
    before = int(((prior > 0.5) ^ square).sum())
    after = int(((walked > 0.5) ^ square).sum())
    assert before > 100  # the grid's blur does cost voxels along the edge
    assert after < before / 4
    assert dice((walked > 0.5).numpy(), square.numpy()) > 0.99


def test_the_second_walk_takes_its_own_edge_sensitivity_when_given():
    image, square, frame = square_image()
    prior = through_coarse_grid(square, 3)
    nothing = torch.zeros_like(square)

    def wrong_voxels(settings):
        walked = native_update(prior, image, nothing, nothing, frame, (2.0, 1.0, 1.0), (2.0, 3.0, 3.0), settings)
        return int(((walked > 0.5) ^ square).sum())

    default = wrong_voxels(Settings())
    assert wrong_voxels(Settings(native_beta=Settings().walk_beta)) == default  # None: the grid walk's beta
    assert wrong_voxels(Settings(native_beta=0.0)) > 4 * default  # blind to edges, it keeps the grid's blur
    with pytest.raises(InputError, match="native_beta"):
        Settings(native_beta=-1.0).validated()


def spur_scene(h: int):
    """One 90 mm x 90 mm scene sampled at h mm: an object, a spur of it the network also took (as unsure
    as the object: p = 0.6), and a background stroke across the spur."""
    centres = (torch.arange(90 // h) + 0.5) * h
    j, i = torch.meshgrid(centres, centres, indexing="ij")
    square = ((j > 27) & (j < 63) & (i > 27) & (i < 63))[None].repeat(3, 1, 1)
    spur = ((j >= 63) & (j < 84) & (i > 36) & (i < 54))[None].repeat(3, 1, 1)
    image = 0.05 * torch.randn(square.shape, generator=torch.Generator().manual_seed(1)) + 0.3 * (square | spur)
    prior = torch.where(square | spur, torch.tensor(0.6), torch.tensor(0.2))
    stroke = torch.zeros_like(square)
    stroke[1] = (j > 75) & (j < 79) & (i > 39) & (i < 51)
    frame = torch.ones_like(square)
    frame[:, 6 // h:-(6 // h), 6 // h:-(6 // h)] = False
    return image, square, spur, prior, stroke, frame


def test_the_second_walk_moves_the_grid_s_boundary_by_at_most_one_grid_voxel():
    """A background stroke across the spur, with the grid three times coarser than the image and with the
    grid three times finer: voxels farther than one grid voxel from the grid's boundary keep the grid's
    label, so the stroke cuts the boundary near it and does not wash out the spur or the object."""
    for h, grid in ((1, 3.0), (3, 1.0)):
        image, square, spur, prior, stroke, frame = spur_scene(h)
        walked = native_update(prior, image, torch.zeros_like(stroke), stroke, frame, (3.0, h, h), (3.0, grid, grid),
                               Settings(native_band=1))
        radius = max(1, round(grid / h))
        near = boundary_band(prior > 0.5, (1, radius, radius))
        changed = ((walked > 0.5) != (prior > 0.5)) & ~stroke
        assert bool((walked[stroke] == 0).all())
        assert not bool(changed[~near].any())
        assert (walked[square] > 0.5).float().mean() > 0.99
        assert (walked[spur] > 0.5).float().mean() > 0.5


def test_boundary_band_is_the_mask_s_edge_at_the_given_radius():
    mask = torch.zeros((1, 9, 9), dtype=torch.bool)
    mask[0, 2:7, 2:7] = True
    band = boundary_band(mask, (1, 1, 1))
    assert bool(band[0, 4, 1]) and bool(band[0, 4, 2]) and not bool(band[0, 4, 4]) and not bool(band[0, 4, 0])
    assert int(band.sum()) == 7 * 7 - 3 * 3


def test_a_round_on_a_box_three_times_the_grid_keeps_the_image_s_own_edges(blob_model_path, blob_volume):
    """The blob scene at three times the in-plane resolution, and its box scaled alike: the network sees
    the same grid image, so the grid result is as before; the walk at the image's resolution then puts
    the boundary on the blob's own edge, which the grid (a third as fine) cannot."""
    volume, blob_a, _ = blob_volume
    fine = np.repeat(np.repeat(volume.array, 3, axis=1), 3, axis=2)
    reference = np.repeat(np.repeat(blob_a, 3, axis=1), 3, axis=2)
    fine_volume = Volume(fine, spacing=(1 / 3, 1 / 3, 2.0), modality="MR")
    i0, j0, k0, i1, j1, k1 = BLOB_BOX.as_ijk()
    box = Box.from_ijk([3 * i0, 3 * j0, k0, 3 * i1 + 2, 3 * j1 + 2, k1])
    stroke = np.zeros(fine.shape, dtype=bool)
    stroke[8, 45, 30:36] = True  # inside blob A
    scores = {}
    for native in (False, True):
        session = Session(fine_volume, blob_model_path, "cpu", Settings(learning_rate=0.01, native_walk=native))
        session.segment(box)
        scores[native] = dice(session.refine(foreground=stroke).mask, reference)
    assert scores[True] > scores[False] + 0.03  # measured 0.945 against 0.890


def test_a_box_region_too_large_for_the_second_walk_keeps_the_grid_s_result_and_says_so(
        blob_model_path, blob_volume, monkeypatch):
    import interactiveseg.region_walk as region_walk
    volume, blob_a, _ = blob_volume
    stroke = np.zeros(volume.shape, dtype=bool)
    stroke[8, 15, 8:13] = True
    results = {}
    for limit in (10**9, 100):
        monkeypatch.setattr(region_walk, "NATIVE_WALK_MAX_VOXELS", limit)
        session = Session(volume, blob_model_path, "cpu", Settings(learning_rate=0.01))
        session.segment(BLOB_BOX)
        results[limit] = session.refine(foreground=stroke)
    assert not any("more than the walk" in w for w in results[10**9].warnings)
    assert any("more than the walk" in w for w in results[100].warnings)
    grid_only = Session(volume, blob_model_path, "cpu", Settings(learning_rate=0.01, native_walk=False))
    grid_only.segment(BLOB_BOX)
    np.testing.assert_array_equal(results[100].mask, grid_only.refine(foreground=stroke).mask)


def test_a_cancel_that_comes_during_the_grid_walk_stops_the_round_before_the_second_walk(
        blob_model_path, blob_volume, monkeypatch):
    """Fine-tuning is over when the grid walk runs; a cancel then still stops the round, and nothing changes."""
    import interactiveseg.session as session_module
    from interactiveseg.errors import Cancelled
    volume, blob_a, _ = blob_volume
    stroke = np.zeros(volume.shape, dtype=bool)
    stroke[8, 15, 8:13] = True
    session = Session(volume, blob_model_path, "cpu", Settings(learning_rate=0.01))
    first = session.segment(BLOB_BOX).mask
    expected = session.refine(foreground=stroke).mask
    session.undo()
    walked = []
    grid_walk = session_module.global_update
    monkeypatch.setattr(session_module, "global_update", lambda *a, **k: walked.append(1) or grid_walk(*a, **k))
    with pytest.raises(Cancelled):
        session.refine(foreground=stroke, cancel=lambda: bool(walked))
    assert session.round == 0
    np.testing.assert_array_equal(session.result.mask, first)
    monkeypatch.setattr(session_module, "global_update", grid_walk)
    np.testing.assert_array_equal(session.refine(foreground=stroke).mask, expected)  # as if never started


def test_a_cancel_stops_the_walk_at_the_image_s_resolution_within_its_iterations():
    """On a box of millions of voxels this walk takes seconds: Cancel must not wait for it to converge."""
    from interactiveseg.errors import Cancelled
    image, square, frame = square_image()
    prior = through_coarse_grid(square, 3)
    nothing = torch.zeros_like(square)
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 2  # pressed during the walk, after its first checks
    with pytest.raises(Cancelled):
        native_update(prior, image, nothing, nothing, frame, (2.0, 1.0, 1.0), (2.0, 3.0, 3.0),
                      Settings(walk_iterations=1000), cancel)
    assert len(calls) == 3


def test_a_round_counts_its_voxels_after_each_step(blob_model_path, blob_volume):
    volume, blob_a, _ = blob_volume
    stroke = np.zeros(volume.shape, dtype=bool)
    stroke[8, 15, 8:13] = True
    for native, last in ((True, "native walk"), (False, "components")):
        session = Session(volume, blob_model_path, "cpu", Settings(learning_rate=0.01, native_walk=native))
        session.segment(BLOB_BOX)
        result = session.refine(foreground=stroke)
        assert list(result.steps) == ["start", "fine-tuning", "grid walk", "components"] + ["native walk"] * native
        assert all(isinstance(n, int) and n > 0 for n in result.steps.values())
        assert result.steps["components"] <= result.steps["grid walk"]  # the rule only removes
        assert list(result.steps)[-1] == last


def test_every_piece_of_the_grid_s_object_stays_when_the_walk_splits_it():
    """Two bright blocks a dark gap apart, one object on the grid: the walk at the image's resolution opens the
    gap, and both pieces stay (the rule before kept the larger one only and dropped the other whole)."""
    shape = (12, 96, 96)
    left, right, gap = (np.zeros(shape, bool) for _ in range(3))
    left[:, 31:62, 18:45] = True
    gap[:, 31:62, 45:49] = True
    right[:, 31:62, 49:74] = True
    noise = np.random.default_rng(0).normal(0, 5, shape)
    volume = Volume((noise + 100 * (left | right)).astype(np.float32), spacing=(1 / 3, 1 / 3, 2.0), modality="MR")
    card = {"input": {"grid_shape": list(TINY_GRID), "margin_fraction": 0.0, "margin_minimum": 3}}
    prepared = prepare_input(volume, Box.from_ijk([8, 8, 0, 87, 87, 11]), card)
    left, right, gap = (torch.from_numpy(prepared.crop.extract(m)) for m in (left, right, gap))
    prior = 0.9 * (left | right).float() + 0.52 * gap.float()  # the grid's one object, unsure over the gap
    nothing = torch.zeros_like(left)
    region = walk_on_region(prepared, prior, nothing, nothing, Settings(native_gamma=0.01)) > 0.5
    assert component_labels(region.numpy()).max() >= 2  # the walk did split it
    assert region[left].float().mean() > 0.9 and region[right].float().mean() > 0.9
