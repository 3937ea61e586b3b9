"""Command lines: `prepare-data`, `train` and `evaluate-box` (box-only Dice into a model card).

    python -m interactiveseg.training.commands prepare-data --totalsegmentator DIR
    python -m interactiveseg.training.commands train --dims 3 --output model.safetensors
    python -m interactiveseg.training.commands evaluate-box model.safetensors
"""
from __future__ import annotations

import argparse
import json
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
    args = parser.parse_args(argv)
    from .prepare_data import prepare
    path = prepare(args.output, args.totalsegmentator)
    print(path)
    return 0


def train_main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="interactiveseg train",
                                     description="Train P-Net (2D) or PC-Net (3D) as a class-agnostic box segmenter.")
    parser.add_argument("--data", default=str(DEFAULT_CACHE), help="manifest.json or its folder (default: %(default)s)")
    parser.add_argument("--output", required=True, help="model file to write (.safetensors; card beside it)")
    parser.add_argument("--dims", type=int, choices=(2, 3), default=3)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=2, help="boxes per step")
    parser.add_argument("--slices", type=int, default=4, help="2D: slices per box")
    parser.add_argument("--grid", type=int, nargs="+", help="network grid (k j i); 2D: (j i)")
    parser.add_argument("--channels", type=int, help="feature channels per layer")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--threads", type=int, help="CPU threads")
    parser.add_argument("--validate-every", type=int, default=100)
    parser.add_argument("--patience", type=int, default=4, help="validations without gain before the rate drops")
    parser.add_argument("--max-seconds", type=float, help="stop after this much training time")
    parser.add_argument("--checkpoint", help="resumable state (default: OUTPUT with .ckpt.pt)")
    parser.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    args = parser.parse_args(argv)
    from .trainer import TrainConfig, Trainer
    grid = None
    if args.grid:
        grid = tuple(args.grid) if args.dims == 3 else (None, *args.grid)
    config = TrainConfig(
        manifest=args.data, output=args.output, dims=args.dims, checkpoint=args.checkpoint, steps=args.steps,
        batch=args.batch, slices=args.slices, grid=grid, channels=args.channels, learning_rate=args.lr,
        seed=args.seed, device=args.device, threads=args.threads, validate_every=args.validate_every,
        patience=args.patience, max_seconds=args.max_seconds,
        command="interactiveseg train " + shlex.join(sys.argv[2:] if argv is None else argv))
    path = Trainer(config).run(resume=not args.restart)
    print(path)
    return 0


def evaluate_main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="interactiveseg evaluate-box",
                                     description="Box-only Dice of a model on the manifest's validation structures "
                                                 "and unseen classes; optionally written into the model card.")
    parser.add_argument("model", help="model file (.safetensors)")
    parser.add_argument("--data", default=str(DEFAULT_CACHE))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--write-card", action="store_true", help="store the figures in the card's metrics")
    parser.add_argument("--rows", help="write every structure's Dice to this JSON file")
    args = parser.parse_args(argv)
    from ..model_file import card_path, load_model, update_card
    from .evaluate_box import evaluate, summarize
    from .manifest import read_manifest
    model = load_model(args.model)
    model.network.to(args.device)
    cases, _ = read_manifest(args.data)
    start = time.time()
    loaded = [(case, *case.load()) for case in cases]
    val = evaluate(model.network, model.card, [x for x in loaded if x[0].split == "val"], ("val",), args.device)
    unseen = evaluate(model.network, model.card, loaded, ("unseen",), args.device)
    command = "interactiveseg evaluate-box " + shlex.join(sys.argv[2:] if argv is None else argv)
    metrics = {"box_only_dice_validation_subjects": summarize(val),
               "box_only_dice_unseen_classes": summarize(unseen),
               "unseen_classes_per_structure": {f"{r['case']}/{r['structure']}": r["dice"] for r in unseen},
               "validation_per_structure": {f"{r['case']}/{r['structure']}": r["dice"] for r in val},
               "box": "tight bounding box of the reference label, margin added as in use, no scribbles",
               "command": command, "seconds": round(time.time() - start, 1)}
    print(json.dumps({k: metrics[k] for k in ("box_only_dice_validation_subjects", "box_only_dice_unseen_classes")},
                     indent=1))
    if args.rows:
        Path(args.rows).write_text(json.dumps(val + unseen, indent=1) + "\n")
    if args.write_card:
        update_card(card_path(model.path), lambda card: card.update(metrics=metrics))
    return 0


COMMANDS = {"prepare-data": prepare_data_main, "train": train_main, "evaluate-box": evaluate_main}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python -m interactiveseg.training.commands {{{','.join(COMMANDS)}}} ...")
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
