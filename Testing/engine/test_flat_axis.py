"""A sagittal or coronal single slice is segmented as an axial one, on the caller's own axes."""
import numpy as np
import pytest

from interactiveseg import Box, Session, Volume
from interactiveseg.flat_axis import Turn, slices_seen

from engine_fixtures import oblique_direction


@pytest.mark.parametrize("shape", [(7, 5, 1), (7, 1, 5)])
def test_a_turn_keeps_every_voxel_where_it_is(shape):
    rng = np.random.default_rng(0)
    volume = Volume(rng.normal(size=shape), spacing=(0.5, 2.0, 3.0), origin=(10.0, -4.0, 7.0),
                    direction=oblique_direction())
    turn = Turn.for_shape(volume.shape)
    turned = turn.volume_in(volume)
    assert turned.shape[0] == 1 and slices_seen(shape) == 1
    for k, j, i in np.argwhere(np.ones(shape, bool)):
        ti, tj, tk = turn.ijk_in((i, j, k))
        assert turned.array[tk, tj, ti] == volume.array[k, j, i]
        np.testing.assert_allclose(turned.ijk_to_lps() @ [ti, tj, tk, 1], volume.ijk_to_lps() @ [i, j, k, 1])
    box = Box((0, 0, 1), (shape[2] - 1, shape[1] - 1, 4))
    assert turn.box_out(turn.box_in(box)) == box


def test_volumes_that_need_no_turn():
    assert Turn.for_shape((1, 40, 50)) is None and Turn.for_shape((8, 40, 50)) is None
    assert slices_seen((8, 40, 50)) == 8


def disc_slice():
    rng = np.random.default_rng(0)
    image = rng.normal(0, 1, (40, 50))
    k, j = np.ogrid[:40, :50]
    image[(k - 20) ** 2 + (j - 24) ** 2 < 10 ** 2] += 6
    return image


@pytest.mark.parametrize("flat_axis", [1, 2])
def test_a_sagittal_or_coronal_slice_is_segmented_as_the_same_axial_slice(flat_axis):
    """The shipped default for a single slice is the 2D model, whichever axis is the flat one."""
    image = disc_slice()
    axial = Volume(image[None], spacing=(0.5, 3.0, 2.0))  # (1, 40, 50): i 0.5 mm, j 3 mm, the slice 2 mm thick
    flat = np.expand_dims(image, flat_axis)  # (40, 1, 50) or (40, 50, 1)
    spacing = (0.5, 2.0, 3.0) if flat_axis == 1 else (2.0, 0.5, 3.0)
    volume = Volume(flat, spacing=spacing)
    session = Session(volume, device="cpu")
    assert session.model.dims == 2
    box = [10, 0, 5, 38, 0, 34] if flat_axis == 1 else [0, 10, 5, 0, 38, 34]  # (I0 J0 K0 I1 J1 K1)
    result = session.segment(box)
    reference = Session(axial, device="cpu").segment([10, 5, 0, 38, 34, 0])
    assert result.mask.shape == flat.shape and result.mask.any()
    np.testing.assert_array_equal(np.squeeze(result.mask, flat_axis), reference.mask[0])
    assert result.box == Box.from_ijk(box)
    # Scribbles are on the caller's grid too; the round keeps the painted voxel.
    fg = np.zeros(flat.shape, dtype=bool)
    fg[(20, 0, 24) if flat_axis == 1 else (20, 24, 0)] = True
    refined = session.refine(foreground=fg)
    assert refined.mask[fg].all() and refined.mask.shape == flat.shape
    assert session.undo() is result
