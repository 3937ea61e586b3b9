"""Readers for a researcher's own labelled data, for `prepare-data --dataset DIR`.

Three layouts are recognised, by what the folder holds:
- an nnU-Net v2 raw dataset: `dataset.json`, `imagesTr/CASE_0000.EXT`, `labelsTr/CASE.EXT`
  (the first channel is used; `channel_names["0"]` "CT" means CT, anything else MR);
- a plain folder of pairs: `images/NAME.EXT` with `labels/NAME.EXT` (integer labelmaps),
  label names optionally in `labels.json` ({"1": "liver", ...});
- Slicer segmentations: `NAME.seg.nrrd` beside its image `NAME.nrrd` or `NAME.nii.gz`.
  Segments are flattened into one labelmap in their file order, so where segments
  overlap the later one wins.
Labels are resampled onto the image grid by nearest neighbour when their geometry differs.
Each case is its own subject.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..normalization import guess_modality
from .sources import SourceCase, structure_name

IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha")


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".seg.nrrd",) + IMAGE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _on_image_grid(labels: sitk.Image, image: sitk.Image) -> np.ndarray:
    same = (labels.GetSize() == image.GetSize()
            and np.allclose(labels.GetSpacing(), image.GetSpacing(), atol=1e-4)
            and np.allclose(labels.GetOrigin(), image.GetOrigin(), atol=1e-3)
            and np.allclose(labels.GetDirection(), image.GetDirection(), atol=1e-4))
    if not same:
        labels = sitk.Resample(labels, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    return sitk.GetArrayFromImage(labels).astype(np.uint16)


def _case(case_id: str, source: str, image: sitk.Image, labels: np.ndarray, names: dict, modality=None):
    if modality is None:
        modality = guess_modality(sitk.GetArrayViewFromImage(image))
    present = {int(v) for v in np.unique(labels) if v}
    names = {v: names.get(v, f"label_{v}") for v in sorted(present)}
    return SourceCase(case_id, case_id, source, modality, image, labels, names)


def nnunet_dataset(folder: Path):
    info = json.loads((folder / "dataset.json").read_text())
    ending = info.get("file_ending", ".nii.gz")
    names = {}
    for name, value in info.get("labels", {}).items():
        if isinstance(value, int) and value:  # region-based entries (lists) have no single value
            names[value] = structure_name(name)
    channel = str(info.get("channel_names", info.get("modality", {})).get("0", "")).upper()
    modality = "CT" if channel == "CT" else "MR"
    for label_path in sorted((folder / "labelsTr").glob(f"*{ending}")):
        case = label_path.name[: -len(ending)]
        image_path = folder / "imagesTr" / f"{case}_0000{ending}"
        if not image_path.is_file():
            raise FileNotFoundError(f"{label_path} has no image {image_path}.")
        image = sitk.ReadImage(str(image_path))
        labels = _on_image_grid(sitk.ReadImage(str(label_path)), image)
        yield _case(f"{folder.name}-{case}", f"nnU-Net dataset {folder.name}", image, labels, names, modality)


def pair_folder(folder: Path):
    names_file = folder / "labels.json"
    names = ({int(k): structure_name(v) for k, v in json.loads(names_file.read_text()).items()}
             if names_file.is_file() else {})
    for image_path in sorted(p for p in (folder / "images").iterdir() if p.name.endswith(IMAGE_SUFFIXES)):
        label_path = folder / "labels" / image_path.name
        if not label_path.is_file():
            raise FileNotFoundError(f"{image_path} has no labelmap {label_path}.")
        image = sitk.ReadImage(str(image_path))
        labels = _on_image_grid(sitk.ReadImage(str(label_path)), image)
        yield _case(f"{folder.name}-{_stem(image_path)}", f"image/label folder {folder.name}", image, labels, names)


def slicer_segmentations(folder: Path):
    import slicerio

    for seg_path in sorted(folder.glob("*.seg.nrrd")):
        stem = _stem(seg_path)
        candidates = [folder / f"{stem}{suffix}" for suffix in IMAGE_SUFFIXES if (folder / f"{stem}{suffix}").is_file()]
        if not candidates:
            raise FileNotFoundError(f"{seg_path} has no image beside it ({stem}.nrrd or {stem}.nii.gz).")
        image = sitk.ReadImage(str(candidates[0]))
        segmentation = slicerio.read_segmentation(str(seg_path))
        flat = np.zeros(segmentation["voxels"].shape[-3:], dtype=np.uint16)  # (i, j, k)
        names = {}
        for value, segment in enumerate(segmentation["segments"], start=1):
            flat[slicerio.segment_mask(segmentation, segment)] = value
            names[value] = structure_name(segment.get("name", f"segment_{value}"))
        labels = sitk.GetImageFromArray(flat.transpose(2, 1, 0).copy())
        ijk_to_lps = np.asarray(segmentation["ijkToLPS"], dtype=float)
        spacing = np.linalg.norm(ijk_to_lps[:3, :3], axis=0)
        labels.SetSpacing(tuple(spacing))
        labels.SetOrigin(tuple(ijk_to_lps[:3, 3]))
        labels.SetDirection(tuple((ijk_to_lps[:3, :3] / spacing).ravel()))
        yield _case(f"{folder.name}-{stem}", f"Slicer segmentations {folder.name}", image,
                    _on_image_grid(labels, image), names)


def user_dataset(folder):
    """The cases of one folder, in whichever of the three layouts it has."""
    folder = Path(folder).expanduser().resolve()
    if (folder / "dataset.json").is_file() and (folder / "labelsTr").is_dir():
        yield from nnunet_dataset(folder)
    elif (folder / "images").is_dir() and (folder / "labels").is_dir():
        yield from pair_folder(folder)
    elif any(folder.glob("*.seg.nrrd")):
        yield from slicer_segmentations(folder)
    else:
        raise FileNotFoundError(f"{folder} is not a dataset: expected an nnU-Net folder (dataset.json, imagesTr/, "
                                "labelsTr/), images/ with labels/, or .seg.nrrd files beside their images.")
