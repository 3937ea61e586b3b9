"""Uncertain regions: what counts as uncertain, how regions are ranked, where their centres are."""
import numpy as np
import pytest
import SimpleITK as sitk
import torch

from interactiveseg import Box, Volume
from interactiveseg.result import Result
from interactiveseg.evaluation.guided_user import most_uncertain_scribble
from interactiveseg.trust.regions import uncertain_regions
from interactiveseg.uncertainty import uncertainty_map

SHAPE = (6, 20, 24)  # (k, j, i)


def oblique_volume() -> Volume:
    """Anisotropic spacing and a direction turned 30 degrees about the k axis."""
    angle = np.deg2rad(30)
    direction = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    array = np.arange(np.prod(SHAPE), dtype=np.float32).reshape(SHAPE)
    return Volume(array, spacing=(0.7, 1.3, 3.0), origin=(-12.5, 40.0, 7.25), direction=direction)


def make_result(uncertainty: np.ndarray, probability=None, box=None) -> Result:
    """A result covering the whole volume (region = box = everything unless a box is given)."""
    whole = Box((0, 0, 0), (SHAPE[2] - 1, SHAPE[1] - 1, SHAPE[0] - 1))
    probability = np.zeros(SHAPE, np.float32) if probability is None else probability
    return Result(box=box or whole, region=whole, region_probability=probability.astype(np.float32),
                  region_uncertainty=uncertainty.astype(np.float32), volume_shape=SHAPE, round=0,
                  seconds=0.0, device="cpu")


def three_blobs() -> np.ndarray:
    """Three separate uncertain patches: a big mild one, a small sure-uncertain one, a middling one."""
    u = np.zeros(SHAPE, np.float32)
    u[1:3, 2:6, 2:8] = 0.3  # 48 voxels, mass 14.4
    u[4, 10:12, 10:12] = 1.0  # 4 voxels, mass 4
    u[2:4, 14:18, 16:20] = 0.6  # 32 voxels, mass 19.2
    return u


def test_the_map_is_zero_when_confident_and_positive_between_t0_and_t1_and_regions_follow_it():
    p = np.zeros(SHAPE, np.float32)
    p[:, :, 12:] = 1.0  # confident background left, confident foreground right
    p[2, 5, 3:9] = [0.05, 0.15, 0.25, 0.5, 0.75, 0.85]  # a hesitant row inside the background
    u = uncertainty_map(torch.from_numpy(p), 0.2, 0.8).numpy()
    result = make_result(u, p)
    assert np.all(result.uncertainty[p <= 0.15] == 0) and np.all(result.uncertainty[p >= 0.85] == 0)
    hesitant = (p > 0.2) & (p < 0.8)
    assert hesitant.sum() == 3 and np.all(result.uncertainty[hesitant] > 0)
    regions = uncertain_regions(result, oblique_volume())
    assert len(regions) == 1 and regions[0].voxels == 3
    assert regions[0].anchor_ijk == (6, 5, 2)  # the middle voxel of the row, p = 0.5
    assert regions[0].mean_uncertainty == pytest.approx(np.mean(u[hesitant]))


def test_regions_are_ranked_by_uncertainty_mass_and_sized_in_ml():
    volume = oblique_volume()
    regions = uncertain_regions(make_result(three_blobs()), volume)
    assert [r.voxels for r in regions] == [32, 48, 4]
    assert [r.rank for r in regions] == [1, 2, 3]
    scores = [r.score for r in regions]
    assert scores == sorted(scores, reverse=True)
    voxel_ml = 0.7 * 1.3 * 3.0 / 1000
    assert regions[0].volume_ml == pytest.approx(32 * voxel_ml)
    assert regions[0].score == pytest.approx(32 * 0.6 * voxel_ml, rel=1e-5)
    assert [round(r.mean_uncertainty, 3) for r in regions] == [0.6, 0.3, 1.0]
    assert len(uncertain_regions(make_result(three_blobs()), volume, top=2)) == 2
    assert [r.voxels for r in uncertain_regions(make_result(three_blobs()), volume, threshold=0.5)] == [32, 4]


def test_centres_convert_to_ras_like_itk_does_on_an_oblique_anisotropic_grid():
    volume = oblique_volume()
    image = sitk.GetImageFromArray(volume.array)
    image.SetSpacing(volume.spacing)
    image.SetOrigin(volume.origin)
    image.SetDirection(volume.direction.ravel().tolist())
    for region in uncertain_regions(make_result(three_blobs()), volume):
        for ijk, ras in ((region.centre_ijk, region.centre_ras), (region.anchor_ijk, region.anchor_ras)):
            lps = image.TransformContinuousIndexToPhysicalPoint([float(v) for v in ijk])
            np.testing.assert_allclose(ras, [-lps[0], -lps[1], lps[2]], atol=1e-6)
    first = uncertain_regions(make_result(three_blobs()), volume)[0]
    np.testing.assert_allclose(first.centre_ijk, (17.5, 15.5, 2.5))  # the 0.6 blob's middle, (i, j, k)


def test_only_the_box_counts_because_the_mask_cannot_change_outside_it():
    box = Box((0, 0, 0), (11, 19, 5))  # the left half: the 0.6 blob lies outside
    regions = uncertain_regions(make_result(three_blobs(), box=box), oblique_volume())
    assert [r.voxels for r in regions] == [48, 4]
    assert uncertain_regions(make_result(np.zeros(SHAPE)), oblique_volume()) == []


def test_the_guided_stroke_goes_where_the_engine_is_unsure_with_the_true_label_there():
    volume = oblique_volume()
    reference = np.zeros(SHAPE, bool)
    reference[:, 12:, 14:] = True  # the truth covers the most uncertain blob
    guided = most_uncertain_scribble(make_result(three_blobs()), volume, reference)
    assert guided.foreground and guided.region.rank == 1
    i, j, k = guided.region.anchor_ijk
    assert guided.mask[k, j, i] and guided.mask.sum() > 3
    assert np.all(reference[guided.mask])  # the stroke never crosses the true boundary
    assert np.all(np.nonzero(guided.mask)[0] == k)  # one axial slice
    # With the truth elsewhere, the same place gets a background stroke.
    guided = most_uncertain_scribble(make_result(three_blobs()), volume, ~reference)
    assert not guided.foreground and np.all(reference[guided.mask])  # ~reference is False there
    assert most_uncertain_scribble(make_result(np.zeros(SHAPE)), volume, reference) is None
