"""MRML side of InteractiveSeg: scene nodes <-> the engine, without Qt.

Import the submodules directly (`from InteractiveSegLib.logic import ...`). Nothing here
imports torch: the engine runs in a worker process (`python -m interactiveseg worker`).

    matrices      VTK/numpy matrices, transforms between nodes
    volume_nodes  volume node -> engine Volume; region arrays -> volume nodes
    roi_box       Markups ROI -> voxel box
    labelmaps     segment <-> boolean array on the volume grid, region writes, labelmap export
    scribbles     the scribble segmentation (foreground, background)
    history       what an undo step restores
    engine_client the worker process: start or connect, send requests, poll replies
    remote_session one engine session in the worker (undo, regions, familiarity)
    round_runner  one round at a time for both GUIs: start, poll, cancel, apply or abandon
    logic         the interactive loop: plan, run, apply, undo, accept
    dependencies  torch and safetensors installation on first use
"""
