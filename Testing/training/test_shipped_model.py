"""The shipped default models: they load, match their cards, and do what their cards claim.

The check case is slicerio's chest CT, a validation subject of the manifest (never
trained on), which installs with the test requirements.
"""
import pytest

from interactiveseg.image_io import volume_from_sitk
from interactiveseg.model_file import default_model_path, load_model, read_card, sha256_of
from interactiveseg.overlap import dice
from interactiveseg.training.evaluate_box import segment_box
from interactiveseg.training.manifest import structure_stats
from interactiveseg.training.samples import tight_box

from interactiveseg.training.sources import slicerio_chest

CASE = "slicerio-chest"


@pytest.fixture(scope="module")
def chest():
    source = next(slicerio_chest())
    return source, volume_from_sitk(source.image, source.modality)


@pytest.mark.parametrize("dims", [3, 2])
def test_shipped_model_matches_its_card(dims):
    path = default_model_path(dims)
    card = read_card(path)
    assert sha256_of(path) == card["sha256"]
    assert path.stat().st_size < 20_000_000  # the limit for a model shipped in the repository
    model = load_model(None, dims)
    assert model.dims == dims
    assert CASE in card["training"]["subjects_validation"]
    assert CASE not in card["training"]["subjects_train"]
    assert card["metrics"]["box_only_dice_validation_subjects"]["all"]["n"] > 0


@pytest.mark.parametrize("dims", [3, 2])
def test_box_only_dice_on_a_validation_structure_reaches_the_card(dims, chest):
    source, volume = chest
    model = load_model(None, dims)
    claimed = model.card["metrics"]["validation_per_structure"]
    checked = 0
    for value, name in sorted(source.names.items()):
        key = f"{CASE}/{name}"
        if key not in claimed or name not in ("right_lung", "left_lung"):
            continue
        _, _, bbox = structure_stats(source.labels, value, source.image.GetSpacing())
        mask = segment_box(model.network, model.card, volume, tight_box(bbox))
        measured = dice(mask, source.labels == value)
        assert measured > claimed[key] - 0.02, f"{name}: Dice {measured:.3f}, card claims {claimed[key]:.3f}"
        checked += 1
    assert checked == 2


def test_the_default_is_the_3d_model_for_a_volume_and_the_2d_model_for_a_single_slice():
    import numpy as np

    from interactiveseg import Session, Volume
    from interactiveseg.worker import Engine
    assert default_model_path(slices=40) == default_model_path(3)
    assert default_model_path(slices=1) == default_model_path(2)
    assert default_model_path() == default_model_path(3)
    for slices, dims in ((1, 2), (12, 3)):
        array = np.random.default_rng(0).normal(0, 1, (slices, 32, 32)).astype(np.float32)
        session = Session(Volume(array, spacing=(1.0, 1.0, 2.0)))
        assert session.model.dims == dims
        assert session.segment((4, 4, 0, 27, 27, slices - 1)).mask.shape == array.shape
        engine = Engine()  # the worker: model "" is its own shipped default, chosen by the volume it holds
        engine.handle({"op": "load_volume", "spacing": [1, 1, 2], "origin": [0, 0, 0], "direction": np.eye(3).tolist()},
                      {"volume": array}, None, None)
        engine.handle({"op": "segment", "session": "s", "box": [4, 4, 0, 27, 27, slices - 1], "model": ""}, {},
                      None, None)
        assert engine.sessions["s"].model.dims == dims


def test_the_mean_of_two_models_maps_sits_between_them_and_needs_the_same_margins(chest):
    """evaluate-box --mean-with: the mean of a model with itself is that model's mask (up to the
    resampling to the crop and back); with the 2D U-Net it is a third mask; other margins are refused."""
    import copy

    from interactiveseg.errors import InputError

    source, volume = chest
    value = next(v for v, name in source.names.items() if name == "right_lung")
    _, _, bbox = structure_stats(source.labels, value, source.image.GetSpacing())
    box, reference = tight_box(bbox), source.labels == value
    model, other = load_model(None, 3), load_model(None, 2)
    alone = segment_box(model.network, model.card, volume, box)
    assert dice(segment_box(model.network, model.card, volume, box, partner=model), alone) > 0.97
    mean = segment_box(model.network, model.card, volume, box, partner=other)
    assert dice(mean, reference) > 0.9
    assert 0 < (mean ^ alone).sum()  # the 2D U-Net's map moved it
    wider = copy.copy(other)
    wider.card = dict(other.card, input=dict(other.card["input"], margin_fraction=0.3))
    with pytest.raises(InputError, match="margins"):
        segment_box(model.network, model.card, volume, box, partner=wider)


def test_evaluate_box_refuses_to_write_two_models_figures_into_one_card(capsys):
    from interactiveseg.training.commands import evaluate_main

    path = default_model_path(3)
    before = read_card(path)
    with pytest.raises(SystemExit):
        evaluate_main([str(path), "--mean-with", str(default_model_path(2)), "--write-card"])
    assert "a card holds its own model's figures only" in capsys.readouterr().err
    assert read_card(path) == before
