"""InteractiveSeg engine: box, CNN segmentation, scribbles, image-specific fine-tuning.

    from interactiveseg import read_volume, Session, Box
    session = Session(read_volume("ct.nrrd"))
    result = session.segment(Box.from_ijk([40, 30, 5, 90, 80, 25]))
    result = session.refine(foreground=fg_mask, background=bg_mask)

Imports nothing from Slicer, Qt or VTK, so it runs anywhere torch runs.
"""
from .errors import Cancelled, InputError, InteractiveSegError, ModelError
from .geometry import Box
from .image_io import read_volume, write_labelmap, write_output, write_segmentation
from .model_file import LoadedModel, default_model_path, load_model, save_model
from .result import Result
from .session import Session
from .settings import Settings
from .volume import Volume

__version__ = "0.1.0"

__all__ = [
    "Box", "Cancelled", "InputError", "InteractiveSegError", "LoadedModel", "ModelError",
    "Result", "Session", "Settings", "Volume", "default_model_path", "load_model", "read_volume", "save_model",
    "write_labelmap", "write_output", "write_segmentation", "__version__",
]
