"""A validation set large enough to choose a checkpoint on.

Two parts, both on the held-out subjects and both through the engine's own inference path
(evaluate_box.segment_box):
- every validation structure, with its tight box and `jittered` boxes like a user's;
- synthetic lesions: procedural objects pasted into the validation images with a
  generator seed that training never uses, each framed by its tight box.
The score is the mean of the two parts' mean Dice, so neither part dominates by count.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..box import Box
from ..normalization import guess_modality
from ..overlap import dice
from ..volume import Volume
from .evaluate_box import segment_box
from .manifest import structure_stats
from .samples import jittered_box, tight_box
from .synthesis import _smooth_noise, object_mask

LESION_SEED = 770_001  # training draws from (seed, step, rank) streams, never from this one
LESION_RADIUS_MM = (6.0, 35.0)


@dataclass
class ValidationItem:
    name: str
    kind: str  # "structure" or "lesion"
    volume: Volume
    reference: np.ndarray  # bool, full grid
    box: Box


def paste_lesion(volume: Volume, rng: np.random.Generator, attempts: int = 20) -> tuple:
    """(new volume, lesion mask) with one procedural object inside the body of `volume`."""
    for _ in range(attempts):
        pasted = _try_paste_lesion(volume, rng)
        if pasted is not None:
            return pasted
    raise ValueError(f"No lesion of at least 20 voxels fits in a volume of shape {volume.shape}.")


def _try_paste_lesion(volume: Volume, rng: np.random.Generator):
    array = volume.array.astype(np.float32)
    modality = volume.modality if volume.modality != "auto" else guess_modality(array)
    body = array > np.percentile(array, 40)
    candidates = np.argwhere(body)
    centre = candidates[rng.integers(len(candidates))]
    radius_mm = rng.uniform(*LESION_RADIUS_MM)
    spacing_kji = np.array(volume.spacing[::-1])
    half = np.maximum(np.round(radius_mm * rng.uniform(0.6, 1.4, 3) / spacing_kji), [1, 3, 3]).astype(int)
    low = np.clip(centre - half, 0, np.array(array.shape) - 1)
    high = np.clip(centre + half, 0, np.array(array.shape) - 1)
    shape = tuple(int(v) for v in high - low + 1)
    depth = torch.linspace(-1.0, 1.0, shape[0]) if shape[0] > 1 else torch.zeros(1)
    local = object_mask(shape, rng, depth).numpy()
    mask = np.zeros(array.shape, dtype=bool)
    region = tuple(slice(int(a), int(b) + 1) for a, b in zip(low, high))
    mask[region] = local
    if mask.sum() < 20:
        return None
    spread = np.subtract(*np.percentile(array[body], (75, 25)))
    contrast = rng.choice([-1.0, 1.0]) * (rng.uniform(60, 400) if modality == "CT" else rng.uniform(0.4, 1.5) * spread)
    generator = torch.Generator().manual_seed(int(rng.integers(1 << 31)))
    texture = _smooth_noise(shape, 2.0, generator).numpy() * abs(contrast) * rng.uniform(0.0, 0.3)
    changed = array.copy()
    changed[region] += np.where(local, contrast + texture, 0.0)
    return Volume(changed, volume.spacing, volume.origin, volume.direction, modality), mask


def build_validation(val_cases, jittered: int = 2, lesions_per_case: int = 20, seed: int = LESION_SEED) -> list:
    """Items from [(Case, Volume, labels)] of the validation subjects (structures whose role is "val")."""
    return structure_items(val_cases, jittered, seed) + lesion_items(val_cases, lesions_per_case, seed)


def structure_items(val_cases, jittered: int = 2, seed: int = LESION_SEED) -> list:
    """Each validation structure with its tight box and `jittered` boxes like a user's."""
    items = []
    for number, (case, volume, labels) in enumerate(val_cases):
        rng = np.random.default_rng([seed, number, 0])
        for structure in case.structures:
            if structure.role != "val":
                continue
            reference = labels == structure.value
            boxes = [tight_box(structure.bbox_ijk)] + [jittered_box(structure.bbox_ijk, rng) for _ in range(jittered)]
            for n, box in enumerate(boxes):
                items.append(ValidationItem(f"{case.case_id}/{structure.name}#{n}", "structure", volume, reference,
                                            box.clipped(volume.shape)))
    return items


def lesion_items(val_cases, per_case: int = 20, seed: int = LESION_SEED) -> list:
    """`per_case` synthetic lesions pasted into each validation image, each with its tight box.

    Each case has a stream of its own, so the set is the same whatever else is built.
    """
    items = []
    for number, (case, volume, _) in enumerate(val_cases):
        rng = np.random.default_rng([seed, number, 1])
        for n in range(per_case):
            changed, mask = paste_lesion(volume, rng)
            _, _, bbox = structure_stats(mask, True, volume.spacing)
            items.append(_around_lesion(ValidationItem(f"{case.case_id}/lesion{n}", "lesion", changed, mask,
                                                       tight_box(bbox))))
    return items


def _around_lesion(item: ValidationItem) -> ValidationItem:
    """The item cut to a block around its box, in the same place in space: twenty copies of a large CT would
    not fit in memory. The block holds the engine's whole crop (the box and a margin of at most a tenth of it
    and a few voxels), and Dice outside it is zero for both masks, so the score is the same."""
    lower, upper = [], []
    for axis, size in enumerate(reversed(item.volume.shape)):  # i, j, k
        extent = item.box.upper[axis] - item.box.lower[axis] + 1
        reach = extent // 2 + 8
        lower.append(max(0, item.box.lower[axis] - reach))
        upper.append(min(size - 1, item.box.upper[axis] + reach))
    block = Box(tuple(lower), tuple(upper))
    volume = item.volume
    origin = (volume.ijk_to_lps() @ [*lower, 1])[:3]
    cut = Volume(volume.array[block.slices()].copy(), volume.spacing, tuple(origin), volume.direction,
                 volume.modality)
    box = Box(tuple(a - b for a, b in zip(item.box.lower, lower)), tuple(a - b for a, b in zip(item.box.upper, lower)))
    return ValidationItem(item.name, item.kind, cut, item.reference[block.slices()].copy(), box)


def validate(network, card: dict, items: list, device="cpu") -> dict:
    """Mean Dice per kind and the score (mean over kinds present)."""
    network.eval()
    by_kind = {}
    with torch.no_grad():
        for item in items:
            mask = segment_box(network, card, item.volume, item.box, device)
            by_kind.setdefault(item.kind, []).append(dice(mask, item.reference))
    means = {kind: float(np.mean(values)) for kind, values in by_kind.items()}
    means["score"] = float(np.mean(list(means.values()))) if means else float("nan")
    return means


def evaluate_lesions(network, card: dict, val_cases, device="cpu", per_case: int = 20, partner=None) -> list:
    """Box-only Dice of each synthetic lesion of the validation set (the same lesions training validates on)."""
    items = lesion_items(val_cases, per_case)
    network.eval()
    with torch.no_grad():
        return [dice(segment_box(network, card, item.volume, item.box, device, partner), item.reference)
                for item in items]

