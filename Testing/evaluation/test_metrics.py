import numpy as np
import pytest

from interactiveseg.evaluation.metrics import hd95
from interactiveseg.overlap import dice


def cube(shape=(12, 20, 20), lower=(3, 5, 5), size=(5, 8, 8)):
    mask = np.zeros(shape, bool)
    mask[tuple(slice(lo, lo + s) for lo, s in zip(lower, size))] = True
    return mask


def test_dice_identical_disjoint_and_half():
    a = cube()
    assert dice(a, a) == 1.0
    assert dice(a, np.roll(a, 9, axis=2)) == 0.0
    half = a.copy()
    half[:, :, 9:] = False  # keeps 4 of the 8 columns
    assert dice(half, a) == pytest.approx(2 * 0.5 / 1.5)


def test_hd95_is_zero_for_identical_masks():
    a = cube()
    assert hd95(a, a, (0.7, 0.7, 3.0)) == 0.0


def test_hd95_counts_anisotropic_spacing_in_mm():
    a = cube()
    shifted_k = np.roll(a, 2, axis=0)  # two slices along k
    shifted_i = np.roll(a, 2, axis=2)  # two voxels along i
    spacing = (0.5, 0.5, 3.0)  # (i, j, k) mm
    assert hd95(shifted_k, a, spacing) == pytest.approx(6.0)
    assert hd95(shifted_i, a, spacing) == pytest.approx(1.0)


def test_hd95_undefined_when_one_mask_is_empty():
    a = cube()
    assert hd95(np.zeros_like(a), a, (1, 1, 1)) is None
    assert hd95(np.zeros_like(a), np.zeros_like(a), (1, 1, 1)) == 0.0
