"""One-way rounds (`one_way_rounds`): background strokes alone only remove, foreground strokes alone only add."""
import numpy as np

from interactiveseg import Session, Settings

from engine_fixtures import BLOB_BOX


def rounds(volume, model_path, blob_a, blob_b, one_way: bool) -> list:
    """Masks after the box, a foreground stroke in blob B, a background stroke in A, then both kinds."""
    session = Session(volume, model_path, "cpu", Settings(learning_rate=0.01, one_way_rounds=one_way))
    masks = [session.segment(BLOB_BOX).mask]
    into_b = np.zeros(volume.shape, dtype=bool)
    into_b[8, 15, 25:31] = True
    into_a = np.zeros(volume.shape, dtype=bool)
    into_a[8, 15, 8:14] = True
    assert blob_b[into_b].all() and blob_a[into_a].all()
    masks.append(session.refine(foreground=into_b).mask)
    masks.append(session.refine(background=into_a).mask)
    both_fg, both_bg = np.zeros(volume.shape, dtype=bool), np.zeros(volume.shape, dtype=bool)
    both_fg[8, 12, 9:13], both_bg[8, 20, 26:30] = True, True
    masks.append(session.refine(foreground=both_fg, background=both_bg).mask)
    return masks


def test_a_round_of_one_label_moves_the_mask_only_that_way(blob_volume, blob_model_path):
    volume, blob_a, blob_b = blob_volume
    box, added, removed, mixed = rounds(volume, blob_model_path, blob_a, blob_b, one_way=True)
    assert not (box & ~added).any()  # foreground alone: nothing of the mask is lost
    assert added[blob_b].mean() > box[blob_b].mean() + 0.3  # and B is taken
    assert not (removed & ~added).any()  # background alone: nothing is added
    assert removed.sum() < added.sum()
    assert (mixed & ~removed).any() and (removed & ~mixed).any()  # both kinds: either way


def test_one_way_rounds_are_off_unless_set(blob_volume, blob_model_path):
    """Off, the same strokes move the mask both ways (measured: the foreground round loses 241 voxels of
    the box's mask, the background round adds 193)."""
    volume, blob_a, blob_b = blob_volume
    assert not Settings().one_way_rounds
    box, added, removed, _ = rounds(volume, blob_model_path, blob_a, blob_b, one_way=False)
    assert (box & ~added).any() and (removed & ~added).any()
