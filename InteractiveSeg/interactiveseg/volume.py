"""A scalar volume: a (k, j, i) numpy array plus its place in physical space.

Geometry follows ITK and the files on disk: physical coordinates are LPS, spacing
is given in (i, j, k) order and the direction matrix's columns are the i, j, k axes.
Slicer works in RAS; `ijk_to_ras` and `Volume.from_ijk_to_ras` convert.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import InputError

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])

_SUPPORTED_KINDS = "biuf"  # bool, signed and unsigned integers, floats


@dataclass(frozen=True)
class Volume:
    array: np.ndarray  # (k, j, i); never modified by the engine
    spacing: tuple = (1.0, 1.0, 1.0)  # mm, (i, j, k)
    origin: tuple = (0.0, 0.0, 0.0)  # LPS position of voxel (0, 0, 0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))  # columns: i, j, k axes
    modality: str = "auto"  # "CT", "MR" or "auto"

    def __post_init__(self):
        array = np.asarray(self.array)
        if array.ndim == 2:  # a single 2D image is one slice
            array = array[np.newaxis]
        validate_array(array)
        spacing = tuple(float(s) for s in self.spacing)
        if len(spacing) != 3 or not all(np.isfinite(spacing)) or min(spacing) <= 0:
            raise InputError(f"Spacing must be three positive numbers, got {self.spacing}.")
        origin = tuple(float(o) for o in self.origin)
        if len(origin) != 3 or not all(np.isfinite(origin)):
            raise InputError(f"Origin must be three finite numbers, got {self.origin}.")
        direction = np.array(self.direction, dtype=float).reshape(3, 3)
        if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-3):
            raise InputError("Direction matrix must be orthonormal.")
        if self.modality not in ("auto", "CT", "MR"):
            raise InputError(f"Modality must be 'CT', 'MR' or 'auto', got {self.modality!r}.")
        object.__setattr__(self, "array", array)
        object.__setattr__(self, "spacing", spacing)
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "direction", direction)

    @property
    def shape(self) -> tuple:
        return self.array.shape

    def ijk_to_lps(self) -> np.ndarray:
        """4x4 matrix from voxel index (i, j, k, 1) to LPS millimetres."""
        m = np.eye(4)
        m[:3, :3] = self.direction @ np.diag(self.spacing)
        m[:3, 3] = self.origin
        return m

    def ijk_to_ras(self) -> np.ndarray:
        """4x4 matrix from voxel index (i, j, k, 1) to RAS millimetres (Slicer's IJKToRAS)."""
        m = self.ijk_to_lps()
        m[:3, :] = LPS_TO_RAS @ m[:3, :]
        return m

    @classmethod
    def from_ijk_to_ras(cls, array, ijk_to_ras, modality: str = "auto") -> "Volume":
        """Build from a (k, j, i) array and Slicer's 4x4 IJKToRAS matrix."""
        m = np.asarray(ijk_to_ras, dtype=float)
        lps = LPS_TO_RAS @ m[:3, :]
        spacing = np.linalg.norm(lps[:, :3], axis=0)
        if np.any(spacing <= 0):
            raise InputError("IJK-to-RAS matrix has a zero-length axis.")
        return cls(array, tuple(spacing), tuple(lps[:, 3]), lps[:, :3] / spacing, modality)


def validate_array(array: np.ndarray) -> None:
    """Refuse anything that is not a finite, non-constant scalar 2D or 3D image."""
    if array.dtype.kind not in _SUPPORTED_KINDS:
        raise InputError(f"Unsupported voxel type {array.dtype}: expected integers or floats.")
    if array.ndim == 4:
        if array.shape[-1] in (3, 4):
            raise InputError("RGB/RGBA volumes are not supported: convert to a scalar volume first.")
        raise InputError(f"4D volumes are not supported (shape {array.shape}): pick one time point.")
    if array.ndim != 3:
        raise InputError(f"Expected a 2D or 3D image, got {array.ndim} dimensions.")
    if min(array.shape) < 1:
        raise InputError(f"Image is empty (shape {array.shape}).")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise InputError("Image contains NaN or infinite values: fill or mask them first.")
    if array.min() == array.max():
        raise InputError("Image is constant: there is nothing to segment.")
