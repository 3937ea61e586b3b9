"""The page: a side panel with the workflow's buttons, and Slicer's four views.

Every control has an `id` so that people's scripts and the browser test find it.
"""
from __future__ import annotations

from trame.ui.vuetify3 import VAppLayout
from trame.widgets import html
from trame.widgets import vuetify3 as v

from .display import WINDOW_PRESETS
from .uploads import UPLOAD_SUFFIXES
from .workflow import BRUSH_RANGE_MM

# Where each edge's orientation letter sits in a view (clear of the view's button column and slice slider).
_EDGE_STYLES = {"left": "left: 44px; top: 50%;", "right": "right: 10px; top: 50%;",
                "top": "top: 6px; left: 50%;", "bottom": "bottom: 34px; left: 50%;"}
_LABEL_STYLE = ("position: absolute; color: #ffd54f; font: 600 13px sans-serif; text-shadow: 0 0 3px black; "
                "transform: translate(-50%, -50%);")


def build_page(server, controller, layout_manager):
    """Build the page; `controller` has one method per button (see app.WebController)."""
    with VAppLayout(server, theme="dark") as page:
        with v.VNavigationDrawer(permanent=True, width=360, location="left"):
            with html.Div(classes="pa-3 d-flex flex-column", style="gap: 8px"):
                html.Div("InteractiveSeg", classes="text-h6")
                _status_section(controller)  # first: what to do next is always in sight
                _volume_section(controller)
                v.VDivider()
                _round_section(controller)
                v.VDivider()
                _scribble_section(controller)
                v.VDivider()
                _save_section(controller)
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
    with html.Div(classes="d-flex align-center", style="gap: 8px"):
        v.VSelect(v_model=("window_preset", "auto"), id="window-preset", label="Window",
                  items=("window_presets", [{"title": title, "value": key}
                                            for key, (title, _) in WINDOW_PRESETS.items()]),
                  density="compact", hide_details=True)
        html.Div("W {{ summary.window ? summary.window[0] : '' }} / L {{ summary.window ? summary.window[1] : '' }}",
                 id="window-values", classes="text-caption", style="white-space: nowrap",
                 title="Drag left-right in a slice view for the window, up-down for the level")


def _round_section(c):
    html.Div("2. Box and segmentation", classes="text-subtitle-2")
    with html.Div(classes="d-flex flex-wrap", style="gap: 6px"):
        _button("Place box", "box-button", c.place_box)
        _button("Segment", "segment-button", c.segment, color="primary")
        _button("Refine", "refine-button", c.refine, color="primary")
        _button("Undo", "undo-button", c.undo)
        _button("Accept", "accept-button", c.accept)
        # Red only while there is something to cancel: a red button reads as pressable even when disabled.
        v.VBtn("Cancel", id="cancel-button", click=c.cancel, disabled=("!busy",), size="small",
               color=("busy ? 'error' : undefined",), variant=("busy ? 'elevated' : 'outlined'",))
    with html.Div(classes="d-flex align-center", style="gap: 6px", v_if="summary.box"):
        html.Div("Box slices", classes="text-caption")
        v.VTextField(v_model=("box_first", ""), id="box-first", type="number", density="compact",
                     hide_details=True, style="max-width: 80px", disabled=("busy",))
        html.Div("to", classes="text-caption")
        v.VTextField(v_model=("box_last", ""), id="box-last", type="number", density="compact",
                     hide_details=True, style="max-width: 80px", disabled=("busy",))
        _button("Set", "box-slices-button", c.set_box_slices, variant="outlined")
        html.Div("of 0-{{ summary.slices - 1 }}", classes="text-caption")
    v.VProgressLinear(model_value=("progress", 0), id="progress", height=14, color="primary",
                      children=["{{ progress_text }}"])
    v.VTextField(v_model=("segment_name", ""), id="segment-name", label="Segment name",
                 density="compact", hide_details=True)
    v.VSlider(v_model=("segment_opacity", 0.35), id="segment-opacity", label="Segment fill", min=0, max=1,
              step=0.05, density="compact", hide_details=True)
    v.VSwitch(v_model=("show_uncertainty", False), id="uncertainty-switch", label="Show uncertainty",
              density="compact", hide_details=True, color="primary")
    with html.Div(v_show="show_uncertainty", id="uncertainty-legend"):
        html.Div(style=("{ height: '10px', borderRadius: '3px', background: uncertainty_legend }",))
        with html.Div(classes="d-flex justify-space-between text-caption"):
            html.Span("sure")
            html.Span("unsure")
        v.VSlider(v_model=("uncertainty_opacity", 0.4), id="uncertainty-opacity", label="Overlay", min=0, max=1,
                  step=0.05, density="compact", hide_details=True)


def _scribble_section(c):
    html.Div("3. Scribbles (then Refine)", classes="text-subtitle-2")
    with v.VBtnToggle(v_model=("tool", ""), id="tool-toggle", density="compact", divided=True, mandatory=True,
                      disabled=("busy",), variant="outlined"):
        v.VBtn("Off", value="", id="tool-off", size="x-small")
        v.VBtn("Foreground", value="foreground", id="tool-foreground", size="x-small", color="green")
        v.VBtn("Background", value="background", id="tool-background", size="x-small", color="purple")
        v.VBtn("Erase", value="erase", id="tool-erase", size="x-small")
    v.VSlider(v_model=("brush_size", 5.0), id="brush-size", label="Brush (mm)", min=BRUSH_RANGE_MM[0],
              max=BRUSH_RANGE_MM[1], step=0.5, density="compact", hide_details=True, thumb_label=True)
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
    """trame-slicer's slice view controls, plus the view's name, orientation letters and enlarge button."""
    from trame_slicer.app.ui import create_vertical_slice_view_gutter_ui
    create_vertical_slice_view_gutter_ui(server, view_id, slicer_view)
    _view_marker(server, slicer_view, edges=True)


def three_d_view_ui(server, view_id, slicer_view):
    from trame_slicer.app.ui import create_vertical_view_gutter_ui
    create_vertical_view_gutter_ui(server, view_id, slicer_view)
    _view_marker(server, slicer_view, edges=False)  # the 3D view turns: its orientation cube shows the directions


def _view_marker(server, slicer_view, edges: bool):
    """Covers the view (`#view-Red` is axial) and lets mouse events through to it, except on its own button."""
    tag = slicer_view.get_singleton_tag()
    label = f"view_labels['{tag}']"
    with html.Div(id=f"view-{tag}", classes="view-marker", style="position: absolute; inset: 0; pointer-events: none;"):
        html.Div(f"{{{{ {label} && {label}.name }}}}", id=f"view-{tag}-name",
                 style="position: absolute; top: 8px; right: 44px; color: white; font: 500 13px sans-serif; "
                       "text-shadow: 0 0 3px black;")
        if edges:
            for edge, style in _EDGE_STYLES.items():
                html.Div(f"{{{{ {label} && {label}.{edge} }}}}", id=f"view-{tag}-{edge}", style=_LABEL_STYLE + style)
        with v.VBtn(id=f"view-{tag}-enlarge", click=(server.controller.toggle_view, f"['{tag}']"), size="small",
                    variant="text", icon=True, style="position: absolute; top: 2px; right: 2px; pointer-events: auto;"):
            v.VIcon(icon=(f"maximized_view === '{tag}' ? 'mdi-fullscreen-exit' : 'mdi-fullscreen'",),
                    color="white", size="small")
