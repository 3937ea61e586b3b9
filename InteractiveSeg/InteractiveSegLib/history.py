"""What one round changed in the scene, so Undo can put it back exactly.

A round rewrites one segment inside the user's box and may change the scribbles; a step
keeps the box's previous voxels and the scribbles as they were, nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from interactiveseg import Box

from .scribbles import Scribbles

SEGMENT = "segment"
REFINE = "refine"


@dataclass(kw_only=True)  # ten fields: built by name, never by position
class Step:
    kind: str  # SEGMENT or REFINE
    epoch: int  # which engine box (which Segment click) this round belongs to
    volume_node: object  # the grid `region` and `previous` are on
    segmentation_node: object
    segment_id: str
    created_segment: bool  # the round added the segment: undo removes it
    region: Box  # the round's box: the only voxels of the segment it wrote
    previous: np.ndarray  # the segment's voxels in `region` before the round, (k, j, i) bool
    scribbles_before: Scribbles | None  # scribbles to show again after undo (None: leave them)
    created_node: bool = False  # the round made the segmentation node: undo removes it
    others_before: dict = field(default_factory=dict)  # segment id -> its voxels in `region` before an overwrite
