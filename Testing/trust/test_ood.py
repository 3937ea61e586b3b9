"""Out-of-distribution score: a small network and a signature fitted here on boxes of the bundled CT.

The "MR" image is synthetic (smooth tissue, a bias field, no air), since no MR image
ships with the package; the CT-only signature must find it less familiar than CT.
"""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from interactiveseg import Box, Session, Volume, load_model, read_volume, save_model
from interactiveseg.demo import SAMPLE_IMAGE
from interactiveseg.model_file import card_path, new_card
from interactiveseg.preprocess import prepare_input
from interactiveseg.evaluation.ood_boxes import noise_volume
from interactiveseg.evaluation.ood_measure import auroc
from interactiveseg.trust.ood import (CARD_KEY, FAMILIAR, UNFAMILIAR, fit_signature, mean_entropy, score_vector,
                                      shrunk_covariance, store_signature)
from interactiveseg.trust.spectral import band_powers, signature

from tiny_models import tiny_network

GRID = (10, 24, 24)


def random_boxes(count: int, seed: int, k_range) -> list:
    """Boxes of varied size inside the sample CT's body, with their slices in k_range."""
    rng = np.random.default_rng(seed)
    boxes = []
    for _ in range(count):
        size = rng.integers([20, 20, 4], [50, 50, 9])
        lower = rng.integers([20, 20, k_range[0]], [108 - size[0], 108 - size[1], k_range[1] - size[2]])
        boxes.append(Box(tuple(int(v) for v in lower), tuple(int(v) for v in lower + size - 1)))
    return boxes


def synthetic_mr(like: Volume, seed: int = 0) -> Volume:
    rng = np.random.default_rng(seed)
    k, j, i = np.indices(like.shape)
    body = ((j - 64) / 55.0) ** 2 + ((i - 64) / 45.0) ** 2 < 1
    organ = ((j - 60) / 20.0) ** 2 + ((i - 50) / 15.0) ** 2 + ((k - 17) / 10.0) ** 2 < 1
    array = (400 * body + 300 * organ) * (1 + 0.3 * np.sin(j / 40.0)) + rng.normal(0, 20, like.shape)
    return Volume(np.abs(array).astype(np.float32), like.spacing, like.origin, like.direction, "MR")


@pytest.fixture(scope="module")
def fitted():
    """(network, card with a CT-only signature fitted on boxes from the upper slices, CT volume)."""
    network, arch = tiny_network()
    network.eval()
    card = new_card(arch, GRID)
    ct = read_volume(SAMPLE_IMAGE)
    vectors = [signature(network, prepare_input(ct, b, card).image, 3)[0] for b in random_boxes(12, 0, (14, 34))]
    card[CARD_KEY] = fit_signature(np.array(vectors), modalities=["CT"])
    return network, card, ct


def score(fitted, volume, box) -> float:
    network, card, _ = fitted
    return score_vector(signature(network, prepare_input(volume, box, card).image, 3)[0], card[CARD_KEY])


def test_training_like_ct_scores_below_noise_and_below_mr_under_a_ct_signature(fitted):
    _, _, ct = fitted
    boxes = random_boxes(3, 1, (0, 14))  # lower slices: never used in the fit
    held_out = [score(fitted, ct, b) for b in boxes]
    noise = [score(fitted, noise_volume(ct), b) for b in boxes]
    mr = [score(fitted, synthetic_mr(ct), b) for b in boxes]
    assert max(held_out) < min(noise), (held_out, noise)
    # The network here is untrained, so single boxes overlap; on average MR must stand out.
    assert np.mean(held_out) < np.mean(mr), (held_out, mr)


def test_the_card_entry_gives_a_verdict_through_the_session_and_the_weights_stay_valid(fitted, tmp_path):
    network, card, ct = fitted
    path = save_model(tmp_path / "m.safetensors", network, {k: v for k, v in card.items() if k != CARD_KEY})
    session = Session(ct, model=path, device="cpu")
    session.segment(random_boxes(1, 1, (0, 14))[0])
    assert session.assess_box() is None  # no signature yet
    store_signature(card_path(path), card[CARD_KEY])
    model = load_model(path)  # the checksum covers the weights only, so the card may grow
    session = Session(ct, model=model, device="cpu")
    session.segment(random_boxes(1, 1, (0, 14))[0])
    report = session.assess_box()
    assert (report["verdict"] in (FAMILIAR, UNFAMILIAR)
            and report["familiar"] == (report["score"] <= report["threshold"]))
    assert 0.0 <= report["mean_entropy"] <= 1.0 and 0.0 <= report["training_percentile"] <= 100.0
    noisy = Session(noise_volume(ct), model=model, device="cpu")
    noisy.segment(random_boxes(1, 1, (0, 14))[0])
    assert noisy.assess_box()["score"] > report["score"]
    assert noisy.assess_box()["verdict"] == UNFAMILIAR


def test_band_powers_add_up_to_the_mean_square_of_the_maps():
    maps = torch.randn(1, 3, 6, 10, 12) + 2.0
    bands = band_powers(maps, (0.0, 0.1, 0.3, 1.0))
    assert np.isclose((10 ** bands).sum(), float((maps.double() ** 2).mean()), rtol=1e-4)
    smooth = torch.ones(1, 1, 6, 10, 12)  # a constant has all its power at zero frequency
    assert band_powers(smooth, (0.0, 0.1, 0.3, 1.0))[1:].max() < -6


def test_mahalanobis_threshold_covariance_and_auroc_behave():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 12))  # fewer boxes than numbers: only shrinkage keeps it invertible
    covariance, shrinkage = shrunk_covariance(x)
    assert 0 < shrinkage <= 1 and np.linalg.eigvalsh(covariance).min() > 0
    entry = fit_signature(x, layers=("block1", "block2"), bands=(0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 1.0))
    assert score_vector(x.mean(axis=0), entry) < score_vector(x.mean(axis=0) + 10, entry)
    assert entry["threshold"] == pytest.approx(np.quantile(entry["leave_one_out_score_percentiles"], 0.99), rel=0.05)
    assert auroc([1, 2, 3], [4, 5]) == 1.0 and auroc([4, 5], [1, 2, 3]) == 0.0 and auroc([1, 2], [1, 2]) == 0.5
    assert mean_entropy(torch.tensor([0.0, 1.0])) < 1e-5 and mean_entropy(torch.tensor([0.5])) == pytest.approx(1.0)


def test_cli_json_lists_uncertain_regions_and_the_ood_report(fitted, tmp_path):
    network, card, ct = fitted
    path = save_model(tmp_path / "m.safetensors", network, card)
    box = random_boxes(1, 1, (0, 14))[0]
    done = subprocess.run([sys.executable, "-m", "interactiveseg.cli", "segment", str(SAMPLE_IMAGE), "--box",
                           *map(str, box.as_ijk()), "--output", str(tmp_path / "s.nrrd"), "--model", str(path),
                           "--device", "cpu", "--json"], capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    assert report["ood"]["verdict"] in (FAMILIAR, UNFAMILIAR)
    regions = report["uncertain_regions"]
    assert [r["rank"] for r in regions] == list(range(1, len(regions) + 1))
    assert all(box.contains_kji(*reversed(r["anchor_ijk"])) for r in regions)
