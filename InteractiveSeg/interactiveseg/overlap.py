"""Dice overlap of two masks: one definition for the demo, training validation and evaluation."""
from __future__ import annotations

import numpy as np


def dice(mask: np.ndarray, reference: np.ndarray) -> float:
    """2|A and B| / (|A| + |B|); two empty masks agree perfectly (1.0)."""
    total = int(mask.sum()) + int(reference.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(mask, reference).sum()) / total
