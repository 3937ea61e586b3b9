"""The first mask's boundary at the image's resolution (region_walk.first_mask_region), before any stroke."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from interactiveseg import Session, Settings, Volume, read_volume
from interactiveseg.demo import DEMO_BOX, REFERENCE_LABEL, SAMPLE_REFERENCE, demo_scribbles
from interactiveseg.errors import InputError
from interactiveseg.geometry import Box
from interactiveseg.model_file import load_model
from interactiveseg.overlap import dice
from interactiveseg.preprocess import prepare_input
from interactiveseg.region_walk import first_mask_region

from engine_fixtures import BLOB_BOX, TINY_GRID


def square_scene():
    """A bright square with sharp edges in a volume three times finer in-plane than the tiny model's grid,
    and the network's grid probability of it one grid voxel too wide all round (as the coarse grid gives
    the lung of the bundled CT): (prepared input, grid probability, the square on the crop)."""
    k, j, i = np.indices((12, 96, 96))
    square = (j >= 31) & (j < 62) & (i >= 29) & (i < 60)
    noise = np.random.default_rng(0).normal(0, 5, square.shape)
    volume = Volume((noise + 100 * square).astype(np.float32), spacing=(1 / 3, 1 / 3, 2.0), modality="MR")
    card = {"input": {"grid_shape": list(TINY_GRID), "margin_fraction": 0.0, "margin_minimum": 3}}
    prepared = prepare_input(volume, Box.from_ijk([12, 12, 0, 83, 83, 11]), card)
    truth = torch.from_numpy(prepared.crop.extract(square))
    on_grid = prepared.crop.to_grid(truth[None].float())[0]
    too_wide = F.max_pool3d(on_grid[None, None], (1, 3, 3), stride=1, padding=(0, 1, 1))[0, 0]
    return prepared, too_wide, truth


def test_the_first_mask_takes_the_image_s_own_edges():
    prepared, grid_probability, truth = square_scene()
    grid_mask = prepared.crop.from_grid(grid_probability[None])[0] > 0.5
    notes = []
    region = first_mask_region(prepared, grid_probability, Settings(first_walk_band=1), notes)
    assert region is not None and not notes
    before, after = dice(grid_mask.numpy(), truth.numpy()), dice((region > 0.5).numpy(), truth.numpy())
    assert before < 0.9  # the grid voxel too wide costs that much
    assert after > 0.95  # measured 0.970 against 0.839


def test_the_demo_box_s_first_mask_gains_and_the_demo_round_keeps_it(sample_volume):
    """The shipped default model on the bundled chest CT: its lung mask spills into the chest wall on
    the grid, and the walk puts it back on the lung's edge; the demo's strokes then do not lose it."""
    reference = read_volume(SAMPLE_REFERENCE).array == REFERENCE_LABEL
    scores = {}
    for band in (0, 1):
        session = Session(sample_volume, None, "cpu", Settings.from_card(load_model(None, slices=30).card,
                                                                          first_walk_band=band))
        first = dice(session.segment(DEMO_BOX).mask, reference)
        foreground, background = demo_scribbles(sample_volume.shape)
        scores[band] = first, dice(session.refine(foreground, background).mask, reference)
    assert scores[1][0] > scores[0][0] + 0.02  # measured 0.955 against 0.900
    assert scores[1][1] >= scores[1][0] - 0.005


def test_a_walk_that_would_remove_most_of_the_mask_keeps_the_network_s(blob_volume, blob_model_path):
    """A flat image has no edge to hold a thin sheet: the walk would dissolve it, so the grid's mask stays."""
    volume, _, _ = blob_volume
    noise = np.random.default_rng(0).normal(0, 1, volume.shape).astype(np.float32)
    flat = Volume(noise, spacing=volume.spacing, modality="MR")
    card = load_model(blob_model_path).card
    prepared = prepare_input(flat, BLOB_BOX, card)
    sheet = torch.full(prepared.image.shape[1:], 0.3)
    middle = sheet.shape[0] // 2
    sheet[middle, 8:24, 8:24] = 0.6  # one grid voxel thick
    notes = []
    assert first_mask_region(prepared, sheet, Settings(first_walk_band=1), notes) is None
    assert len(notes) == 1 and "network's mask is kept" in notes[0]


def test_the_first_walk_is_off_unless_set_or_without_walks_and_its_values_are_checked(blob_volume, blob_model_path):
    volume, _, _ = blob_volume
    prepared = prepare_input(volume, BLOB_BOX, load_model(blob_model_path).card)
    probability = torch.full(prepared.image.shape[1:], 0.9)
    assert first_mask_region(prepared, probability, Settings()) is None
    assert first_mask_region(prepared, probability, Settings(first_walk_band=1, random_walk=False)) is None
    for bad in ({"first_walk_band": -1}, {"first_walk_gamma": 0.0}):
        with pytest.raises(InputError, match="first_walk"):
            Settings().updated(**bad)
