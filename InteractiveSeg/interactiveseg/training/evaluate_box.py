"""Box-only Dice: the tight box around a labelled structure, no scribbles, on its own image grid.

Inference follows the engine's path (prepare_input, the network, the object's component,
back from the grid or through the card's first-mask walk, threshold 0.5, paste into the full
grid), so these figures are what a user gets from a box that just encloses the object.
"""
from __future__ import annotations

import numpy as np
import torch

from ..components import keep_object
from ..errors import InputError
from ..overlap import dice
from ..preprocess import from_network_batch, network_batch, prepare_input
from ..region_walk import first_mask_region
from ..settings import Settings
from .samples import tight_box

LARGE_ML = 20.0  # the "organs larger than 20 ml"
GROUPS = (
    ("lung", ("lung",)),
    ("brain region", ("aal_",)),
    ("bone", ("vertebra", "rib", "sacrum", "hip_", "femur", "humerus", "sternum", "clavicula", "scapula",
              "costal_cartilage", "skull", "intervertebral_disc")),
    ("vessel", ("aorta", "vena_cava", "vein", "artery", "iliac_", "portal")),
    ("muscle", ("gluteus", "autochthon", "iliopsoas", "muscle")),
    ("body", ("tissue", "fat", "body")),
)


def structure_group(name: str) -> str:
    for group, keys in GROUPS:
        if any(key in name for key in keys):
            return group
    return "abdominal organ"


def segment_box(network, card: dict, volume, box, device="cpu", partner=None) -> np.ndarray:
    """Full-grid boolean mask the network gives for a box.

    `partner`, a second loaded model: the mask comes from the mean of the two networks' maps,
    each kept to its object on its own grid (a measurement of an ensemble; the engine runs one
    network). The card's first-mask walk follows, as for one network.
    """
    prepared, probability = _kept_map(network, card, volume, box, device)
    if partner is not None:
        theirs, other = _kept_map(partner.network, partner.card, volume, box, device)
        if theirs.crop.region != prepared.crop.region:
            raise InputError("The two models frame the box with different margins; their cards' inputs must agree.")
        other = prepared.crop.to_grid(theirs.crop.from_grid(other[None]).clamp(0, 1))[0]
        probability = keep_object((probability + other) / 2, ~prepared.crop.outside_on_grid(prepared.box))
    settings = Settings.from_card(card)
    region = first_mask_region(prepared, probability, settings)  # the boundary at the image's resolution
    crop_probability = (prepared.crop.from_grid(probability[None])[0] if region is None else region).numpy()
    mask = prepared.crop.paste(np.zeros(volume.shape, dtype=bool), crop_probability >= 0.5)  # Result's rule
    inside = np.zeros_like(mask)
    inside[box.clipped(volume.shape).slices()] = True
    return mask & inside  # as the engine's result: the box says where the object is


def _kept_map(network, card: dict, volume, box, device) -> tuple:
    """(prepared input, the network's grid probability kept to the object's component as Session.segment does)."""
    prepared = prepare_input(volume, box, card)
    dims = card["architecture"]["dims"]
    with torch.no_grad():
        logits = network(network_batch(network, prepared.image).to(device))
        probability = from_network_batch(torch.softmax(logits.float(), 1)[:, 1:], dims).cpu()[0]
    if Settings.from_card(card).keep_connected:
        probability = keep_object(probability, ~prepared.crop.outside_on_grid(prepared.box))
    return prepared, probability


def evaluate(network, card: dict, loaded_cases, roles=("val",), device="cpu", limit=None, partner=None) -> list:
    """One row per structure whose role is in `roles`: case, structure, role, ml, group, dice.

    loaded_cases: [(Case, Volume, labels)].
    """
    network.eval()
    rows = []
    for case, volume, labels in loaded_cases:
        for structure in case.structures:
            if structure.role not in roles:
                continue
            mask = segment_box(network, card, volume, tight_box(structure.bbox_ijk), device, partner)
            rows.append({"case": case.case_id, "subject": case.subject, "modality": case.modality,
                         "structure": structure.name, "role": structure.role,
                         "volume_ml": structure.volume_ml, "group": structure_group(structure.name),
                         "dice": round(dice(mask, labels == structure.value), 4)})
            if limit and len(rows) >= limit:
                return rows
    return rows


def summarize(rows: list) -> dict:
    """Mean Dice and count per group, per size class and overall."""
    def stats(selected):
        values = [r["dice"] for r in selected]
        return {"mean_dice": round(float(np.mean(values)), 4) if values else None,
                "median_dice": round(float(np.median(values)), 4) if values else None, "n": len(values)}
    summary = {"all": stats(rows),
               f"larger_than_{LARGE_ML:g}_ml": stats([r for r in rows if r["volume_ml"] > LARGE_ML]),
               f"up_to_{LARGE_ML:g}_ml": stats([r for r in rows if r["volume_ml"] <= LARGE_ML])}
    for group in sorted({r["group"] for r in rows}):
        summary[f"group: {group}"] = stats([r for r in rows if r["group"] == group])
    for modality in sorted({r["modality"] for r in rows}):
        summary[f"modality: {modality}"] = stats([r for r in rows if r["modality"] == modality])
    return summary


# Box-only targets the default model is held to (held-out subjects).
TARGETS = {"larger_than_20_ml": 0.85, "unseen_classes": 0.80, "synthetic_lesions": 0.85}


def limitations(card: dict, metrics: dict) -> list:
    """What limits a model, in words, from its training record and measured metrics (written into its card)."""
    training, notes = card.get("training", {}), []
    if training.get("stopped_by"):
        hours = training.get("run_total_seconds", training.get("seconds", 0)) / 3600
        notes.append(f"Training stopped by {training['stopped_by']} after {training.get('run_total_steps')} steps "
                     f"({hours:.1f} h on {training.get('device')}, {training.get('threads')} thread(s), "
                     f"{training.get('run_total_samples', training.get('samples_seen'))} samples seen).")
    subjects = training.get("subjects_train", [])
    if subjects:
        notes.append(f"{len(subjects)} training subjects ({', '.join(subjects)}) and "
                     f"{len(training.get('subjects_validation', []))} validation subjects: variety comes mostly "
                     "from synthesis, not from patients.")
    val = metrics.get("box_only_dice_validation_subjects", {}).get(f"larger_than_{LARGE_ML:g}_ml", {})
    unseen = metrics.get("box_only_dice_unseen_classes", {}).get("all", {})
    lesions = metrics.get("box_only_dice_synthetic_lesions", {})
    for label, measured, target in (
            (f"held-out structures over {LARGE_ML:g} ml", val, TARGETS["larger_than_20_ml"]),
            ("classes never trained on", unseen, TARGETS["unseen_classes"]),
            ("synthetic lesions in the held-out subjects", lesions, TARGETS["synthetic_lesions"])):
        value = measured.get("mean_dice")
        if value is not None:
            verdict = "met" if value >= target else "not met"
            notes.append(f"Box-only Dice on {label}: {value:.3f} (n={measured.get('n')}); target {target}: {verdict}.")
    if any("totalsegmentator" in source.lower() for source in training.get("sources", [])):
        notes.append("Labels of the TotalSegmentator examples are that model's output (silver standard); the AAL "
                     "regions are an atlas registered to Colin27, not a manual segmentation of it.")
    notes.append("The validation subjects also chose the shipped checkpoint, so their figures lean optimistic; "
                 "the unseen classes took no part in that choice.")
    return notes
