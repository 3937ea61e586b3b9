"""From a volume and a box to the network's input, the same way for use and for training."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .geometry import Box, Crop, make_crop
from .normalization import CT_WINDOW, guess_modality, normalize
from .volume import Volume


@dataclass
class PreparedInput:
    box: Box  # the user's box, clipped to the volume
    crop: Crop
    image: torch.Tensor  # (1, *grid_shape) normalised intensities on the network grid
    modality: str
    grid_spacing: tuple  # mm per grid voxel, (k, j, i)
    region_image: torch.Tensor  # (k, j, i) normalised intensities of the crop at the image's own resolution
    region_spacing: tuple  # mm per image voxel, (k, j, i)


def prepare_input(volume: Volume, box: Box, card: dict) -> PreparedInput:
    spec = card["input"]
    grid_shape = tuple(None if g is None else int(g) for g in spec["grid_shape"])
    box = box.clipped(volume.shape)
    crop = make_crop(box, volume.shape, grid_shape, spec["margin_fraction"], spec["margin_minimum"])
    modality = volume.modality if volume.modality != "auto" else guess_modality(volume.array)
    values = crop.extract(volume.array)
    normalised = normalize(values, modality, tuple(spec.get("ct_window", CT_WINDOW)))
    region_image = torch.from_numpy(np.ascontiguousarray(normalised, dtype=np.float32))
    image = crop.to_grid(region_image[None])
    return PreparedInput(box, crop, image, modality, crop.grid_spacing(volume.spacing), region_image,
                         tuple(float(s) for s in reversed(volume.spacing)))


def as_network_batch(image: torch.Tensor, dims: int, context: int = 0) -> torch.Tensor:
    """(1, k, j, i) -> (1, 1, k, j, i) for a 3D network, or (k, 1 + 2 context, j, i) slices for a 2D one.

    With context c, slice k comes with slices k-c .. k+c as channels; the first and last
    slices repeat at the ends of the stack.
    """
    if dims == 3:
        return image[None]
    if not context:
        return image.permute(1, 0, 2, 3)
    depth = image.shape[1]
    index = (torch.arange(depth)[:, None] + torch.arange(-context, context + 1)[None]).clamp(0, depth - 1)
    return image[0][index.to(image.device)]


def network_batch(network, image: torch.Tensor) -> torch.Tensor:
    """A prepared (1, k, j, i) image as the given network takes it (see as_network_batch)."""
    return as_network_batch(image, network.dims, network.context_slices)


def from_network_batch(output: torch.Tensor, dims: int) -> torch.Tensor:
    """Inverse of as_network_batch for (N, C, ...) outputs: gives (C, k, j, i)."""
    return output[0] if dims == 3 else output.permute(1, 0, 2, 3)

