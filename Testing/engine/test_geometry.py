import numpy as np
import pytest
import torch

from interactiveseg import Box, InputError
from interactiveseg.geometry import make_crop


def test_box_is_clipped_to_the_volume_at_every_edge():
    box = Box.from_ijk([-5, -1, -3, 200, 9, 50]).clipped((10, 20, 30))
    assert box.as_ijk() == [0, 0, 0, 29, 9, 9]


@pytest.mark.parametrize("values, message", [
    ([5, 5, 5, 4, 6, 6], "inverted"),
    ([40, 0, 0, 50, 5, 5], "outside the volume"),
    ([0, 0, -9, 5, 5, -1], "outside the volume"),
])
def test_inverted_or_outside_boxes_are_errors(values, message):
    with pytest.raises(InputError, match=message):
        Box.from_ijk(values).clipped((10, 20, 30))


def test_box_needs_six_numbers():
    with pytest.raises(InputError, match="six"):
        Box.from_ijk([1, 2, 3])


def test_box_slices_follow_kji_order():
    array = np.zeros((10, 20, 30))
    array[Box.from_ijk([1, 2, 3, 4, 5, 6]).slices()] = 1
    k, j, i = np.nonzero(array)
    assert (i.min(), i.max(), j.min(), j.max(), k.min(), k.max()) == (1, 4, 2, 5, 3, 6)


def test_crop_adds_margin_and_stays_inside_the_volume():
    crop = make_crop(Box.from_ijk([0, 10, 2, 19, 29, 5]), (8, 40, 50), (4, 16, 16), 0.1, 3)
    assert crop.region.as_ijk() == [0, 7, 0, 22, 32, 7]
    assert crop.crop_shape == (8, 26, 23)


def test_single_slice_stays_flat_and_gets_no_margin_across_slices():
    crop = make_crop(Box.from_ijk([3, 3, 0, 12, 12, 0]), (1, 20, 20), (8, 16, 16), 0.1, 2)
    assert crop.grid_shape == (1, 16, 16)
    assert crop.region.lower[2] == crop.region.upper[2] == 0


def test_2d_network_grid_keeps_every_slice():
    crop = make_crop(Box.from_ijk([3, 3, 2, 12, 12, 6]), (10, 20, 20), (None, 16, 16), 0.0, 0)
    assert crop.grid_shape == (5, 16, 16)


def test_grid_spacing_accounts_for_anisotropy():
    crop = make_crop(Box.from_ijk([0, 0, 0, 63, 31, 9]), (10, 32, 64), (20, 64, 64), 0.0, 0)
    np.testing.assert_allclose(crop.grid_spacing((0.5, 1.0, 5.0)), (2.5, 0.5, 0.5))


def test_round_trip_to_grid_and_back_preserves_position():
    """A smooth blob resampled to the grid and back keeps its centre of mass."""
    k, j, i = np.indices((9, 40, 30))
    blob = np.exp(-((k - 4.3) ** 2 / 4 + (j - 21.7) ** 2 / 30 + (i - 12.2) ** 2 / 20))
    crop = make_crop(Box.from_ijk([0, 0, 0, 29, 39, 8]), blob.shape, (20, 32, 32), 0.0, 0)
    back = crop.from_grid(crop.to_grid(torch.from_numpy(blob)[None].float()))[0].numpy()
    centre = lambda a: np.array([(np.indices(a.shape)[d] * a).sum() / a.sum() for d in range(3)])
    np.testing.assert_allclose(centre(back), centre(blob), atol=0.05)
    assert np.abs(back - blob).max() < 0.08


def test_paste_writes_only_the_region_and_does_not_modify_the_input():
    full = np.zeros((6, 7, 8), dtype=np.int16)
    crop = make_crop(Box.from_ijk([2, 3, 1, 4, 5, 2]), full.shape, (2, 3, 3), 0.0, 0)
    out = crop.paste(full, np.ones(crop.crop_shape, dtype=np.int16))
    assert full.sum() == 0
    assert out.sum() == np.prod(crop.crop_shape) and out[crop.region.slices()].all()


def test_thin_strokes_survive_downsampling_to_the_grid():
    mask = np.zeros((10, 90, 90), dtype=bool)
    mask[4, 41, 10:80] = True  # one voxel thick, on an odd row
    mask[7, 13, 13] = True  # a single dot
    crop = make_crop(Box.from_ijk([0, 0, 0, 89, 89, 9]), mask.shape, (5, 30, 30), 0.0, 0)
    grid = crop.mask_to_grid(mask)
    assert grid[2, 13, 3:27].all() and grid[3, 4, 4]
    assert grid.sum() < 40  # no smear


def test_margin_outside_the_box_is_marked_on_the_grid():
    box = Box.from_ijk([10, 10, 2, 29, 29, 7])
    crop = make_crop(box, (10, 40, 40), (10, 20, 20), 0.25, 2)
    outside = crop.outside_on_grid(box).numpy()
    assert crop.region.as_ijk() == [5, 5, 0, 34, 34, 9]
    # The crop is 30 voxels wide, the box 20 of them from voxel 5 on: grid cells 0-2 and 17-19 lie outside.
    assert outside[:, :, :3].all() and outside[:, :, 17:].all()
    assert not outside[2:8, 4:16, 4:16].any()
    assert outside[0].all() and outside[9].all()  # k: box 2..7 in a crop 0..9
