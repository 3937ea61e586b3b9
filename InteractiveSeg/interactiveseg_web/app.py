"""The trame application: one SlicerApp scene, four remote-rendered views, the workflow and its page."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from InteractiveSegLib.logic import UNCERTAINTY_COLORS

from . import display, paint_fix
from .scene_files import file_stem
from .workflow import Status

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1  # how often the server looks at the worker process
SUMMARY_SECONDS = 0.5  # how soon the page's scene facts follow a brush stroke or a box click
LAYOUT = "Four-Up"  # Slicer's: axial and 3D above, sagittal and coronal below


class WebController:
    """Binds the page's state and buttons to a Workflow; runs on the server's event loop."""

    def __init__(self, server, workflow, sample_path: Path, output_dir: Path):
        self.server, self.state, self.workflow = server, server.state, workflow
        self.sample_path, self.output_dir = Path(sample_path), Path(output_dir)
        self._watching = False
        self._summary_due = True
        self.layout_manager = None  # set by create_app once the views exist
        self.state.update({"busy": False, "progress": 0, "progress_text": "", "tool": "", "show_uncertainty": False,
                           "brush_size": workflow.brush_mm, "window_preset": workflow.window,
                           "segment_opacity": workflow.segment_opacity,
                           "uncertainty_opacity": workflow.uncertainty_opacity, "uncertainty_legend": "",
                           "segment_name": workflow.segment_name, "box_first": "", "box_last": "",
                           "view_labels": {}, "maximized_view": "",
                           "volume_path": "", "upload": None, "save_path": "", "status_text": "", "status_error": False,
                           "summary": {}, "summary_text": ""})
        self.state.change("upload")(self._on_upload)
        self.state.change("tool")(self._on_tool)
        self.state.change("show_uncertainty")(self._on_uncertainty)
        self.state.change("brush_size")(self._on_brush_size)
        self.state.change("window_preset")(self._on_window_preset)
        self.state.change("segment_opacity")(self._on_segment_opacity)
        self.state.change("uncertainty_opacity")(self._on_uncertainty_opacity)
        self.state.change("segment_name")(self._on_segment_name)
        server.controller.toggle_view = self.toggle_view
        self.state.uncertainty_legend = display.colour_ramp_css(workflow.scene.GetNodeByID(UNCERTAINTY_COLORS))
        workflow.app.segmentation_editor.segmentation_modified.connect(self.mark_scene_changed)
        self._sync()

    # Buttons ---------------------------------------------------------------------------

    def load(self):
        self._do("load", self.state.volume_path)

    def load_sample(self):
        self.state.volume_path = str(self.sample_path)
        self._do("load", self.sample_path)

    def place_box(self):
        if self._do("place_box"):
            self.workflow.roi_node.AddObserver("ModifiedEvent", self.mark_scene_changed)

    def set_box_slices(self):
        self._do("set_box_slices", self.state.box_first, self.state.box_last)

    def segment(self):
        self._do("segment")

    def refine(self):
        self._do("refine")

    def undo(self):
        self._do("undo")

    def accept(self):
        self._do("accept")

    def cancel(self):
        self._do("cancel")

    def clear_scribbles(self):
        self._do("clear_scribbles")

    def save(self):
        if self.state.segment_name and self.state.segment_name != self.workflow.segment_name:
            if not self.workflow.act("set_segment_name", self.state.segment_name):
                return self._sync()
        path = Path(str(self.state.save_path or self._default_save_path()).strip()).expanduser()
        self._do("save", path if path.is_absolute() else self.output_dir / path)  # a bare name: the output folder

    def toggle_view(self, tag: str):
        """Enlarge one view to the whole page, or go back to all four."""
        maximized = "" if self.state.maximized_view == tag else tag
        self.layout_manager.set_layout(f"{tag} only" if maximized else LAYOUT)
        self.state.maximized_view = maximized

    def _on_upload(self, upload, **_):
        """A file chosen in the page's file input: its bytes arrive in the state, and are loaded like a path."""
        if not upload:
            return
        from trame.app.file_upload import ClientFile
        file = ClientFile(upload[0] if isinstance(upload, list) else upload)
        if self._do("load_upload", file.name, file.content, self.output_dir / "uploads"):
            self.state.volume_path = str(self.workflow.volume_path)
        self.state.upload = None  # ready for the next file; the bytes are not kept in the state

    def _on_tool(self, tool, **_):
        if tool != self.workflow.tool:
            self._do("set_tool", tool or "")

    def _on_uncertainty(self, show_uncertainty, **_):
        if bool(show_uncertainty) != self.workflow.logic.show_uncertainty:
            self._do("show_uncertainty", bool(show_uncertainty))

    def _on_brush_size(self, brush_size, **_):
        self.workflow.act("set_brush_size", brush_size)

    def _on_window_preset(self, window_preset, **_):
        if window_preset and window_preset != self.workflow.window:
            self._do("set_window", window_preset)

    def _on_segment_opacity(self, segment_opacity, **_):
        self.workflow.act("set_segment_opacity", segment_opacity)

    def _on_uncertainty_opacity(self, uncertainty_opacity, **_):
        self.workflow.act("set_uncertainty_opacity", uncertainty_opacity)

    def _on_segment_name(self, segment_name, **_):
        if (segment_name or "").strip() and segment_name != self.workflow.segment_name:
            self._do("set_segment_name", segment_name)  # an empty field is left alone until Save

    # State ----------------------------------------------------------------------------

    def _do(self, action, *args) -> bool:
        done = self.workflow.act(action, *args)
        if done and action in ("load", "load_upload"):  # a drag in a view changes the window: show its values
            self.workflow.volume_node.GetDisplayNode().AddObserver("ModifiedEvent", self.mark_scene_changed)
            self.state.save_path = self._default_save_path()  # never the last volume's file
        self.mark_scene_changed()
        self._sync()
        if self.workflow.busy:
            self._watch()
        return done

    def mark_scene_changed(self, *_):
        self._summary_due = True

    def _sync(self):
        w = self.workflow
        fraction, message = w.progress
        self.state.busy = w.busy
        self.state.progress = round(100 * fraction)
        self.state.progress_text = message if w.busy else ""
        self.state.tool = w.tool
        self.state.show_uncertainty = w.logic.show_uncertainty
        self.state.window_preset = w.window
        self.state.segment_name = w.segment_name
        self.state.status_text, self.state.status_error = w.status.text, w.status.error
        if w.volume_node is not None and not self.state.save_path:
            self.state.save_path = self._default_save_path()
        if self._summary_due:
            self._summary_due = False
            facts = w.summary()
            self.state.summary = facts
            self.state.summary_text = _summary_text(facts)
            first_last = facts.get("box_slices") or ("", "")
            self.state.box_first, self.state.box_last = first_last

    def _default_save_path(self) -> str:
        node = self.workflow.volume_node
        name = file_stem(node.GetName()) if node is not None else "segmentation"
        return str(self.output_dir / f"{name}.seg.nrrd")

    def _watch(self):
        """Poll the worker until the round ends, pushing progress to the page."""
        if self._watching:
            return
        self._watching = True

        async def watch():
            try:
                while True:
                    await asyncio.sleep(POLL_SECONDS)
                    finished = self._guarded(self.workflow.poll, default=True)
                    if finished:
                        self.mark_scene_changed()
                    with self.state:
                        self._sync()
                    if finished:
                        return
            finally:
                self._watching = False

        asyncio.get_event_loop().create_task(watch())

    async def refresh_summary_forever(self):
        """Keep the page's scene facts current after brush strokes and box clicks (both happen in the views)."""
        while True:
            await asyncio.sleep(SUMMARY_SECONDS)
            if self._summary_due and not self.workflow.busy:
                with self.state:
                    self._guarded(self._sync)

    def _guarded(self, call, default=None):
        """A background task's step: a failure is logged and said on the page, and the task goes on (an
        exception would end it, leaving the page's progress or facts stuck)."""
        try:
            return call()
        except Exception as error:  # noqa: BLE001 - any failure here is a bug to report, not to crash the loop
            log.exception("InteractiveSeg web: a background update failed")
            self.workflow.status = Status(f"Something went wrong: {error}. Details are in the server log.",
                                          error=True)
            return default


def _summary_text(facts: dict) -> str:
    if not facts.get("volume"):
        return ""
    rounds = facts["rounds"]
    after = f"after round {rounds}" if rounds else "no round yet"
    return (f"Segment: {facts['segment_voxels']} voxels, {after}. "
            f"Scribbles: {facts['foreground_voxels']} foreground, {facts['background_voxels']} background voxels.")


def four_up_layouts() -> dict:
    """Slicer's Four-Up layout, and each of its views alone (enlarged); the same view definitions in all."""
    from trame_slicer.views import Layout, LayoutDirection, ViewLayoutDefinition
    views = {"Red": ViewLayoutDefinition.axial_view(), "Yellow": ViewLayoutDefinition.sagittal_view(),
             "Green": ViewLayoutDefinition.coronal_view(), "1": ViewLayoutDefinition.threed_view()}
    layouts = {LAYOUT: Layout(LayoutDirection.Vertical, [
        Layout(LayoutDirection.Horizontal, [views["Red"], views["1"]]),
        Layout(LayoutDirection.Horizontal, [views["Yellow"], views["Green"]])])}
    for tag, view in views.items():
        layouts[f"{tag} only"] = Layout(LayoutDirection.Vertical, [view])
    return layouts


def view_labels(view_manager) -> dict:
    """Each view's name and the patient direction at each edge of the slice views, keyed by view tag."""
    labels = {}
    for view in view_manager.get_slice_views():
        node = view.get_view_node()
        labels[view.get_singleton_tag()] = {"name": node.GetOrientation(), **display.edge_letters(node)}
    for view in view_manager.get_threed_views():
        labels[view.get_singleton_tag()] = {"name": "3D"}
        view.get_view_node().SetOrientationMarkerType(view.get_view_node().OrientationMarkerTypeCube)
    return labels


def create_app(server=None, volume: str | None = None, model_path: str = "", device: str = "auto",
               settings: dict | None = None, output_dir: str | Path = "."):
    """Build the whole application on a trame server; returns (server, controller)."""
    from trame.app import get_server
    from trame_slicer import module as trame_slicer_module
    from trame_slicer.core import LayoutManager, SlicerApp
    from trame_slicer.rca_view import register_rca_factories

    from interactiveseg.demo import SAMPLE_IMAGE

    from .ui import build_page, slice_view_ui, three_d_view_ui
    from .workflow import Workflow

    paint_fix.apply()
    server = server or get_server(client_type="vue3")
    server.enable_module(trame_slicer_module)
    server.state.trame__title = "InteractiveSeg"
    slicer_app = SlicerApp()
    register_rca_factories(slicer_app.view_manager, server, slice_view_ui_f=slice_view_ui,
                           three_d_view_ui_f=three_d_view_ui)
    layout_manager = LayoutManager(slicer_app.scene, slicer_app.view_manager, server)
    layout_manager.register_layout_dict(four_up_layouts())
    layout_manager.set_layout(LAYOUT)

    output_dir = Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)  # where Save writes by default
    workflow = Workflow(slicer_app, model_path=model_path, device=device, settings=settings, keep_dir=output_dir)
    controller = WebController(server, workflow, SAMPLE_IMAGE, output_dir)
    controller.layout_manager = layout_manager
    build_page(server, controller, layout_manager)
    controller.state.view_labels = view_labels(slicer_app.view_manager)
    if volume:
        controller.state.volume_path = str(volume)
        controller.load()

    server.controller.on_server_ready.add(
        lambda **_: asyncio.get_event_loop().create_task(controller.refresh_summary_forever()))
    return server, controller
