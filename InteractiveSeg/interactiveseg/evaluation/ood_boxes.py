"""Boxes for fitting and testing the spectral signature, from the training manifest.

Training boxes: the tight box of every training structure of the training subjects,
plus jittered boxes as users draw them. Held-out boxes: the validation subjects' own
structures (subjects the network never saw; the usual kind of image). Unfamiliar
kinds are made from the held-out boxes (pure noise, a head-to-foot flip, an 8-bit
export through a narrow window) or taken from the manifest (organs never trained on,
and another modality when the signature was fitted on one modality only).
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from ..geometry import Box
from ..training.samples import jittered_box, tight_box
from ..volume import Volume

NARROW_WINDOW = (40.0, 80.0)  # level, width in HU: a brain window applied to a body CT


@dataclass
class BoxItem:
    kind: str  # "train", "held-out", "unseen organ", "noise", "flipped", "badly windowed"
    case: str
    structure: str
    modality: str
    volume: Volume
    box: Box


def training_boxes(loaded, jitter: int = 1, seed: int = 0, modalities=None) -> list:
    """loaded: [(Case, Volume, labels)]; tight plus `jitter` jittered boxes per training structure."""
    items = []
    for case, volume, _ in loaded:
        if case.split != "train" or (modalities and case.modality not in modalities):
            continue
        for structure in case.structures:
            if structure.role != "train":
                continue
            rng = np.random.default_rng([seed, structure.value, zlib.crc32(case.case_id.encode())])
            boxes = [tight_box(structure.bbox_ijk)] + [jittered_box(structure.bbox_ijk, rng) for _ in range(jitter)]
            items += [BoxItem("train", case.case_id, structure.name, case.modality, volume, b) for b in boxes]
    return items


def held_out_boxes(loaded) -> list:
    """Tight boxes of the validation subjects' structures."""
    return [BoxItem("held-out", case.case_id, s.name, case.modality, volume, tight_box(s.bbox_ijk))
            for case, volume, _ in loaded if case.split == "val" for s in case.structures if s.role == "val"]


def unseen_organ_boxes(loaded) -> list:
    return [BoxItem("unseen organ", case.case_id, s.name, case.modality, volume, tight_box(s.bbox_ijk))
            for case, volume, _ in loaded for s in case.structures if s.role == "unseen"]


def altered_boxes(items: list, seed: int = 0) -> list:
    """Noise, flipped and badly windowed versions of the given boxes (each image altered once)."""
    altered, made = [], {}
    for item in items:
        key = id(item.volume)
        if key not in made:
            made[key] = {name: make(item.volume, seed) for name, make in ALTERATIONS.items()}
        for name, volume in made[key].items():
            box = flip_box(item.box, item.volume.shape) if name == "flipped" else item.box
            altered.append(BoxItem(name, item.case, item.structure, volume.modality, volume, box))
    return altered


def noise_volume(volume: Volume, seed: int = 0) -> Volume:
    """White noise with the image's mean and spread: no anatomy at all."""
    rng = np.random.default_rng(seed)
    array = rng.normal(float(volume.array.mean()), float(volume.array.std()) + 1.0, volume.shape)
    return Volume(array.astype(np.float32), volume.spacing, volume.origin, volume.direction, volume.modality)


def flipped_volume(volume: Volume, seed: int = 0) -> Volume:
    """Upside down (head to foot) with unchanged geometry: a wrongly oriented file."""
    return Volume(np.ascontiguousarray(volume.array[::-1]), volume.spacing, volume.origin, volume.direction,
                  volume.modality)


def windowed_volume(volume: Volume, seed: int = 0) -> Volume:
    """An 8-bit export through a narrow window; the modality must then be guessed (it reads as MR)."""
    level, width = NARROW_WINDOW
    scaled = np.clip((volume.array.astype(np.float32) - (level - width / 2)) / width, 0, 1) * 255
    return Volume(scaled.round().astype(np.uint8), volume.spacing, volume.origin, volume.direction, "auto")


def flip_box(box: Box, shape_kji) -> Box:
    depth = shape_kji[0]
    (i0, j0, k0), (i1, j1, k1) = box.lower, box.upper
    return Box((i0, j0, depth - 1 - k1), (i1, j1, depth - 1 - k0))


ALTERATIONS = {"noise": noise_volume, "flipped": flipped_volume, "badly windowed": windowed_volume}
