"""The trame application: one SlicerApp scene, four remote-rendered views, the workflow and its page."""
from __future__ import annotations

import asyncio
from pathlib import Path

from . import paint_fix

POLL_SECONDS = 0.1  # how often the server looks at the worker thread
SUMMARY_SECONDS = 0.5  # how soon the page's scene facts follow a brush stroke or a box click
LAYOUT = "Quad View"  # axial, coronal, sagittal and 3D


class WebController:
    """Binds the page's state and buttons to a Workflow; runs on the server's event loop."""

    def __init__(self, server, workflow, sample_path: Path, output_dir: Path):
        self.server, self.state, self.workflow = server, server.state, workflow
        self.sample_path, self.output_dir = Path(sample_path), Path(output_dir)
        self._watching = False
        self._summary_due = True
        self.state.update({"busy": False, "progress": 0, "progress_text": "", "tool": "", "show_uncertainty": False,
                           "brush_size": workflow.brush_percent,
                           "volume_path": "", "upload": None, "save_path": "", "status_text": "", "status_error": False,
                           "summary": {}, "summary_text": ""})
        self.state.change("upload")(self._on_upload)
        self.state.change("tool")(self._on_tool)
        self.state.change("show_uncertainty")(self._on_uncertainty)
        self.state.change("brush_size")(self._on_brush_size)
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
        self._do("save", self.state.save_path or self._default_save_path())

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

    # State ----------------------------------------------------------------------------

    def _do(self, action, *args) -> bool:
        done = self.workflow.act(action, *args)
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
        self.state.status_text, self.state.status_error = w.status.text, w.status.error
        if w.volume_node is not None and not self.state.save_path:
            self.state.save_path = self._default_save_path()
        if self._summary_due:
            self._summary_due = False
            facts = w.summary()
            self.state.summary = facts
            self.state.summary_text = _summary_text(facts)

    def _default_save_path(self) -> str:
        node = self.workflow.volume_node
        name = node.GetName() if node is not None else "segmentation"
        for suffix in (".nii.gz", ".nrrd", ".nii", ".nhdr", ".mha", ".mhd"):  # Slicer keeps the file's suffix
            name = name[:-len(suffix)] if name.lower().endswith(suffix) else name
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
                    finished = self.workflow.poll()
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
                    self._sync()


def _summary_text(facts: dict) -> str:
    if not facts.get("volume"):
        return ""
    return (f"Segment: {facts['segment_voxels']} voxels, {facts['rounds']} round(s). "
            f"Scribbles: {facts['foreground_voxels']} foreground, {facts['background_voxels']} background voxels.")


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
    layout_manager.register_layout(LAYOUT, LayoutManager.default_grid_configuration()[LAYOUT])
    layout_manager.set_layout(LAYOUT)

    workflow = Workflow(slicer_app, model_path=model_path, device=device, settings=settings)
    controller = WebController(server, workflow, SAMPLE_IMAGE, Path(output_dir).resolve())
    build_page(server, controller, layout_manager)
    if volume:
        controller.state.volume_path = str(volume)
        controller.load()

    server.controller.on_server_ready.add(
        lambda **_: asyncio.get_event_loop().create_task(controller.refresh_summary_forever()))
    return server, controller
