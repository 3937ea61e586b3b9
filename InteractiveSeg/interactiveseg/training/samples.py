"""Training samples made the way use makes its input: a box, then `prepare_input`.

A user's box is roughly tight around the object, sometimes a little loose, rarely
cutting it; `jittered_box` draws boxes like that from a structure's bounding box. The
target is resampled to the network grid by the same linear interpolation and 0.5
threshold that turns the network's output back into a mask, so the two agree.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..box import Box
from ..preprocess import prepare_input

JITTER_FRACTION = (-0.05, 0.15)  # per side, as a fraction of the object's extent; negative cuts into it
JITTER_VOXELS = (-1, 2)  # per side, inclusive, on top of the fraction


def tight_box(bbox_ijk) -> Box:
    return Box.from_ijk(bbox_ijk)


def jittered_box(bbox_ijk, rng: np.random.Generator) -> Box:
    lower, upper = np.array(bbox_ijk[:3]), np.array(bbox_ijk[3:])
    size = upper - lower + 1
    grow_low = (np.round(rng.uniform(*JITTER_FRACTION, 3) * size)
                + rng.integers(JITTER_VOXELS[0], JITTER_VOXELS[1] + 1, 3))
    grow_high = (np.round(rng.uniform(*JITTER_FRACTION, 3) * size)
                 + rng.integers(JITTER_VOXELS[0], JITTER_VOXELS[1] + 1, 3))
    new_lower = np.minimum(lower - grow_low, upper).astype(int)  # cut into the object, never past it
    new_upper = np.maximum(upper + grow_high, np.maximum(new_lower, lower)).astype(int)
    return Box(tuple(int(v) for v in new_lower), tuple(int(v) for v in new_upper))


def make_sample(volume, labels: np.ndarray, value: int, box: Box, card: dict) -> tuple:
    """(image (1, *grid), target (*grid) bool, crop) for one structure and box."""
    prepared = prepare_input(volume, box, card)
    crop_mask = prepared.crop.extract(labels) == value
    target = prepared.crop.to_grid(torch.from_numpy(crop_mask[None].astype(np.float32)))[0] > 0.5
    return prepared.image, target, prepared.crop


def pick_slices(target: torch.Tensor, count: int, rng: np.random.Generator, foreground_share: float = 0.75) -> list:
    """Slice indices for a 2D network: mostly slices that show the object, some that do not."""
    depth = target.shape[0]
    with_object = np.nonzero(target.flatten(1).any(1).numpy())[0]
    picks = []
    for _ in range(count):
        if len(with_object) and rng.random() < foreground_share:
            picks.append(int(rng.choice(with_object)))
        else:
            picks.append(int(rng.integers(depth)))
    return picks


def augment(images: torch.Tensor, targets: torch.Tensor, rng: np.random.Generator) -> tuple:
    """Flips, a small in-plane rotation and scaling, and an intensity change, per item.

    images: (N, 1, *spatial) normalised intensities; targets: (N, *spatial) bool.
    Spatial changes stay small so the object keeps the place a user's box gives it.
    """
    n, dims = images.shape[0], images.dim() - 2
    thetas = []
    for _ in range(n):
        angle = math.radians(rng.uniform(-15, 15))
        scale = rng.uniform(0.9, 1.1)
        theta = torch.eye(dims, dims + 1)
        rotation = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]) * scale
        theta[:2, :2] = rotation  # the first two grid axes are i and j, the in-plane axes
        if dims == 3:
            theta[2, 2] = rng.uniform(0.9, 1.1)
        thetas.append(theta)
    theta = torch.stack(thetas)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    images = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    targets = F.grid_sample(targets[:, None].float(), grid, mode="bilinear", padding_mode="zeros",
                            align_corners=False)[:, 0] > 0.5
    for axis in range(dims):
        flip = torch.from_numpy(rng.random(n) < 0.5)
        if flip.any():
            images[flip] = images[flip].flip(axis + 2)
            targets[flip] = targets[flip].flip(axis + 1)
    gain = torch.from_numpy(rng.uniform(0.85, 1.15, n).astype(np.float32)).view(n, *[1] * (dims + 1))
    shift = torch.from_numpy(rng.uniform(-0.15, 0.15, n).astype(np.float32)).view(n, *[1] * (dims + 1))
    noise = torch.from_numpy(rng.normal(0, 0.05, images.shape).astype(np.float32))
    return images * gain + shift + noise, targets
