"""Interactive segmentation from the command line: segment, demo, train, evaluate.

Every user error ends with one line on stderr and exit status 2, never a traceback.
Heavy modules (torch) are imported inside the commands so that --help stays instant.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__
from .errors import Cancelled, InputError, InteractiveSegError


# Subcommands whose own parsers live beside their code: (name, help, module, function).
DELEGATED = (
    ("train", "Train a box segmentation model (U-Net, or P-Net / PC-Net).",
     "interactiveseg.training.commands", "train_main"),
    ("prepare-data", "Build the training set from offline sources into a cache folder.",
     "interactiveseg.training.commands", "prepare_data_main"),
    ("evaluate-box", "Box-only Dice of a model on held-out structures, into its card.",
     "interactiveseg.training.commands", "evaluate_main"),
    ("evaluate", "Robot-user evaluation of this method and the baselines.",
     "interactiveseg.evaluation.commands", "evaluate_main"),
    ("web", "Serve the workflow in a browser on Slicer's own scene (trame-slicer).",
     "interactiveseg_web.commands", "web_main"),
    ("signature", "Store a model's spectral signature of its training data in its card.",
     "interactiveseg.evaluation.ood_commands", "signature_main"),
    ("ood-eval", "Measure how well the spectral signature flags unfamiliar images.",
     "interactiveseg.evaluation.ood_commands", "ood_eval_main"),
    ("worker", "Serve the engine to the Slicer module or the web app (local, or over an SSH tunnel).",
     "interactiveseg.worker", "worker_main"),
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="interactiveseg", description=__doc__.splitlines()[0].rstrip("."))
    parser.add_argument("--version", action="version", version=f"interactiveseg {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_segment(commands)
    _add_demo(commands)
    for name, help_text, module, function in DELEGATED:
        _add_delegated(commands, name, help_text, module, function)
    args, rest = parser.parse_known_args(argv)
    if rest and not getattr(args, "passes_rest", False):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        return args.run(args, rest) if getattr(args, "passes_rest", False) else args.run(args)
    except Cancelled as error:
        print(f"interactiveseg: {error}", file=sys.stderr)
        return 130
    except InteractiveSegError as error:
        print(f"interactiveseg: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interactiveseg: interrupted", file=sys.stderr)
        return 130


def _add_segment(commands) -> None:
    p = commands.add_parser("segment", help="Segment the object in a box, optionally refined with scribbles.")
    p.add_argument("image", help="image file (NRRD, NIfTI, ...) or DICOM folder")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--box", nargs=6, type=int, metavar=("I0", "J0", "K0", "I1", "J1", "K1"),
                       help="inclusive voxel indices in IJK order (Slicer's extent order)")
    where.add_argument("--roi", help="a Slicer markups ROI file (.mrk.json)")
    p.add_argument("--scribbles", help="labelmap on the image grid: 1 foreground, 2 background, 0 none")
    p.add_argument("--output", required=True, help="output .seg.nrrd, .nrrd or .nii.gz")
    p.add_argument("--uncertainty", help="also write the uncertainty map (.nrrd or .nii.gz)")
    p.add_argument("--model", help="model .safetensors (default: the shipped 3D U-Net for a volume, "
                                    "the 2D U-Net for a single slice)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--modality", default="auto", choices=["auto", "CT", "MR"])
    p.add_argument("--seed", type=int, default=None, help="random seed of the fine-tuning (default: the model's)")
    _add_threads(p)
    p.add_argument("--json", action="store_true", help="print one JSON object with the run's figures")
    p.set_defaults(run=run_segment)


def _add_demo(commands) -> None:
    p = commands.add_parser("demo", help="Run the built-in example (bundled chest CT, a box and two scribbles).")
    p.add_argument("--output-dir", default="interactiveseg-demo", help="folder for the results")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    _add_threads(p)
    p.set_defaults(run=run_demo)


def _add_threads(parser) -> None:
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: torch's choice; 1 is much faster on a busy machine)")


def _use_threads(count) -> None:
    if count is not None:
        if count < 1:
            raise InputError(f"--threads must be at least 1, got {count}.")
        import torch
        torch.set_num_threads(count)


def _add_delegated(commands, name, help_text, module, function) -> None:
    """A subcommand whose own parser lives in another module, loaded only when used."""
    p = commands.add_parser(name, help=help_text, add_help=False)
    p.set_defaults(passes_rest=True, run=lambda args, rest: _delegate(name, module, function, rest))


def _delegate(name: str, module: str, function: str, argv) -> int:
    import importlib
    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name and module.startswith(error.name):  # the command's own code, not one of its dependencies
            raise InputError(f"'{name}' is not part of this installation: the Slicer extension ships the runtime "
                             "engine only. Training and evaluation come with the pip package "
                             "(pip install -e . in the repository).") from None
        raise
    return getattr(loaded, function)(argv) or 0


def run_segment(args) -> int:
    from .box import Box
    from .flat_axis import slices_seen
    from .image_io import read_volume, write_output, write_scalar_map
    from .model_file import load_model
    from .roi import box_from_roi_file
    from .session import Session
    from .settings import Settings

    start = time.perf_counter()
    _use_threads(args.threads)
    check_output_path(args.output)
    if args.uncertainty:
        check_output_path(args.uncertainty, segmentation=False)
    volume = read_volume(args.image, modality=args.modality)
    box = box_from_roi_file(args.roi, volume) if args.roi else Box.from_ijk(args.box)
    foreground, background = read_scribbles(args.scribbles, volume) if args.scribbles else (None, None)
    model = load_model(args.model, slices=slices_seen(volume.shape))
    settings = Settings.from_card(model.card, seed=args.seed)
    session = Session(volume, model=model, device=args.device, settings=settings)
    result = session.segment(box)
    if foreground is not None:
        result = session.refine(foreground, background)
    write_output(args.output, result.mask, volume)
    if args.uncertainty:
        write_scalar_map(args.uncertainty, result.uncertainty, volume)
    if args.json:
        voxel_ml = float(np.prod(volume.spacing)) / 1000.0
        print(json.dumps({
            "output": str(args.output), "seconds": round(time.perf_counter() - start, 3), "device": result.device,
            "voxels": result.voxels, "volume_ml": round(result.voxels * voxel_ml, 3),
            "box": result.box.as_ijk(), "region": result.region.as_ijk(), "rounds": result.round,
            "model": model.card.get("name", str(model.path)), "warnings": result.warnings,
            "uncertain_regions": [r.as_dict() for r in session.uncertain_regions()],
            "ood": session.assess_box()}))
    else:
        for warning in result.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(f"wrote {args.output}: {result.voxels} voxels in {time.perf_counter() - start:.1f} s on {result.device}")
    return 0


def read_scribbles(path, volume) -> tuple:
    """Foreground (label 1) and background (label 2) masks from a labelmap on the image's grid."""
    from .image_io import read_labelmap
    values = read_labelmap(path, volume, "scribble labelmap")
    unexpected = np.setdiff1d(np.unique(values), [0, 1, 2])
    if unexpected.size:
        raise InputError(f"The scribbles {path} contain labels {unexpected[:5].tolist()}; use 1 for foreground, "
                         "2 for background and 0 for none.")
    if not values.any():
        raise InputError(f"The scribble labelmap {path} is empty: paint foreground (1) or background (2).")
    return values == 1, values == 2


def check_output_path(path, segmentation: bool = True) -> None:
    """Refuse an output before the computation: unknown format, missing folder, a folder's name."""
    from .image_io import check_output_suffix
    path = check_output_suffix(path, segmentation)
    if not path.parent.exists():
        raise InputError(f"Output folder does not exist: {path.parent}")
    if path.is_dir():
        raise InputError(f"Output is a folder, not a file: {path}")


def run_demo(args) -> int:
    from .demo import SAMPLE_IMAGE, SAMPLE_REFERENCE, REFERENCE_LABEL, DEMO_BOX, demo_scribbles
    from .overlap import dice
    from .image_io import read_volume, write_labelmap, write_segmentation
    from .render import render_png
    from .session import Session

    _use_threads(args.threads)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    volume = read_volume(SAMPLE_IMAGE)
    reference = read_volume(SAMPLE_REFERENCE).array == REFERENCE_LABEL
    foreground, background = demo_scribbles(volume.shape)
    session = Session(volume, device=args.device)
    print(f"Segmenting the right lung of the bundled chest CT on {session.device} ...")
    first = session.segment(DEMO_BOX)
    print(f"  box only:       Dice {dice(first.mask, reference):.3f} against the reference, {first.seconds:.2f} s")
    refined = session.refine(foreground, background, progress=_progress_printer())
    print(f"  after scribbles: Dice {dice(refined.mask, reference):.3f} against the reference, {refined.seconds:.2f} s")
    scribbles = foreground.astype(np.uint8) + 2 * background.astype(np.uint8)
    write_segmentation(out / "demo.seg.nrrd", {"right lung": refined.mask}, volume)
    write_labelmap(out / "demo-scribbles.nrrd", scribbles, volume)
    render_png(out / "demo.png", volume, refined.mask, foreground, background, refined.box)
    print(f"Wrote {out / 'demo.seg.nrrd'} (open it in Slicer over {SAMPLE_IMAGE.name}), "
          f"{out / 'demo-scribbles.nrrd'} and {out / 'demo.png'}.")
    return 0


def _progress_printer():
    last = {"shown": -1}

    def show(fraction: float, message: str) -> None:
        step = int(fraction * 10)
        if step != last["shown"]:
            last["shown"] = step
            print(f"  [{'#' * step}{'.' * (10 - step)}] {message}", flush=True)
    return show


if __name__ == "__main__":
    sys.exit(main())
