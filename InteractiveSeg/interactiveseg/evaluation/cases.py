"""What to evaluate: one image with its labelmap, or the held-out part of a training manifest.

Held-out means a structure the model never saw on that image: classes of the validation
subjects ("seen": the class was trained on other subjects) and the classes kept out of
training altogether ("unseen", on any subject). The held-out cases are split once more:
defaults are chosen on the development subjects and results are reported on the rest,
so the reported figures are not tuned on.
"""
from __future__ import annotations

import zlib

import numpy as np
import SimpleITK as sitk

from ..errors import InputError
from ..image_io import read_volume
from .runner import Task

DEVELOPMENT_SUBJECTS = ("slicerio-chest", "ts-mr")  # one CT (seen classes) and one MR (unseen classes)
SUBSETS = ("development", "report", "all")
# Lesions for the rounds are drawn from a stream of their own: neither training nor the
# checkpoint's validation set (training.validation.LESION_SEED) ever draws from it.
ROUND_LESION_SEED = 880_001


def image_tasks(image, label, structures=None, role: str = "seen", modality: str = "auto") -> list:
    volume = read_volume(image, modality=modality)
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(label)))
    if labels.shape != volume.shape:
        raise InputError(f"The labelmap {label} has shape {labels.shape} but the image has {volume.shape} (k, j, i).")
    values = structures or [int(v) for v in np.unique(labels) if v != 0]
    tasks = []
    for value in values:
        reference = labels == value
        if not reference.any():
            raise InputError(f"Label {value} does not occur in {label}.")
        tasks.append(Task(str(image), str(value), int(value), role, volume, reference))
    return tasks


def manifest_tasks(path, subset: str = "report", limit_per_case: int | None = None,
                   names=None, min_voxels: int = 0) -> list:
    tasks = []
    for case in _subset_cases(path, subset):
        chosen = [s for s in case.structures if held_out_role(case, s) and s.voxels >= min_voxels
                  and (not names or s.name in names)]
        if limit_per_case is not None:  # 0: no structures (lesions only)
            chosen = _spread(chosen, limit_per_case)
        if not chosen:
            continue
        volume, labels = case.load()
        for structure in chosen:
            tasks.append(Task(case.case_id, structure.name, structure.value, held_out_role(case, structure),
                              volume, labels == structure.value))
    return tasks


def lesion_tasks(path, subset: str = "report", per_case: int = 0, seed: int = ROUND_LESION_SEED) -> list:
    """`per_case` synthetic lesions pasted into each image of the subset, role "lesion".

    No source labels a lesion, yet lesions are what users segment most; these procedural
    objects (random size, shape, contrast sign and strength, texture) stand in for them.
    Each image has its own stream, so a case's lesions do not depend on the other cases.
    """
    from ..training.validation import paste_lesion

    tasks = []
    for case in _subset_cases(path, subset) if per_case > 0 else []:
        volume, _ = case.load()
        rng = np.random.default_rng([seed, zlib.crc32(case.case_id.encode())])  # stable across runs, unlike hash()
        for n in range(per_case):
            changed, mask = paste_lesion(volume, rng)
            tasks.append(Task(f"{case.case_id}/lesion{n}", f"lesion{n}", 1, "lesion", changed, mask))
    return tasks


def _subset_cases(path, subset: str) -> list:
    from ..training.manifest import read_manifest

    if subset not in SUBSETS:
        raise InputError(f"subset must be one of {', '.join(SUBSETS)}, got {subset!r}.")
    cases, _ = read_manifest(path)
    return [case for case in cases
            if subset == "all" or (subset == "development") == (case.subject in DEVELOPMENT_SUBJECTS)]


def held_out_role(case, structure) -> str | None:
    if structure.role == "unseen":
        return "unseen"
    if case.split == "val" and structure.role == "val":
        return "seen"
    return None


def _spread(structures: list, limit: int) -> list:
    """Up to `limit` structures, every size class represented: evenly spaced in sorted size."""
    if len(structures) <= limit:
        return structures
    ordered = sorted(structures, key=lambda s: s.voxels)
    picks = np.linspace(0, len(ordered) - 1, limit).round().astype(int)
    return [ordered[i] for i in sorted(set(picks))]
