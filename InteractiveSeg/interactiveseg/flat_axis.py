"""A single slice whose one voxel lies along i or j (a sagittal or coronal slice) is turned so that it lies along k.

The engine segments single slices with its 2D model, which works on axial (k) slices; a
flat volume of shape (K, J, 1) would otherwise reach the 3D model on a grid one voxel
thick. A session works on the turned volume and turns boxes and scribbles in and results
out, so its caller sees its own axes throughout. The turn only reorders axes: every
voxel keeps its physical position (the direction matrix's columns move with the axes).
Numpy only: the Slicer module uses `slices_seen` without torch.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .box import Box
from .result import Result
from .volume import Volume


def slices_seen(shape_kji) -> int:
    """How many axial slices the engine sees in an image of this (k, j, i) shape: 1 for any single slice."""
    return 1 if 1 in tuple(shape_kji) else int(shape_kji[0])


@dataclasses.dataclass(frozen=True)
class Turn:
    """Which of the caller's (k, j, i) axes each of the engine's (k, j, i) axes is."""
    order: tuple

    @classmethod
    def for_shape(cls, shape_kji) -> "Turn | None":
        """The turn a volume of this shape needs; None when its k axis is already the flat one, or none is."""
        shape = tuple(shape_kji)
        if shape[0] == 1 or 1 not in shape:
            return None
        flat = shape.index(1)
        return cls((flat,) + tuple(axis for axis in range(3) if axis != flat))

    def _caller_ijk_index(self, engine_ijk_index: int) -> int:
        return 2 - self.order[2 - engine_ijk_index]

    def ijk_in(self, values) -> tuple:
        """An (i, j, k) triple (index, size, spacing) from the caller's axes to the engine's."""
        return tuple(values[self._caller_ijk_index(e)] for e in range(3))

    def ijk_out(self, values) -> tuple:
        caller = [None] * 3
        for e in range(3):
            caller[self._caller_ijk_index(e)] = values[e]
        return tuple(caller)

    def volume_in(self, volume: Volume) -> Volume:
        columns = [self._caller_ijk_index(e) for e in range(3)]
        return Volume(volume.array.transpose(self.order), spacing=self.ijk_in(volume.spacing), origin=volume.origin,
                      direction=np.asarray(volume.direction)[:, columns], modality=volume.modality)

    def box_in(self, box: Box) -> Box:
        return Box(self.ijk_in(box.lower), self.ijk_in(box.upper))

    def box_out(self, box: Box) -> Box:
        return Box(self.ijk_out(box.lower), self.ijk_out(box.upper))

    def mask_in(self, mask: np.ndarray) -> np.ndarray:
        """A (k, j, i) array on the caller's grid, on the engine's."""
        return np.asarray(mask).transpose(self.order)

    def result_out(self, result: Result) -> Result:
        back = tuple(int(a) for a in np.argsort(self.order))
        return dataclasses.replace(
            result, box=self.box_out(result.box), region=self.box_out(result.region),
            region_probability=result.region_probability.transpose(back),
            region_uncertainty=result.region_uncertainty.transpose(back),
            volume_shape=tuple(result.volume_shape[a] for a in back))
