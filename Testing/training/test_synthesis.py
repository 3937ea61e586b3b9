"""Synthesis: deterministic for a seed, labels aligned with the image, objects where their targets are."""
import numpy as np
import torch

from interactiveseg.training.cache import bent_structures
from interactiveseg.training.manifest import Structure
from interactiveseg.training.synthesis import deform_volume, paste_objects, pseudo_labels, synthesize_volume
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


def test_bending_moves_image_and_labels_together_and_is_deterministic_for_a_seed():
    volume, labels = two_label_volume()
    image = volume.array + 80.0 * (labels == 1) - 60.0 * (labels == 2)  # each label its own intensity
    volume = Volume(image.astype(np.float32), volume.spacing, modality="MR")
    first, again, other = (deform_volume(volume, labels, seed, amplitude_mm=3.0) for seed in (5, 5, 6))
    assert np.array_equal(first[0].array, again[0].array) and np.array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])
    bent_image, bent_labels = first[0].array, first[1]
    assert bent_labels.dtype == labels.dtype and set(np.unique(bent_labels)) <= {0, 1, 2}
    assert (bent_labels != labels).mean() > 0.01  # the shapes did move
    # the bent image still tells its bent labels apart, as well as the unbent one tells its own
    assert correlation_ratio(bent_image, bent_labels) > 0.9 * correlation_ratio(image, labels)
    assert correlation_ratio(bent_image, labels) < correlation_ratio(bent_image, bent_labels)


def test_bent_structures_are_measured_again_on_the_bent_labels():
    volume, labels = two_label_volume()
    labels[0, 0, :5] = 3  # a speck, as bending can leave of a structure at the volume's edge
    structures = [Structure(1, "a", int((labels == 1).sum()), 0.0, [0, 0, 0, 31, 31, 11], "train"),
                  Structure(3, "speck", 40, 0.0, [0, 0, 0, 4, 0, 0], "train"),
                  Structure(7, "gone", 30, 0.0, [0, 0, 0, 1, 1, 1], "train")]
    bent = bent_structures(structures, labels, volume.spacing)
    assert [s.name for s in bent] == ["a"]  # too small to frame now, or nowhere in the map
    j, i = np.nonzero((labels == 1).any(axis=0))
    assert bent[0].bbox_ijk == [int(i.min()), int(j.min()), 0, int(i.max()), int(j.max()), 11]
