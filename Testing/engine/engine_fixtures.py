"""Helpers shared by the engine tests (a module of its own: every test folder has a conftest)."""
from __future__ import annotations

import numpy as np

from interactiveseg import Volume
from interactiveseg.geometry import Box

import tiny_models

TINY_GRID = (12, 32, 32)
BLOB_BOX = Box.from_ijk([3, 6, 2, 36, 24, 14])


def tiny_architecture():
    return tiny_models.tiny_architecture(channels=6)


def make_blob_volume() -> tuple:
    """Noisy background, a bright blob A and a dimmer blob B inside one box."""
    rng = np.random.default_rng(0)
    k, j, i = np.indices((16, 32, 40))
    blob_a = (k - 8) ** 2 / 25 + (j - 15) ** 2 / 64 + (i - 11) ** 2 / 49 <= 1
    blob_b = (k - 8) ** 2 / 25 + (j - 15) ** 2 / 64 + (i - 28) ** 2 / 49 <= 1
    array = rng.normal(0, 30, size=(16, 32, 40)) + 120 * blob_a + 60 * blob_b  # within the clip range
    volume = Volume(array.astype(np.float32), spacing=(1.0, 1.0, 2.0), modality="MR")
    return volume, blob_a, blob_b


def oblique_direction():
    a, b = np.deg2rad(20), np.deg2rad(35)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return rz @ rx
