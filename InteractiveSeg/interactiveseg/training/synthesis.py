"""Synthesized variety for training: new images from label maps, and procedural objects.

Three training subjects teach a network those subjects. Two kinds of synthesis teach it
"the object in this box" instead:

- `synthesize_volume` draws a new image from a subject's label map in the manner of
  SynthSeg (Billot et al., MedIA 2023): every label gets a random intensity and texture,
  then a bias field, blur, gamma and noise. Unlabelled tissue is split into intensity
  classes of the real image first, so it keeps its anatomy but not its contrast.
  `deform_volume` first bends the subject, image and labels alike, by a smooth random
  displacement, so that the shapes vary too.
- `paste_objects` puts procedural objects (lobulated blobs, elongated tube-like shapes,
  with a random size, contrast sign, texture, rim and core) into real training crops on
  the network grid, framed the way a user's box frames an object. No source labels
  lesions; these stand in for them.

Both are deterministic for a seed (numpy Generator or torch Generator).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..normalization import normalize
from ..volume import Volume

BACKGROUND_CLASSES = (2, 6)  # unlabelled tissue is split into this many intensity classes (range)


def _smooth_noise(shape: tuple, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """Unit-variance Gaussian noise smoothed over about `sigma` voxels, by up-sampling a coarse field."""
    coarse = [max(2, int(math.ceil(n / max(sigma, 1.0)))) for n in shape]
    field = torch.randn(1, 1, *coarse, generator=generator)
    mode = "trilinear" if len(shape) == 3 else "bilinear"
    field = F.interpolate(field, size=shape, mode=mode, align_corners=False)[0, 0]
    return (field - field.mean()) / field.std().clamp_min(1e-6)


def _blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of a (k, j, i) or (j, i) tensor."""
    if sigma < 0.3:
        return image
    radius = int(math.ceil(2.5 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = kernel / kernel.sum()
    out = image[None, None]
    dims = image.dim()
    for axis in range(dims):
        shape = [1, 1] + [1] * dims
        shape[2 + axis] = len(kernel)
        pad = [0, 0] * dims
        pad[2 * (dims - 1 - axis)] = pad[2 * (dims - 1 - axis) + 1] = radius
        padded = F.pad(out, pad, mode="replicate")
        out = (F.conv3d if dims == 3 else F.conv2d)(padded, kernel.view(shape))
    return out[0, 0]


def _blur_slices(stack: torch.Tensor, sigma: float) -> torch.Tensor:
    """In-plane blur of each slice of a (d, h, w) stack."""
    return torch.stack([_blur(s, sigma) for s in stack])


def pseudo_labels(volume: Volume, labels: np.ndarray, classes: int) -> np.ndarray:
    """Labels plus `classes` intensity classes (by quantile) of the unlabelled voxels."""
    modality = volume.modality if volume.modality != "auto" else "MR"
    values = normalize(volume.array, modality)
    out = labels.astype(np.int32).copy()
    unlabelled = labels == 0
    edges = np.quantile(values[unlabelled], np.linspace(0, 1, classes + 1)[1:-1]) if unlabelled.any() else []
    out[unlabelled] = int(labels.max()) + 1 + np.digitize(values[unlabelled], edges)
    return out


def synthesize_volume(volume: Volume, labels: np.ndarray, seed: int) -> Volume:
    """A new image of the same anatomy: random contrast per label, texture, bias field, blur, gamma, noise."""
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(int(rng.integers(1 << 31)))
    classes = pseudo_labels(volume, labels, int(rng.integers(BACKGROUND_CLASSES[0], BACKGROUND_CLASSES[1] + 1)))
    count = int(classes.max()) + 1
    means = torch.from_numpy(rng.uniform(0.0, 1.0, count).astype(np.float32))
    spreads = torch.from_numpy(rng.uniform(0.0, 0.08, count).astype(np.float32))
    index = torch.from_numpy(classes).long()
    shape = tuple(index.shape)
    texture = _smooth_noise(shape, float(rng.uniform(1.0, 3.0)), generator)
    image = means[index] + spreads[index] * texture
    image = _blur(image, float(rng.uniform(0.0, 1.2)))
    bias = _smooth_noise(shape, max(shape) / 3.0, generator)
    image = image * torch.exp(float(rng.uniform(0.0, 0.3)) * bias)
    low, high = image.min(), image.max()
    image = ((image - low) / (high - low).clamp_min(1e-6)).clamp(0, 1) ** float(np.exp(rng.normal(0.0, 0.3)))
    image = image + float(rng.uniform(0.0, 0.03)) * torch.randn(shape, generator=generator)
    return Volume((image * 1000.0).numpy().astype(np.float32), volume.spacing, volume.origin, volume.direction, "MR")


def deform_volume(volume: Volume, labels: np.ndarray, seed: int, amplitude_mm: float) -> tuple:
    """(Volume, labels) bent by one smooth random displacement field of about `amplitude_mm` per axis.

    The field varies over about a quarter of the volume's extent, so organs bend and
    swell rather than tear; the image is resampled linearly, the labels by nearest
    neighbour, both with the same field.
    """
    generator = torch.Generator().manual_seed(int(np.random.default_rng(seed).integers(1 << 31)))
    shape = volume.array.shape
    spacing_kji = torch.tensor(tuple(reversed(volume.spacing)), dtype=torch.float32)
    sigma = max(shape) / 4.0
    # grid_sample's coordinates run over [-1, 1] per axis, in (i, j, k) order
    displacement = torch.stack([_smooth_noise(shape, sigma, generator) * amplitude_mm / spacing_kji[axis]
                                * 2.0 / max(shape[axis] - 1, 1) for axis in (2, 1, 0)], dim=-1)
    axes = [torch.linspace(-1, 1, n) for n in shape]
    k, j, i = torch.meshgrid(*axes, indexing="ij")
    grid = (torch.stack([i, j, k], dim=-1) + displacement)[None]
    image = torch.from_numpy(volume.array.astype(np.float32))[None, None]
    bent = F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)[0, 0]
    label_image = torch.from_numpy(labels.astype(np.float32))[None, None]
    bent_labels = F.grid_sample(label_image, grid, mode="nearest", padding_mode="zeros", align_corners=True)[0, 0]
    return (Volume(bent.numpy(), volume.spacing, volume.origin, volume.direction, volume.modality),
            bent_labels.numpy().astype(labels.dtype))


def object_mask(shape: tuple, rng: np.random.Generator, depth_position: torch.Tensor) -> torch.Tensor:
    """A procedural object's cross-sections on a (d, h, w) stack of slices.

    The object's in-plane extent is about the box interior of the grid (the crop's margin
    is outside it); `depth_position` (d,) gives each slice's place along the object's own
    axis, in -1..1 (beyond that the object is absent).
    """
    _, h, w = shape
    margin = rng.uniform(0.07, 0.12)  # the crop's margin as a fraction of the grid
    half = np.array([rng.uniform(0.8, 1.05), rng.uniform(0.8, 1.05)]) * (0.5 - margin)
    centre = 0.5 + rng.uniform(-0.03, 0.03, 2)
    v, u = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    y, x = (v - centre[0]) / half[0], (u - centre[1]) / half[1]
    angle = torch.atan2(y, x)
    radius = torch.sqrt(x ** 2 + y ** 2)
    lobes = torch.zeros_like(angle)
    for order in range(2, 7):  # lobulation: a few angular harmonics
        lobes += rng.normal(0, 0.12 / order) * torch.cos(order * angle + rng.uniform(0, 2 * math.pi))
    if rng.random() < 0.3:  # elongated, tube-like: one axis long, the other thin
        thin = rng.uniform(0.2, 0.5)
        radius = torch.sqrt(x ** 2 + (y / thin) ** 2) if rng.random() < 0.5 else torch.sqrt((x / thin) ** 2 + y ** 2)
    profile = torch.sqrt((1 - depth_position.clamp(-1, 1) ** 2).clamp_min(0))  # ellipsoid cross-section
    profile = torch.where(depth_position.abs() > 1, torch.zeros_like(profile), profile)
    return radius[None] <= (1 + lobes)[None] * profile[:, None, None] * 0.98


def paste_objects(images: torch.Tensor, depth_position: torch.Tensor, rng: np.random.Generator,
                  middle_only: bool = True) -> tuple:
    """Paste one procedural object into each (C, h, w) stack: a 2.5D slice with neighbours, or a 3D grid.

    images: (N, C, h, w) normalised crops; depth_position: (N, C) place of each slice along
    the object's axis. Returns (images, targets): (N, h, w) bool of the middle slice, or
    with `middle_only=False` (N, C, h, w) of every slice. The crop is normalised again
    afterwards, as use would normalise a crop that holds such an object.
    """
    n, c, h, w = images.shape
    out = images.clone()
    targets = torch.zeros((n, h, w) if middle_only else (n, c, h, w), dtype=torch.bool)
    generator = torch.Generator().manual_seed(int(rng.integers(1 << 31)))
    for item in range(n):
        mask = object_mask((c, h, w), rng, depth_position[item]).float()
        soft = _blur_slices(mask, float(rng.uniform(0.3, 1.2)))
        contrast = rng.choice([-1.0, 1.0]) * rng.uniform(0.6, 3.5)
        texture = _smooth_noise((h, w), float(rng.uniform(1.0, 4.0)), generator) * rng.uniform(0.0, 0.6)
        change = contrast + texture[None]
        if rng.random() < 0.3:  # a rim of other contrast, or a core (necrosis-like)
            inner = _blur_slices((_blur_slices(mask, 2.0) > 0.9).float(), 0.7)
            change = change - inner * contrast * rng.uniform(0.5, 1.5)
        background = out[item]
        if rng.random() < 0.5:  # the object replaces the tissue, rather than adding to it
            base = background.median()
            out[item] = background * (1 - soft) + (base + change) * soft
        else:
            out[item] = background + change * soft
        targets[item] = (mask[c // 2] if middle_only else mask) > 0.5
    return _renormalise(out), targets


def _renormalise(images: torch.Tensor) -> torch.Tensor:
    """Robust z-score per item (median, inter-quartile range), as normalization.normalize does."""
    flat = images.flatten(1)
    q = torch.quantile(flat, torch.tensor([0.25, 0.5, 0.75]), dim=1)
    scale = ((q[2] - q[0]) / 1.349).clamp_min(1e-3)
    view = (-1,) + (1,) * (images.dim() - 1)
    return ((images - q[1].view(view)) / scale.view(view)).clamp(-5, 5)
