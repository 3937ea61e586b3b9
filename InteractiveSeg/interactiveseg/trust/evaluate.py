"""How well a score separates familiar boxes from unfamiliar ones: area under the ROC curve.

AUROC is the chance that a random unfamiliar box scores higher than a random familiar
one (ties count half): 0.5 is guessing, 1 is perfect separation. The spectral score
and the baseline (mean prediction entropy) are measured on the same boxes.
"""
from __future__ import annotations

import sys

import numpy as np

from ..preprocess import prepare_input
from .ood import mean_entropy, score_vector
from .spectral import DEFAULT_BANDS, DEFAULT_LAYERS, LAYERS, signature

VARIANTS = {"feature maps (blocks 1-5)": DEFAULT_LAYERS, "input image only": ("input",),
            "input image + feature maps": LAYERS}


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


ALTERED_FROM_TRAINING = 20  # boxes of the training subjects made unfamiliar (each costs a network pass)


def box_sets(loaded, jitter: int = 0, seed: int = 0) -> dict:
    """Every set of boxes the protocols use, by name."""
    from .boxes import altered_boxes, held_out_boxes, training_boxes, unseen_organ_boxes
    train = training_boxes(loaded, jitter, seed)
    sets = {"train": train, "held-out": held_out_boxes(loaded)}
    sets.update(_by_kind(unseen_organ_boxes(loaded), by_modality=True))
    sets.update(_by_kind(altered_boxes(sets["held-out"], seed)))
    left_out = [item for item, fitted in zip(train, fit_half(train)) if not fitted]
    picked = left_out[::max(1, len(left_out) // ALTERED_FROM_TRAINING)]
    sets.update({f"{kind}, training subjects": items for kind, items in _by_kind(altered_boxes(picked, seed)).items()})
    return sets


def fit_half(items) -> np.ndarray:
    """True for boxes of every other structure of each case: the half a split signature is fitted on."""
    ordinal = {}
    for item in items:
        ordinal.setdefault((item.case, item.structure), len(ordinal))
    return np.array([ordinal[(item.case, item.structure)] % 2 == 0 for item in items], dtype=bool)


def select_layers(computed: dict, layers, computed_layers=LAYERS, bands=DEFAULT_BANDS) -> dict:
    """The same boxes' signatures restricted to some layers (columns), for comparing variants."""
    width = len(bands) - 1
    columns = [computed_layers.index(layer) * width + n for layer in layers for n in range(width)]
    return {name: (vectors[:, columns], entropies) for name, (vectors, entropies) in computed.items()}


def protocols(sets: dict, computed: dict, layers=DEFAULT_LAYERS) -> tuple:
    """(results by protocol, the signature fitted on all training boxes).

    new subjects: fitted on all training boxes; familiar = the validation subjects' boxes.
    training subjects: fitted on half the training structures; familiar = the other half.
    X-only signature: fitted on one modality's training boxes; unfamiliar = the other modality.
    """
    from functools import partial

    from .boxes import ALTERATIONS
    from .ood import fit_signature
    fit_signature = partial(fit_signature, layers=layers)
    train, (vectors, entropies) = sets["train"], computed["train"]
    fitted = fit_half(train)
    full = fit_signature(vectors)
    new_kinds = [k for k in sets if k.startswith("unseen organ") or k in ALTERATIONS]
    results = {"new subjects": compare(full, computed["held-out"], {k: computed[k] for k in new_kinds})}
    results["training subjects, boxes left out of the fit"] = compare(
        fit_signature(vectors[fitted]), (vectors[~fitted], entropies[~fitted]),
        {k: computed[f"{k}, training subjects"] for k in ALTERATIONS if f"{k}, training subjects" in computed})
    for modality in sorted({item.modality for item in train}):
        mine = np.array([item.modality == modality for item in train])
        sources = ["train"] + [k for k in sets if k.startswith("unseen organ")]
        others = [_subset(computed[k], [item.modality != modality for item in sets[k]]) for k in sources]
        other = {"other modality": tuple(np.concatenate(parts) for parts in zip(*others))}
        entry = {"training subjects, boxes left out of the fit": compare(
            fit_signature(vectors[mine & fitted]), (vectors[mine & ~fitted], entropies[mine & ~fitted]), other)}
        held = [item.modality == modality for item in sets["held-out"]]
        if any(held):
            entry["new subjects"] = compare(fit_signature(vectors[mine]), _subset(computed["held-out"], held), other)
        results[f"{modality}-only signature"] = entry
    return results, full


def _subset(pair: tuple, keep) -> tuple:
    keep = np.asarray(keep, dtype=bool)
    return pair[0][keep], pair[1][keep]


def _by_kind(items, by_modality: bool = False) -> dict:
    kinds = {}
    for item in items:
        kinds.setdefault(f"{item.kind} ({item.modality})" if by_modality else item.kind, []).append(item)
    return kinds
