"""The spectral signature of a box: how the network's feature maps distribute power over frequency.

Images of one modality and anatomy give feature maps with a characteristic power
spectrum (arXiv 2004.06569); unfamiliar images shift it. For each block of the network
the signature keeps a few numbers: the log of the power of the block's output in a few
radial frequency bands (cycles per grid voxel), averaged over channels and, for a 2D
network, over slices. The normalised input image can be added as one more "layer".
Frequencies are per grid voxel, so the signature does not depend on the box's size in
millimetres, only on what the network sees.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from ..networks import SplitNetwork
from ..preprocess import from_network_batch, network_batch

LAYERS = ("input", "block1", "block2", "block3", "block4", "block5")  # "input": the normalised image itself
DEFAULT_LAYERS = ("block1", "block2", "block3", "block4", "block5")
# Radial band edges in cycles per grid voxel; the first band holds the mean (zero frequency).
DEFAULT_BANDS = (0.0, 0.03, 0.08, 0.18, 0.35, 1.0)
EPSILON = 1e-8


def feature_names(layers=DEFAULT_LAYERS, bands=DEFAULT_BANDS) -> list:
    return [f"{layer}_band{n + 1}" for layer in layers for n in range(len(bands) - 1)]


def forward_with_layers(network: SplitNetwork, image: torch.Tensor, dims: int, layers=DEFAULT_LAYERS) -> tuple:
    """One pass over a (1, *grid) image: ({layer: its maps} for the chosen layers, foreground probability (*grid))."""
    unknown = set(layers) - set(LAYERS)
    if unknown:
        raise ValueError(f"Unknown layer(s) {sorted(unknown)}; choose from {', '.join(LAYERS)}.")
    x = network_batch(network, image.to(next(network.parameters()).device).float())
    with torch.no_grad():
        outputs = network.layer_outputs(x)
        logits = network.classify(outputs["features"])
        probability = from_network_batch(torch.softmax(logits.float(), 1)[:, 1:], dims)[0]
    outputs["input"] = x
    return {layer: outputs[layer] for layer in layers}, probability


def band_powers(maps: torch.Tensor, bands=DEFAULT_BANDS) -> np.ndarray:
    """Log10 of the mean power per radial band of (N, C, *spatial) maps, averaged over N and C.

    Powers are normalised by the number of voxels squared, so the bands add up to the
    mean square of the maps (Parseval) whatever the grid size.
    """
    spatial = tuple(range(2, maps.dim()))
    shape = tuple(maps.shape[2:])
    power = torch.fft.fftn(maps.float(), dim=spatial).abs().pow(2).mean(dim=(0, 1)) / float(np.prod(shape)) ** 2
    band = torch.from_numpy(_band_index(shape, tuple(bands))).to(power.device)
    values = torch.bincount(band.reshape(-1), weights=power.reshape(-1).double(), minlength=len(bands))
    values = values[1:len(bands)].cpu().numpy()  # index 0 (below the first edge) and the last do not occur
    return np.log10(np.asarray(values) + EPSILON)


@lru_cache(maxsize=8)
def _band_index(shape: tuple, bands: tuple) -> np.ndarray:
    """For each FFT bin of a grid, 1 + the number of its radial band."""
    frequencies = np.meshgrid(*[np.fft.fftfreq(n) for n in shape], indexing="ij")
    radius = np.sqrt(sum(f ** 2 for f in frequencies))
    return np.digitize(radius, bands).astype(np.int64)


def signature(network: SplitNetwork, image: torch.Tensor, dims: int, layers=DEFAULT_LAYERS,
              bands=DEFAULT_BANDS) -> tuple:
    """(signature vector, foreground probability on the grid) of one prepared box image (1, *grid)."""
    outputs, probability = forward_with_layers(network, image, dims, layers)
    vector = np.concatenate([band_powers(outputs[layer], bands) for layer in layers])
    return vector, probability.cpu()
