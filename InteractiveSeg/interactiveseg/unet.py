"""A small U-Net box segmenter (2D or 3D) with the feature/classifier split fine-tuning needs.

An encoder of `levels` resolutions (channels doubling, 2x2(x2) max-pooling between them)
and a decoder with skip connections bring the image back to full resolution. The
features a session caches per box are a hypercolumn: the full-resolution decoder output
plus the two coarser decoder outputs, each compressed by a 1x1 convolution and upsampled.
A classifier of two 1x1 convolutions turns them into two-class logits, as in P-Net, so
image-specific fine-tuning trains only that small head on cached features.

A 2D network may see `context_slices` neighbours on each side of a slice as extra input
channels (2.5D): slice k is segmented from slices k-c .. k+c (see preprocess.network_batch).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .networks import SplitNetwork

HYPERCOLUMN_LEVELS = 3  # decoder outputs that make up the features: full, 1/2 and 1/4 resolution


class UNet(SplitNetwork):
    def __init__(self, dims: int = 2, in_channels: int = 1, channels: int = 16, levels: int = 4,
                 compress_channels: int = 8, classifier_channels: int = 32, classes: int = 2,
                 context_slices: int = 0):
        super().__init__()
        if dims not in (2, 3):
            raise ValueError("dims must be 2 or 3")
        if context_slices and dims != 2:
            raise ValueError("context_slices applies to 2D networks only")
        if levels < HYPERCOLUMN_LEVELS:
            raise ValueError(f"levels must be at least {HYPERCOLUMN_LEVELS}")
        self.dims, self.levels, self.context_slices = dims, levels, context_slices
        conv = nn.Conv2d if dims == 2 else nn.Conv3d
        self._conv, self._norm = conv, (nn.InstanceNorm2d if dims == 2 else nn.InstanceNorm3d)
        self._linear = "bilinear" if dims == 2 else "trilinear"
        widths = [channels * 2 ** n for n in range(levels)]
        self.encoder = nn.ModuleList()
        previous = in_channels * (1 + 2 * context_slices)
        for width in widths:
            self.encoder.append(self._block(previous, width))
            previous = width
        self.upsample = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for width in reversed(widths[:-1]):  # coarse to fine
            self.upsample.append(conv(previous, width, 1))
            self.decoder.append(self._block(2 * width, width))
            previous = width
        # decoder outputs, coarse to fine: widths[-2], ..., widths[0]; compress the coarser ones
        self.compress = nn.ModuleList([conv(widths[n], compress_channels, 1) for n in range(1, HYPERCOLUMN_LEVELS)])
        self.feature_channels = widths[0] + compress_channels * (HYPERCOLUMN_LEVELS - 1)
        self.classifier = nn.Sequential(
            conv(self.feature_channels, classifier_channels, 1), nn.ReLU(inplace=True),
            conv(classifier_channels, classes, 1))

    def _block(self, inputs: int, outputs: int) -> nn.Sequential:
        layers = []
        for source in (inputs, outputs):
            layers += [self._conv(source, outputs, 3, padding=1), self._norm(outputs, affine=True),
                       nn.LeakyReLU(0.01, inplace=True)]
        return nn.Sequential(*layers)

    def layer_outputs(self, image: torch.Tensor) -> dict:
        """Every block's output by name ("block1" ... encoder then decoder) and the features."""
        outputs, skips, x = {}, [], image
        for index, block in enumerate(self.encoder):
            if index:
                x = F.max_pool2d(x, 2, ceil_mode=True) if self.dims == 2 else F.max_pool3d(x, 2, ceil_mode=True)
            x = block(x)
            skips.append(x)
            outputs[f"block{index + 1}"] = x
        decoded = []
        for index, (up, block) in enumerate(zip(self.upsample, self.decoder)):
            skip = skips[-2 - index]
            x = F.interpolate(up(x), size=skip.shape[2:], mode=self._linear, align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
            decoded.append(x)
            outputs[f"block{self.levels + index + 1}"] = x
        finest = decoded[-1]
        parts = [finest] + [F.interpolate(compress(decoded[-1 - n]), size=finest.shape[2:], mode=self._linear,
                                          align_corners=False)
                            for n, compress in enumerate(self.compress, start=1)]
        outputs["features"] = torch.relu(torch.cat(parts, dim=1))
        return outputs
