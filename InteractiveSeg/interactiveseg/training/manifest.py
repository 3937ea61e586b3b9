"""The training-set manifest: which images, which labels, which subjects, which split.

manifest.json sits in the cache folder beside images/ and labels/; paths in it are
relative to that folder so the cache can move. Each case is one subject's image with
an integer labelmap; each structure records its label value, size and bounding box so
that sampling never scans a labelmap again.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..image_io import read_volume

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


@dataclass
class Structure:
    value: int
    name: str
    voxels: int
    volume_ml: float
    bbox_ijk: list  # inclusive I0 J0 K0 I1 J1 K1
    role: str  # "train", "val" (held-out subject) or "unseen" (class never trained on)


@dataclass
class Case:
    case_id: str
    subject: str
    source: str
    modality: str
    image: Path
    label: Path
    split: str  # "train" or "val"
    structures: list

    def load(self) -> tuple:
        """(Volume, labels (k, j, i) array) with the modality the manifest states."""
        volume = read_volume(self.image, modality=self.modality)
        labels = sitk.GetArrayFromImage(sitk.ReadImage(str(self.label)))
        return volume, labels


def structure_stats(labels: np.ndarray, value: int, spacing_ijk) -> tuple:
    """Voxel count, volume in ml and inclusive IJK bounding box of one label value."""
    mask = labels == value
    count = int(mask.sum())
    if count == 0:
        return 0, 0.0, None
    extents = []
    for axis in (2, 1, 0):  # i, j, k
        other = tuple(a for a in range(3) if a != axis)
        hit = np.nonzero(mask.any(axis=other))[0]
        extents.append((int(hit[0]), int(hit[-1])))
    bbox = [e[0] for e in extents] + [e[1] for e in extents]
    return count, count * float(np.prod(spacing_ijk)) / 1000.0, bbox


def write_manifest(folder: Path, cases: list, info: dict) -> Path:
    path = Path(folder) / MANIFEST_NAME
    path.write_text(manifest_text(folder, cases, info))
    return path


def manifest_text(folder: Path, cases: list, info: dict) -> str:
    entries = []
    for case in cases:
        entries.append({
            "id": case.case_id, "subject": case.subject, "source": case.source, "modality": case.modality,
            "image": str(Path(case.image).relative_to(folder)), "label": str(Path(case.label).relative_to(folder)),
            "split": case.split,
            "structures": [vars(s) for s in case.structures],
        })
    return json.dumps(dict(info, version=MANIFEST_VERSION, cases=entries), indent=1) + "\n"


def read_manifest(path) -> tuple:
    """(cases, info) from a manifest file or the folder holding it."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    data = json.loads(path.read_text())
    folder = path.parent
    cases = [Case(e["id"], e["subject"], e["source"], e["modality"], folder / e["image"], folder / e["label"],
                  e["split"], [Structure(**s) for s in e["structures"]]) for e in data["cases"]]
    info = {k: v for k, v in data.items() if k != "cases"}
    return cases, info
