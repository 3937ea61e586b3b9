"""The uncertainty-guided simulated user: paints where the engine says it is least sure.

Only the place comes from the engine (trust/regions.py, what the Slicer module shows the
user). A clinician looking there would paint what is truly there, so the label is the
reference's: this user reads the ground truth, and so lives with the evaluation, not the runtime.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import ndimage

from ..result import Result
from ..trust.regions import DEFAULT_THRESHOLD, UncertainRegion, uncertain_regions
from ..volume import Volume
from .strokes import principal_axis, straight_stroke


@dataclass(frozen=True)
class GuidedStroke:
    """A stroke at the top uncertain region: the engine chose the place, the reference the label."""
    mask: np.ndarray  # full-grid bool (k, j, i)
    foreground: bool
    region: UncertainRegion


def most_uncertain_scribble(result: Result, volume: Volume, reference: np.ndarray, radius_mm: float = 15.0,
                            threshold: float = DEFAULT_THRESHOLD) -> GuidedStroke | None:
    """A straight stroke through the anchor of the most uncertain region.

    The stroke lies on the anchor's axial slice, along the long axis of the same-label area
    around the anchor (at most `radius_mm` from it, inside the box), like a brush stroke.
    None: nothing uncertain.
    """
    regions = uncertain_regions(result, volume, top=1, threshold=threshold)
    if not regions:
        return None
    region = regions[0]
    i, j, k = region.anchor_ijk
    label = bool(reference[k, j, i])
    spacing = np.array([volume.spacing[1], volume.spacing[0]])  # (j, i) mm
    area = _same_label_area(reference[k] == label, result.box, (j, i), spacing, radius_mm)
    stroke = np.zeros(volume.shape, dtype=bool)
    stroke[k] = straight_stroke(area, (j, i), principal_axis(np.argwhere(area) * spacing), spacing)
    return GuidedStroke(stroke, label, region)


def _same_label_area(same: np.ndarray, box, anchor_ji, spacing_ji, radius_mm: float) -> np.ndarray:
    """The voxels of the anchor's label within the radius and the box, connected to the anchor (2D, face neighbours)."""
    jj, ii = np.indices(same.shape)
    near = ((jj - anchor_ji[0]) * spacing_ji[0]) ** 2 + ((ii - anchor_ji[1]) * spacing_ji[1]) ** 2 <= radius_mm ** 2
    (i0, j0, _), (i1, j1, _) = box.lower, box.upper
    inside = (jj >= j0) & (jj <= j1) & (ii >= i0) & (ii <= i1)
    labels, _ = ndimage.label(same & near & inside)
    return labels == labels[anchor_ji]


@dataclass(frozen=True)
class GuidedUser:
    """A simulated user (evaluation/users.py) that paints at the engine's most uncertain region.

    It drags the same box as `boxes` (a RobotUser), so it starts where the error-driven user does.
    """
    boxes: object  # RobotUser
    name: ClassVar[str] = "uncertainty-guided"

    def box(self, reference: np.ndarray, *keys):
        return self.boxes.box(reference, *keys)

    def strokes(self, mask: np.ndarray, reference: np.ndarray, spacing_ijk, *keys, result=None,
                image=None) -> tuple:
        if result is None or image is None:
            raise ValueError("the uncertainty-guided user needs the engine's result and the image: "
                             "run it with engine methods")
        empty = np.zeros(reference.shape, bool)
        guided = most_uncertain_scribble(result, image, reference)
        if guided is None:
            return empty, empty
        return (guided.mask, empty) if guided.foreground else (empty, guided.mask)
