"""Does "scribble where the engine is unsure" help? Two simulated users, the same box, the full method.

The error-driven user knows the truth and corrects the largest error each round (the
evaluation's RobotUser). The guided user paints where the engine reports its most
uncertain region; the label there comes from the reference, as a clinician looking at
that spot would paint what is truly there, but the place is chosen without the truth.

    python -m interactiveseg.evaluation.guide_eval --manifest ~/.cache/interactiveseg/data --rounds 3 \
        --output guide.json
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from .commands import add_set_argument, parse_overrides

ROBOTS = ("error-driven", "uncertainty-guided")  # RobotUser.name, GuidedUser.name


def run_task(task, model, settings, robot, rounds: int, device: str = "cpu") -> list:
    """Dice per round of both users on one structure, the full method, through the evaluation's runner."""
    from .guided_user import GuidedUser
    from .methods import make_method
    from .runner import run_task as run_user

    rows = []
    for user in (robot, GuidedUser(robot)):
        for row in run_user(task, ["full"], user, rounds, device=device,
                            method_factory=lambda name: make_method(name, model, settings, device)):
            rows.append({"case": row["case"], "structure": row["structure"], "role": row["role"],
                         "robot": user.name, "round": row["round"], "dice": row["dice"],
                         "stroke_voxels": sum(row["stroke_voxels"].values()),
                         **({"steps": row["steps"]} if "steps" in row else {})})
    return rows


def summarize(rows: list) -> dict:
    """Mean Dice per round for each user, over all structures and per role."""
    out = {}
    for role in ("all", "seen", "unseen", "lesion"):
        chosen = [r for r in rows if role == "all" or r["role"] == role]
        if not chosen:
            continue
        out[role] = {robot: [round(float(np.mean([r["dice"] for r in chosen
                                                  if r["robot"] == robot and r["round"] == n])), 4)
                             for n in sorted({r["round"] for r in chosen})] for robot in ROBOTS}
        out[role]["structures"] = len({(r["case"], r["structure"]) for r in chosen})
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m interactiveseg.evaluation.guide_eval",
                                     description="Dice per round: error-driven vs uncertainty-guided simulated user.")
    parser.add_argument("--manifest", required=True, help="training-set manifest.json or its folder")
    parser.add_argument("--subset", default="report", choices=["development", "report", "all"])
    parser.add_argument("--per-case", type=int, default=4, help="structures per held-out case (default 4)")
    parser.add_argument("--min-voxels", type=int, default=200)
    parser.add_argument("--lesions", type=int, default=0, help="also this many synthetic lesions per image")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", help="model .safetensors (default: the shipped model)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int)
    add_set_argument(parser)
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    import torch
    from .cases import lesion_tasks, manifest_tasks
    from .robot_user import RobotUser
    from ..model_file import load_model
    from ..settings import Settings
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.time()
    model = load_model(args.model)
    settings = Settings.from_card(model.card).with_overrides(parse_overrides(args.set))
    robot = RobotUser(seed=args.seed)
    tasks = manifest_tasks(args.manifest, args.subset, args.per_case, min_voxels=args.min_voxels)
    tasks += lesion_tasks(args.manifest, args.subset, args.lesions)
    rows = []
    for task in tasks:
        rows += run_task(task, model, settings, robot, args.rounds, args.device)
        print(f"{task.case} {task.structure}: " + "; ".join(
            f"{robot_name} " + " ".join(f"{r['dice']:.3f}" for r in rows[-2 * (args.rounds + 1):]
                                        if r["robot"] == robot_name) for robot_name in ROBOTS),
              file=sys.stderr, flush=True)
    report = {"command": "python -m interactiveseg.evaluation.guide_eval "
                         + shlex.join(sys.argv[1:] if argv is None else argv),
              "model": Path(model.path).name, "mean_dice_per_round": summarize(rows),
              "seconds": round(time.time() - start, 1), "rows": rows}
    Path(args.output).write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["mean_dice_per_round"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
