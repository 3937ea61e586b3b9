"""Local fix for trame-slicer 2.0.0: choosing the Paint (or Erase) effect raises

    AttributeError: 'NoneType' object has no attribute 'paint_interaction_stopped'

The segment editor creates an effect's per-view pipelines while the views themselves are
still being built, so `ViewManager.get_view(view_node)` returns None there, the pipeline
keeps no view, makes no brush widget on activation, and then uses the missing widget.
The fix looks the view up again from the pipeline's view node when the effect is
activated, by which time the view exists. Nothing else changes. Remove this module when
trame-slicer fixes it upstream.
"""
from __future__ import annotations

_PATCHED = "_interactiveseg_lazy_view"


def apply() -> bool:
    """Patch SegmentationPaintPipeline once; True if the patch is (now) in place."""
    from trame_slicer.segmentation.segmentation_paint_pipeline import SegmentationPaintPipeline

    original = SegmentationPaintPipeline.SetActive
    if getattr(original, _PATCHED, False):
        return True

    def set_active(self, is_active: bool):
        if is_active and self._view is None:
            self._view = view_of(self)
        if is_active and self._view is None:  # still no view: stay inactive rather than fail
            return None
        return original(self, is_active)

    setattr(set_active, _PATCHED, True)
    SegmentationPaintPipeline.SetActive = set_active
    return True


def view_of(pipeline):
    """The trame-slicer view that shows the pipeline's view node, or None."""
    effect = getattr(pipeline, "_effect", None)
    editor = getattr(effect, "editor", None)
    view_manager = getattr(editor, "_view_manager", None)
    view_node = pipeline.GetViewNode()
    if view_manager is None or view_node is None:
        return None
    return view_manager.get_view(view_node)
