"""interactiveseg evaluate: robot-user rounds for this method, its ablations and the baselines.

    python -m interactiveseg.evaluation.commands --image ct.nrrd --label labels.nrrd \
        --structures 1,5 --rounds 3 --output results.json
    python -m interactiveseg.evaluation.commands --manifest ~/.cache/interactiveseg/data \
        --subset report --rounds 3 --output Resources/Evaluation/results.json

Writes results.json (every round of every method on every structure, with the summary),
a Markdown table and a PNG plot beside it.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from ..errors import InputError, InteractiveSegError


def evaluate_main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="interactiveseg evaluate", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", help="image file (with --label)")
    source.add_argument("--manifest", help="training-set manifest.json or its folder: evaluate its held-out structures")
    parser.add_argument("--label", help="labelmap on the image grid")
    parser.add_argument("--structures", help="label values, comma-separated (default: all in the labelmap)")
    parser.add_argument("--role", default="seen", choices=["seen", "unseen"],
                        help="with --image: whether the model was trained on these classes")
    parser.add_argument("--subset", default="report", choices=["development", "report", "all"],
                        help="with --manifest: development subjects (for choosing defaults) or the rest")
    parser.add_argument("--per-case", type=int,
                        help="with --manifest: at most this many structures per case (0: none, for --lesions alone)")
    parser.add_argument("--min-voxels", type=int, default=0, help="with --manifest: skip smaller structures")
    parser.add_argument("--lesions", type=int, default=0,
                        help="with --manifest: also this many synthetic lesions pasted into each image of the subset")
    parser.add_argument("--rounds", type=int, help="correction rounds after the box (default: 3; 5 for --robot cvpr25)")
    parser.add_argument("--robot", default="default", choices=["default", "cvpr25"],
                        help="simulated user: the default (a stroke in the worst slice's largest error) or the "
                             "CVPR 2025 challenge's rule (the deepest point of the largest 3D error)")
    parser.add_argument("--methods", default="all", help="comma-separated, from: " + ", ".join(_all_methods()))
    parser.add_argument("--model", help="model .safetensors (default: the shipped model)")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--seed", type=int, default=0, help="the robot user's seed (boxes and strokes)")
    parser.add_argument("--strokes-per-round", type=int, default=1)
    add_set_argument(parser)
    parser.add_argument("--beta", type=float, help="random walker beta")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.add_argument("--output", required=True, help="results .json; the .md table and .png plot go beside it")
    args = parser.parse_args(argv)
    try:
        run(args, argv if argv is not None else sys.argv[1:])
    except InteractiveSegError as error:
        print(f"interactiveseg evaluate: error: {error}", file=sys.stderr)
        return 2
    return 0


def run(args, argv) -> dict:
    from .cases import image_tasks, lesion_tasks, manifest_tasks
    from .methods import ENGINE_METHODS, make_method
    from .random_walker import DEFAULT_BETA
    from .report import markdown, plot, summarize, write_json
    from .robot_user import RobotUser
    from .runner import run_tasks

    output = Path(args.output)
    if not output.parent.is_dir():
        raise InputError(f"Output folder does not exist: {output.parent}")
    methods = _all_methods() if args.methods == "all" else [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = set(methods) - set(_all_methods())
    if unknown:
        raise InputError(f"Unknown method(s) {', '.join(sorted(unknown))}; choose from {', '.join(_all_methods())}.")
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    if args.image:
        if not args.label:
            raise InputError("--image needs --label.")
        structures = [int(v) for v in args.structures.split(",")] if args.structures else None
        tasks = image_tasks(args.image, args.label, structures, role=args.role)
    else:
        names = args.structures.split(",") if args.structures else None
        tasks = manifest_tasks(args.manifest, args.subset, args.per_case, names, args.min_voxels)
        tasks += lesion_tasks(args.manifest, args.subset, args.lesions)
    if not tasks:
        raise InputError("Nothing to evaluate: no structure matched.")
    model = settings = None
    if any(m in ENGINE_METHODS for m in methods):
        from ..model_file import load_model
        from ..settings import Settings
        model = load_model(args.model)
        settings = Settings.from_card(model.card).with_overrides(parse_overrides(args.set))
    beta = args.beta or DEFAULT_BETA
    if args.robot == "cvpr25":
        from .cvpr_robot import STEPS, CvprRobot
        robot = CvprRobot(seed=args.seed)
        args.rounds = args.rounds or STEPS
    else:
        robot = RobotUser(seed=args.seed, strokes_per_round=args.strokes_per_round)
        args.rounds = args.rounds or 3
    start = time.perf_counter()
    rows = run_tasks(tasks, methods, robot, args.rounds, device=args.device,
                     method_factory=lambda name: make_method(name, model, settings, args.device, beta))
    summary = summarize(rows)
    command = "interactiveseg evaluate " + " ".join(shlex.quote(a) for a in argv)
    config = {"command": command, "methods": methods, "rounds": args.rounds, "robot": args.robot,
              "robot_user": vars(robot),
              "model": None if model is None else {"path": str(model.path), "name": model.card.get("name"),
                                                    "sha256": model.card.get("sha256")},
              "settings": None if settings is None else settings.as_dict(),
              "random_walker_beta": beta, "device": args.device, "total_seconds": round(time.perf_counter() - start, 1)}
    write_json(output, rows, summary, config)
    output.with_suffix(".md").write_text(markdown(summary, command))
    picture = plot(summary, output.with_name("dice_per_round.png"))
    print(markdown(summary))
    print(f"wrote {output}, {output.with_suffix('.md')}"
          + (f" and {picture}" if picture else " (no matplotlib: no plot)"))
    return summary


def add_set_argument(parser) -> None:
    """`--set KEY=VALUE`, as every command that runs the engine with changed settings takes it (parse_overrides)."""
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a fine-tuning setting, e.g. omega=5 or crf.iterations=5 (repeatable)")


def parse_overrides(items) -> dict:
    """KEY=VALUE strings to a dict; values are JSON (numbers, true/false) or plain strings."""
    overrides = {}
    for item in items:
        if "=" not in item:
            raise InputError(f"--set needs KEY=VALUE, got {item!r}.")
        key, text = item.split("=", 1)
        try:
            overrides[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            overrides[key.strip()] = text
    return overrides


def _all_methods() -> list:
    from .methods import ALL_METHODS
    return list(ALL_METHODS)


if __name__ == "__main__":
    sys.exit(evaluate_main())
