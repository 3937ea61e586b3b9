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
    segmentations = [n for n in scene.GetNodesByClass("vtkMRMLSegmentationNode") if is_scribble_node(n)]
    overlays = [n for n in scene.GetNodesByClass("vtkMRMLScalarVolumeNode")
                if n.GetAttribute(UNCERTAINTY_ATTRIBUTE) == "1"]
    return segmentations + overlays
