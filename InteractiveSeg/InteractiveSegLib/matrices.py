"""4x4 matrices between VTK and numpy, and linear transforms between MRML nodes.

Every matrix here maps column vectors: point_out = M @ (x, y, z, 1).
"""
from __future__ import annotations

import numpy as np
import vtk

import slicer
from interactiveseg import InputError


def to_numpy(matrix: vtk.vtkMatrix4x4) -> np.ndarray:
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def to_vtk(array) -> vtk.vtkMatrix4x4:
    matrix = vtk.vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            matrix.SetElement(r, c, float(array[r][c]))
    return matrix


def ijk_to_ras(volume_node) -> np.ndarray:
    """The volume's IJK-to-RAS matrix in its own (node) coordinates, before any parent transform."""
    matrix = vtk.vtkMatrix4x4()
    volume_node.GetIJKToRASMatrix(matrix)
    return to_numpy(matrix)


def node_to_node(source_node, target_node, what: str) -> np.ndarray:
    """Matrix from source_node's coordinates to target_node's, through their parent transforms.

    Only linear transforms can map a box to a box; a warping transform is refused with a
    message rather than silently ignored.
    """
    matrix = vtk.vtkMatrix4x4()
    ok = slicer.vtkMRMLTransformNode.GetMatrixTransformBetweenNodes(
        source_node.GetParentTransformNode(), target_node.GetParentTransformNode(), matrix)
    if not ok:
        raise InputError(f"{what} is under a non-linear (warping) transform: harden or remove the transform first.")
    return to_numpy(matrix)


def to_world(node, point_ras) -> np.ndarray:
    """A point in the node's own RAS coordinates moved into world RAS through its parent transforms."""
    matrix = vtk.vtkMatrix4x4()
    if not slicer.vtkMRMLTransformNode.GetMatrixTransformBetweenNodes(node.GetParentTransformNode(), None, matrix):
        raise InputError(f"'{node.GetName()}' is under a non-linear (warping) transform: harden or remove it first.")
    return (to_numpy(matrix) @ np.append(np.asarray(point_ras, dtype=float), 1.0))[:3]
