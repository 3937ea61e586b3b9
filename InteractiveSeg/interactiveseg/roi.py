"""A Slicer markups ROI file (.mrk.json) to a voxel box of a volume.

The ROI is an oriented box: centre, edge lengths (size) and an orientation matrix whose
columns are the ROI's axes, all in the file's coordinate system (LPS or RAS). The voxel
box is every voxel whose centre can lie inside the ROI: the IJK bounding box of the
ROI's eight corners, rounded inwards to voxel centres.
"""
from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np

from .errors import InputError
from .box import Box
from .volume import LPS_TO_RAS, Volume


def read_roi(path) -> np.ndarray:
    """The eight corners (8, 3) of the first ROI in a .mrk.json file, in LPS millimetres."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"ROI file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"ROI file {path} is not valid JSON: {error}") from None
    rois = [m for m in document.get("markups", []) if isinstance(m, dict) and m.get("type") == "ROI"]
    if not rois:
        raise InputError(f"No ROI markup found in {path}: place a box (ROI) in Slicer and save it as .mrk.json.")
    roi = rois[0]
    try:
        center = _center(roi)
        size = np.array(roi["size"], dtype=float).reshape(3)
        axes = np.array(roi.get("orientation", np.eye(3).ravel()), dtype=float).reshape(3, 3)
    except (KeyError, TypeError, ValueError):
        raise InputError(f"ROI in {path} lacks a valid centre, size or orientation.") from None
    if np.any(size <= 0):
        raise InputError(f"ROI in {path} has an empty size {size.tolist()}.")
    units = roi.get("coordinateUnits", "mm")
    if units not in ("mm", ["mm", "UCUM", "millimeter"]):
        raise InputError(f"ROI in {path} uses units {units!r}; only millimetres are supported.")
    corners = np.array([center + axes @ (np.array(signs) * size / 2)
                        for signs in itertools.product((-1, 1), repeat=3)])
    if roi.get("coordinateSystem", "LPS") == "RAS":
        corners = corners @ LPS_TO_RAS.T  # the same sign flip maps RAS to LPS
    return corners


def _center(roi: dict) -> np.ndarray:
    if "center" in roi:
        return np.array(roi["center"], dtype=float).reshape(3)
    return np.array(roi["controlPoints"][0]["position"], dtype=float).reshape(3)


def box_from_corners(corners_lps: np.ndarray, volume: Volume) -> Box:
    """Voxel box whose centres lie within the IJK bounds of the corners."""
    lps_to_ijk = np.linalg.inv(volume.ijk_to_lps())
    homogeneous = np.c_[corners_lps, np.ones(len(corners_lps))]
    ijk = (homogeneous @ lps_to_ijk.T)[:, :3]
    tolerance = 1e-6  # a corner exactly on a voxel centre includes that voxel
    lower = [math.ceil(v - tolerance) for v in ijk.min(axis=0)]
    upper = [math.floor(v + tolerance) for v in ijk.max(axis=0)]
    return Box(tuple(lower), tuple(upper))


def box_from_roi_file(path, volume: Volume) -> Box:
    return box_from_corners(read_roi(path), volume)


def roi_document(center_lps, size, orientation=np.eye(3)) -> dict:
    """A minimal .mrk.json document for one ROI in LPS (for tests and scripted use)."""
    return {
        "@schema": "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/"
                   "Resources/Schema/markups-schema-v1.0.3.json#",
        "markups": [{"type": "ROI", "coordinateSystem": "LPS", "coordinateUnits": "mm", "roiType": "Box",
                     "center": [float(c) for c in center_lps], "size": [float(s) for s in size],
                     "orientation": [float(v) for v in np.asarray(orientation).ravel()]}],
    }
