"""Readers for a researcher's own labelled data, for `prepare-data --dataset DIR`.

Three layouts are recognised, by what the folder holds:
- an nnU-Net v2 raw dataset: `dataset.json`, `imagesTr/CASE_0000.EXT`, `labelsTr/CASE.EXT`
  (the first channel is used; `channel_names["0"]` "CT" means CT, anything else MR; the
  voxels of an "ignore" label are unannotated, so they are no structure);
- a plain folder of pairs: `images/NAME.EXT` with `labels/NAME.EXT` (integer labelmaps),
  label names optionally in `labels.json` ({"1": "liver", ...});
- Slicer segmentations: `NAME.seg.nrrd` beside its image `NAME.nrrd` or `NAME.nii.gz`.
  Segments are flattened into one labelmap in their file order, so where segments
  overlap the later one wins.
A labelmap on another grid than its image (a crop, another resolution) is resampled onto
the image's by nearest neighbour; one of the image's size whose header disagrees with
the image's is refused, as its header was most likely lost. 2D images are one-slice
volumes. Each case is its own subject.

A dataset is listed first (`PendingCase`: its id and how to read it) and each case is
read only when it is written, so a large dataset never sits in memory at once.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import SimpleITK as sitk

from ..errors import InputError
from ..normalization import guess_modality
from .sources import SourceCase, structure_name

IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha")


@dataclass(frozen=True)
class PendingCase:
    case_id: str
    load: Callable[[], SourceCase]


def user_dataset(folder) -> list:
    """The cases of one folder, in whichever of the three layouts it has, in name order."""
    folder = Path(folder).expanduser().resolve()
    if (folder / "dataset.json").is_file() and (folder / "labelsTr").is_dir():
        cases = nnunet_dataset(folder)
    elif (folder / "images").is_dir() and (folder / "labels").is_dir():
        cases = pair_folder(folder)
    elif any(folder.glob("*.seg.nrrd")):
        cases = slicer_segmentations(folder)
    else:
        raise InputError(f"{folder} is not a dataset: expected an nnU-Net folder (dataset.json, imagesTr/, "
                         "labelsTr/), images/ with labels/, or .seg.nrrd files beside their images.")
    if not cases:
        raise InputError(f"{folder} holds no labelled case.")
    return cases


def nnunet_dataset(folder: Path) -> list:
    info = _read_json(folder / "dataset.json")
    ending = info.get("file_ending", ".nii.gz")
    names, ignore = {}, None
    for name, value in info.get("labels", {}).items():
        if not isinstance(value, int) or isinstance(value, bool) or not value:
            continue  # background, and region-based entries (lists), which have no single value
        if name.strip().lower() == "ignore":
            ignore = value
        else:
            names[value] = structure_name(name)
    channel = str(info.get("channel_names", info.get("modality", {})).get("0", "")).strip().upper()
    modality = "CT" if channel == "CT" else "MR"
    cases = []
    for label_path in sorted((folder / "labelsTr").glob(f"*{ending}")):
        case = label_path.name[: -len(ending)]
        image_path = folder / "imagesTr" / f"{case}_0000{ending}"
        if not image_path.is_file():
            raise InputError(f"{label_path} has no image {image_path}.")
        cases.append(PendingCase(f"{folder.name}-{case}", partial(
            _load_pair, f"{folder.name}-{case}", f"nnU-Net dataset {folder.name}", image_path, label_path, names,
            modality, ignore)))
    return cases


def pair_folder(folder: Path) -> list:
    names_file = folder / "labels.json"
    names = {}
    if names_file.is_file():
        try:
            names = {int(k): structure_name(v) for k, v in _read_json(names_file).items()}
        except (ValueError, TypeError, AttributeError):
            raise InputError(f"{names_file} must map label values to names, e.g. {{\"1\": \"liver\"}}.") from None
    cases = []
    for image_path in sorted(p for p in (folder / "images").iterdir() if p.name.endswith(IMAGE_SUFFIXES)):
        label_path = folder / "labels" / image_path.name
        if not label_path.is_file():
            raise InputError(f"{image_path} has no labelmap {label_path}.")
        case_id = f"{folder.name}-{_stem(image_path)}"
        cases.append(PendingCase(case_id, partial(_load_pair, case_id, f"image/label folder {folder.name}",
                                                  image_path, label_path, names, None, None)))
    return cases


def slicer_segmentations(folder: Path) -> list:
    cases = []
    for seg_path in sorted(folder.glob("*.seg.nrrd")):
        stem = _stem(seg_path)
        candidates = [folder / f"{stem}{suffix}" for suffix in IMAGE_SUFFIXES if (folder / f"{stem}{suffix}").is_file()]
        if not candidates:
            raise InputError(f"{seg_path} has no image beside it ({stem}.nrrd or {stem}.nii.gz).")
        case_id = f"{folder.name}-{stem}"
        cases.append(PendingCase(case_id, partial(_load_segmentation, case_id, f"Slicer segmentations {folder.name}",
                                                  candidates[0], seg_path)))
    return cases


def _load_pair(case_id, source, image_path, label_path, names, modality, ignore) -> SourceCase:
    image = _read_image(image_path)
    labels = _on_image_grid(_read_image(label_path), image, label_path)
    if ignore is not None:
        labels[labels == ignore] = 0  # unannotated: not a structure
    return _case(case_id, source, image, labels, names, modality)


def _load_segmentation(case_id, source, image_path, seg_path) -> SourceCase:
    import slicerio

    image = _read_image(image_path)
    try:
        segmentation = slicerio.read_segmentation(str(seg_path))
    except Exception as error:  # noqa: BLE001 - any reader failure is the file's, said with its name
        raise InputError(f"Cannot read {seg_path}: {error}") from None
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
    return _case(case_id, source, image, _on_image_grid(labels, image, seg_path, resample_same_size=True), names)


def _read_image(path: Path) -> sitk.Image:
    """A 3D image; a 2D one becomes one slice."""
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        raise InputError(f"Cannot read {path}: {lines[-1] if lines else error}") from None
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"{path} has {image.GetNumberOfComponentsPerPixel()} components per voxel: "
                         "give one channel.")
    if image.GetDimension() == 2:
        image = sitk.JoinSeries(image)
    if image.GetDimension() != 3:
        raise InputError(f"{path} is {image.GetDimension()}D: give a 2D or 3D image.")
    return image


def _on_image_grid(labels: sitk.Image, image: sitk.Image, label_path: Path,
                   resample_same_size: bool = False) -> np.ndarray:
    same_size = labels.GetSize() == image.GetSize()
    same = (same_size and np.allclose(labels.GetSpacing(), image.GetSpacing(), atol=1e-4)
            and np.allclose(labels.GetOrigin(), image.GetOrigin(), atol=1e-3)
            and np.allclose(labels.GetDirection(), image.GetDirection(), atol=1e-4))
    if not same:
        if same_size and not resample_same_size:
            raise InputError(f"{label_path} has its image's size but not its spacing, origin or direction: its "
                             "header was probably lost when it was saved. Copy the image's header to it.")
        labels = sitk.Resample(labels, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    values = sitk.GetArrayFromImage(labels)
    if values.dtype.kind == "f" and not np.array_equal(values, np.round(values)):
        raise InputError(f"{label_path} holds fractional values: a labelmap holds whole label values.")
    if values.size and (values.min() < 0 or values.max() > np.iinfo(np.uint16).max):
        raise InputError(f"{label_path} holds label values outside 0-65535.")
    return values.astype(np.uint16)


def _case(case_id: str, source: str, image: sitk.Image, labels: np.ndarray, names: dict, modality=None):
    if modality is None:
        modality = guess_modality(sitk.GetArrayViewFromImage(image))
    present = {int(v) for v in np.unique(labels) if v}
    names = {v: names.get(v, f"label_{v}") for v in sorted(present)}
    return SourceCase(case_id, case_id, source, modality, image, labels, names)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise InputError(f"Cannot read {path}: {error}") from None


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".seg.nrrd",) + IMAGE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem
