"""The walk at the image's own resolution on the box's region: after every round, and on the first mask.

The network sees the box on a coarse grid (24 x 48 x 48 for the 3D U-Net), and its
probability, resampled back to the image, puts the boundary up to a grid voxel off the
image's own edges. After each refine round the walk places the boundary and counts each
stroke voxel by voxel (finetune.native_update, `walk_on_region`).

The first mask gets the same walk, without strokes (`first_mask_region`): on the bundled
chest CT the right lung's grid mask spills about one image voxel into the chest wall all
round. Voxels farther than `first_walk_band` grid voxels from the grid's boundary keep the
network's label there, so that walk places the boundary and cannot take or empty the
object. A walk that still removes most of the mask (a thin or faint object, all boundary)
is not a boundary correction: the network's mask is kept instead, and the result says so.
"""
from __future__ import annotations

import math

import torch

from .components import keep_object
from .finetune import native_update
from .preprocess import PreparedInput
from .settings import Settings

# Above this many voxels in the box region the walk is skipped: it would take several seconds.
NATIVE_WALK_MAX_VOXELS = 8_000_000
# A first-mask walk that keeps less than this share of the network's mask is not trusted.
KEPT_SHARE_MIN = 0.5


def region_too_large(prepared: PreparedInput) -> bool:
    return math.prod(prepared.crop.crop_shape) > NATIVE_WALK_MAX_VOXELS


def crop_prior(prepared: PreparedInput, grid_probability: torch.Tensor) -> torch.Tensor:
    """The grid's probability resampled to the crop, on the same device."""
    back = prepared.crop.from_grid(grid_probability[None].float().cpu())[0]
    return back.clamp(0, 1).to(grid_probability.device)


def walk_on_region(prepared: PreparedInput, prior: torch.Tensor, foreground: torch.Tensor,
                   background: torch.Tensor, settings: Settings, cancel=None) -> torch.Tensor:
    """The crop's prior probability (`crop_prior`) walked at the image's resolution, kept to the object.

    foreground, background: crop-sized bool tensors of strokes, on the prior's device.

    The prior is already one object: the grid's component rule chose it. The walk can split it
    into pieces that no longer touch at the image's resolution (a faint bridge on the grid, or
    slices coarser than the grid's); every piece that touches the prior's mask stays, and only a
    stray outside it goes (the largest piece alone dropped half of a small lesion).
    """
    device = prior.device
    outside = torch.from_numpy(prepared.crop.outside_in_region(prepared.box)).to(device)
    region = native_update(prior, prepared.region_image.to(device), foreground, background, outside,
                           prepared.region_spacing, prepared.grid_spacing, settings, cancel)
    if settings.keep_connected:
        region = keep_object(region, ~outside, foreground | (prior >= 0.5))
    return region


def first_mask_region(prepared: PreparedInput, grid_probability: torch.Tensor, settings: Settings,
                      notes: list | None = None, cancel=None) -> torch.Tensor | None:
    """The first mask's probability on the crop at the image's resolution, or None to keep the grid's.

    None when the setting is off (`first_walk_band` 0, or `random_walk` off: then no step walks),
    the box region is too large, or the walk would remove most of the mask (then a line is
    added to `notes`).
    """
    if not (settings.random_walk and settings.first_walk_band) or region_too_large(prepared):
        return None
    prior = crop_prior(prepared, grid_probability)
    none = torch.zeros_like(prior, dtype=torch.bool)
    # Not the rounds' appearance term: learnt from the network's own mask, it scored lower here
    # (EXPERIMENTS.md, "the object's own intensities").
    walk = settings.updated(native_band=settings.first_walk_band, native_gamma=settings.first_walk_gamma,
                            native_appearance=0.0)
    region = walk_on_region(prepared, prior, none, none, walk, cancel)
    inside = torch.from_numpy(~prepared.crop.outside_in_region(prepared.box)).to(prior.device)
    before, after = int(((prior >= 0.5) & inside).sum()), int((region >= 0.5).sum())
    if after < KEPT_SHARE_MIN * before:
        if notes is not None:
            notes.append(f"The boundary step at the image's resolution would keep {after:,} of the network's "
                         f"{before:,} voxels in the box; the network's mask is kept as it is.")
        return None
    return region.cpu()
