"""The nodes the module makes for itself (scribbles, the uncertainty overlay), found by their mark.

They are never a source volume or an output segmentation. The marks are node attributes,
so they survive saving and reloading a scene. Torch-free: the panel uses it before torch
is installed.
"""
from __future__ import annotations

from .scribbles import is_scribble_node

UNCERTAINTY_ATTRIBUTE = "InteractiveSeg.Uncertainty"


def mark_uncertainty(node) -> None:
    node.SetAttribute(UNCERTAINTY_ATTRIBUTE, "1")


def module_nodes(scene) -> list:
    """Every scribble segmentation and uncertainty overlay in the scene, of any session."""
    segmentations = [n for n in nodes_of_class(scene, "vtkMRMLSegmentationNode") if is_scribble_node(n)]
    overlays = [n for n in nodes_of_class(scene, "vtkMRMLScalarVolumeNode")
                if n.GetAttribute(UNCERTAINTY_ATTRIBUTE) == "1"]
    return segmentations + overlays


def nodes_of_class(scene, class_name: str) -> list:
    """The scene's nodes of a class. GetNodesByClass hands its new collection to the caller, and Python's
    wrapper adds a reference of its own: without the UnRegister every node in it would never be freed."""
    collection = scene.GetNodesByClass(class_name)
    collection.UnRegister(None)
    return [collection.GetItemAsObject(i) for i in range(collection.GetNumberOfItems())]
