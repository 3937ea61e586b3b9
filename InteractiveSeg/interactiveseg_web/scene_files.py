"""Volumes into the scene and segmentations out of it, refusing bad files before the scene changes."""
from __future__ import annotations

import re
from pathlib import Path

import slicer
from interactiveseg import InputError, read_volume
from interactiveseg.image_io import atomic_write
from InteractiveSegLib.volume_nodes import volume_from_node

VOLUME_SUFFIXES = (".nii.gz", ".nrrd", ".nii", ".nhdr", ".mha", ".mhd")  # Slicer keeps these in node names


def load_volume(slicer_app, path):
    """Load a NRRD/NIfTI/... file or a DICOM folder as a scalar volume node; returns the node.

    The engine's reader checks the file first (an image, scalar, 2D or 3D, not constant),
    so a file that is no image or a 4D volume is refused with a message and the scene is
    left as it was; anything Slicer's reader then adds is removed again if it fails too.
    """
    path = Path(str(path).strip()).expanduser()
    if not str(path).strip() or str(path) == ".":
        raise InputError("Type the path of an image file or a DICOM folder on the server.")
    read_volume(path)
    files = sorted(str(p) for p in path.iterdir() if p.is_file()) if path.is_dir() else [str(path)]
    before = _node_ids(slicer_app.scene)
    try:
        nodes = [n for n in slicer_app.io_manager.load_volumes(files) if n.IsA("vtkMRMLScalarVolumeNode")]
        if not nodes:
            raise InputError(f"Slicer could not read {path} as a scalar volume.")
        node = max(nodes, key=_voxel_count)
        volume_from_node(node)  # the check every round makes: fail now rather than at Segment
    except BaseException:
        _remove_nodes_since(slicer_app.scene, before)
        raise
    for other in nodes:
        if other is not node:
            slicer_app.scene.RemoveNode(other)
    return node


def save_segmentation(segmentation_node, path) -> Path:
    """Write a segmentation node as Slicer's .seg.nrrd (all its segments), atomically."""
    path = Path(str(path).strip()).expanduser()
    if not path.name.lower().endswith(".seg.nrrd"):
        raise InputError(f"A segmentation is saved as a .seg.nrrd file: {path}")
    if segmentation_node is None or segmentation_node.GetSegmentation().GetNumberOfSegments() == 0:
        raise InputError("Nothing to save yet: place a box and press Segment first.")

    def write(tmp):
        storage = slicer.vtkMRMLSegmentationStorageNode()
        storage.SetFileName(str(tmp))
        if not storage.WriteData(segmentation_node):
            raise InputError(f"Could not write {path}.")

    atomic_write(path, write)
    return path


def file_stem(node_name: str) -> str:
    """A volume node's name without the file suffix Slicer keeps ("CT.nii.gz") or a clash counter ("CT_1")."""
    name = re.sub(r"_\d+$", "", node_name)
    for suffix in VOLUME_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[:-len(suffix)] or node_name
    return node_name


def _voxel_count(node) -> int:
    image = node.GetImageData()
    return image.GetNumberOfPoints() if image is not None else 0


def _node_ids(scene) -> set:
    return {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())}


def _remove_nodes_since(scene, before: set) -> None:
    for node_id in _node_ids(scene) - before:
        node = scene.GetNodeByID(node_id)
        if node is not None:
            scene.RemoveNode(node)
