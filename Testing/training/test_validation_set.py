"""The validation's synthetic lesions are kept as blocks around them, in the same place in space."""
import numpy as np

from interactiveseg.training import validation
from interactiveseg.training.manifest import read_manifest


def test_a_lesion_block_holds_the_whole_lesion_and_the_engines_crop_where_it_was(tiny_manifest, monkeypatch):
    cases = [(case, *case.load()) for case in read_manifest(tiny_manifest)[0] if case.split == "val"]
    cut = validation.lesion_items(cases, 3)
    monkeypatch.setattr(validation, "_around_lesion", lambda item: item)
    whole = validation.lesion_items(cases, 3)
    for small, full in zip(cut, whole):
        assert small.reference.sum() == full.reference.sum()  # all of the lesion
        assert small.volume.array.size < full.volume.array.size
        offset = np.round(np.linalg.solve(full.volume.ijk_to_lps(), [*small.volume.origin, 1])[:3]).astype(int)
        i0, j0, k0 = offset
        k, j, i = small.volume.shape
        np.testing.assert_array_equal(small.volume.array, full.volume.array[k0:k0 + k, j0:j0 + j, i0:i0 + i])
        assert tuple(np.add(small.box.lower, offset)) == full.box.lower
        # the engine's crop, the box and a margin of a tenth of it and 3 voxels, lies inside the block
        for axis, size in enumerate(reversed(small.volume.shape)):
            extent = small.box.upper[axis] - small.box.lower[axis] + 1
            margin = int(np.ceil(0.1 * extent)) + 3
            assert small.box.lower[axis] - margin >= 0 or offset[axis] == 0
            assert small.box.upper[axis] + margin <= size - 1 or offset[axis] + size == full.volume.shape[2 - axis]
