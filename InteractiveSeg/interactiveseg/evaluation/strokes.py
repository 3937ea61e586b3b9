"""The simulated users' brush stroke: a straight line on one slice, as a hand draws it.

Every simulated user (the project's robot, the CVPR 2025 protocol, the uncertainty-guided
user) draws its strokes with `straight_stroke`, so methods are compared on strokes of one kind.
"""
from __future__ import annotations

import numpy as np


def straight_stroke(allowed: np.ndarray, start_ji, direction_mm, sampling_ji, length_mm: float | None = None):
    """A 2D (j, i) mask: the line through `start_ji` along `direction_mm`, both ways, inside `allowed`.

    It walks half the smallest voxel size per step and stops at the first voxel outside
    `allowed` or the image (a brush stroke does not jump over gaps), or after `length_mm`
    in total (None: only `allowed` ends it).
    """
    sampling = np.asarray(sampling_ji, dtype=float)
    step_mm = 0.5 * float(sampling.min())
    steps = allowed.size if length_mm is None else int(length_mm / 2.0 / step_mm)
    start = np.asarray(start_ji, dtype=float) * sampling
    direction = np.asarray(direction_mm, dtype=float)
    stroke = np.zeros(allowed.shape, bool)
    stroke[tuple(int(v) for v in start_ji)] = True
    for sign in (1.0, -1.0):
        for step in range(1, steps + 1):
            index = tuple(np.round((start + sign * step * step_mm * direction) / sampling).astype(int))
            if not all(0 <= x < n for x, n in zip(index, allowed.shape)) or not allowed[index]:
                break
            stroke[index] = True
    return stroke


def principal_axis(points_mm: np.ndarray) -> np.ndarray:
    """Unit vector along the long axis of 2D points (mm); along i for fewer than two points."""
    if len(points_mm) < 2:
        return np.array([0.0, 1.0])
    centred = points_mm - points_mm.mean(axis=0)
    return np.linalg.eigh(centred.T @ centred)[1][:, -1]
