"""InteractiveSeg engine: box, CNN segmentation, scribbles, image-specific fine-tuning.

    from interactiveseg import read_volume, Session, Box
    session = Session(read_volume("ct.nrrd"))
    result = session.segment(Box.from_ijk([40, 30, 5, 90, 80, 25]))
    result = session.refine(foreground=fg_mask, background=bg_mask)

Imports nothing from Slicer, Qt or VTK, so it runs anywhere torch runs. The names below
are loaded on first use: `import interactiveseg.errors` (or `.box`, `.protocol`,
`.model_card`) works where torch is not installed, as in Slicer before its first Segment.
"""
from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "Box": "box", "Cancelled": "errors", "InputError": "errors", "InteractiveSegError": "errors",
    "ModelError": "errors", "read_volume": "image_io", "write_labelmap": "image_io", "write_output": "image_io",
    "write_segmentation": "image_io", "LoadedModel": "model_file", "load_model": "model_file",
    "save_model": "model_file", "default_model_path": "model_card", "Result": "result", "Session": "session",
    "Settings": "settings", "Volume": "volume",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'interactiveseg' has no attribute {name!r}")
    value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return __all__
