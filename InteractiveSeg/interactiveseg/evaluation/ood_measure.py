"""How well a score separates familiar boxes from unfamiliar ones: area under the ROC curve.

AUROC is the chance that a random unfamiliar box scores higher than a random familiar
one (ties count half): 0.5 is guessing, 1 is perfect separation. The spectral score
and the baseline (mean prediction entropy) are measured on the same boxes.
"""
from __future__ import annotations

import sys

import numpy as np

from ..preprocess import prepare_input
from ..trust.ood import mean_entropy, score_vector
from ..trust.spectral import LAYERS, signature


def auroc(familiar, unfamiliar) -> float:
    """Mann-Whitney estimate: P(unfamiliar score > familiar score) + 0.5 P(tie)."""
    a, b = np.asarray(familiar, float), np.asarray(unfamiliar, float)
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    greater = (b[:, None] > a[None, :]).sum()
    ties = (b[:, None] == a[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(a) * len(b)))


def box_vectors(network, card: dict, items, log=None, layers=LAYERS) -> tuple:
    """(signatures (n, d), mean entropies (n,)) of the boxes, one network pass each."""
    dims = card["architecture"]["dims"]
    vectors, entropies = [], []
    for index, item in enumerate(items):
        prepared = prepare_input(item.volume, item.box, card)
        vector, probability = signature(network, prepared.image, dims, layers)
        vectors.append(vector)
        entropies.append(mean_entropy(probability))
        if log and (index + 1) % 50 == 0:
            log(f"  {index + 1}/{len(items)} boxes")
    return np.array(vectors), np.array(entropies)


def compare(entry: dict, familiar: tuple, kinds: dict) -> dict:
    """AUROC of the spectral score and of mean entropy, familiar vs each unfamiliar kind and all pooled.

    familiar: (vectors, entropies); kinds: {name: (vectors, entropies)}.
    """
    def scores(vectors):
        return np.array([score_vector(v, entry) for v in vectors])

    familiar_scores = scores(familiar[0])
    out = {"familiar": {"n": len(familiar_scores), "flagged_fraction": _flagged(familiar_scores, entry)}}
    pooled_scores, pooled_entropy = [], []
    for name, (vectors, entropies) in kinds.items():
        kind_scores = scores(vectors)
        pooled_scores.append(kind_scores)
        pooled_entropy.append(entropies)
        out[name] = {"n": len(kind_scores), "auroc_spectral": round(auroc(familiar_scores, kind_scores), 4),
                     "auroc_entropy": round(auroc(familiar[1], entropies), 4),
                     "flagged_fraction": _flagged(kind_scores, entry)}
    if len(kinds) > 1:
        all_scores, all_entropy = np.concatenate(pooled_scores), np.concatenate(pooled_entropy)
        out["all unfamiliar kinds"] = {"n": len(all_scores),
                                       "auroc_spectral": round(auroc(familiar_scores, all_scores), 4),
                                       "auroc_entropy": round(auroc(familiar[1], all_entropy), 4),
                                       "flagged_fraction": _flagged(all_scores, entry)}
    return out


def _flagged(scores: np.ndarray, entry: dict) -> float:
    return round(float(np.mean(scores > entry["threshold"])), 4) if len(scores) else float("nan")


def stderr_log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
