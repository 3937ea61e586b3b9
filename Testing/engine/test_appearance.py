"""The object's intensities as evidence at the prior's boundary (appearance.py, `native_appearance`)."""
import torch

from interactiveseg.appearance import intensity_log_odds, with_appearance

SHAPE = (12, 24, 24)


def bright_cube_and_a_prior_one_voxel_too_wide():
    image = torch.zeros(SHAPE)
    image[3:9, 6:18, 6:18] = 1.0  # the object
    image[3:9, 6:18, 21:23] = 1.0  # the same intensity, apart from it
    prior = torch.full(SHAPE, 0.1)
    prior[2:10, 5:19, 5:19] = 0.9
    return image, prior


def test_the_log_odds_favour_the_intensities_of_the_inside():
    image, _ = bright_cube_and_a_prior_one_voxel_too_wide()
    inside, outside = image > 0.5, image < 0.5
    odds = intensity_log_odds(image, inside, outside)
    assert float(odds[image > 0.5].min()) > 0 > float(odds[image < 0.5].max())


def test_a_rim_of_the_wrong_intensity_leaves_the_mask_and_nothing_far_is_added():
    image, prior = bright_cube_and_a_prior_one_voxel_too_wide()
    none = torch.zeros(SHAPE, dtype=torch.bool)
    moved = with_appearance(prior, image, none, none, [1, 1, 1], weight=1.0)
    rim = (prior > 0.5) & (image < 0.5)
    assert bool((moved[rim] < 0.5).all())  # the dark rim is taken out
    cube = torch.zeros(SHAPE, dtype=torch.bool)
    cube[3:9, 6:18, 6:18] = True
    assert bool((moved[cube] > 0.5).all())  # the object stays
    assert torch.equal(moved[:, :, 21:], prior[:, :, 21:])  # the far region of the same intensity is untouched


def test_without_a_sample_of_either_side_the_prior_is_unchanged():
    image, prior = bright_cube_and_a_prior_one_voxel_too_wide()
    none = torch.zeros(SHAPE, dtype=torch.bool)
    flat = torch.zeros(SHAPE)
    assert torch.equal(with_appearance(prior, flat, none, none, [1, 1, 1], weight=1.0), prior)

