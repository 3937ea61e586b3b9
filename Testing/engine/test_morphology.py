"""Box dilation by separable shifts (morphology.py); the boundary band is tested in test_native_walk.py."""
import torch

from interactiveseg.morphology import grow


def test_the_separable_dilation_is_the_box_dilation():
    """grow works axis by axis; every voxel within the box of a marked one must be marked, nothing else."""
    torch.manual_seed(2)
    for shape, radius in (((5, 7, 3), (2, 4, 4)), ((1, 9, 9), (1, 1, 1)), ((6, 6, 6), (0, 2, 1))):
        mask = torch.rand(shape) > 0.9
        expected = torch.zeros(shape, dtype=torch.bool)
        for k, j, i in torch.nonzero(mask).tolist():
            expected[max(0, k - radius[0]):k + radius[0] + 1, max(0, j - radius[1]):j + radius[1] + 1,
                     max(0, i - radius[2]):i + radius[2] + 1] = True
        assert torch.equal(grow(mask, radius), expected)
