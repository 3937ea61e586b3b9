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
