"""Synthesis: deterministic for a seed, labels aligned with the image, objects where their targets are."""
import numpy as np
import torch

from interactiveseg.training.synthesis import paste_objects, pseudo_labels, synthesize_volume
from interactiveseg.volume import Volume


def two_label_volume():
    k, j, i = np.mgrid[:12, :32, :32]
    labels = np.zeros((12, 32, 32), np.uint16)
    labels[((j - 10) / 6) ** 2 + ((i - 10) / 6) ** 2 < 1] = 1
    labels[((j - 22) / 7) ** 2 + ((i - 22) / 5) ** 2 < 1] = 2
    image = np.random.default_rng(0).normal(100, 10, labels.shape).astype(np.float32)
    return Volume(image, (1.0, 1.0, 2.0), modality="MR"), labels


def correlation_ratio(values: np.ndarray, groups: np.ndarray) -> float:
    """Share of the intensity variance that the groups explain (eta squared)."""
    total = values.var()
    within = sum((groups == g).mean() * values[groups == g].var() for g in np.unique(groups))
    return 1 - within / total


def test_synthesis_is_deterministic_for_a_seed():
    volume, labels = two_label_volume()
    first, again, other = (synthesize_volume(volume, labels, seed) for seed in (3, 3, 4))
    assert np.array_equal(first.array, again.array)
    assert not np.allclose(first.array, other.array)
    assert first.spacing == volume.spacing and first.shape == volume.shape


def test_synthesized_image_is_separable_by_its_labels():
    volume, labels = two_label_volume()
    classes = pseudo_labels(volume, labels, 2)
    aligned, shifted = [], []
    for seed in range(6):
        image = synthesize_volume(volume, labels, seed).array
        aligned.append(correlation_ratio(image, classes))
        shifted.append(correlation_ratio(image, np.roll(classes, 6, axis=2)))  # the same map, misplaced
    assert np.median(aligned) > 0.6
    assert np.median(aligned) > np.median(shifted) + 0.3


def test_pasted_objects_change_the_image_where_their_targets_are():
    rng = np.random.default_rng(1)
    images = torch.zeros(4, 3, 48, 48)
    depth = torch.tensor([[-0.2, 0.0, 0.2]] * 4)
    pasted, targets = paste_objects(images, depth, rng)
    again, targets_again = paste_objects(images, depth, np.random.default_rng(1))
    assert torch.equal(pasted, again) and torch.equal(targets, targets_again)
    assert targets.shape == (4, 48, 48)
    for item in range(4):
        inside, outside = targets[item], ~targets[item]
        assert inside.float().mean() > 0.1  # an object framed like a box's, not a speck
        change = (pasted[item, 1] - pasted[item, 1][outside].median()).abs()
        assert change[inside].mean() > 3 * change[outside].mean()
    assert not targets[:, :3].any() and not targets[:, -3:].any()  # the crop's margin stays background
