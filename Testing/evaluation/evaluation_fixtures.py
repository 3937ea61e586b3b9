"""Helpers shared by the evaluation tests (a module of its own: every test folder has a conftest)."""
from __future__ import annotations

import numpy as np

from interactiveseg import Volume


def ellipsoid_case(shape=(14, 36, 40), centre=(7, 18, 20), radii=(4, 9, 11), seed=0) -> tuple:
    """(Volume with spacing (1, 1, 2.5) mm, reference mask): a bright ellipsoid on a noisy background."""
    k, j, i = np.indices(shape)
    reference = sum(((a - c) / r) ** 2 for a, c, r in zip((k, j, i), centre, radii)) <= 1
    rng = np.random.default_rng(seed)
    array = (100 + 200 * reference + rng.normal(0, 20, shape)).astype(np.float32)
    return Volume(array, spacing=(1.0, 1.0, 2.5), modality="MR"), reference
