"""Random walker (Grady 2006) from scikit-image, on the same seeds as the other baselines.

Intensities are normalised as the engine normalises them (CT window, robust z-score),
so one beta serves CT and MR; beta was chosen on the development cases.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..normalization import guess_modality, normalize
from .seeds import FOREGROUND, SeedImage

# Chosen on the development subjects from 130, 1000, 5000 (Resources/Evaluation/defaults-search.json).
DEFAULT_BETA = 5000.0


def warm_up() -> None:
    from skimage.segmentation import random_walker  # noqa: F401 (import cost kept out of the timings)


def random_walk(volume, seeds: SeedImage, beta: float = DEFAULT_BETA, tol: float = 1e-3) -> np.ndarray:
    """Full-grid foreground mask; empty while there is no foreground seed."""
    if not seeds.has_foreground:
        return np.zeros(volume.shape, bool)
    from skimage.segmentation import random_walker

    modality = volume.modality if volume.modality != "auto" else guess_modality(volume.array)
    data = normalize(volume.array[seeds.region.slices()], modality)
    smallest = min(volume.spacing)
    spacing_kji = tuple(s / smallest for s in reversed(volume.spacing))
    with warnings.catch_warnings():  # its "probability range" notice is about tolerance, not the labels
        warnings.simplefilter("ignore", UserWarning)
        labels = random_walker(data, seeds.labels.astype(np.int32), beta=beta, mode="cg_j", tol=tol,
                               spacing=spacing_kji)
    return seeds.full_mask(labels == FOREGROUND)
