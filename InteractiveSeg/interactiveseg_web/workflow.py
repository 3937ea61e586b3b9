"""What the page's buttons do, on a trame-slicer SlicerApp's scene, without any page.

Scene work goes through InteractiveSegLib's `InteractiveSegmentationLogic` and its
`RoundRunner`, exactly as in the desktop module: plan on the server's main thread,
compute in the engine worker process, apply back on the main thread when `poll()` sees
the round finish.
`act(name, ...)` runs an action and turns a refusal into a message, so bad input never
reaches the server loop as an exception and never changes the scene.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import slicer
from interactiveseg import InteractiveSegError, InputError
from InteractiveSegLib import scribbles
from InteractiveSegLib.labelmaps import read_segment
from InteractiveSegLib.logic import InteractiveSegmentationLogic
from InteractiveSegLib.round_runner import DONE, RoundRunner

from . import scene_files, uploads

TOOLS = ("", "foreground", "background", "erase")  # "": no painting, the views pan and zoom
UNCERTAINTY_OPACITY = 0.4
BRUSH_PERCENT = 3.0  # brush diameter in % of the view: strokes thin enough to correct a boundary
log = logging.getLogger(__name__)


@dataclass
class Status:
    text: str
    error: bool = False


class Workflow:
    def __init__(self, slicer_app, model_path: str = "", device: str = "auto", settings: dict | None = None,
                 logic: InteractiveSegmentationLogic | None = None):
        self.app = slicer_app
        self.scene = slicer_app.scene
        slicer.mrmlScene = self.scene  # slicer.util's array helpers read the scene from here
        self.logic = logic or InteractiveSegmentationLogic(self.scene)
        self.model_path, self.device, self.settings = model_path, device, dict(settings or {})
        self.volume_node = None
        self.volume_path = None  # the file or folder it was loaded from
        self.roi_node = None
        self.segmentation_node = None  # the output: made by the first Segment
        self.segment_id = ""  # "": the next Segment adds a new segment
        self.tool = ""
        self.brush_percent = BRUSH_PERCENT
        self.runner = RoundRunner(self.logic)
        self.status = Status("Load a volume, or open the sample.")

    # Entry point for the page -----------------------------------------------------------

    def act(self, name: str, *args) -> bool:
        """Run one action; a refusal or failure becomes the status message. True if it went through."""
        try:
            getattr(self, name)(*args)
            return True
        except InteractiveSegError as error:
            self.status = Status(str(error), error=True)
        except Exception as error:  # a bug, not bad input: keep the details in the server log
            log.exception("InteractiveSeg action %s failed", name)
            self.status = Status(f"Unexpected error: {error}. Details are in the server log.", error=True)
        return False

    @property
    def busy(self) -> bool:
        return self.runner.busy

    @property
    def progress(self) -> tuple:
        status = self.runner.status
        return (status.fraction, status.message) if self.busy else (0.0, "")

    # Volume ---------------------------------------------------------------------------

    def load(self, path) -> None:
        self._check_idle()
        node = scene_files.load_volume(self.app, path)  # refuses bad files before the scene changes
        self._end_interaction()
        self.volume_node, self.roi_node, self.segmentation_node, self.segment_id = node, None, None, ""
        self.volume_path = Path(path)
        for view in self.app.view_manager.get_slice_views():
            view.set_background_volume_id(node.GetID())
            view.set_foreground_volume_id(None)
            view.set_visible_in_3d(True)  # the 3D view shows the three slices around the segment
        self.app.display_manager.reset_views()
        self.status = Status(f"Loaded '{node.GetName()}'. Press Place box, then click two corners in a slice view.")

    def load_upload(self, name: str, content: bytes | None, folder: Path) -> None:
        """Keep a file sent from the browser in `folder`, then load it; a file that fails to load is removed again."""
        self._check_idle()
        path = uploads.store_upload(name, content, Path(folder))
        try:
            self.load(path)
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    # Box ------------------------------------------------------------------------------

    def place_box(self) -> None:
        """A new ROI, placed by two clicks in a view (Slicer's ROI placement)."""
        self._check_idle()
        self._require_volume()
        self.set_tool("")
        if self._present(self.roi_node):
            self.scene.RemoveNode(self.roi_node)
        self.roi_node = self.scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", self.scene.GenerateUniqueName("Box"))
        self.roi_node.CreateDefaultDisplayNodes()
        self.app.markups_logic.place_node(self.roi_node)
        self.status = Status("Click one corner of the box, then the opposite corner.")

    # Rounds ---------------------------------------------------------------------------

    def segment(self) -> None:
        self._require_volume()
        if not self._present(self.roi_node):
            raise InputError("Place a box around the object first.")
        self.set_tool("")
        segment_id = self.segment_id if self._has_segment() else ""
        job = self.logic.plan_segment(self.volume_node, self.roi_node, self._output_node(), segment_id,
                                      model_path=self.model_path, settings=self.settings, device=self.device)
        self._start(job, "Segmenting")

    def refine(self) -> None:
        self.set_tool("")  # ends a stroke in progress
        self._check_idle()
        job = self.logic.plan_refine(self.logic.scribble_node)
        self._start(job, "Refining")

    def undo(self) -> None:
        self.set_tool("")
        if not self.logic.undo():
            raise InputError("Nothing to undo.")
        self._show_uncertainty_layer()
        self.status = Status("Last round undone.")

    def accept(self) -> None:
        self._check_idle()
        if not self.logic.rounds:
            raise InputError("Nothing to accept yet: place a box and press Segment first.")
        self.set_tool("")
        self.logic.accept()
        self.segment_id = ""  # the next object gets a segment of its own
        self._show_uncertainty_layer()
        self.status = Status("Segment accepted. Place a new box for another object, or save.")

    def cancel(self) -> None:
        if not self.busy:
            raise InputError("Nothing is running.")
        self.runner.cancel()  # the engine stops at its next check; a late result is dropped
        self.status = Status("Cancelling...")

    def poll(self) -> bool:
        """Called on the server loop while busy: apply a finished round. True once nothing runs."""
        if not self.busy:
            return True
        status = self.runner.poll()
        if not status.finished:
            return False
        if status.state == DONE:
            self.act("_apply", status.job, status.result)
        elif status.bug:
            log.error("InteractiveSeg round failed: %s\n%s", status.message, status.details)
            self.status = Status(f"{status.message}. Details are in the server log.", error=True)
        else:
            self.status = Status(status.message, error=status.state != "cancelled")
        return True

    def _apply(self, job, result) -> None:
        """Show a round the runner has written into the scene."""
        self.segmentation_node, self.segment_id = job.segmentation_node, job.segment_id
        self.segmentation_node.CreateClosedSurfaceRepresentation()  # shows the segment in the 3D view too
        self._show_uncertainty_layer()
        notes = "".join(f" {w}" for w in result.warnings)
        self.status = Status(f"Round {result.round} done in {result.seconds:.1f} s on {result.device}.{notes}")

    # Scribbles ------------------------------------------------------------------------

    def set_tool(self, tool: str) -> None:
        """Paint foreground or background scribbles, erase them, or stop painting ("")."""
        if tool not in TOOLS:
            raise InputError(f"Unknown scribble tool '{tool}'.")
        editor = self.app.segmentation_editor
        if not tool:
            if self.tool:
                editor.deactivate_effect()
            self.tool = ""
            return
        self._check_idle()
        self._require_volume()
        from trame_slicer.segmentation import (SegmentationEffectErase, SegmentationEffectPaint,
                                               SegmentationOverwriteMode)
        self.app.markups_logic.disable_place_mode()
        node = self.logic.ensure_scribble_node(self.volume_node, self.logic.scribble_node)
        if editor.active_segmentation_node is not node:
            editor.set_active_segmentation(node, self.volume_node)
        editor.set_overwrite_mode(SegmentationOverwriteMode.OVERWRITE_ALL)  # a voxel is foreground or background
        if tool == "erase":
            effect = editor.set_active_effect_type(SegmentationEffectErase)
        else:
            editor.set_active_segment_id(tool)
            effect = editor.set_active_effect_type(SegmentationEffectPaint)
        effect.set_brush_diameter(self.brush_percent)
        self.tool = tool
        what = {"foreground": "foreground (object)", "background": "background",
                "erase": f"erase {editor.active_segment_id or 'foreground'}"}[tool]
        self.status = Status(f"Painting {what} scribbles: drag in a slice view, then press Refine.")

    def set_brush_size(self, percent: float) -> None:
        """Brush diameter in percent of the view's size."""
        self.brush_percent = min(max(float(percent), 0.5), 25.0)
        effect = self.app.segmentation_editor.active_effect
        if self.tool and effect is not None:
            effect.set_brush_diameter(self.brush_percent)

    def clear_scribbles(self) -> None:
        self._check_idle()
        if scribbles.is_scribble_node(self.logic.scribble_node) and self._present(self.logic.scribble_node):
            scribbles.clear_scribbles(self.logic.scribble_node)
        self.status = Status("Scribbles cleared.")

    # Display and saving ---------------------------------------------------------------

    def show_uncertainty(self, show: bool) -> None:
        self.logic.show_uncertainty = bool(show)
        self.logic.update_uncertainty(self.logic.result)
        self._show_uncertainty_layer()

    def save(self, path) -> Path:
        self._check_idle()
        if not self._has_segment():
            raise InputError("Nothing to save yet: place a box and press Segment first.")
        written = scene_files.save_segmentation(self.segmentation_node, path)
        self.status = Status(f"Saved {written}.")
        return written

    def summary(self) -> dict:
        """Facts about the scene for the page (and its tests): what exists and how many voxels."""
        facts = {"volume": "", "box": False, "rounds": self.logic.rounds, "can_refine": self.logic.can_refine,
                 "segment_voxels": 0, "segment_digest": "", "foreground_voxels": 0, "background_voxels": 0,
                 "foreground_in_segment": 0, "background_in_segment": 0,
                 "uncertainty_shown": self._present(self.logic.uncertainty_node)}
        if not self._present(self.volume_node):
            return facts
        facts["volume"] = self.volume_node.GetName()
        facts["box"] = self._present(self.roi_node) and self.roi_node.GetNumberOfDefinedControlPoints() > 0
        mask = None
        if self._has_segment():
            mask = read_segment(self.segmentation_node, self.segment_id, self.volume_node)
            facts["segment_voxels"] = int(mask.sum())
            facts["segment_digest"] = hashlib.sha1(np.packbits(mask).tobytes()).hexdigest()[:16]
        node = self.logic.scribble_node
        if scribbles.is_scribble_node(node) and self._present(node) and scribbles.drawn_on(node) is self.volume_node:
            for label, painted in zip(("foreground", "background"), scribbles.read_scribbles(node, self.volume_node).masks()):
                facts[f"{label}_voxels"] = int(painted.sum())
                facts[f"{label}_in_segment"] = int((painted & mask).sum()) if mask is not None else 0
        return facts

    # Internals ------------------------------------------------------------------------

    def _start(self, job, what: str) -> None:
        self.status = Status(f"{what}...")
        self.runner.start(job)
        if self.runner.status.finished:  # refused at once (a worker that could not start)
            self.poll()

    def _check_idle(self) -> None:
        if self.busy:
            raise InputError("A computation is still running: wait for it or press Cancel.")

    def _require_volume(self) -> None:
        if not self._present(self.volume_node):
            raise InputError("Load a volume first.")

    def _present(self, node) -> bool:
        return node is not None and bool(self.scene.IsNodePresent(node))

    def _has_segment(self) -> bool:
        return (self._present(self.segmentation_node) and bool(self.segment_id)
                and self.segmentation_node.GetSegmentation().GetSegment(self.segment_id) is not None)

    def _output_node(self):
        return self.segmentation_node if self._present(self.segmentation_node) else None

    def _end_interaction(self) -> None:
        """A new volume: keep what was segmented, drop the rounds, the box and the brush."""
        self.set_tool("")
        self.app.markups_logic.disable_place_mode()
        if self.logic.rounds:
            self.logic.accept()
        self.show_uncertainty(self.logic.show_uncertainty)

    def _show_uncertainty_layer(self) -> None:
        node = self.logic.uncertainty_node if self._present(self.logic.uncertainty_node) else None
        for view in self.app.view_manager.get_slice_views():
            view.set_foreground_volume_id(node.GetID() if node is not None else None)
            view.set_foreground_opacity(UNCERTAINTY_OPACITY if node is not None else 0.0)
