"""The page: a side panel with the workflow's buttons, and Slicer's four views.

Every control has an `id` so that people's scripts and the browser test find it.
"""
from __future__ import annotations

from trame.ui.vuetify3 import VAppLayout
from trame.widgets import html
from trame.widgets import vuetify3 as v

from .uploads import UPLOAD_SUFFIXES


def build_page(server, controller, layout_manager):
    """Build the page; `controller` has one method per button (see app.WebController)."""
    with VAppLayout(server, theme="dark") as page:
        with v.VNavigationDrawer(permanent=True, width=360, location="left"):
            with html.Div(classes="pa-3 d-flex flex-column", style="gap: 8px"):
                html.Div("InteractiveSeg", classes="text-h6")
                _volume_section(controller)
                v.VDivider()
                _round_section(controller)
                v.VDivider()
                _scribble_section(controller)
                v.VDivider()
                _save_section(controller)
                v.VDivider()
                _status_section(controller)
        with v.VMain(style="height: 100vh"), html.Div(style="height: 100%; display: flex;"):
            layout_manager.initialize_layout_grid(page)
    return page


def _button(label, id_, click, disabled="busy", **kwargs):
    return v.VBtn(label, id=id_, click=click, disabled=(disabled,), size="small", **kwargs)


def _volume_section(c):
    html.Div("1. Volume", classes="text-subtitle-2")
    v.VTextField(v_model=("volume_path", ""), id="volume-path", label="Image file or DICOM folder on the server",
                 density="compact", hide_details=True, disabled=("busy",))
    with html.Div(classes="d-flex", style="gap: 6px"):
        _button("Load", "load-button", c.load)
        _button("Open sample", "sample-button", c.load_sample)
    v.VFileInput(v_model=("upload", None), id="upload-input", label="Or upload an image file",
                 accept=",".join(UPLOAD_SUFFIXES), density="compact", hide_details=True, show_size=True,
                 disabled=("busy",))


def _round_section(c):
    html.Div("2. Box and segmentation", classes="text-subtitle-2")
    with html.Div(classes="d-flex flex-wrap", style="gap: 6px"):
        _button("Place box", "box-button", c.place_box)
        _button("Segment", "segment-button", c.segment, color="primary")
        _button("Refine", "refine-button", c.refine, color="primary")
        _button("Undo", "undo-button", c.undo)
        _button("Accept", "accept-button", c.accept)
        v.VBtn("Cancel", id="cancel-button", click=c.cancel, disabled=("!busy",), size="small", color="error")
    v.VProgressLinear(model_value=("progress", 0), id="progress", height=14, color="primary",
                      children=["{{ progress_text }}"])
    v.VSwitch(v_model=("show_uncertainty", False), id="uncertainty-switch", label="Show uncertainty",
              density="compact", hide_details=True, color="primary")


def _scribble_section(c):
    html.Div("3. Scribbles (then Refine)", classes="text-subtitle-2")
    with v.VBtnToggle(v_model=("tool", ""), id="tool-toggle", density="compact", divided=True, mandatory=True,
                      disabled=("busy",), variant="outlined"):
        v.VBtn("Off", value="", id="tool-off", size="x-small")
        v.VBtn("Foreground", value="foreground", id="tool-foreground", size="x-small", color="green")
        v.VBtn("Background", value="background", id="tool-background", size="x-small", color="purple")
        v.VBtn("Erase", value="erase", id="tool-erase", size="x-small")
    v.VSlider(v_model=("brush_size", 3.0), id="brush-size", label="Brush", min=1, max=15, step=0.5,
              density="compact", hide_details=True, thumb_label=True)
    _button("Clear scribbles", "clear-button", c.clear_scribbles, variant="outlined")


def _save_section(c):
    html.Div("4. Save", classes="text-subtitle-2")
    v.VTextField(v_model=("save_path", ""), id="save-path", label="Output .seg.nrrd on the server",
                 density="compact", hide_details=True)
    _button("Save", "save-button", c.save)


def _status_section(c):
    v.VAlert(text=("status_text", ""), id="status", type=("status_error ? 'error' : 'info'",),
             density="compact", variant="tonal")
    html.Div("{{ summary_text }}", id="summary", classes="text-caption")


def slice_view_ui(server, view_id, slicer_view):
    """trame-slicer's slice view controls, plus a marker that names the view (`#view-Red` is axial)."""
    from trame_slicer.app.ui import create_vertical_slice_view_gutter_ui
    create_vertical_slice_view_gutter_ui(server, view_id, slicer_view)
    _view_marker(slicer_view)


def three_d_view_ui(server, view_id, slicer_view):
    from trame_slicer.app.ui import create_vertical_view_gutter_ui
    create_vertical_view_gutter_ui(server, view_id, slicer_view)
    _view_marker(slicer_view)


def _view_marker(slicer_view):
    # Lets mouse events through to the view below it; only marks where the view is.
    html.Div(id=f"view-{slicer_view.get_singleton_tag()}", classes="view-marker",
             style="position: absolute; inset: 0; pointer-events: none;")
