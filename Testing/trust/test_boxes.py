"""The unfamiliar images the OOD evaluation makes from familiar ones."""
import numpy as np

from interactiveseg import Box, Volume
from interactiveseg.normalization import guess_modality
from interactiveseg.evaluation.ood_boxes import flip_box, flipped_volume, noise_volume, windowed_volume
from interactiveseg.evaluation.ood_protocols import fit_half


def ct_like() -> Volume:
    rng = np.random.default_rng(0)
    array = rng.normal(40, 30, (8, 16, 20))
    array[:, :4] = -1000  # air
    array[2:5, 6:10, 5:9] = 700  # bone
    return Volume(array.astype(np.float32), spacing=(0.8, 0.8, 2.5), modality="CT")


def test_a_flipped_box_holds_the_same_voxels_upside_down():
    volume = ct_like()
    box = Box((5, 6, 1), (8, 9, 4))
    flipped = flipped_volume(volume)
    np.testing.assert_array_equal(flipped.array[flip_box(box, volume.shape).slices()],
                                  volume.array[box.slices()][::-1])


def test_a_narrow_window_export_reads_as_mr_and_noise_keeps_the_intensity_range():
    volume = ct_like()
    windowed = windowed_volume(volume)
    assert windowed.array.dtype == np.uint8 and windowed.modality == "auto"
    assert guess_modality(windowed.array) == "MR"  # no air left: the engine cannot tell it is CT
    assert (windowed.array == 255).sum() > 0 and (windowed.array == 0).sum() > 0
    noise = noise_volume(volume)
    assert abs(noise.array.mean() - volume.array.mean()) < 0.05 * volume.array.std()


def test_the_split_signature_keeps_all_boxes_of_one_structure_on_one_side():
    class Item:
        def __init__(self, case, structure):
            self.case, self.structure = case, structure
    items = [Item("a", "liver"), Item("a", "liver"), Item("a", "spleen"), Item("b", "liver"), Item("b", "kidney")]
    assert fit_half(items).tolist() == [True, True, False, True, False]
