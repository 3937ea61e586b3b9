"""Where to scribble next, and whether the box looks like the model's training data.

Both come from the engine (regions from the round's uncertainty map, the verdict from
the spectral signature in the model card); this file only keeps the panel's place in
the ranked list and maps region centres into world coordinates for the slice views.
Qt-free, like the rest of the logic.
"""
from __future__ import annotations

import numpy as np

from .matrices import to_world

TOP_REGIONS = 5


class RegionCycler:
    """Hands out the current round's most uncertain regions one by one, most uncertain first."""

    def __init__(self):
        self._result = None
        self._regions: list = []
        self._next = 0

    def next_region(self, session, volume_node):
        """(region, world RAS point) of the next region, or None if the round has none.

        The point is the region's anchor, a voxel of the region itself (a curved region's
        centroid can lie outside it), moved by the volume's parent transforms.
        """
        if session is None or session.result is None:
            return None
        if session.result is not self._result:  # a new round or an undo: start from the top
            self._result, self._regions, self._next = session.result, session.uncertain_regions(TOP_REGIONS), 0
        if not self._regions:
            return None
        region = self._regions[self._next % len(self._regions)]
        self._next += 1
        return region, to_world(volume_node, np.asarray(region.anchor_ras, dtype=float))


def familiarity_text(report) -> str:
    """One line for the panel from the engine's out-of-distribution report."""
    if report is None:
        return "not checked: this model's card has no spectral signature"
    return f"{report['verdict']} (score {report['score']:.2f}, threshold {report['threshold']:.2f})"
