"""Keep the object, drop the strays: connected components of a round's mask on the network grid.

A box frames one object. The network (and fine-tuning, which learns "voxels that look
like this") can also mark tissue that merely looks alike elsewhere in the box; such a
blob is not connected to the object and raises the Hausdorff distance. After each
round only the components that hold the object are kept: the largest one, and every
one a foreground stroke touches (the user said it belongs).
"""
from __future__ import annotations

import numpy as np
import SimpleITK as sitk
import torch

BELOW = 0.49  # probability given to dropped voxels: just under the 0.5 threshold, so the map stays smooth


def component_labels(mask: np.ndarray) -> np.ndarray:
    """Integer labels of the 26-connected components of a (k, j, i) bool mask (0: background)."""
    image = sitk.GetImageFromArray(mask.astype(np.uint8))
    return sitk.GetArrayFromImage(sitk.ConnectedComponent(image, True))


def kept_components(mask: np.ndarray, anchors: np.ndarray | None = None) -> np.ndarray:
    """The largest component of `mask` plus every component that touches `anchors`."""
    if not mask.any():
        return mask
    labels = component_labels(mask)
    counts = np.bincount(labels.ravel())
    counts[0] = 0
    keep = {int(np.argmax(counts))}
    if anchors is not None and anchors.any():
        keep |= {int(v) for v in np.unique(labels[anchors & mask]) if v}
    return np.isin(labels, sorted(keep))


def keep_object(probability: torch.Tensor, inside_box: torch.Tensor,
                anchors: torch.Tensor | None = None) -> torch.Tensor:
    """Probability with the voxels of dropped components pushed just below 0.5.

    probability, inside_box, anchors: (k, j, i) tensors on the network grid; only the
    mask inside the box counts, as the result keeps nothing outside it.
    """
    mask = ((probability >= 0.5) & inside_box).cpu().numpy()
    kept = kept_components(mask, None if anchors is None else anchors.cpu().numpy())
    dropped = torch.from_numpy(mask & ~kept).to(probability.device)
    return torch.where(dropped, probability.clamp(max=BELOW), probability)


def components_touching(mask: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """The 26-connected components of `mask` that share a voxel with `anchors`."""
    labels = component_labels(mask)
    touched = [int(v) for v in np.unique(labels[anchors & mask]) if v]
    return np.isin(labels, touched)


def _touching(changed: np.ndarray, strokes: np.ndarray) -> np.ndarray:
    """The components of `changed` that touch `strokes` grown by one voxel."""
    if not changed.any() or not strokes.any():
        return np.zeros_like(changed)
    grown = sitk.GetArrayFromImage(sitk.BinaryDilate(sitk.GetImageFromArray(strokes.astype(np.uint8)), [1, 1, 1]))
    return components_touching(changed, grown > 0)


def local_changes(before: torch.Tensor, after: torch.Tensor, inside_box: torch.Tensor,
                  foreground: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """`after`, except where a round changed the mask in a place no stroke asked for.

    A region the round added is kept only if it touches a foreground stroke; a region
    it removed, only if it touches a background stroke. Everywhere else the previous
    round's probability stays: fine-tuning generalises from the strokes, and a change
    far from every stroke is a guess the user did not ask for (and cannot see coming).
    """
    inside = inside_box.cpu().numpy()
    old = (before >= 0.5).cpu().numpy() & inside
    new = (after >= 0.5).cpu().numpy() & inside
    added, removed = new & ~old, old & ~new
    accepted = _touching(added, foreground.cpu().numpy()) | _touching(removed, background.cpu().numpy())
    reverted = torch.from_numpy((added | removed) & ~accepted).to(after.device)
    return torch.where(reverted, before.to(after.device), after)


def surface_depth(mask: np.ndarray) -> np.ndarray:
    """Each voxel's distance (in grid voxels), within its own slice, to the nearest voxel of the mask's
    surface: a voxel with any of its six neighbours outside, the slices above and below included.

    So a region one or two slices thick lies wholly on its surface (depth 0), and only a
    region spanning three slices or more can be deep. (Depth to the nearest outside voxel of
    the slice alone, which would count thin regions too, measured no better; see the README.)
    """
    return _distance_map(mask, (1e4, 1.0, 1.0), inside_positive=True)  # a neighbour slice is never the nearest


def distance_to(seeds: np.ndarray, spacing) -> np.ndarray:
    """Each voxel's distance in mm to the nearest voxel of `seeds` ((k, j, i) spacing); inf without seeds."""
    if not seeds.any():
        return np.full(seeds.shape, np.inf, dtype=np.float32)
    return _distance_map(seeds, spacing, inside_positive=False)


def _distance_map(mask: np.ndarray, spacing, inside_positive: bool) -> np.ndarray:
    """SimpleITK's signed Maurer distance of `mask` on a (k, j, i) spacing, its negative side cut to 0."""
    image = sitk.GetImageFromArray(mask.astype(np.uint8))
    image.SetSpacing(tuple(float(v) for v in spacing[::-1]))
    distance = sitk.SignedMaurerDistanceMap(image, insideIsPositive=inside_positive, squaredDistance=False,
                                            useImageSpacing=True)
    return np.clip(sitk.GetArrayFromImage(distance), 0.0, None)


def keep_unmarked(before: torch.Tensor, after: torch.Tensor, inside_box: torch.Tensor, foreground: torch.Tensor,
                  background: torch.Tensor, depth: float, spacing) -> torch.Tensor:
    """`after`, except that a thick part of the last result stays unless a new background stroke claims it.

    Placing a boundary on the image's edges removes thin shells of the last mask; a walk
    that washes an object out removes its core. A removed region reaching deeper than
    `depth` grid voxels from its surface (surface_depth) keeps the last round's probability
    unless one of the round's background strokes touches it: the user saw that part and
    painted nothing to say it was wrong. Where a stroke does touch it, the stroke claims
    only the voxels nearer to it than to what stays foreground (the kept mask and the
    foreground strokes), so a stroke on a false rim does not take the object's core along.
    """
    inside = inside_box.cpu().numpy()
    old = (before >= 0.5).cpu().numpy() & inside
    new = (after >= 0.5).cpu().numpy() & inside
    removed = old & ~new
    if not removed.any():
        return after
    labels = component_labels(removed)
    deepest = np.zeros(labels.max() + 1)
    np.maximum.at(deepest, labels.ravel(), surface_depth(removed).ravel())
    thick = np.isin(labels, [v for v in np.flatnonzero(deepest > depth) if v])
    strokes = background.cpu().numpy()
    claimed = _touching(removed, strokes)
    if claimed.any():
        staying = new | foreground.cpu().numpy()
        claimed &= distance_to(strokes, spacing) <= distance_to(staying, spacing)
    restored = thick & ~claimed
    if not restored.any():
        return after
    return torch.where(torch.from_numpy(restored).to(after.device), before.to(after.device), after)
