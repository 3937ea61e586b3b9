"""Paint one stroke in an offscreen axial view, in a process of its own; prints the outcome as JSON.

    python paint_in_view.py fix|nofix

A process of its own because the fix patches a trame-slicer class for the whole process,
and the test also needs to see the unpatched class fail.
"""
import json
import os
import sys
import traceback
from pathlib import Path

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "InteractiveSeg"))

from trame_slicer.core import SlicerApp  # noqa: E402
from trame_slicer.segmentation import SegmentationEffectPaint  # noqa: E402
from trame_slicer.views import DirectViewFactory, ViewLayoutDefinition  # noqa: E402

from interactiveseg.demo import SAMPLE_IMAGE  # noqa: E402
from interactiveseg_web import paint_fix  # noqa: E402
from interactiveseg_web.workflow import Workflow  # noqa: E402


def main(with_fix: bool) -> dict:
    if with_fix:
        paint_fix.apply()
    app = SlicerApp()
    # As in trame-slicer's own apps: the effect's parameters exist before the views are built.
    app.segmentation_editor.get_effect_parameter_node(SegmentationEffectPaint)
    app.view_manager.register_factory(DirectViewFactory(do_render_offscreen=True))
    view = app.view_manager.create_view(ViewLayoutDefinition.axial_view())
    view.render_window().SetSize(400, 400)
    workflow = Workflow(app)
    workflow.load(SAMPLE_IMAGE)
    view.render()
    try:
        workflow.set_tool("foreground")
    except AttributeError as error:
        return {"error": str(error)}
    interactor = view.interactor()
    for event, x in [("MouseMoveEvent", 180), ("LeftButtonPressEvent", 180), ("MouseMoveEvent", 200),
                     ("MouseMoveEvent", 220), ("LeftButtonReleaseEvent", 220)]:
        interactor.SetEventInformationFlipY(x, 200)
        interactor.InvokeEvent(event)
    view.render()
    return {"error": "", "foreground_voxels": workflow.summary()["foreground_voxels"]}


if __name__ == "__main__":
    try:
        outcome = main(sys.argv[1] == "fix")
    except Exception:
        outcome = {"error": "unexpected", "traceback": traceback.format_exc()}
    print("RESULT " + json.dumps(outcome), flush=True)
