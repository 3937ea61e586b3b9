import json

import pytest
import torch

from interactiveseg import ModelError, load_model, save_model
from interactiveseg.model_file import card_path, new_card

from engine_fixtures import tiny_architecture
from tiny_models import save_tiny_model, tiny_network


def tensors_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_save_and_load_round_trip(tmp_path):
    network, architecture = tiny_network(channels=6)
    path = save_model(tmp_path / "m.safetensors", network, new_card(architecture, (8, 16, 16)))
    loaded = load_model(path)
    assert tensors_equal(loaded.network, network)
    assert loaded.dims == 3 and loaded.grid_shape == (8, 16, 16)
    assert not loaded.network.training


def test_2d_network_runs_slice_by_slice(tmp_path):
    network, _ = tiny_network(dims=2)
    assert network(torch.zeros(3, 1, 20, 24)).shape == (3, 2, 20, 24)


@pytest.fixture
def saved(tmp_path):
    return save_tiny_model(tmp_path / "m.safetensors", (8, 16, 16), channels=6)


def test_a_card_that_cannot_be_written_leaves_the_saved_pair_loadable(saved):
    before = load_model(saved)
    network, architecture = tiny_network(channels=6, seed=9)
    card = new_card(architecture, (8, 16, 16))
    card["note"] = object()  # not JSON: writing the card fails after the new weights are written
    with pytest.raises(TypeError):
        save_model(saved, network, card)
    assert tensors_equal(load_model(saved).network, before.network)
    assert not [p for p in saved.parent.iterdir() if p.name.startswith(".partial")]


def test_changed_weights_fail_the_checksum(saved):
    data = bytearray(saved.read_bytes())
    data[-5] ^= 0xFF
    saved.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum"):
        load_model(saved)


def test_corrupt_file_with_matching_card_is_refused(saved):
    saved.write_bytes(b"not a safetensors file at all")
    card = json.loads(card_path(saved).read_text())
    from interactiveseg.model_file import sha256_of
    card["sha256"] = sha256_of(saved)
    card_path(saved).write_text(json.dumps(card))
    with pytest.raises(ModelError, match="not a readable safetensors"):
        load_model(saved)


def test_card_that_does_not_match_the_weights_is_refused(saved):
    card = json.loads(card_path(saved).read_text())
    card["architecture"]["channels"] = 99
    card_path(saved).write_text(json.dumps(card))
    with pytest.raises(ModelError, match="does not match the architecture"):
        load_model(saved)


def test_missing_files_are_clear_errors(tmp_path, saved):
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "absent.safetensors")
    card_path(saved).unlink()
    with pytest.raises(ModelError, match="card not found"):
        load_model(saved)


def test_a_pickle_is_never_loaded(tmp_path):
    """A torch pickle renamed to .safetensors is refused before anything is unpickled."""
    path = tmp_path / "evil.safetensors"
    torch.save({"x": torch.zeros(1)}, path)
    from interactiveseg.model_file import sha256_of
    card = new_card(tiny_architecture(), (8, 16, 16))
    card["sha256"] = sha256_of(path)
    card_path(path).write_text(json.dumps(card))
    with pytest.raises(ModelError, match="not a readable safetensors"):
        load_model(path)
