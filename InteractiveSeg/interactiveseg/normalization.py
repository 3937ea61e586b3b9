"""Intensity normalisation inside the box, per modality.

CT is clipped to a fixed Hounsfield window first (so metal and air do not dominate),
then, like MR, scaled by a robust z-score (median and inter-quartile range) of the crop.
The same function serves training and use, so the network always sees the same scale.
"""
from __future__ import annotations

import numpy as np

from .errors import InputError

CT_WINDOW = (-1000.0, 1000.0)


def guess_modality(array: np.ndarray) -> str:
    """CT if a good share of voxels is near or below air's -1000 HU, else MR."""
    sample = np.asarray(array).ravel()[:: max(1, array.size // 200_000)].astype(np.float32)  # bool has no percentile
    return "CT" if np.percentile(sample, 1) < -500 else "MR"


def normalize(crop: np.ndarray, modality: str, ct_window=CT_WINDOW) -> np.ndarray:
    """Float32 crop with median 0 and inter-quartile range about 1.35 (a unit normal's)."""
    if modality not in ("CT", "MR"):
        raise InputError(f"Unknown modality {modality!r}: use 'CT' or 'MR'.")
    values = np.asarray(crop, dtype=np.float32)
    if modality == "CT":
        values = np.clip(values, *ct_window)
    low, median, high = np.percentile(values, (25, 50, 75))
    scale = (high - low) / 1.349
    if scale <= 1e-6:  # flat crop (e.g. mostly air): fall back to the full range
        scale = max(float(values.max() - values.min()) / 4.0, 1e-6)
    return ((values - median) / scale).clip(-5, 5).astype(np.float32)
