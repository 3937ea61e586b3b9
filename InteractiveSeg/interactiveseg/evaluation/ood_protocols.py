"""The measurement protocols of the OOD evaluation: which boxes are familiar, which are not.

new subjects: the signature is fitted on all training boxes; familiar boxes are the
validation subjects' (people never trained on); unfamiliar: organs never trained on,
pure noise, a head-to-foot flip, a narrow-window 8-bit export of the familiar images.
training subjects: fitted on every other training structure; familiar = the rest, so
no subject shift; unfamiliar: the same three alterations of those boxes.
one modality: fitted on one modality's training boxes; unfamiliar = the other modality.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from .ood_boxes import ALTERATIONS, altered_boxes, held_out_boxes, training_boxes, unseen_organ_boxes
from .ood_measure import compare
from ..trust.ood import fit_signature
from ..trust.spectral import DEFAULT_BANDS, DEFAULT_LAYERS, LAYERS

VARIANTS = {"feature maps (blocks 1-5)": DEFAULT_LAYERS, "input image only": ("input",),
            "input image + feature maps": LAYERS}

ALTERED_FROM_TRAINING = 20  # boxes of the training subjects made unfamiliar (each costs a network pass)


def box_sets(loaded, jitter: int = 0, seed: int = 0) -> dict:
    """Every set of boxes the protocols use, by name."""
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
    fit = partial(fit_signature, layers=layers)
    train, (vectors, entropies) = sets["train"], computed["train"]
    fitted = fit_half(train)
    full = fit(vectors)
    new_kinds = [k for k in sets if k.startswith("unseen organ") or k in ALTERATIONS]
    results = {"new subjects": compare(full, computed["held-out"], {k: computed[k] for k in new_kinds})}
    results["training subjects, boxes left out of the fit"] = compare(
        fit(vectors[fitted]), (vectors[~fitted], entropies[~fitted]),
        {k: computed[f"{k}, training subjects"] for k in ALTERATIONS if f"{k}, training subjects" in computed})
    for modality in sorted({item.modality for item in train}):
        mine = np.array([item.modality == modality for item in train])
        sources = ["train"] + [k for k in sets if k.startswith("unseen organ")]
        others = [_subset(computed[k], [item.modality != modality for item in sets[k]]) for k in sources]
        other = {"other modality": tuple(np.concatenate(parts) for parts in zip(*others))}
        entry = {"training subjects, boxes left out of the fit": compare(
            fit(vectors[mine & fitted]), (vectors[mine & ~fitted], entropies[mine & ~fitted]), other)}
        held = [item.modality == modality for item in sets["held-out"]]
        if any(held):
            entry["new subjects"] = compare(fit(vectors[mine]), _subset(computed["held-out"], held), other)
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
