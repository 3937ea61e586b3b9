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
from InteractiveSegLib.logic import DEFAULT_SEGMENT_NAME, InteractiveSegmentationLogic, remove_node
from InteractiveSegLib.module_nodes import nodes_of_class
from InteractiveSegLib.roi_box import set_slice_range, slice_range
from InteractiveSegLib.round_runner import DONE, RoundRunner

from . import display, scene_files, uploads

TOOLS = ("", "foreground", "background", "erase")  # "": no painting: drag for window/level, pan and zoom
UNCERTAINTY_OPACITY = 0.4
BRUSH_MM = 5.0  # brush diameter: thin enough to correct a boundary on a 1 mm grid, wide enough to hit a lung
BRUSH_RANGE_MM = (1.0, 30.0)
PLACE_BOX_TEXT = "Click one corner of the box, then the opposite corner."
BOX_PLACED_TEXT = ("Box placed: check its top and bottom in the coronal view (or set its slices in the panel), "
                   "then Segment.")
log = logging.getLogger(__name__)


@dataclass
class Status:
    text: str
    error: bool = False


class Workflow:
    def __init__(self, slicer_app, model_path: str = "", device: str = "auto", settings: dict | None = None,
                 logic: InteractiveSegmentationLogic | None = None, keep_dir: Path | None = None):
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
        self.brush_mm = BRUSH_MM
        self.window = "auto"  # a key of display.WINDOW_PRESETS
        self.segment_name = DEFAULT_SEGMENT_NAME
        self.segment_opacity = display.SEGMENT_OPACITY
        self.uncertainty_opacity = UNCERTAINTY_OPACITY
        self.keep_dir = Path(keep_dir) if keep_dir else Path.cwd()  # where unsaved work goes when a volume is closed
        self.unsaved = False  # rounds applied or undone since the last save
        self.placing_box = False
        self.runner = RoundRunner(self.logic)
        self.status = Status("Load a volume, or open the sample.")
        self._interaction = self.scene.GetNodeByID("vtkMRMLInteractionNodeSingleton")
        self._interaction.AddObserver("ModifiedEvent", self._on_interaction_mode)
        self._use_window_level_drag()

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
        """Replace the volume: the old one goes with its box, scribbles and segmentation (kept on disk if unsaved)."""
        self._check_idle()
        node = scene_files.load_volume(self.app, path)  # refuses bad files before the scene changes
        try:
            kept = self._close_volume()
        except BaseException:
            remove_node(self.scene, node)
            raise
        node.SetName(scene_files.file_stem(node.GetName()))  # not "CT.nrrd_1": the old node is gone now
        self.volume_node, self.volume_path = node, Path(path)
        self.set_window(display.default_window(node))
        for view in self.app.view_manager.get_slice_views():
            view.set_background_volume_id(node.GetID())
            view.set_foreground_volume_id(None)
            view.set_visible_in_3d(True)  # the 3D view shows the three slices around the segment
        self.app.display_manager.reset_views()
        note = f" The previous segmentation was not saved: it is kept in {kept}." if kept else ""
        self.status = Status(f"Loaded '{node.GetName()}'. Press Place box, then click two corners in a slice view."
                             + note)

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
        display.outline_box(self.roi_node)
        self.app.markups_logic.place_node(self.roi_node)
        self.placing_box = True  # after place mode is on: the mode's next change ends the placement
        self.status = Status(PLACE_BOX_TEXT)

    def box_slices(self) -> tuple | None:
        """(first, last) slice the box covers, or None without a placed box."""
        if not self._box_placed():
            return None
        try:
            return slice_range(self.roi_node, self.volume_node)
        except InteractiveSegError:  # flat, or off the volume: the panel shows no range, Segment says why
            return None

    def set_box_slices(self, first, last) -> None:
        """Set the box's top and bottom by slice number (the panel's fields)."""
        self._check_idle()
        if not self._box_placed():
            raise InputError("Place a box first.")
        try:
            first, last = int(first), int(last)
        except (TypeError, ValueError):
            raise InputError("The box's slices are whole numbers.") from None
        set_slice_range(self.roi_node, self.volume_node, first, last)
        self.status = Status(f"The box now covers slices {first}-{last}. Press Segment.")

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
        self.unsaved = True
        self._show_uncertainty_layer()
        left = self.logic.rounds
        self.status = Status(f"Round {left + 1} undone." + (f" Round {left} is shown." if left else ""))

    def accept(self) -> None:
        self._check_idle()
        if not self.logic.rounds:
            raise InputError("Nothing to accept yet: place a box and press Segment first.")
        self.set_tool("")
        self.logic.accept()
        self.segment_id = ""  # the next object gets a segment of its own
        self.segment_name = DEFAULT_SEGMENT_NAME
        self._show_uncertainty_layer()
        self.status = Status("Segment accepted. Place a new box for another object, or save.")

    def cancel(self) -> None:
        if not self.busy:
            raise InputError("Nothing is running.")
        self.status = Status("Cancelling...")
        self.runner.cancel()  # the engine stops at its next check; a late result is dropped
        if not self.busy:  # still uploading the volume: the round ended at once
            self._finish(self.runner.status)

    def poll(self) -> bool:
        """Called on the server loop while busy: apply a finished round. True once nothing runs."""
        if not self.busy:
            return True
        status = self.runner.poll()
        if not status.finished:
            return False
        self._finish(status)
        return True

    def _finish(self, status) -> None:
        """Show how a round ended: apply its result, or say why it did not."""
        if status.state == DONE:
            self.act("_apply", status.job, status.result)
        elif status.bug:
            log.error("InteractiveSeg round failed: %s\n%s", status.message, status.details)
            self.status = Status(f"{status.message}. Details are in the server log.", error=True)
        else:
            self.status = Status(status.message, error=status.state != "cancelled")

    def _apply(self, job, result) -> None:
        """Show a round the runner has written into the scene."""
        self.segmentation_node, self.segment_id = job.segmentation_node, job.segment_id
        self.segmentation_node.CreateClosedSurfaceRepresentation()  # shows the segment in the 3D view too
        segment = self.segmentation_node.GetSegmentation().GetSegment(self.segment_id)
        if self.logic.rounds == 1 and self.segment_name == DEFAULT_SEGMENT_NAME:
            self.segment_name = segment.GetName()  # a new segment's unique default name ("... 2" beside the first)
        segment.SetName(_clean(self.segment_name))
        display.style_segment(self.segmentation_node, self.segment_id, self.segment_opacity)
        self.unsaved = True
        self._show_uncertainty_layer()
        notes = "".join(f" {w}" for w in result.warnings)
        self.status = Status(f"Round {self.logic.rounds} done in {result.seconds:.1f} s on {result.device}.{notes}")

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
            self._use_window_level_drag()
            return
        self._check_idle()
        self._require_volume()
        from trame_slicer.segmentation import (BrushDiameterMode, SegmentationEffectErase, SegmentationEffectPaint,
                                               SegmentationOverwriteMode)
        self.app.markups_logic.disable_place_mode()
        self.placing_box = False
        self._interaction.SetCurrentInteractionMode(self._interaction.ViewTransform)  # a drag paints, not windows
        node = self.logic.ensure_scribble_node(self.volume_node, self.logic.scribble_node)
        if editor.active_segmentation_node is not node:
            editor.set_active_segmentation(node, self.volume_node)
        editor.set_overwrite_mode(SegmentationOverwriteMode.OVERWRITE_ALL)  # a voxel is foreground or background
        if tool == "erase":
            effect = editor.set_active_effect_type(SegmentationEffectErase)
        else:
            editor.set_active_segment_id(tool)
            effect = editor.set_active_effect_type(SegmentationEffectPaint)
        effect.set_brush_diameter(self.brush_mm, BrushDiameterMode.Absolute)
        self.tool = tool
        what = {"foreground": "foreground (object)", "background": "background",
                "erase": f"erase {editor.active_segment_id or 'foreground'}"}[tool]
        self.status = Status(f"Painting {what} scribbles: drag in a slice view, then press Refine.")

    def set_brush_size(self, millimetres: float) -> None:
        """Brush diameter in mm on the patient (the same stroke width at any zoom)."""
        from trame_slicer.segmentation import BrushDiameterMode
        self.brush_mm = min(max(float(millimetres), BRUSH_RANGE_MM[0]), BRUSH_RANGE_MM[1])
        effect = self.app.segmentation_editor.active_effect
        if self.tool and effect is not None:
            effect.set_brush_diameter(self.brush_mm, BrushDiameterMode.Absolute)

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

    def set_uncertainty_opacity(self, opacity: float) -> None:
        self.uncertainty_opacity = min(max(float(opacity), 0.0), 1.0)
        self._show_uncertainty_layer()

    def set_window(self, preset: str) -> None:
        """A window preset (display.WINDOW_PRESETS); dragging in a slice view fine-tunes it."""
        if preset not in display.WINDOW_PRESETS:
            raise InputError(f"Unknown window preset '{preset}': choose one of {', '.join(display.WINDOW_PRESETS)}.")
        self.window = preset
        if self._present(self.volume_node):
            display.apply_window(self.volume_node, preset)

    def set_segment_opacity(self, opacity: float) -> None:
        self.segment_opacity = min(max(float(opacity), 0.0), 1.0)
        if self._has_segment():
            display.style_segment(self.segmentation_node, self.segment_id, self.segment_opacity)

    def set_segment_name(self, name: str) -> None:
        """The name the segment is saved under (Slicer shows it in the Segmentations module).

        Kept as typed, so that the page's field does not lose the space the user just typed; the segment
        gets it without extra spaces."""
        if not _clean(name):
            raise InputError("Give the segment a name, e.g. 'Right lung'.")
        self.segment_name = str(name)
        if self._has_segment():
            self.segmentation_node.GetSegmentation().GetSegment(self.segment_id).SetName(_clean(name))

    def save(self, path) -> Path:
        self._check_idle()
        if not self._present(self.segmentation_node):  # accepted segments count too: the current one may be none
            raise InputError("Nothing to save yet: place a box and press Segment first.")
        written = scene_files.save_segmentation(self.segmentation_node, path)
        self.unsaved = False
        self.status = Status(f"Saved {written}.")
        return written

    def summary(self) -> dict:
        """Facts about the scene for the page (and its tests): what exists and how many voxels."""
        facts = {"volume": "", "volumes_in_scene": self._volume_count(), "box": False, "box_slices": None,
                 "slices": 0, "window": [0.0, 0.0], "rounds": self.logic.rounds, "can_refine": self.logic.can_refine,
                 "segment_voxels": 0, "segment_digest": "", "foreground_voxels": 0, "background_voxels": 0,
                 "foreground_in_segment": 0, "background_in_segment": 0,
                 "uncertainty_shown": self._present(self.logic.uncertainty_node)}
        if not self._present(self.volume_node):
            return facts
        facts["volume"] = self.volume_node.GetName()
        facts["slices"] = self.volume_node.GetImageData().GetDimensions()[2]
        facts["window"] = list(display.window_level(self.volume_node))
        facts["box"] = self._box_placed()
        facts["box_slices"] = self.box_slices()
        mask = None
        if self._has_segment():
            mask = read_segment(self.segmentation_node, self.segment_id, self.volume_node)
            facts["segment_voxels"] = int(mask.sum())
            facts["segment_digest"] = hashlib.sha1(np.packbits(mask).tobytes()).hexdigest()[:16]
        node = self.logic.scribble_node
        if scribbles.is_scribble_node(node) and self._present(node) and scribbles.drawn_on(node) is self.volume_node:
            for label, painted in zip(("foreground", "background"),
                                      scribbles.read_scribbles(node, self.volume_node).masks()):
                facts[f"{label}_voxels"] = int(painted.sum())
                facts[f"{label}_in_segment"] = int((painted & mask).sum()) if mask is not None else 0
        return facts

    # Internals ------------------------------------------------------------------------

    def _start(self, job, what: str) -> None:
        self.status = Status(f"{what}...")
        self.runner.start(job)
        if self.runner.status.finished:  # refused at once (a worker that could not start)
            self._finish(self.runner.status)

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

    def _close_volume(self) -> Path | None:
        """Remove the volume and everything made for it, and end the engine's session on it.

        Unsaved rounds are first written next to the other outputs; returns that file (None if nothing was unsaved).
        """
        self.app.markups_logic.disable_place_mode()
        self.placing_box = False
        self.set_tool("")  # after leaving place mode: back to dragging the window
        kept = self._keep_unsaved()
        self.logic.accept()  # ends the engine session and removes the uncertainty overlay
        self.logic.show_uncertainty = False
        for node in (self.roi_node, self.logic.scribble_node, self.segmentation_node, self.volume_node):
            remove_node(self.scene, node)
        self.logic.scribble_node = None
        self.volume_node, self.volume_path, self.roi_node, self.segmentation_node = None, None, None, None
        self.segment_id, self.segment_name, self.unsaved = "", DEFAULT_SEGMENT_NAME, False
        return kept

    def _keep_unsaved(self) -> Path | None:
        if not (self.unsaved and self._present(self.segmentation_node)
                and self.segmentation_node.GetSegmentation().GetNumberOfSegments()):
            return None
        stem = scene_files.file_stem(self.volume_node.GetName()) if self._present(self.volume_node) else "segmentation"
        path, n = self.keep_dir / f"{stem}.unsaved.seg.nrrd", 1
        while path.exists():  # never overwrite: each closed volume keeps its own file
            n += 1
            path = self.keep_dir / f"{stem}.unsaved-{n}.seg.nrrd"
        self.keep_dir.mkdir(parents=True, exist_ok=True)
        return scene_files.save_segmentation(self.segmentation_node, path)

    def _box_placed(self) -> bool:
        return (self._present(self.roi_node) and self._present(self.volume_node)
                and self.roi_node.GetNumberOfDefinedControlPoints() > 0 and not self.placing_box)

    def _volume_count(self) -> int:
        """Scalar volumes in the scene other than this logic's uncertainty overlay (a replaced volume must be gone)."""
        return sum(1 for node in nodes_of_class(self.scene, "vtkMRMLScalarVolumeNode")
                   if node is not self.logic.uncertainty_node)

    def _on_interaction_mode(self, *_) -> None:
        """Box placement ends when Slicer leaves place mode: say what to check next, and drag windows again."""
        if not self.placing_box or self._interaction.GetCurrentInteractionMode() == self._interaction.Place:
            return
        self.placing_box = False
        if self._box_placed():
            self.status = Status(BOX_PLACED_TEXT)
        if not self.tool:
            self._use_window_level_drag()

    def _use_window_level_drag(self) -> None:
        # Slicer's window/level mode: left drag sets the window, right drag zooms, middle drag pans.
        if self._interaction.GetCurrentInteractionMode() != self._interaction.AdjustWindowLevel:
            self._interaction.SetCurrentInteractionMode(self._interaction.AdjustWindowLevel)

    def _show_uncertainty_layer(self) -> None:
        node = self.logic.uncertainty_node if self._present(self.logic.uncertainty_node) else None
        for view in self.app.view_manager.get_slice_views():
            view.set_foreground_volume_id(node.GetID() if node is not None else None)
            view.set_foreground_opacity(self.uncertainty_opacity if node is not None else 0.0)


def _clean(name) -> str:
    """A segment name without leading, trailing or repeated spaces."""
    return " ".join(str(name or "").split())
