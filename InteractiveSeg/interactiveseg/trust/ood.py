"""Is this box like the training data? A distance to the training boxes' spectral signatures.

Fitting: the signatures of the training boxes give a mean and a shrunk covariance
(Ledoit-Wolf: few boxes, correlated bands); a box's score is its Mahalanobis distance
to them. The threshold is a high quantile of the training boxes' own scores, each
computed with that box left out, so it is not the optimistic in-sample figure. All of
it is stored in the model card under "spectral_signature".

Baseline: the mean entropy of the network's prediction over the grid, the usual
"the model is unsure" signal.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .spectral import DEFAULT_BANDS, DEFAULT_LAYERS, feature_names, signature

CARD_KEY = "spectral_signature"
SIGNATURE_VERSION = 1
THRESHOLD_QUANTILE = 0.99
FAMILIAR = "similar to training data"
UNFAMILIAR = "unlike the training data: expect more scribbles"


def shrunk_covariance(x: np.ndarray) -> tuple:
    """Ledoit-Wolf shrinkage of the sample covariance towards a scaled identity: (covariance, shrinkage)."""
    n, d = x.shape
    centred = x - x.mean(axis=0)
    sample = centred.T @ centred / n
    target = np.trace(sample) / d
    spread = ((sample - target * np.eye(d)) ** 2).sum()
    variation = sum(((np.outer(row, row) - sample) ** 2).sum() for row in centred) / n ** 2
    shrinkage = 1.0 if spread <= 0 else float(min(1.0, variation / spread))
    return (1 - shrinkage) * sample + shrinkage * target * np.eye(d), shrinkage


def _fit_moments(x: np.ndarray) -> tuple:
    covariance, shrinkage = shrunk_covariance(x)
    return x.mean(axis=0), np.linalg.pinv(covariance), shrinkage


def mahalanobis(x: np.ndarray, mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
    difference = np.atleast_2d(x) - mean
    return np.sqrt(np.maximum(np.einsum("nd,de,ne->n", difference, precision, difference), 0.0))


def fit_signature(vectors: np.ndarray, layers=DEFAULT_LAYERS, bands=DEFAULT_BANDS,
                  quantile: float = THRESHOLD_QUANTILE, **described) -> dict:
    """The card entry for the training boxes' signatures (n, d); `described` adds provenance."""
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or len(x) < 3:
        raise ValueError(f"Need at least three signatures to fit a distribution, got {x.shape}.")
    mean, precision, shrinkage = _fit_moments(x)
    left_out = np.array([mahalanobis(x[i], *_fit_moments(np.delete(x, i, axis=0))[:2])[0] for i in range(len(x))])
    return dict({
        "version": SIGNATURE_VERSION, "layers": list(layers), "bands": list(bands),
        "features": feature_names(layers, bands), "boxes": int(len(x)),
        "mean": mean.round(6).tolist(), "precision": precision.round(6).tolist(), "shrinkage": round(shrinkage, 6),
        "leave_one_out_score_percentiles": np.percentile(left_out, np.arange(101)).round(4).tolist(),
        "threshold_quantile": quantile, "threshold": round(float(np.quantile(left_out, quantile)), 4),
    }, **described)


def score_vector(vector: np.ndarray, entry: dict) -> float:
    return float(mahalanobis(np.asarray(vector, float), np.asarray(entry["mean"]), np.asarray(entry["precision"]))[0])


def mean_entropy(probability: torch.Tensor) -> float:
    """Mean binary entropy of the foreground probability, in bits (0: sure everywhere, 1: p = 0.5 everywhere)."""
    p = probability.double().clamp(1e-7, 1 - 1e-7)
    return float((-(p * p.log2()) - (1 - p) * (1 - p).log2()).mean())


def report(vector: np.ndarray, probability: torch.Tensor, entry: dict) -> dict:
    """Score, verdict and the baseline for one box, as the CLI's --json and the module show them."""
    score = score_vector(vector, entry)
    percentiles = np.asarray(entry["leave_one_out_score_percentiles"])
    familiar = score <= entry["threshold"]
    return {"score": round(score, 4), "threshold": entry["threshold"],
            "training_percentile": float(np.interp(score, percentiles, np.arange(101), left=0, right=100)),
            "familiar": bool(familiar), "verdict": FAMILIAR if familiar else UNFAMILIAR,
            "mean_entropy": round(mean_entropy(probability), 4)}


def assess(network, card: dict, image: torch.Tensor, dims: int) -> dict | None:
    """The OOD report for a prepared box image (1, *grid); None if the card has no signature."""
    entry = card.get(CARD_KEY)
    if not entry:
        return None
    vector, probability = signature(network, image, dims, tuple(entry["layers"]), tuple(entry["bands"]))
    return report(vector, probability, entry)


def store_signature(card_file, entry: dict) -> Path:
    """Write the entry into a model card JSON, leaving everything else (and the weights' checksum) as it is."""
    from ..model_card import update_sections
    return update_sections(card_file, **{CARD_KEY: entry})
