"""Rounds keep the object's component(s): a look-alike apart from it stays out until a stroke claims it."""
import numpy as np

from interactiveseg import Session, Settings, Volume
from interactiveseg.components import kept_components

from engine_fixtures import BLOB_BOX


def blob_and_stray_volume():
    """A large bright blob A (the object) and a small bright blob D apart from it, both inside the box."""
    rng = np.random.default_rng(3)
    k, j, i = np.indices((16, 32, 40))
    blob_a = (k - 8) ** 2 / 25 + (j - 15) ** 2 / 64 + (i - 12) ** 2 / 49 <= 1
    blob_d = (k - 8) ** 2 / 16 + (j - 13) ** 2 / 25 + (i - 31) ** 2 / 16 <= 1
    array = rng.normal(0, 10, size=(16, 32, 40)) + 120 * (blob_a | blob_d)
    return Volume(array.astype(np.float32), spacing=(1.0, 1.0, 2.0), modality="MR"), blob_a, blob_d


def stroke_across(blob, k=8):
    fg = np.zeros(blob.shape, dtype=bool)
    rows, cols = np.nonzero(blob[k])
    centre_j = int(round(rows.mean()))
    line = cols[rows == centre_j]
    fg[k, centre_j, line.min() + 1:line.max()] = True
    return fg


def test_a_look_alike_apart_from_the_object_is_left_out_until_a_stroke_claims_it(blob_model_path):
    volume, blob_a, blob_d = blob_and_stray_volume()
    loose = Session(volume, blob_model_path, "cpu", Settings(keep_connected=False)).segment(BLOB_BOX)
    assert loose.mask[blob_d].mean() > 0.15  # the network marks part of the look-alike too
    session = Session(volume, blob_model_path, "cpu", Settings(learning_rate=0.01))
    first = session.segment(BLOB_BOX)
    assert first.mask[blob_a].mean() > 0.4 and first.mask[blob_d].mean() < 0.02  # only the object's component
    claimed = session.refine(foreground=stroke_across(blob_d))
    assert claimed.mask[blob_d].mean() > 0.5  # a stroke says it belongs: it stays
    assert claimed.mask[blob_a].mean() > 0.4


def test_kept_components_are_the_largest_and_the_touched_ones():
    mask = np.zeros((1, 10, 20), dtype=bool)
    mask[0, 1:8, 1:8] = True  # largest
    mask[0, 1:3, 12:14] = True  # small, touched
    mask[0, 6:8, 12:14] = True  # small, untouched
    anchors = np.zeros_like(mask)
    anchors[0, 1, 12] = True
    kept = kept_components(mask, anchors)
    assert kept[0, 4, 4] and kept[0, 2, 13] and not kept[0, 7, 13]
    assert not kept_components(np.zeros_like(mask)).any()


def test_a_thick_part_removed_without_a_background_stroke_is_kept():
    import torch

    from interactiveseg.components import keep_unmarked
    before = np.zeros((3, 24, 24), dtype=bool)
    before[:, 4:20, 4:20] = True
    last = torch.from_numpy(before.astype(np.float32))
    inside = torch.ones(before.shape, dtype=torch.bool)
    none = torch.zeros_like(inside)
    washed_out = torch.zeros(before.shape)

    def kept(after, background=none):
        return (keep_unmarked(last, after, inside, none, background, 2.0, (1.0, 1.0, 1.0)) >= 0.5).numpy()

    assert (kept(washed_out) == before).all()  # nothing painted says the core was wrong
    stroke = none.clone()
    stroke[1, 10, 10] = True
    assert not kept(washed_out, stroke).any()  # painted on it, nothing else foreground: it goes
    trimmed = np.zeros_like(before)
    trimmed[:, 5:19, 5:19] = True  # a one-voxel shell removed, as a boundary moved to an edge
    assert (kept(torch.from_numpy(trimmed.astype(np.float32))) == trimmed).all()


def test_a_background_stroke_on_a_false_rim_does_not_take_the_core():
    import torch

    from interactiveseg.components import keep_unmarked
    core = np.zeros((3, 30, 40), dtype=bool)
    core[:, 5:25, 5:25] = True
    rim = np.zeros_like(core)
    rim[:, 5:25, 25:36] = True  # a false region beside the object, as thick as a part of it
    last = torch.from_numpy((core | rim).astype(np.float32))
    inside = torch.ones(core.shape, dtype=torch.bool)
    stroke = torch.zeros_like(inside)
    stroke[1, 15, 32] = True
    foreground = torch.zeros_like(inside)
    foreground[1, 15, 8] = True
    left = np.zeros_like(core)
    left[:, 5:25, 5:16] = True  # the round washed out the core's right half along with the rim
    after = torch.from_numpy(left.astype(np.float32))
    result = (keep_unmarked(last, after, inside, foreground, stroke, 2.0, (1.0, 1.0, 1.0)) >= 0.5).numpy()
    assert result[core].mean() > 0.9 and result[rim].mean() < 0.5  # the stroke takes its side only
    assert not result[1, 15, 32]


def test_only_a_region_three_slices_thick_can_be_deep():
    from interactiveseg.components import surface_depth
    mask = np.zeros((5, 20, 20), dtype=bool)
    mask[1:3, 4:16, 4:16] = True  # two slices: every voxel has a neighbour outside along k
    assert surface_depth(mask).max() == 0
    mask[3, 4:16, 4:16] = True  # three: the middle slice has depth in its plane
    depth = surface_depth(mask)
    assert depth[2, 10, 10] >= 5 and depth[1].max() == 0 and depth[3].max() == 0
    assert depth[2, 4, 10] == 0
