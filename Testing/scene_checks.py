"""What a scene holds, to show that an operation left it alone (shared by test folders)."""
from __future__ import annotations

import slicer


def scene_state(scene) -> dict:
    """Every node's ID, class, name and content, to show an operation left the scene alone."""
    from InteractiveSegLib.labelmaps import read_segment
    state = {}
    for index in range(scene.GetNumberOfNodes()):
        node = scene.GetNthNode(index)
        entry = [node.GetClassName(), node.GetName()]
        if node.IsA("vtkMRMLVolumeNode") and node.GetImageData() is not None:
            entry.append(slicer.util.arrayFromVolume(node).tobytes())
        if node.IsA("vtkMRMLSegmentationNode"):
            segmentation = node.GetSegmentation()
            reference = node.GetNodeReference(node.GetReferenceImageGeometryReferenceRole())
            for segment_id in segmentation.GetSegmentIDs():
                entry.append((segment_id, segmentation.GetSegment(segment_id).GetName(),
                              read_segment(node, segment_id, reference).tobytes() if reference else None))
        state[node.GetID()] = entry
    return state
