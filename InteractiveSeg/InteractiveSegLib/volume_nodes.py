"""Volume nodes to engine volumes, and engine arrays back to (region) volume nodes."""
from __future__ import annotations

import numpy as np

import slicer
from interactiveseg import Box, InputError, Volume

from .matrices import ijk_to_ras, to_vtk


def volume_from_node(volume_node, modality: str = "auto") -> Volume:
    """Copy a scalar volume node's voxels and geometry into an engine Volume.

    The copy lets the computation run on a worker thread while the user keeps working in
    the scene. Geometry is the node's own IJK-to-RAS: the network only needs spacing, and
    a parent transform moves the whole volume, so it never changes the voxels.
    """
    if volume_node is None:
        raise InputError("Select a source volume.")
    if volume_node.GetImageData() is None or volume_node.GetImageData().GetNumberOfPoints() == 0:
        raise InputError(f"Volume '{volume_node.GetName()}' has no image data.")
    array = np.array(slicer.util.arrayFromVolume(volume_node))  # (k, j, i) or (k, j, i, components)
    try:
        return Volume.from_ijk_to_ras(array, ijk_to_ras(volume_node), modality)
    except InputError as error:
        raise InputError(f"Volume '{volume_node.GetName()}': {error}") from None


def shape_kji(volume_node) -> tuple:
    i, j, k = volume_node.GetImageData().GetDimensions()
    return (k, j, i)


def region_ijk_to_ras(volume_node, region: Box) -> np.ndarray:
    """IJK-to-RAS of a sub-block of the volume: same axes and spacing, origin at the block's first voxel."""
    matrix = ijk_to_ras(volume_node)
    matrix[:3, 3] = (matrix @ np.array([*region.lower, 1.0]))[:3]
    return matrix


def write_region_volume(scene, node, name: str, values_kji: np.ndarray, volume_node, region: Box):
    """Put a region-sized array into a scalar volume node placed over that region of the volume.

    Creates the node when `node` is None; it sits under the volume's parent transform so it
    overlays the volume wherever the volume is moved.
    """
    if node is None:
        node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
        node.CreateDefaultDisplayNodes()
    slicer.util.updateVolumeFromArray(node, np.ascontiguousarray(values_kji))
    node.SetIJKToRASMatrix(to_vtk(region_ijk_to_ras(volume_node, region)))
    node.SetAndObserveTransformNodeID(volume_node.GetTransformNodeID())
    return node
