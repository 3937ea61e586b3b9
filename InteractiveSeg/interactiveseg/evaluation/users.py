"""What a simulated user is: the one interface every robot user implements.

    box(reference, *keys) -> Box
        the box it drags around the reference structure;
    strokes(mask, reference, spacing_ijk, *keys, result=None, image=None) -> (foreground, background)
        this round's new strokes, full-grid bool (k, j, i) masks, from the method's current
        mask (and, for engine methods, its Result: what the engine shows the user; `image`
        is the Volume the user looks at).

`keys` (case, structure, round) seed everything random, so identical masks get identical
strokes for every method. `runner.run_task` runs any user with any method. The users:
`robot_user.RobotUser` (largest error), `cvpr_robot.CvprRobot` (the CVPR 2025 rule),
`guided_user.GuidedUser` (where the engine is least sure). Strokes are drawn with
`strokes.straight_stroke`.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

from ..box import Box


class SimulatedUser(Protocol):
    name: str

    def box(self, reference: np.ndarray, *keys) -> Box: ...

    def strokes(self, mask: np.ndarray, reference: np.ndarray, spacing_ijk, *keys, result=None,
                image=None) -> tuple: ...
