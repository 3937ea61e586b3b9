"""Command lines: `prepare-data`, `train` and `evaluate-box` (box-only Dice into a model card).

    python -m interactiveseg.training.commands prepare-data --totalsegmentator DIR
    python -m interactiveseg.training.commands train --dims 3 --output model.safetensors
    python -m interactiveseg.training.commands evaluate-box model.safetensors
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import shlex
import sys
import time
from pathlib import Path

from .prepare_data import DEFAULT_CACHE


def prepare_data_main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="interactiveseg prepare-data",
                                     description="Build the training set (images, labels, manifest.json) from "
                                                 "sources that install offline; see DATA-SOURCES.md.")
    parser.add_argument("--output", default=str(DEFAULT_CACHE), help="cache folder, outside any git repository "
                        "(default: %(default)s)")
    parser.add_argument("--totalsegmentator", metavar="DIR",
                        help="unpacked totalsegmentator-2.18.0 source archive (pip download --no-deps "
                             "--no-binary :all: totalsegmentator==2.18.0)")
    parser.add_argument("--dataset", action="append", default=[], metavar="DIR",
                        help="your own labelled data: an nnU-Net v2 raw dataset folder, a folder with images/ and "
                             "labels/, or .seg.nrrd files beside their images (repeatable)")
    parser.add_argument("--no-builtin", action="store_true",
                        help="leave out the packaged sources (use only --dataset folders)")
    parser.add_argument("--validation-share", type=float, default=0.2,
                        help="share of each --dataset's cases held out for validation (default: %(default)s)")
    args = parser.parse_args(argv)
    from .prepare_data import prepare
    try:
        path = prepare(args.output, args.totalsegmentator, datasets=args.dataset, builtin=not args.no_builtin,
                       validation_share=args.validation_share)
    except (FileNotFoundError, ValueError) as error:
        print(f"interactiveseg prepare-data: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


def train_main(argv=None) -> int:
    from .batches import Mix
    from .trainer import TrainConfig, Trainer
    defaults = TrainConfig(manifest="", output="")
    parser = argparse.ArgumentParser(prog="interactiveseg train",
                                     description="Train a class-agnostic box segmenter (U-Net, or P-Net/PC-Net). "
                                                 "Runs unchanged under torchrun for several processes.")
    parser.add_argument("--data", default=str(DEFAULT_CACHE), help="manifest.json or its folder (default: %(default)s)")
    parser.add_argument("--output", required=True, help="model file to write (.safetensors; card beside it)")
    parser.add_argument("--dims", type=int, choices=(2, 3), help=f"default {defaults.dims}; with --init, the model's")
    parser.add_argument("--architecture", choices=("unet", "dilated"),
                        help="unet (default) or dilated (P-Net in 2D, PC-Net in 3D); with --init, the model's")
    parser.add_argument("--init", metavar="MODEL", help="fine-tune this model file (its architecture and weights)")
    parser.add_argument("--cache", help="training cache folder (default: OUTPUT with .cache; built when absent)")
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--batch", type=int, default=defaults.batch, help="2D: slices per step; 3D: grids per step")
    parser.add_argument("--grid", type=int, nargs="+", help="network grid (k j i); 2D: (j i)")
    parser.add_argument("--channels", type=int, help="feature channels of the first level")
    parser.add_argument("--context-slices", type=int,
                        help=f"2D U-Net: neighbour slices on each side as input channels (default "
                             f"{defaults.context_slices})")
    parser.add_argument("--mix", type=float, nargs=3, metavar=("REAL", "SYNTH", "OBJECTS"),
                        default=[defaults.mix.real, defaults.mix.synthesized, defaults.mix.objects],
                        help="shares of real, label-synthesized and procedural-object samples")
    parser.add_argument("--cache-variants", type=int, default=defaults.cache_variants,
                        help="synthesized images per training subject in a new cache")
    parser.add_argument("--cache-deform", type=float, default=defaults.cache_deform_mm, metavar="MM",
                        help="bend each synthesized image's anatomy by a smooth random field of about MM mm (0: off)")
    parser.add_argument("--lr", type=float, default=defaults.learning_rate, help="peak learning rate")
    parser.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    parser.add_argument("--schedule", choices=("cosine", "plateau"), default=defaults.schedule)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--device", default=defaults.device, help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--threads", type=int, help="CPU threads")
    parser.add_argument("--validate-every", type=int, default=defaults.validate_every)
    parser.add_argument("--patience", type=int, default=defaults.patience,
                        help="plateau: validations without gain before the rate drops")
    parser.add_argument("--max-drops", type=int, default=defaults.max_drops,
                        help="plateau: stop after this many drops without gain")
    parser.add_argument("--validation-lesions", type=int, default=defaults.validation_lesions,
                        help="synthetic lesions per validation subject")
    parser.add_argument("--max-seconds", type=float, help="stop after this much training time")
    parser.add_argument("--checkpoint", help="resumable state (default: OUTPUT with .ckpt.pt)")
    parser.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    args = parser.parse_args(argv)
    if args.init:
        _check_init(parser, args)
    dims = args.dims or defaults.dims
    grid = None
    if args.grid:
        if len(args.grid) != dims:
            parser.error(f"--grid takes {dims} values for a {dims}D network ({'k j i' if dims == 3 else 'j i'}).")
        grid = tuple(args.grid) if dims == 3 else (None, *args.grid)
    config = TrainConfig(
        manifest=args.data, output=args.output, dims=dims, architecture=args.architecture or defaults.architecture,
        checkpoint=args.checkpoint, cache=args.cache, init=args.init, steps=args.steps, batch=args.batch, grid=grid,
        channels=args.channels, context_slices=defaults.context_slices if args.context_slices is None
        else args.context_slices, learning_rate=args.lr,
        weight_decay=args.weight_decay, schedule=args.schedule, mix=Mix(*args.mix),
        cache_variants=args.cache_variants, cache_deform_mm=args.cache_deform,
        validation_lesions=args.validation_lesions, seed=args.seed, device=args.device, threads=args.threads,
        validate_every=args.validate_every, patience=args.patience, max_drops=args.max_drops,
        max_seconds=args.max_seconds,
        command="interactiveseg train " + shlex.join(sys.argv[2:] if argv is None else argv))
    path = Trainer(config).run(resume=not args.restart)
    print(path)
    return 0


def _check_init(parser, args) -> None:
    """--init takes the model's network and grid: an option that asks for another one is refused, not ignored."""
    from ..model_card import read_card
    from ..errors import ModelError
    try:
        card = read_card(args.init)
    except ModelError as error:
        parser.error(str(error))
    architecture, grid = card["architecture"], card["input"]["grid_shape"]
    dilated = architecture["name"] != "U-Net"
    asked = {"--dims": (args.dims, architecture["dims"]),
             "--architecture": (args.architecture, "dilated" if dilated else "unet"),
             "--channels": (args.channels, architecture.get("channels")),
             "--context-slices": (args.context_slices, architecture.get("context_slices", 0)),
             "--grid": (args.grid, [g for g in grid if g is not None])}
    for option, (given, model) in asked.items():
        if given is not None and list(np.atleast_1d(given)) != list(np.atleast_1d(model)):
            parser.error(f"{option} {given} differs from the model given to --init ({model}): --init keeps its "
                         "network and grid.")
    args.dims = architecture["dims"]


def evaluate_main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="interactiveseg evaluate-box",
                                     description="Box-only Dice of a model on the manifest's validation structures "
                                                 "and unseen classes; optionally written into the model card.")
    parser.add_argument("model", help="model file (.safetensors)")
    parser.add_argument("--data", default=str(DEFAULT_CACHE))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--write-card", action="store_true", help="store the figures in the card's metrics")
    parser.add_argument("--rows", help="write every structure's Dice to this JSON file")
    parser.add_argument("--mean-with", metavar="MODEL",
                        help="measure the mean of this model's and the other model's maps (not with --write-card)")
    args = parser.parse_args(argv)
    if args.mean_with and args.write_card:
        parser.error("--mean-with measures two models together; a card holds its own model's figures only.")
    from ..model_card import update_sections
    from ..model_file import card_path, load_model
    import numpy as np

    from .evaluate_box import evaluate, limitations, summarize
    from .manifest import read_manifest
    from .validation import LESION_SEED, evaluate_lesions
    model = load_model(args.model)
    model.network.to(args.device)
    partner = load_model(args.mean_with) if args.mean_with else None
    if partner is not None:
        partner.network.to(args.device).eval()
    cases, _ = read_manifest(args.data)
    start = time.time()
    loaded = [(case, *case.load()) for case in cases]
    val_cases = [x for x in loaded if x[0].split == "val"]
    val = evaluate(model.network, model.card, val_cases, ("val",), args.device, partner=partner)
    unseen = evaluate(model.network, model.card, loaded, ("unseen",), args.device, partner=partner)
    lesions = evaluate_lesions(model.network, model.card, val_cases, args.device, partner=partner)
    command = "interactiveseg evaluate-box " + shlex.join(sys.argv[2:] if argv is None else argv)
    metrics = {"box_only_dice_validation_subjects": summarize(val),
               "box_only_dice_unseen_classes": summarize(unseen),
               "box_only_dice_synthetic_lesions": {
                   "mean_dice": round(float(np.mean(lesions)), 4) if lesions else None, "n": len(lesions),
                   "set": f"procedural objects pasted into the validation subjects, generator seed {LESION_SEED} "
                          "(never used in training), tight box"},
               "unseen_classes_per_structure": {f"{r['case']}/{r['structure']}": r["dice"] for r in unseen},
               "validation_per_structure": {f"{r['case']}/{r['structure']}": r["dice"] for r in val},
               "box": "tight bounding box of the reference label, margin added as in use, no scribbles",
               "command": command, "seconds": round(time.time() - start, 1)}
    print(json.dumps({k: metrics[k] for k in ("box_only_dice_validation_subjects", "box_only_dice_unseen_classes",
                                              "box_only_dice_synthetic_lesions")}, indent=1))
    if args.rows:
        Path(args.rows).write_text(json.dumps(val + unseen, indent=1) + "\n")
    if args.write_card:
        update_sections(card_path(model.path), metrics=metrics, limitations=limitations(model.card, metrics))
    return 0


COMMANDS = {"prepare-data": prepare_data_main, "train": train_main, "evaluate-box": evaluate_main}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python -m interactiveseg.training.commands {{{','.join(COMMANDS)}}} ...")
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
