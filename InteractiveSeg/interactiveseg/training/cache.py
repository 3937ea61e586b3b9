"""The training cache: every training sample's crop, already on the network grid.

Building a sample (crop, normalise, resample the image and its target) costs far more
than a training step of a small network, so it is done once: for each training
structure, a few jittered boxes of the real image and of each synthesized image of its
subject (synthesis.py). A step then only draws slices from memory and augments them.

On disk the cache is one folder: `images.npy` (float32, every sample's slices stacked
along the first axis), `targets.npy` (uint8) and `index.json` (per sample: first slice,
slice count, structure, subject, box). Each sample's grid is (k, 96, 96) for a 2D
network; its slices are contiguous so that 2.5D context stays inside the sample.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..volume import Volume
from .samples import jittered_box, make_sample, tight_box

CACHE_VERSION = 1


@dataclass
class CacheEntry:
    start: int  # first slice in the stacked arrays
    depth: int  # slices of this sample
    subject: str
    structure: str
    variant: str  # "real" or the synthesis variant's name
    box: list  # I0 J0 K0 I1 J1 K1 on the source image


class TrainingCache:
    """Slices of every cached sample, in memory (or memory-mapped), with an index."""

    def __init__(self, images: np.ndarray, targets: np.ndarray, entries: list, info: dict):
        self.images, self.targets, self.entries, self.info = images, targets, entries, info

    def __len__(self) -> int:
        return len(self.entries)

    def sample(self, index: int) -> tuple:
        """(image (1, k, j, i) float32, target (k, j, i) bool) of one cached sample."""
        entry = self.entries[index]
        rows = slice(entry.start, entry.start + entry.depth)
        return (torch.from_numpy(self.images[rows].astype(np.float32))[None],
                torch.from_numpy(self.targets[rows].astype(bool)))

    def save(self, folder) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "images.npy", self.images)
        np.save(folder / "targets.npy", self.targets)
        index = {"version": CACHE_VERSION, "info": self.info, "entries": [vars(e) for e in self.entries]}
        (folder / "index.json").write_text(json.dumps(index) + "\n")
        return folder

    @classmethod
    def load(cls, folder, memory_map: bool = True) -> "TrainingCache":
        folder = Path(folder)
        index = json.loads((folder / "index.json").read_text())
        if index.get("version") != CACHE_VERSION:
            raise ValueError(f"{folder} holds a training cache of another version; build it again.")
        mode = "r" if memory_map else None
        return cls(np.load(folder / "images.npy", mmap_mode=mode), np.load(folder / "targets.npy", mmap_mode=mode),
                   [CacheEntry(**e) for e in index["entries"]], index["info"])


def build_samples(volume: Volume, labels: np.ndarray, structures, card: dict, boxes_per_structure: int,
                  rng: np.random.Generator, subject: str, variant: str):
    """Yield (CacheEntry without position, image (k, j, i) float32, target uint8) per structure and box.

    The first box of each structure is its tight box, the others are jittered like a user's.
    """
    for structure in structures:
        for n in range(boxes_per_structure):
            box = tight_box(structure.bbox_ijk) if n == 0 else jittered_box(structure.bbox_ijk, rng)
            box = box.clipped(volume.shape)
            image, target, _ = make_sample(volume, labels, structure.value, box, card)
            entry = CacheEntry(0, int(image.shape[1]), subject, structure.name, variant, list(box.as_ijk()))
            yield entry, image[0].numpy().astype(np.float32), target.numpy().astype(np.uint8)


def bent_structures(structures, labels: np.ndarray, spacing_ijk) -> list:
    """The structures with voxels and boxes measured again on bent labels; any that shrank to a speck left out."""
    from .manifest import structure_stats
    from .prepare_data import MIN_VOXELS

    bent = []
    for structure in structures:
        voxels, ml, bbox = structure_stats(labels, structure.value, spacing_ijk)
        if voxels >= MIN_VOXELS:
            bent.append(replace(structure, voxels=voxels, volume_ml=ml, bbox_ijk=bbox))
    return bent


def assemble(parts, info: dict) -> TrainingCache:
    """Stack (entry, image, target) parts into one cache, filling in each entry's position."""
    entries, images, targets, start = [], [], [], 0
    for entry, image, target in parts:
        entry.start = start
        start += entry.depth
        entries.append(entry)
        images.append(image)
        targets.append(target)
    if not entries:
        raise ValueError("No training sample: the manifest has no training structure.")
    return TrainingCache(np.concatenate(images), np.concatenate(targets), entries, info)


def build_cache(manifest, card: dict, folder, boxes_per_structure: int = 4, variants: int = 3,
                boxes_per_variant: int = 2, seed: int = 0, log=print, deform_mm: float = 0.0) -> TrainingCache:
    """Cache every training structure of the manifest: real boxes, and boxes of `variants` synthesized images.

    With `deform_mm`, each synthesized image is drawn from the subject bent by its own smooth
    random field (synthesis.deform_volume), and its boxes from the bent labels. Synthesis
    seeds come from (seed, subject, variant), so a cache is rebuilt identically.
    """
    import time
    import zlib

    from .manifest import read_manifest
    from .synthesis import deform_volume, synthesize_volume

    cases, manifest_info = read_manifest(manifest)
    parts = []
    for case in cases:
        structures = [s for s in case.structures if s.role == "train"]
        if case.split != "train" or not structures:
            continue
        start = time.time()
        volume, labels = case.load()
        subject_key = zlib.crc32(case.subject.encode())
        rng = np.random.default_rng([seed, subject_key])
        parts += build_samples(volume, labels, structures, card, boxes_per_structure, rng, case.subject, "real")
        for n in range(variants):
            variant_seed = int(np.random.default_rng([seed, subject_key, n]).integers(1 << 31))
            source, source_labels, source_structures = volume, labels, structures
            if deform_mm > 0:
                source, source_labels = deform_volume(volume, labels, variant_seed + 1, deform_mm)
                source_structures = bent_structures(structures, source_labels, volume.spacing)
            synthetic = synthesize_volume(source, source_labels, seed=variant_seed)
            parts += build_samples(synthetic, source_labels, source_structures, card, boxes_per_variant, rng,
                                   case.subject, f"synth{n}")
        log(f"cache: {case.case_id}, {len(structures)} structures ({time.time() - start:.0f} s)")
    info = {"manifest": str(manifest), "grid_shape": card["input"]["grid_shape"], "seed": seed,
            "boxes_per_structure": boxes_per_structure, "variants": variants, "boxes_per_variant": boxes_per_variant,
            "deform_mm": deform_mm,
            "unseen_classes": manifest_info.get("unseen_classes", [])}
    cache = assemble(parts, info)
    cache.save(folder)
    return cache
