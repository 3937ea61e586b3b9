"""Readers for the labelled images that install offline (see DATA-SOURCES.md).

Each reader yields `SourceCase`s: one image with an integer labelmap on the image's own
grid and the name of every label value. Readers return nothing when their source is not
installed, so a cache can be built from whichever sources a machine has.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

MRICRON_TEMPLATES = Path("/usr/share/mricron/templates")


@dataclass
class SourceCase:
    case_id: str
    subject: str  # cases of one subject always fall on the same side of a split
    source: str
    modality: str  # "CT" or "MR"
    image: sitk.Image
    labels: np.ndarray  # (k, j, i) integers on the image grid
    names: dict  # {label value: structure name}


def structure_name(text: str) -> str:
    """One spelling for all sources: lower case, words joined by underscores ("right lung" -> "right_lung")."""
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")


def slicerio_chest():
    """slicerio's chest CT and its Slicer segmentation (7 segments)."""
    try:
        import slicerio
    except ImportError:
        return
    image = sitk.ReadImage(slicerio.get_testdata_file("CTChest4.nrrd"))
    segmentation = slicerio.read_segmentation(slicerio.get_testdata_file("Segmentation.seg.nrrd"))
    voxels = np.asarray(segmentation["voxels"])  # (i, j, k), on the image grid from extent offset 0
    offset = [int(v) for v in np.ravel(segmentation.get("referenceImageExtentOffset", [0, 0, 0]))]  # (i, j, k)
    labels = np.zeros(sitk.GetArrayFromImage(image).shape, dtype=np.uint16)
    placed = voxels.transpose(2, 1, 0)
    k0, j0, i0 = offset[2], offset[1], offset[0]
    labels[k0:k0 + placed.shape[0], j0:j0 + placed.shape[1], i0:i0 + placed.shape[2]] = placed
    names = {int(s["labelValue"]): structure_name(s["name"]) for s in segmentation["segments"]}
    yield SourceCase("slicerio-chest", "slicerio-chest", "slicerio 1.4.0 test data", "CT", image, labels, names)


def totalsegmentator_class_map(root: Path) -> dict:
    """The class names of the source archive, read as data (the module is never imported)."""
    tree = ast.parse((root / "totalsegmentator" / "map_to_binary.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "class_map":
            return ast.literal_eval(node.value)
    raise ValueError(f"No class_map in {root}/totalsegmentator/map_to_binary.py")


def totalsegmentator(root):
    """The test images of the TotalSegmentator source archive, with their (model-made) labels.

    example_ct_sm is a part of example_ct (same patient), so only example_ct is used. The
    aorta_report/ and pulmonary_report/ folders are reserved for outside evaluation and never read.
    """
    if root is None:
        return
    root = Path(root)
    files = root / "tests" / "reference_files"
    if not files.is_dir():
        raise FileNotFoundError(f"{files} not found: give the unpacked totalsegmentator-2.18.0 source folder.")
    class_map = totalsegmentator_class_map(root)
    source = "totalsegmentator 2.18.0 source archive, tests/reference_files"

    def case(case_id, modality, image, seg_path, task, flip_j=False):
        labels = sitk.GetArrayFromImage(sitk.ReadImage(str(files / seg_path))).astype(np.uint16)
        if flip_j:  # this labelmap's j axis runs opposite to the DICOM series'
            labels = labels[:, ::-1, :].copy()
        present = [int(v) for v in np.unique(labels) if v]
        names = {v: structure_name(class_map[task][v]) for v in present}
        return SourceCase(case_id, case_id, source, modality, image, labels, names)

    yield case("ts-ct", "CT", sitk.ReadImage(str(files / "example_ct.nii.gz")),
               "example_seg_fast_force_split.nii.gz", "total")
    yield case("ts-mr", "MR", sitk.ReadImage(str(files / "example_mr_sm.nii.gz")),
               "example_seg_mr.nii.gz", "total_mr")
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(files / "example_ct_dicom")))
    yield case("ts-dicom", "CT", reader.Execute(), "example_seg_dicom.nii.gz", "total", flip_j=True)


def colin27(templates: Path = MRICRON_TEMPLATES):
    """Colin27 T1 MR (one real subject, 1 mm) with the AAL atlas's 116 regions on the same grid."""
    image_path, atlas_path, names_path = (templates / n for n in ("ch2.nii.gz", "aal.nii.gz", "aal.nii.txt"))
    if not all(p.is_file() for p in (image_path, atlas_path, names_path)):
        return
    names = {}
    for line in names_path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].isdigit():
            names[int(parts[0])] = "aal_" + structure_name(parts[1])
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(atlas_path))).astype(np.uint16)
    present = {int(v) for v in np.unique(labels) if v}
    yield SourceCase("colin27", "colin27", "Debian mricron-data (Colin27 ch2 + AAL)", "MR",
                     sitk.ReadImage(str(image_path)), labels, {v: n for v, n in names.items() if v in present})


def all_sources(totalsegmentator_root=None, templates: Path = MRICRON_TEMPLATES):
    yield from slicerio_chest()
    yield from totalsegmentator(totalsegmentator_root)
    yield from colin27(templates)
