import numpy as np
import pytest

from interactiveseg import InputError, Volume

from engine_fixtures import oblique_direction


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
                                   np.int64, np.uint64, np.float16, np.float32, np.float64, bool])
def test_every_integer_and_float_width_is_accepted(dtype):
    array = (np.arange(2 * 3 * 4).reshape(2, 3, 4) % 2).astype(dtype)
    assert Volume(array).array.dtype == dtype


def test_a_mask_as_the_image_is_segmented_like_any_other(random_model_path):
    from interactiveseg import Session
    array = np.zeros((8, 24, 24), dtype=bool)
    array[2:6, 6:18, 6:18] = True
    result = Session(Volume(array), model=random_model_path, device="cpu").segment([4, 4, 1, 19, 19, 6])
    assert result.mask.shape == array.shape


@pytest.mark.parametrize("array, message", [
    (np.full((3, 4, 5), 7.0), "constant"),
    (np.where(np.eye(4)[None] > 0, np.nan, 1.0), "NaN"),
    (np.where(np.eye(4)[None] > 0, np.inf, 1.0), "NaN or infinite"),
    (np.random.default_rng(0).random((3, 4, 5, 2)), "4D"),
    (np.random.default_rng(0).random((3, 4, 5, 3)), "RGB"),
    (np.zeros((3, 4, 5), dtype=np.complex64) + np.arange(5), "Unsupported voxel type"),
    (np.random.default_rng(0).random(5), "2D or 3D"),
])
def test_bad_images_give_one_clear_error(array, message):
    with pytest.raises(InputError, match=message):
        Volume(array)


def test_input_array_is_not_modified():
    array = np.random.default_rng(1).random((4, 5, 6)).astype(np.float32)
    before = array.copy()
    Volume(array)
    np.testing.assert_array_equal(array, before)


def test_2d_image_becomes_one_slice():
    assert Volume(np.arange(12.0).reshape(3, 4)).shape == (1, 3, 4)


def test_ijk_to_ras_round_trip_with_oblique_direction_and_anisotropic_spacing():
    volume = Volume(np.arange(60.0).reshape(3, 4, 5), spacing=(0.7, 1.3, 4.0), origin=(10, -20, 30),
                    direction=oblique_direction())
    back = Volume.from_ijk_to_ras(volume.array, volume.ijk_to_ras())
    np.testing.assert_allclose(back.spacing, volume.spacing)
    np.testing.assert_allclose(back.origin, volume.origin)
    np.testing.assert_allclose(back.direction, volume.direction, atol=1e-12)
    # Voxel (1, 2, 0) in LPS and RAS differ only by the sign of x and y.
    ijk = np.array([1, 2, 0, 1.0])
    lps, ras = volume.ijk_to_lps() @ ijk, volume.ijk_to_ras() @ ijk
    np.testing.assert_allclose(ras[:3], lps[:3] * [-1, -1, 1])
    expected = np.array([10, -20, 30]) + oblique_direction() @ (np.array([1, 2, 0]) * [0.7, 1.3, 4.0])
    np.testing.assert_allclose(lps[:3], expected)


def test_bad_geometry_is_refused():
    with pytest.raises(InputError, match="Spacing"):
        Volume(np.arange(8.0).reshape(2, 2, 2), spacing=(1, 0, 1))
    with pytest.raises(InputError, match="orthonormal"):
        Volume(np.arange(8.0).reshape(2, 2, 2), direction=np.diag([1, 2, 1]))
    sheared = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # determinant 1, axes not at right angles
    with pytest.raises(InputError, match="orthonormal"):
        Volume(np.arange(8.0).reshape(2, 2, 2), direction=sheared)
