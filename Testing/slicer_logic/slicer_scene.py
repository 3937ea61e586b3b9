"""Building blocks for test scenes: volumes, ROIs, transforms, and a fingerprint of a scene."""
import numpy as np

import slicer


def new_scene():
    """A scene with the module logics Slicer registers before any segment is created; it becomes
    slicer.mrmlScene (for the slicer.util array helpers)."""
    scene = slicer.vtkMRMLScene()
    app = slicer.vtkSlicerApplicationLogic()
    app.SetMRMLScene(scene)
    colors = app.GetColorLogic()
    colors.SetMRMLScene(scene)
    colors.AddDefaultColorNodes()
    app.SetModuleLogic("Colors", colors)
    logics = {"Volumes": slicer.vtkSlicerVolumesLogic(), "Segmentations": slicer.vtkSlicerSegmentationsModuleLogic(),
              "Markups": slicer.vtkSlicerMarkupsLogic()}
    for name, logic in logics.items():
        logic.SetMRMLScene(scene)
        logic.SetMRMLApplicationLogic(app)
        app.SetModuleLogic(name, logic)
    slicer.mrmlScene = scene
    scene.keep_alive = (app, logics)  # VTK objects die with their last Python reference
    return scene


def rotation(axis: str, degrees: float) -> np.ndarray:
    """3x3 rotation about a RAS axis ("R", "A" or "S")."""
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    a, b = {"R": (1, 2), "A": (2, 0), "S": (0, 1)}[axis]
    m = np.eye(3)
    m[a, a], m[a, b], m[b, a], m[b, b] = c, -s, s, c
    return m


def add_volume(scene, array, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), directions=np.eye(3),
               name="volume", node_class="vtkMRMLScalarVolumeNode"):
    """A volume node from a (k, j, i) array; directions' columns are the i, j, k axes in RAS."""
    node = scene.AddNewNodeByClass(node_class, name)
    slicer.util.updateVolumeFromArray(node, np.ascontiguousarray(array))
    node.SetSpacing(*spacing)
    node.SetOrigin(*origin)
    node.SetIJKToRASDirections(np.asarray(directions, dtype=float))
    node.CreateDefaultDisplayNodes()
    return node


def add_roi(scene, center, size, axes=np.eye(3), name="box"):
    """A Markups ROI; axes' columns are its edge directions in RAS."""
    node = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", name)
    node.SetCenter(*center)
    node.SetSize(*size)
    matrix = node.GetObjectToNodeMatrix()
    for r in range(3):
        for c in range(3):
            matrix.SetElement(r, c, float(axes[r][c]))
    node.SetAndObserveObjectToNodeMatrix(matrix)
    return node


def add_linear_transform(scene, matrix4x4, name="transform"):
    from InteractiveSegLib.matrices import to_vtk
    node = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", name)
    node.SetMatrixTransformToParent(to_vtk(matrix4x4))
    return node


def blob_image(shape=(20, 40, 40), center=(10, 20, 20), radius=7.0, seed=0):
    """A bright ball on a noisy background: something a network can segment."""
    k, j, i = np.indices(shape)
    distance = np.sqrt((k - center[0]) ** 2 + (j - center[1]) ** 2 + (i - center[2]) ** 2)
    noise = np.random.default_rng(seed).normal(0, 5, shape)
    return (np.where(distance < radius, 200.0, 20.0) + noise).astype(np.int16)
