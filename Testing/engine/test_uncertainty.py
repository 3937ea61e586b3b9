import numpy as np
import torch

from interactiveseg.uncertainty import interaction_uncertain, loss_weights, network_uncertain, uncertainty_map


def test_loss_weights_on_a_hand_built_case():
    probability = torch.tensor([[[0.05, 0.5, 0.95, 0.3, 0.9, 0.1]]])
    foreground = torch.tensor([[[False, True, False, False, False, False]]])
    background = torch.tensor([[[False, False, False, False, False, True]]])
    labels = probability > 0.5
    near_fg = torch.tensor([[[False, True, True, True, False, False]]])
    near_bg = torch.zeros_like(near_fg)
    uncertain = network_uncertain(probability, 0.2, 0.8) | interaction_uncertain(labels, near_fg, near_bg)
    weights = loss_weights(foreground, background, uncertain, omega=5.0)
    # voxel: 0 confident bg -> 1; 1 fg scribble (also uncertain) -> omega; 2 confident fg -> 1;
    # 3 p=0.3 uncertain -> 0; 4 confident fg -> 1; 5 bg scribble -> omega.
    np.testing.assert_allclose(weights.numpy().ravel(), [1, 5, 1, 0, 1, 5])


def test_interaction_uncertainty_marks_only_disagreeing_voxels_near_scribbles():
    labels = torch.tensor([True, False, False, True])
    near_fg = torch.tensor([True, True, False, False])
    near_bg = torch.tensor([False, False, True, True])
    assert interaction_uncertain(labels, near_fg, near_bg).tolist() == [False, True, False, True]


def test_uncertainty_map_is_zero_when_confident_and_positive_between_thresholds():
    probability = torch.tensor([0.0, 0.02, 0.25, 0.5, 0.7, 0.97, 1.0])
    u = uncertainty_map(probability, 0.2, 0.8).numpy()
    assert u[0] == u[1] == u[5] == u[6] == 0
    assert np.all(u[2:5] > 0) and u[3] == u.max() == 1.0


def test_each_label_carries_half_of_the_loss_or_its_own_share_by_the_balance_power():
    from interactiveseg.finetune import balance_labels
    weights = torch.ones(10)
    targets = torch.tensor([1, 0, 0, 0, 0, 0, 0, 0, 0, 0])  # a small object: 1 voxel in 10
    share = [float(balance_labels(weights, targets, power)[targets == 1].sum()) / 10 for power in (1.0, 0.5, 0.0)]
    assert share[0] == 0.5 and share[2] == 0.1 and 0.1 < share[1] < 0.5
