"""Images sent from the browser, kept in a folder on the server so that Slicer's readers can open them.

Only single-file formats are taken: a DICOM series is many files, and is opened by its
folder path on the server instead.
"""
from __future__ import annotations

from pathlib import Path

from interactiveseg import InputError
from interactiveseg.image_io import atomic_write

UPLOAD_SUFFIXES = (".nrrd", ".nii.gz", ".nii", ".mha", ".dcm")


def store_upload(name: str, content: bytes | None, folder: Path) -> Path:
    """Write an uploaded file into `folder` under its own name (made unique); returns its path."""
    base = Path(str(name or "")).name  # the browser's name for the file, never a folder of its choosing
    suffix = next((s for s in UPLOAD_SUFFIXES if base.lower().endswith(s)), None)
    if suffix is None or len(base) == len(suffix):
        raise InputError(f"'{base}' is not an image file this page takes ({', '.join(UPLOAD_SUFFIXES)}). "
                         "For a DICOM series, type its folder on the server instead.")
    if not content:
        raise InputError(f"'{base}' arrived empty.")
    folder.mkdir(parents=True, exist_ok=True)
    path = _unused_path(folder, base[:-len(suffix)], base[-len(suffix):])
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(content))
    return path


def _unused_path(folder: Path, stem: str, suffix: str) -> Path:
    """folder/stem+suffix, or stem-2, stem-3, ...: an earlier upload is never overwritten."""
    path, n = folder / f"{stem}{suffix}", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}{suffix}"
    return path
