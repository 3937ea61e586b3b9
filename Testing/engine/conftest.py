"""Shared fixtures: the bundled sample CT, synthetic volumes, and small models made here.

The "blob model" is a real (tiny) network whose classifier was fitted here to segment
only the bright blob of `blob_volume`: it misses the dimmer blob, which lets the tests check that
fine-tuning on a scribble recovers a missed region.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from interactiveseg import Volume, read_volume, save_model
from interactiveseg.demo import SAMPLE_IMAGE
from interactiveseg.model_file import new_card
from interactiveseg.networks import build_network, pcnet_architecture
from interactiveseg.finetune import apply_classifier, compute_features
from interactiveseg.preprocess import prepare_input
from interactiveseg.geometry import Box

TINY_GRID = (12, 32, 32)
BLOB_BOX = Box.from_ijk([3, 6, 2, 36, 24, 14])


def tiny_architecture():
    return pcnet_architecture(channels=6, compress_channels=3, classifier_channels=12)


@pytest.fixture(scope="session")
def sample_volume():
    return read_volume(SAMPLE_IMAGE)


def make_blob_volume() -> tuple:
    """Noisy background, a bright blob A and a dimmer blob B inside one box."""
    rng = np.random.default_rng(0)
    k, j, i = np.indices((16, 32, 40))
    blob_a = (k - 8) ** 2 / 25 + (j - 15) ** 2 / 64 + (i - 11) ** 2 / 49 <= 1
    blob_b = (k - 8) ** 2 / 25 + (j - 15) ** 2 / 64 + (i - 28) ** 2 / 49 <= 1
    array = rng.normal(0, 30, size=(16, 32, 40)) + 120 * blob_a + 60 * blob_b  # within the clip range
    volume = Volume(array.astype(np.float32), spacing=(1.0, 1.0, 2.0), modality="MR")
    return volume, blob_a, blob_b


@pytest.fixture(scope="session")
def blob_volume():
    return make_blob_volume()


@pytest.fixture(scope="session")
def random_model_path(tmp_path_factory):
    torch.manual_seed(1)
    arch = tiny_architecture()
    path = tmp_path_factory.mktemp("models") / "random.safetensors"
    return save_model(path, build_network(arch), new_card(arch, TINY_GRID))


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
        logits = apply_classifier(network, features, 3).t()
        loss = torch.nn.functional.cross_entropy(logits, target, weight=balance)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    path = tmp_path_factory.mktemp("models") / "blob.safetensors"
    return save_model(path, network, card)
