import math

import torch

from interactiveseg.crf import CrfParameters, crf_refine
from interactiveseg.geodesic import geodesic_distance


def test_geodesic_on_a_flat_image_is_the_spatial_distance():
    image = torch.zeros(1, 20, 20)
    seeds = torch.zeros(1, 20, 20, dtype=torch.bool)
    seeds[0, 10, 10] = True
    d = geodesic_distance(image, seeds, (1.0, 1.0, 2.0), intensity_weight=5.0, max_distance=8.0)
    assert d[0, 10, 10] == 0
    assert math.isclose(d[0, 10, 13].item(), 6.0, rel_tol=1e-6)  # three steps of 2 mm along i
    assert math.isclose(d[0, 13, 10].item(), 3.0, rel_tol=1e-6)
    assert math.isclose(d[0, 11, 11].item(), math.sqrt(5.0), rel_tol=1e-6)
    assert math.isinf(d[0, 19, 19].item())  # beyond the radius


def test_geodesic_distance_jumps_across_an_intensity_edge():
    image = torch.zeros(1, 10, 10)
    image[:, :, 5:] = 1.0
    seeds = torch.zeros_like(image, dtype=torch.bool)
    seeds[0, 5, 3] = True
    d = geodesic_distance(image, seeds, (1.0, 1.0, 1.0), intensity_weight=10.0, max_distance=20.0)
    assert d[0, 5, 4] == 1.0 and d[0, 5, 5] > 10.0


def test_crf_keeps_scribbles_and_cleans_an_isolated_voxel():
    image = torch.zeros(5, 12, 12)
    probability = torch.full((5, 12, 12), 0.1)
    probability[2, 6, 6] = 0.95  # a speck the network is sure of
    fg = torch.zeros_like(probability, dtype=torch.bool)
    bg = torch.zeros_like(fg)
    fg[0, 0, 0] = True
    bg[4, 11, 11] = True
    q = crf_refine(probability, image, fg, bg, (2.0, 1.0, 1.0), CrfParameters())
    assert q[0, 0, 0] == 1.0 and q[4, 11, 11] == 0.0
    assert q[2, 6, 6] < 0.5  # softened, then outvoted by its neighbours
    assert q[2, 2, 2] < 0.5


def test_crf_respects_an_intensity_edge():
    image = torch.zeros(1, 16, 16)
    image[:, :, 8:] = 3.0
    probability = torch.full((1, 16, 16), 0.45)
    probability[:, :, 8:] = 0.55
    q = crf_refine(probability, image, torch.zeros_like(image, dtype=torch.bool),
                   torch.zeros_like(image, dtype=torch.bool), (1.0, 1.0, 1.0), CrfParameters())
    assert (q[:, :, 9:] > 0.5).all() and (q[:, :, :7] < 0.5).all()
