"""Shared fixtures: the bundled sample CT, synthetic volumes, and small models made here.

The "blob model" is a real (tiny) network whose classifier was fitted here to segment
only the bright blob of `blob_volume`: it misses the dimmer blob, which lets the tests
check that fine-tuning on a scribble recovers a missed region.
"""
from __future__ import annotations

import pytest
import torch

from interactiveseg import read_volume, save_model
from interactiveseg.demo import SAMPLE_IMAGE
from interactiveseg.finetune import apply_classifier, compute_features
from interactiveseg.model_file import new_card
from interactiveseg.networks import build_network, pcnet_architecture
from interactiveseg.preprocess import prepare_input

from engine_fixtures import BLOB_BOX, TINY_GRID, make_blob_volume
from tiny_models import save_tiny_model


@pytest.fixture(scope="session")
def sample_volume():
    return read_volume(SAMPLE_IMAGE)


@pytest.fixture(scope="session")
def blob_volume():
    return make_blob_volume()


@pytest.fixture(scope="session")
def random_model_path(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("models") / "random.safetensors", TINY_GRID, channels=6, seed=1)


@pytest.fixture(scope="session")
def blob_model_path(tmp_path_factory, blob_volume):
    """Generic (untrained) multi-scale features with a classifier fitted to blob A only.

    A class-agnostic pretrained network keeps features that tell B from background;
    untrained features do too, while a network trained to call B background would not.
    """
    volume, blob_a, _ = blob_volume
    torch.manual_seed(2)
    arch = pcnet_architecture(channels=8, compress_channels=4, classifier_channels=16)
    card = new_card(arch, TINY_GRID)
    network = build_network(arch).eval()
    prepared = prepare_input(volume, BLOB_BOX, card)
    features = compute_features(network, prepared.image[0], 3).reshape(4 * 5, -1)
    target = prepared.crop.mask_to_grid(prepared.crop.extract(blob_a)).reshape(-1).long()
    balance = torch.tensor([1.0, float((target == 0).sum() / (target == 1).sum()) ** 0.5])
    optimizer = torch.optim.Adam(network.classifier.parameters(), lr=0.01)
    for _ in range(300):
        logits = apply_classifier(network, features).t()
        loss = torch.nn.functional.cross_entropy(logits, target, weight=balance)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    path = tmp_path_factory.mktemp("models") / "blob.safetensors"
    return save_model(path, network, card)
