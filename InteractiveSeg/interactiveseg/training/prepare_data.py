"""Build the training cache: images, integer labelmaps and manifest.json from the offline sources.

Validation holds out whole subjects; a few structure classes are held out everywhere
(never a training target, in any subject) to measure how the model does on classes it
never saw.
"""
from __future__ import annotations

import time
from pathlib import Path

import SimpleITK as sitk

from .manifest import Case, Structure, structure_stats, write_manifest
from .sources import MRICRON_TEMPLATES, all_sources
from .user_data import user_dataset

DEFAULT_CACHE = Path("~/.cache/interactiveseg/data").expanduser()
VALIDATION_SUBJECTS = ("slicerio-chest", "ts-dicom")
UNSEEN_CLASSES = ("spleen", "kidney_left", "kidney_right", "urinary_bladder",
                  "aal_hippocampus_l", "aal_hippocampus_r", "aal_thalamus_l", "aal_thalamus_r")
MIN_VOXELS = 20  # smaller labels are specks a box cannot sensibly frame


def prepare(folder=DEFAULT_CACHE, totalsegmentator_root=None, validation_subjects=VALIDATION_SUBJECTS,
            unseen_classes=UNSEEN_CLASSES, templates=MRICRON_TEMPLATES, log=print, datasets=(),
            builtin: bool = True, validation_share: float = 0.2) -> Path:
    """Write the cache. `datasets`: a researcher's own folders (user_data.py); every
    1/validation_share-th of their cases, in name order, is held out for validation.
    `builtin=False` leaves out the packaged sources."""
    folder = Path(folder).expanduser().resolve()
    _refuse_git_folder(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "labels").mkdir(parents=True, exist_ok=True)
    own = [case for dataset in datasets for case in user_dataset(dataset)]
    if own and validation_share > 0:
        every = max(2, round(1 / validation_share))
        validation_subjects = tuple(validation_subjects) + tuple(
            c.subject for n, c in enumerate(sorted(own, key=lambda c: c.case_id)) if n % every == every - 1)
    sources = list(all_sources(totalsegmentator_root, Path(templates))) if builtin else []
    cases = []
    for source in sources + own:
        start = time.time()
        split = "val" if source.subject in validation_subjects else "train"
        image_path = folder / "images" / f"{source.case_id}.nii.gz"
        label_path = folder / "labels" / f"{source.case_id}.nii.gz"
        sitk.WriteImage(source.image, str(image_path), True)
        label_image = sitk.GetImageFromArray(source.labels.astype("uint16"))
        label_image.CopyInformation(source.image)
        sitk.WriteImage(label_image, str(label_path), True)
        structures = []
        for value, name in sorted(source.names.items()):
            voxels, ml, bbox = structure_stats(source.labels, value, source.image.GetSpacing())
            if voxels < MIN_VOXELS:
                continue
            role = "unseen" if name in unseen_classes else split
            structures.append(Structure(value, name, voxels, round(ml, 3), bbox, role))
        cases.append(Case(source.case_id, source.subject, source.source, source.modality,
                          image_path, label_path, split, structures))
        log(f"{source.case_id}: {source.modality}, {len(structures)} structures, {split} ({time.time() - start:.1f} s)")
    if not cases:
        raise FileNotFoundError("No source found: install slicerio, mricron-data, pass --totalsegmentator, "
                                "or give --dataset.")
    info = {"validation_subjects": list(validation_subjects), "unseen_classes": list(unseen_classes),
            "min_voxels": MIN_VOXELS}
    return write_manifest(folder, cases, info)


def _refuse_git_folder(folder: Path) -> None:
    """Images must never land in a repository, where a careless `git add` would commit them."""
    for parent in [folder, *folder.parents]:
        if (parent / ".git").exists():
            raise ValueError(f"{folder} is inside the git repository {parent}: choose a cache folder outside it.")
