"""P-Net (2D) and PC-Net (3D) from BIFSeg.

Five blocks of 3x3(x3) convolutions with dilations 1, 2, 4, 8, 16 keep full resolution
while the receptive field grows exponentially. Each block's output is compressed by a
1x1 convolution and the five are concatenated into one multi-scale feature map, which a
classifier block of two 1x1 convolutions turns into two-class logits.

`features()` and `classify()` are separate so that a session computes the features of
an image once and fine-tunes only the classifier on them, which is fast.
"""
from __future__ import annotations

import torch
from torch import nn

DILATIONS = (1, 2, 4, 8, 16)
LAYERS_PER_BLOCK = (2, 2, 3, 3, 3)


class SplitNetwork(nn.Module):
    """A segmenter whose features a session computes once per box and whose small head it fine-tunes.

    Subclasses define `layer_outputs(image)` (every block's output by name, and "features")
    and `classifier` (1x1 convolutions from the features to two-class logits).
    """
    context_slices = 0  # a 2D slice is segmented from itself alone unless a subclass says otherwise

    def layer_outputs(self, image: torch.Tensor) -> dict:
        raise NotImplementedError

    def features(self, image: torch.Tensor) -> torch.Tensor:
        """(N, in_channels, *spatial) image -> (N, feature_channels, *spatial) features."""
        return self.layer_outputs(image)["features"]

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(features)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(image))


class DilatedNet(SplitNetwork):
    def __init__(self, dims: int = 3, in_channels: int = 1, channels: int = 16,
                 compress_channels: int = 4, classifier_channels: int = 32, classes: int = 2):
        super().__init__()
        if dims not in (2, 3):
            raise ValueError("dims must be 2 or 3")
        self.dims = dims
        conv = nn.Conv2d if dims == 2 else nn.Conv3d
        norm = nn.InstanceNorm2d if dims == 2 else nn.InstanceNorm3d
        self.blocks = nn.ModuleList()
        self.compress = nn.ModuleList()
        previous = in_channels
        for dilation, layers in zip(DILATIONS, LAYERS_PER_BLOCK):
            block = []
            for _ in range(layers):
                block += [conv(previous, channels, 3, padding=dilation, dilation=dilation),
                          norm(channels, affine=True), nn.ReLU(inplace=True)]
                previous = channels
            self.blocks.append(nn.Sequential(*block))
            self.compress.append(conv(channels, compress_channels, 1))
        self.feature_channels = compress_channels * len(DILATIONS)
        self.classifier = nn.Sequential(
            conv(self.feature_channels, classifier_channels, 1), nn.ReLU(inplace=True),
            conv(classifier_channels, classes, 1))

    def layer_outputs(self, image: torch.Tensor) -> dict:
        """Every block's output by name ("block1" ... "block5") and the features."""
        x, parts, outputs = image, [], {}
        for index, (block, compress) in enumerate(zip(self.blocks, self.compress)):
            x = block(x)
            parts.append(compress(x))
            outputs[f"block{index + 1}"] = x
        outputs["features"] = torch.relu(torch.cat(parts, dim=1))
        return outputs


def build_network(architecture: dict) -> SplitNetwork:
    """Build from a model card's `architecture` entry, e.g. {"name": "PC-Net", "dims": 3, "channels": 16}.

    "U-Net" builds the encoder-decoder of unet.py; every other name the dilated P-Net/PC-Net.
    """
    if architecture.get("name") == "U-Net":
        from .unet import UNet
        keys = ("dims", "in_channels", "channels", "levels", "compress_channels", "classifier_channels",
                "classes", "context_slices")
        return UNet(**{k: architecture[k] for k in keys if k in architecture})
    keys = ("dims", "in_channels", "channels", "compress_channels", "classifier_channels", "classes")
    return DilatedNet(**{k: architecture[k] for k in keys if k in architecture})


def unet_architecture(dims: int = 2, channels: int = 16, levels: int = 4, context_slices: int = 1) -> dict:
    return {"name": "U-Net", "dims": dims, "channels": channels, "levels": levels, "compress_channels": 8,
            "classifier_channels": 32, "context_slices": context_slices if dims == 2 else 0}


def pnet_architecture(channels: int = 16, compress_channels: int = 4, classifier_channels: int = 32) -> dict:
    return {"name": "P-Net", "dims": 2, "channels": channels,
            "compress_channels": compress_channels, "classifier_channels": classifier_channels}


def pcnet_architecture(channels: int = 16, compress_channels: int = 4, classifier_channels: int = 32) -> dict:
    return {"name": "PC-Net", "dims": 3, "channels": channels,
            "compress_channels": compress_channels, "classifier_channels": classifier_channels}
