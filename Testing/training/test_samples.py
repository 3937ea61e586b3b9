import numpy as np
import torch

from interactiveseg.geometry import Box
from interactiveseg.model_file import new_card
from interactiveseg.networks import pcnet_architecture
from interactiveseg.training.manifest import read_manifest, structure_stats
from interactiveseg.training.samples import augment, jittered_box, make_sample, pick_slices
from interactiveseg.training.trainer import TrainConfig, Trainer


def test_structure_stats_gives_inclusive_ijk_box():
    labels = np.zeros((5, 6, 7), np.uint8)
    labels[1:3, 2:5, 3:7] = 4
    count, ml, bbox = structure_stats(labels, 4, (2.0, 1.0, 0.5))
    assert count == 2 * 3 * 4
    assert bbox == [3, 2, 1, 6, 4, 2]
    assert abs(ml - count * 1.0 / 1000) < 1e-9


def test_jittered_boxes_are_mostly_loose_and_never_inverted():
    rng = np.random.default_rng(0)
    bbox = [10, 20, 5, 29, 49, 14]
    boxes = [jittered_box(bbox, rng) for _ in range(200)]
    assert all(all(u >= lo for lo, u in zip(b.lower, b.upper)) for b in boxes)
    covers = np.mean([all(lo <= t for lo, t in zip(b.lower, bbox[:3]))
                      and all(u >= t for u, t in zip(b.upper, bbox[3:])) for b in boxes])
    assert 0.2 < covers < 1.0  # usually encloses the object, sometimes cuts it a little, like a user
    sizes = np.array([b.size for b in boxes])
    assert sizes.std(axis=0).min() > 0  # boxes vary


def test_a_jittered_box_of_a_thin_object_still_holds_some_of_it():
    """A box cut into a one-voxel-thick object must not slide past it (at the volume's edge, out of it)."""
    rng = np.random.default_rng(0)
    bbox = [10, 20, 111, 29, 49, 111]
    for _ in range(200):
        box = jittered_box(bbox, rng)
        assert all(lo <= t_hi and hi >= t_lo for lo, hi, t_lo, t_hi in zip(box.lower, box.upper, bbox[:3], bbox[3:]))


def test_sample_target_is_the_structure_on_the_network_grid(tiny_manifest):
    cases, _ = read_manifest(tiny_manifest)
    volume, labels = cases[0].load()
    structure = cases[0].structures[0]
    card = new_card(pcnet_architecture(), [8, 16, 16])
    image, target, crop = make_sample(volume, labels, structure.value, Box.from_ijk(structure.bbox_ijk), card)
    assert image.shape == (1, 8, 16, 16) and target.shape == (8, 16, 16)
    in_crop = crop.extract(labels == structure.value)
    assert in_crop.sum() == (labels == structure.value).sum()  # the margin keeps the whole object
    assert abs(float(target.float().mean()) - in_crop.mean()) < 0.03  # same share of the grid as of the crop


def test_augment_keeps_shapes_and_moves_image_and_target_together():
    rng = np.random.default_rng(1)
    target = torch.zeros(2, 8, 16, 16, dtype=torch.bool)
    target[:, 2:6, 4:12, 2:8] = True
    image = target[:, None].float() * 3.0
    images, targets = augment(image, target, rng)
    assert images.shape == image.shape and targets.shape == target.shape and targets.dtype == torch.bool
    bright = images[:, 0] > 1.5
    agreement = (bright == targets).float().mean()
    assert agreement > 0.95


def test_pick_slices_prefers_slices_with_the_object():
    target = torch.zeros(20, 4, 4, dtype=torch.bool)
    target[15] = True
    picks = pick_slices(target, 200, np.random.default_rng(0))
    share = picks.count(15) / len(picks)
    assert 0.6 < share < 0.95


def test_batches_are_reproducible_by_step(tiny_manifest, tmp_path):
    config = TrainConfig(manifest=str(tiny_manifest), output=str(tmp_path / "m.safetensors"), dims=3, grid=(8, 16, 16),
                         channels=4)
    trainer = Trainer(config, log=lambda text: None)
    first, again, other = trainer.batch(7), trainer.batch(7), trainer.batch(8)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, again))
    assert not torch.equal(first[0][0], other[0][0])
