"""Read images and write labelmaps and Slicer segmentations with SimpleITK.

Writes are atomic: the file appears complete or not at all, so a failure never
leaves a partial output behind.
"""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .errors import InputError
from .volume import Volume

log = logging.getLogger(__name__)

LABELMAP_SUFFIXES = (".nrrd", ".nii.gz", ".nii", ".mha")  # single files: written atomically
READABLE = "NRRD (.nrrd, .nhdr), NIfTI (.nii, .nii.gz), MetaImage (.mha, .mhd) or a folder of DICOM files"


def _process_umask() -> int:
    """The umask new files get; read from /proc where it can be, as setting it to read it races other threads."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _process_umask()


def read_volume(path, modality: str = "auto") -> Volume:
    """Read a scalar volume from a file (NRRD, NIfTI, MHA, ...) or a DICOM folder."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"Image not found: {path}")
    try:
        if path.is_dir():
            reader = sitk.ImageSeriesReader()
            files = reader.GetGDCMSeriesFileNames(str(path))
            if not files:
                raise InputError(f"No DICOM series found in folder {path}")
            reader.SetFileNames(files)
            image = reader.Execute()
        else:
            image = sitk.ReadImage(str(path))
    except RuntimeError as error:
        log.info("reading %s failed: %s", path, error)  # the reader's own words, for whoever debugs a file
        raise InputError(f"Cannot read {path} as an image: it is not a file type this tool reads, or it is "
                         f"damaged. Open {READABLE}.") from None
    return volume_from_sitk(image, modality)


def read_labelmap(path, reference: Volume, what: str = "labelmap") -> np.ndarray:
    """Integer (k, j, i) array of a labelmap that must lie on the reference grid.

    Unlike images, labelmaps may be constant (all zero is a valid, if empty, answer).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"The {what} file was not found: {path}")
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as error:
        raise InputError(f"Cannot read the {what} {path}: {first_line(error)}") from None
    if image.GetNumberOfComponentsPerPixel() > 1 or image.GetDimension() not in (2, 3):
        raise InputError(f"The {what} {path} must be a scalar 2D or 3D labelmap.")
    if image.GetDimension() == 2:
        image = sitk.JoinSeries(image)
    array = sitk.GetArrayFromImage(image)
    if array.shape != reference.shape or not same_geometry(image, reference):
        raise InputError(f"The {what} {path} is on a different grid than the image (shape, spacing, origin "
                         "or direction differ): resample it onto the image first.")
    if array.dtype.kind not in "iub":
        raise InputError(f"The {what} {path} must hold integer labels, not {array.dtype}.")
    return array


def same_geometry(image: sitk.Image, reference: Volume, tolerance: float = 1e-4) -> bool:
    return (np.allclose(image.GetSpacing(), reference.spacing, atol=tolerance)
            and np.allclose(image.GetOrigin(), reference.origin, atol=tolerance * 100)
            and np.allclose(np.reshape(image.GetDirection(), (3, 3)), reference.direction, atol=tolerance))


def volume_from_sitk(image: sitk.Image, modality: str = "auto") -> Volume:
    if image.GetNumberOfComponentsPerPixel() > 1:
        raise InputError(
            f"Image has {image.GetNumberOfComponentsPerPixel()} components per voxel (RGB or vector): "
            "convert it to a scalar volume first.")
    if image.GetDimension() == 4:
        raise InputError(f"4D volumes are not supported (size {image.GetSize()}): pick one time point.")
    if image.GetDimension() == 2:
        image = sitk.JoinSeries(image)
    if image.GetDimension() != 3:
        raise InputError(f"Expected a 2D or 3D image, got {image.GetDimension()} dimensions.")
    array = sitk.GetArrayFromImage(image)  # (k, j, i)
    direction = np.array(image.GetDirection(), dtype=float).reshape(3, 3)
    return Volume(array, image.GetSpacing(), image.GetOrigin(), direction, modality)


def volume_to_sitk(volume: Volume, array=None) -> sitk.Image:
    image = sitk.GetImageFromArray(np.ascontiguousarray(volume.array if array is None else array))
    image.SetSpacing(volume.spacing)
    image.SetOrigin(volume.origin)
    image.SetDirection(tuple(volume.direction.ravel()))
    return image


def write_labelmap(path, mask: np.ndarray, reference: Volume) -> Path:
    """Write a 0/1 labelmap on the reference grid (format chosen by the file name)."""
    path = check_output_suffix(path)
    check_on_grid(mask, reference, "mask")
    image = volume_to_sitk(reference, mask.astype(np.uint8))
    atomic_write(path, lambda tmp: sitk.WriteImage(image, str(tmp), True))
    return path


def write_scalar_map(path, values: np.ndarray, reference: Volume) -> Path:
    """Write a float32 map (probability, uncertainty) on the reference grid."""
    path = check_output_suffix(path, segmentation=False)
    check_on_grid(values, reference, "map")
    image = volume_to_sitk(reference, values.astype(np.float32))
    atomic_write(path, lambda tmp: sitk.WriteImage(image, str(tmp), True))
    return path


SEGMENT_COLOURS = [(0.9, 0.3, 0.2), (0.2, 0.7, 0.3), (0.2, 0.4, 0.9), (0.9, 0.8, 0.2)]


def write_segmentation(path, masks: dict, reference: Volume, colors: dict | None = None) -> Path:
    """Write segments {name: (k, j, i) mask} as a Slicer .seg.nrrd, with slicerio (Slicer's own file library).

    Segments that overlap go to layers of their own, as Slicer stores them, so no voxel of
    any segment is lost; each segment gets its name, colour and Slicer's status tag.
    """
    import slicerio  # only the engine's writer needs it: the Slicer module writes through MRML
    path = Path(path)
    if not str(path).lower().endswith(".seg.nrrd"):
        raise InputError(f"A Slicer segmentation file must end with .seg.nrrd: {path}")
    check_output_suffix(path)
    segmentation = slicerio.create_segmentation(tuple(reversed(reference.shape)), reference.ijk_to_lps())
    for index, (name, mask) in enumerate(masks.items()):
        check_on_grid(mask, reference, f"segment {name!r}")
        color = (colors or {}).get(name, SEGMENT_COLOURS[index % len(SEGMENT_COLOURS)])
        slicerio.add_segment(segmentation, np.asarray(mask, dtype=bool).transpose(2, 1, 0),  # slicerio: (i, j, k)
                             {"id": f"Segment_{index + 1}", "name": name, "color": [float(c) for c in color],
                              "nameAutoGenerated": False, "colorAutoGenerated": False, "status": "inprogress"})
    segmentation["containedRepresentationNames"] = ["Binary labelmap"]
    atomic_write(path, lambda tmp: slicerio.write_segmentation(str(tmp), segmentation))
    return path


def write_output(path, mask: np.ndarray, reference: Volume, name: str = "Segment") -> Path:
    """Write a mask as .seg.nrrd or as a plain labelmap, by the file name's ending."""
    if str(path).lower().endswith(".seg.nrrd"):
        return write_segmentation(path, {name: mask}, reference)
    return write_labelmap(path, mask, reference)


def check_output_suffix(path, segmentation: bool = True) -> Path:
    """Refuse an output name whose format cannot be written, before any work is done."""
    path = Path(path)
    name = str(path).lower()
    if name.endswith(".seg.nrrd") and not segmentation:
        raise InputError(f"Output must end with one of {', '.join(LABELMAP_SUFFIXES)} "
                         f"(this is a scalar map, not a segmentation): {path}")
    ending = next((s for s in (".seg.nrrd",) + LABELMAP_SUFFIXES if name.endswith(s)), None)
    if ending is None:
        allowed = ", ".join(LABELMAP_SUFFIXES + ((".seg.nrrd",) if segmentation else ()))
        raise InputError(f"Output must end with one of {allowed}: {path}")
    if not str(path).endswith(ending):  # ITK's writers and readers know these endings in lower case only
        raise InputError(f"Write the output's ending in lower case, {ending}: {path}")
    return path


def check_on_grid(array: np.ndarray, reference: Volume, what: str) -> None:
    if np.shape(array) != reference.shape:
        raise InputError(f"The {what} has shape {np.shape(array)} but the image has {reference.shape} (k, j, i).")


def atomic_write(path: Path, write) -> None:
    """Call write(tmp_path) on a temporary file beside path, then move it into place."""
    path = Path(path)
    if not path.parent.exists():
        raise InputError(f"Output folder does not exist: {path.parent}")
    suffix = "".join(path.suffixes) or ".tmp"
    try:
        handle, tmp = tempfile.mkstemp(prefix=".partial-", suffix=suffix, dir=path.parent)
    except OSError as error:
        raise InputError(f"Cannot write {path}: {error.strerror or error}") from None
    os.close(handle)
    try:
        write(tmp)
        if os.path.getsize(tmp) == 0:  # a writer that put its data elsewhere (an unknown ending) wrote nothing here
            raise InputError(f"Cannot write {path}: the writer produced an empty file.")
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes owner-only files; outputs get the usual mode
        os.replace(tmp, path)
    except BaseException as error:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(error, OSError) or (isinstance(error, RuntimeError) and "itk" in str(error).lower()):
            # a full disk, a read-only folder, SimpleITK's writer refusing: the user can act on these
            raise InputError(f"Cannot write {path}: {first_line(error)}") from None
        raise


def first_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
