"""Build the training cache: images, integer labelmaps and manifest.json from the offline sources.

Validation holds out whole subjects; a few structure classes are held out everywhere
(never a training target, in any subject) to measure how the model does on classes it
never saw.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import SimpleITK as sitk

from ..errors import InputError
from ..image_io import atomic_write
from .manifest import MANIFEST_NAME, Case, Structure, manifest_text, structure_stats
from .sources import MRICRON_TEMPLATES, all_sources
from .user_data import user_dataset

DEFAULT_CACHE = Path("~/.cache/interactiveseg/data").expanduser()
VALIDATION_SUBJECTS = ("slicerio-chest", "ts-dicom")
# Held out of training in the packaged sources only: a researcher's own "spleen" is theirs to train on.
UNSEEN_CLASSES = ("spleen", "kidney_left", "kidney_right", "urinary_bladder",
                  "aal_hippocampus_l", "aal_hippocampus_r", "aal_thalamus_l", "aal_thalamus_r")
MIN_VOXELS = 20  # smaller labels are specks a box cannot sensibly frame


def prepare(folder=DEFAULT_CACHE, totalsegmentator_root=None, validation_subjects=VALIDATION_SUBJECTS,
            unseen_classes=UNSEEN_CLASSES, templates=MRICRON_TEMPLATES, log=print, datasets=(),
            builtin: bool = True, validation_share: float = 0.2) -> Path:
    """Write the cache. `datasets`: a researcher's own folders (user_data.py); in each, every
    1/validation_share-th case in name order is held out for validation, and at least one case of a
    dataset of two or more. `builtin=False` leaves out the packaged sources.

    Files are written to a folder of their own and moved into place, and the manifest last, once
    every case was read: a case that cannot be read leaves the cache as it was."""
    if not 0 <= validation_share < 1:
        raise InputError(f"The validation share is a fraction of each dataset's cases, from 0 to below 1: "
                         f"got {validation_share}.")
    folder = Path(folder).expanduser().resolve()
    _refuse_git_folder(folder)
    own = [user_dataset(dataset) for dataset in datasets]  # listed, not read: a bad folder fails before any work
    ids = [case.case_id for cases in own for case in cases]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise InputError(f"Two cases are named {twice[0]}: rename a dataset folder or a file.")
    held_out = set().union(*(_validation_cases(cases, validation_share) for cases in own))
    folder.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".partial-", dir=folder))
    try:
        cases = []
        for source, packaged in _every_case(own, builtin, totalsegmentator_root, templates):
            start = time.time()
            if source.case_id in {c.case_id for c in cases}:
                raise InputError(f"Two cases are named {source.case_id}: rename a dataset folder or a file.")
            validation = source.subject in validation_subjects if packaged else source.case_id in held_out
            split = "val" if validation else "train"
            cases.append(_write_case(source, split, unseen_classes if packaged else (), folder, stage))
            log(f"{source.case_id}: {source.modality}, {len(cases[-1].structures)} structures, {split} "
                f"({time.time() - start:.1f} s)")
        if not cases:
            raise InputError("No source found: install slicerio, mricron-data, pass --totalsegmentator, "
                             "or give --dataset.")
        for kind in ("images", "labels"):
            (folder / kind).mkdir(exist_ok=True)
            for staged in (stage / kind).iterdir():
                os.replace(staged, folder / kind / staged.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    info = {"validation_subjects": sorted(set(validation_subjects) | held_out),
            "unseen_classes": list(unseen_classes) if builtin else [], "min_voxels": MIN_VOXELS}
    path = folder / MANIFEST_NAME
    text = manifest_text(folder, cases, info)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    return path


def _every_case(own: list, builtin: bool, totalsegmentator_root, templates):
    """(SourceCase, packaged or not), each read only when its turn comes."""
    if builtin:
        for source in all_sources(totalsegmentator_root, Path(templates)):
            yield source, True
    for cases in own:
        for pending in cases:
            yield pending.load(), False


def _validation_cases(cases: list, share: float) -> set:
    """The ids a dataset holds out: every 1/share-th in name order, and one at least when it has two or more."""
    ids = sorted(case.case_id for case in cases)
    if share <= 0 or len(ids) < 2:
        return set()
    every = max(2, round(1 / share))
    return {ids[n] for n in range(len(ids)) if n % every == every - 1} or {ids[-1]}


def _write_case(source, split: str, unseen_classes, folder: Path, stage: Path) -> Case:
    for kind in ("images", "labels"):
        (stage / kind).mkdir(exist_ok=True)
    name = f"{source.case_id}.nii.gz"
    sitk.WriteImage(source.image, str(stage / "images" / name), True)
    label_image = sitk.GetImageFromArray(source.labels.astype("uint16"))
    label_image.CopyInformation(source.image)
    sitk.WriteImage(label_image, str(stage / "labels" / name), True)
    structures = []
    for value, structure in sorted(source.names.items()):
        voxels, ml, bbox = structure_stats(source.labels, value, source.image.GetSpacing())
        if voxels < MIN_VOXELS:
            continue
        role = "unseen" if structure in unseen_classes else split
        structures.append(Structure(value, structure, voxels, round(ml, 3), bbox, role))
    return Case(source.case_id, source.subject, source.source, source.modality,
                folder / "images" / name, folder / "labels" / name, split, structures)


def _refuse_git_folder(folder: Path) -> None:
    """Images must never land in a repository, where a careless `git add` would commit them."""
    for parent in [folder, *folder.parents]:
        if (parent / ".git").exists():
            raise ValueError(f"{folder} is inside the git repository {parent}: choose a cache folder outside it.")
