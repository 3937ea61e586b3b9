"""The global label update: a stroke's label spreads to what is connected to it, and no further."""
import numpy as np
import pytest
import torch

from interactiveseg import Session, Settings, Volume
from interactiveseg.overlap import dice
from interactiveseg.prior_trust import FLOOR, contradiction, hold_scale
from interactiveseg.random_walk import prior_random_walk

from engine_fixtures import BLOB_BOX


def two_look_alike_squares():
    """Two equally bright squares on a dark ground, apart from each other, and a noisy grid image."""
    generator = torch.Generator().manual_seed(0)
    image = 0.05 * torch.randn((6, 40, 60), generator=generator)
    first = torch.zeros(image.shape, dtype=torch.bool)
    second = torch.zeros_like(first)
    first[:, 10:30, 5:25] = True
    second[:, 10:30, 35:55] = True
    image[first | second] += 2.0
    return image, first, second


def test_a_stroke_claims_its_own_region_and_not_a_look_alike_apart_from_it():
    image, first, second = two_look_alike_squares()
    prior = torch.full(image.shape, 0.3)  # the network missed both, without much conviction
    foreground = torch.zeros_like(first)
    foreground[3, 18:21, 12:15] = True
    background = torch.zeros_like(first)
    background[:, 0, :] = True  # the margin outside the box
    walked = prior_random_walk(prior, image, foreground, background, (2.0, 1.0, 1.0), beta=10.0, gamma=0.01)
    assert (walked[first] > 0.5).float().mean() > 0.9
    assert (walked[second] > 0.5).float().mean() < 0.05
    assert bool((walked[foreground] == 1).all()) and bool((walked[background] == 0).all())


def test_what_the_network_is_sure_of_and_no_stroke_reaches_is_kept():
    image, first, second = two_look_alike_squares()
    prior = torch.where(first | second, torch.tensor(0.95), torch.tensor(0.05))
    background = torch.zeros_like(first)
    background[:, 0, :] = True
    walked = prior_random_walk(prior, image, torch.zeros_like(first), background, (2.0, 1.0, 1.0), 10.0, 0.01)
    assert torch.equal(walked > 0.5, first | second)


def test_contradiction_is_how_surely_the_network_called_the_strokes_the_other_label():
    probability = torch.tensor([0.02, 0.4, 0.9, 0.02])
    stroke = torch.tensor([True, True, True, False])
    # as foreground strokes: wrong "background" calls with confidence 0.96 and 0.2, and one agreement (0)
    assert abs(contradiction(probability, stroke, 1) - (0.96 + 0.2) / 3) < 1e-6
    assert abs(contradiction(probability, stroke, 0) - 0.8 / 3) < 1e-6  # as background strokes: only p = 0.9
    assert contradiction(probability, torch.zeros_like(stroke), 1) == 0.0  # no stroke: no evidence


def missed_squares():
    image, first, second = two_look_alike_squares()
    prior = torch.where(second, torch.tensor(0.1), torch.tensor(0.02))  # both missed, the first with conviction
    foreground = torch.zeros_like(first)
    foreground[3, 18:21, 12:15] = True
    background = torch.zeros_like(first)
    background[:, 0, :] = True  # the margin outside the box
    return image, first, second, prior, foreground, background


def test_a_stroke_in_a_region_the_network_was_sure_it_lacked_takes_all_of_it_and_not_its_look_alike():
    image, first, second, prior, foreground, background = missed_squares()
    held = prior_random_walk(prior, image, foreground, background, (2.0, 1.0, 1.0), 10.0, 0.05)
    assert (held[first] > 0.5).float().mean() < 0.1  # the sure prior keeps the stroke to its neighbourhood
    no_stroke = torch.zeros_like(first)
    scale = hold_scale(prior, prior, image, foreground, no_stroke, (2.0, 1.0, 1.0), 1.0, 0.0, 4.0)
    assert abs(float(scale.max()) - (1 - 0.96)) < 1e-6  # the whole background loses its hold
    walked = prior_random_walk(prior, image, foreground, background, (2.0, 1.0, 1.0), 10.0, 0.05 * scale)
    assert (walked[first] > 0.5).float().mean() > 0.9
    assert (walked[second] > 0.5).float().mean() < 0.05  # the look-alike apart from the stroke stays out


def test_a_background_stroke_weakens_the_prior_foreground_only_near_it():
    image, first, second, _, _, _ = missed_squares()
    prior = torch.where(first | second, torch.tensor(0.98), torch.tensor(0.02))  # both wrongly found
    stroke = torch.zeros_like(first)
    stroke[3, 18:21, 40:43] = True  # in the second square
    scale = hold_scale(prior, prior, image, torch.zeros_like(first), stroke, (2.0, 1.0, 1.0), 1.0, 4.0, 4.0)
    assert abs(float(scale[stroke].max()) - (1 - 0.96)) < 1e-6  # on the stroke: 1 - its contradiction
    assert float(scale[first].min()) == 1.0  # the first square, across the edges, keeps its hold
    assert float(scale[~(first | second)].max()) == 1.0  # and so does the prior's background (no foreground stroke)
    assert hold_scale(prior, prior, image, stroke, stroke, (2.0, 1.0, 1.0), 0.0, 4.0, 4.0) == 1.0  # power 0: off
    sure = hold_scale(torch.zeros_like(prior), prior, image, first, torch.zeros_like(first), (2.0, 1.0, 1.0), 1.0,
                      4.0, 4.0)
    assert abs(float(sure.min()) - FLOOR) < 1e-6  # a stroke against a network sure at p = 0 keeps the floor


def three_blobs():
    """Bright blob A (what the blob model finds), and B and C, dimmer, equally bright and apart."""
    rng = np.random.default_rng(5)
    k, j, i = np.indices((16, 32, 40))
    blob_a = (k - 8) ** 2 / 25 + (j - 15) ** 2 / 49 + (i - 9) ** 2 / 25 <= 1
    blob_b = (k - 8) ** 2 / 25 + (j - 15) ** 2 / 49 + (i - 21) ** 2 / 16 <= 1
    blob_c = (k - 8) ** 2 / 16 + (j - 15) ** 2 / 25 + (i - 32) ** 2 / 9 <= 1
    array = rng.normal(0, 10, size=(16, 32, 40)) + 120 * blob_a + 60 * (blob_b | blob_c)
    return Volume(array.astype(np.float32), spacing=(1.0, 1.0, 2.0), modality="MR"), blob_a, blob_b, blob_c


# Off, and as the 3D card sets the prior's trust (prior_trust.py): the rules hold either way.
TRUST = pytest.mark.parametrize("trust", [{}, {"trust_power": 1.0, "trust_reach": 8.0}], ids=["trust off", "trust on"])


@TRUST
def test_one_round_recovers_a_missed_region_and_leaves_its_look_alike_out(blob_model_path, trust):
    volume, blob_a, blob_b, blob_c = three_blobs()
    session = Session(volume, blob_model_path, "cpu", Settings(learning_rate=0.01, **trust))
    first = session.segment(BLOB_BOX)
    assert first.mask[blob_b].mean() < 0.3  # the first mask missed most of B
    stroke = np.zeros(volume.shape, dtype=bool)
    stroke[8, 15, 19:24] = True
    assert blob_b[stroke].all()
    refined = session.refine(foreground=stroke)
    assert refined.mask[blob_b].mean() > 0.8
    assert refined.mask[blob_c].mean() < 0.05
    assert refined.mask[blob_a].mean() > first.mask[blob_a].mean() - 0.05


@TRUST
def test_a_stroke_on_what_the_mask_has_right_does_not_lower_dice(blob_model_path, trust):
    volume, blob_a, _, _ = three_blobs()
    session = Session(volume, blob_model_path, "cpu", Settings(learning_rate=0.01, **trust))
    first = session.segment(BLOB_BOX)
    stroke = np.zeros(volume.shape, dtype=bool)
    stroke[8, 15] = first.mask[8, 15] & blob_a[8, 15]  # across the part of A the mask already has right
    assert stroke.sum() >= 3
    refined = session.refine(foreground=stroke)
    assert dice(refined.mask, blob_a) >= dice(first.mask, blob_a) - 0.005
