"""Run every method through a simulated user's rounds on every structure; one row per round.

A simulated user (evaluation/users.py) draws the box and each round's strokes: the
error-driven RobotUser, the CvprRobot of the CVPR 2025 protocol, or the GuidedUser.

All methods see the same box; each round the robot user corrects each method's own
largest error by the same rule and the same random stream, so identical masks get
identical strokes (all engine variants share round 0 and hence round 1's strokes).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from ..overlap import dice
from .cvpr_robot import challenge_nsd
from .measure import measure
from .methods import make_method
from .metrics import hd95
from .robot_user import RobotUser


@dataclass
class Task:
    case: str
    structure: str
    value: int
    role: str  # "seen" (class trained on, held-out subject) or "unseen" (class never trained on)
    volume: object  # interactiveseg.Volume
    reference: np.ndarray  # bool (k, j, i)


def run_task(task: Task, method_names, robot: RobotUser, rounds: int, method_factory=None,
             device: str = "cpu", log=None) -> list:
    factory = method_factory or (lambda name: make_method(name, device=device))
    keys = (task.case, task.value)
    box = robot.box(task.reference, *keys)
    rows = []
    for name in method_names:
        method = factory(name)
        with measure(device) as cost:
            mask = method.start(task.volume, box)
        rows.append(_row(task, name, robot.name, 0, mask, cost, box, None, None))
        for index in range(1, rounds + 1):
            foreground, background = robot.strokes(mask, task.reference, task.volume.spacing, *keys, index,
                                                   result=getattr(method, "result", None), image=task.volume)
            with measure(device) as cost:
                mask = method.correct(foreground, background)
            rows.append(_row(task, name, robot.name, index, mask, cost, box, foreground, background))
            result = getattr(method, "result", None)
            if result is not None and result.round == index and result.steps:  # voxels after each step
                rows[-1]["steps"] = dict(result.steps)
        if log:
            dices = " ".join(f"{r['dice']:.3f}" for r in rows if r["method"] == name)
            log(f"{task.case} {task.structure} {name}: {dices}")
    return rows


def run_tasks(tasks, method_names, robot: RobotUser, rounds: int, method_factory=None, device: str = "cpu",
              log=lambda text: print(text, file=sys.stderr, flush=True)) -> list:
    rows = []
    for task in tasks:
        rows += run_task(task, method_names, robot, rounds, method_factory, device, log)
    return rows


def _row(task: Task, method: str, user: str, index: int, mask, cost, box, foreground, background) -> dict:
    distance = hd95(mask, task.reference, task.volume.spacing)
    overlap = dice(mask, task.reference)
    return {
        "case": task.case, "structure": task.structure, "value": task.value, "role": task.role,
        "method": method, "user": user, "round": index,
        "dice": round(overlap, 4),
        "nsd_2mm": round(challenge_nsd(overlap, mask, task.reference, task.volume.spacing), 4),
        "hd95_mm": None if distance is None else round(distance, 2),
        "seconds": round(cost.seconds, 3), "peak_mb": round(cost.peak_mb, 1),
        "stroke_voxels": {"foreground": int(foreground.sum()) if foreground is not None else 0,
                          "background": int(background.sum()) if background is not None else 0},
        "box": box.as_ijk(),
    }
