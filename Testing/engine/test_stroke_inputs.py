"""The strokes' geodesic distance (and the intensity) as inputs of the fine-tuned classifier (`stroke_input_*`)."""
import math

import torch

from interactiveseg.finetune import GridState, StrokeInputs, fine_tune, predict, stroke_distances
from interactiveseg.geodesic import geodesic_distance
from interactiveseg.networks import build_network, unet_architecture
from interactiveseg.settings import Settings

SHAPE = (4, 8, 24)


def flat_case():
    """Features that say nothing (the same at every voxel), a flat image, and a stroke of each label
    at the two ends: only where the strokes are can tell the labels apart."""
    torch.manual_seed(0)
    network = build_network(unet_architecture(dims=3, channels=4, levels=3)).eval()
    features = torch.ones((network.feature_channels, *SHAPE))
    state = GridState(torch.zeros(SHAPE), features, (1.0, 1.0, 1.0), 3)
    foreground = torch.zeros(SHAPE, dtype=torch.bool)
    background = torch.zeros(SHAPE, dtype=torch.bool)
    foreground[:, 3:5, 1] = True
    background[:, 3:5, 22] = True
    return network, state, foreground, background


def test_a_stroke_teaches_its_neighbourhood_when_its_distance_is_an_input():
    network, state, foreground, background = flat_case()
    settings = Settings(learning_rate=0.01, stroke_input_reach=4.0, stroke_input_lr=3.0)
    probability, _ = fine_tune(network, state, torch.full(SHAPE, 0.5), foreground, background, settings)
    assert probability[:, 4, 3].mean() > 0.5 > probability[:, 4, 20].mean()  # beside each stroke, its label


def test_without_the_inputs_the_same_strokes_cannot_tell_the_ends_apart():
    network, state, foreground, background = flat_case()
    probability, _ = fine_tune(network, state, torch.full(SHAPE, 0.5), foreground, background,
                               Settings(learning_rate=0.01))
    assert float(probability.max() - probability.min()) < 1e-5


def test_the_inputs_start_with_no_effect_on_the_pretrained_map():
    network, state, foreground, background = flat_case()
    settings = Settings(stroke_input_reach=4.0, stroke_input_intensity=True)
    extra = StrokeInputs.for_round(network, state, stroke_distances(state, foreground, background, settings), settings)
    assert extra.rows.shape == (foreground.numel(), 3)
    assert float(extra.rows[foreground.reshape(-1), 0].min()) == 1.0  # exp(-0) on the foreground stroke
    assert torch.equal(predict(network, state, extra=extra), predict(network, state))


def test_one_distance_serves_both_uses_as_if_each_had_its_own_bound():
    """The inputs' longer bound does not change which voxels are near a stroke (`geodesic_radius`)."""
    torch.manual_seed(1)
    _, state, foreground, background = flat_case()
    state.image = torch.rand(SHAPE)  # edges, so that geodesic and straight distances differ
    settings = Settings(geodesic_radius=2.0, stroke_input_reach=4.0)
    shared = stroke_distances(state, foreground, background, settings)
    for seeds, distance in zip((foreground, background), shared):
        own = geodesic_distance(state.image, seeds, state.spacing, settings.geodesic_intensity_weight, 2.0)
        assert torch.equal(own <= 2.0, distance <= 2.0)
        assert math.isinf(float(own.max())) and float(distance[distance < math.inf].max()) > 2.0
