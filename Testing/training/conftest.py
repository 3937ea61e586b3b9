"""A tiny labelled training set made on the fly: two subjects, CT-like and MR-like, two blobs each."""
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from interactiveseg.training.manifest import Case, Structure, structure_stats, write_manifest


def blob_image(seed: int, modality: str):
    rng = np.random.default_rng(seed)
    shape = (16, 40, 40)
    k, j, i = np.mgrid[:shape[0], :shape[1], :shape[2]]
    labels = np.zeros(shape, np.uint16)
    labels[((k - 8) / 5) ** 2 + ((j - 12) / 7) ** 2 + ((i - 12) / 7) ** 2 < 1] = 1
    labels[((k - 8) / 4) ** 2 + ((j - 27) / 6) ** 2 + ((i - 27) / 8) ** 2 < 1] = 2
    if modality == "CT":
        image = rng.normal(-50, 20, shape) + 120 * (labels == 1) + 250 * (labels == 2)
        image[:, :, :3] = -1000  # air, so the image reads as CT
    else:
        image = rng.normal(200, 15, shape) + 150 * (labels == 1) - 80 * (labels == 2)
    return image.astype(np.int16), labels


@pytest.fixture(scope="session")
def tiny_manifest(tmp_path_factory) -> Path:
    return write_blob_manifest(tmp_path_factory.mktemp("tiny-data"),
                               [("a", "CT", "train"), ("b", "MR", "train"), ("c", "CT", "val")])


@pytest.fixture(scope="session")
def other_manifest(tmp_path_factory) -> Path:
    """Other training data: two subjects of other names."""
    return write_blob_manifest(tmp_path_factory.mktemp("other-data"), [("x", "CT", "train"), ("y", "CT", "val")])


@pytest.fixture(scope="session")
def split_manifest(tmp_path_factory) -> Path:
    """One development subject and one report subject, both held out."""
    from interactiveseg.evaluation.cases import DEVELOPMENT_SUBJECTS
    return write_blob_manifest(tmp_path_factory.mktemp("split-data"),
                               [(DEVELOPMENT_SUBJECTS[1], "MR", "val"), ("report-subject", "MR", "val")])


def write_blob_manifest(folder: Path, subjects) -> Path:
    """A manifest of blob images, one per (subject, modality, split), with the structures "round" and "oval"."""
    (folder / "images").mkdir()
    (folder / "labels").mkdir()
    cases = []
    for n, (subject, modality, split) in enumerate(subjects):
        image, labels = blob_image(n, modality)
        paths = []
        for kind, array in (("images", image), ("labels", labels)):
            item = sitk.GetImageFromArray(array)
            item.SetSpacing((2.0, 2.0, 3.0))
            paths.append(folder / kind / f"{subject}.nii.gz")
            sitk.WriteImage(item, str(paths[-1]))
        structures = []
        for value, name in ((1, "round"), (2, "oval")):
            count, ml, bbox = structure_stats(labels, value, (2.0, 2.0, 3.0))
            structures.append(Structure(value, name, count, ml, bbox, split))
        cases.append(Case(subject, subject, "synthetic", modality, paths[0], paths[1], split, structures))
    return write_manifest(folder, cases, {"unseen_classes": []})
