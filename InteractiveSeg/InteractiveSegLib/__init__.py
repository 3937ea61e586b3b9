"""MRML side of InteractiveSeg: scene nodes <-> the engine, without Qt.

Import the submodules directly (`from InteractiveSegLib.logic import ...`): this file
imports nothing, so `InteractiveSegLib.dependencies` works before torch is installed.

    matrices      VTK/numpy matrices, transforms between nodes
    volume_nodes  volume node -> engine Volume; region arrays -> volume nodes
    roi_box       Markups ROI -> voxel box
    labelmaps     segment <-> boolean array on the volume grid, region writes, labelmap export
    scribbles     the scribble segmentation (foreground, background)
    history       what an undo step restores
    worker        background thread with progress and cancel
    logic         the interactive loop: plan, run, apply, undo, accept
    dependencies  torch and safetensors installation on first use
"""
