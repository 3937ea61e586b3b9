"""Choose the fine-tuning defaults on the development subjects: a small, budgeted coordinate search.

    python -m interactiveseg.evaluation.defaults_search --manifest ~/.cache/interactiveseg/data \
        --model model.safetensors --output defaults-search.json

Starting from the current defaults, each candidate changes one setting; a change is kept
when it raises the score by more than `--min-gain`. The score is the mean Dice of the full
method over correction rounds 1..R on the development structures; with `--lesions N`, it is
the mean of that and the same figure on N synthetic lesions per development image, so that
neither part outweighs the other by its count. The random walker's beta is chosen on
the same structures, so the baseline is tuned as fairly as the method. Every trial is
recorded; the report subset is never touched.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

# One setting per step, in order of expected influence; values bracket the current default.
CANDIDATES = (
    {"random_walk": False},
    {"protect_depth": 0.0},
    {"protect_depth": 4.0},
    {"walk_gamma": 0.002},
    {"walk_gamma": 0.02},
    {"walk_beta": 10.0},
    {"walk_beta": 100.0},
    {"native_walk": False},
    {"native_gamma": 0.03},
    {"native_gamma": 0.3},
    {"native_band": 1},
    {"first_walk_band": 1},
    {"first_walk_band": 2},
    {"carry_result": False},
    {"learning_rate": 1e-3},
    {"learning_rate": 1e-2},
    {"omega": 5.0},
    {"omega": 20.0},
    {"iterations": 20},
    {"iterations": 80},
    {"t0": 0.2, "t1": 0.8},
    {"t0": 0.05, "t1": 0.95},
    {"crf.appearance_weight": 1.0},
    {"crf.appearance_weight": 4.0},
    {"local_edits": True},
    {"keep_connected": False},
    {"trust_power": 1.0, "trust_reach": 8.0},
    {"trust_power": 1.0, "trust_reach": 16.0},
    {"trust_power": 2.0, "trust_reach": 8.0},
)
BETAS = (130.0, 1000.0, 5000.0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="defaults_search", description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--model", help="model .safetensors (default: the shipped model)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--per-case", type=int, default=4)
    parser.add_argument("--lesions", type=int, default=0, help="also score this many synthetic lesions per image")
    parser.add_argument("--min-gain", type=float, default=0.002)
    parser.add_argument("--skip-beta", action="store_true")
    parser.add_argument("--candidates", type=json.loads,
                        help="a JSON list of candidates to try in place of the built-in ones (a follow-up search "
                             "from the card's defaults); the card keeps the earlier searches' records")
    parser.add_argument("--output", required=True)
    parser.add_argument("--write-card", action="store_true",
                        help="store the chosen defaults in the model card "
                             "('finetune_defaults', 'finetune_defaults_search')")
    args = parser.parse_args(argv)
    argv = argv if argv is not None else sys.argv[1:]

    from ..model_file import load_model
    from ..settings import Settings
    from .cases import lesion_tasks, manifest_tasks
    from .methods import make_method
    from .robot_user import RobotUser
    from .runner import run_tasks

    candidates = list(CANDIDATES) if args.candidates is None else _checked_candidates(args.candidates)
    tasks = manifest_tasks(args.manifest, "development", args.per_case)
    tasks += lesion_tasks(args.manifest, "development", args.lesions)
    model = load_model(args.model)
    robot = RobotUser()
    trials = []

    def score(method, overrides=None, beta=None):
        settings = Settings.from_card(model.card).with_overrides(overrides or {})
        start = time.perf_counter()
        rows = run_tasks(tasks, [method], robot, args.rounds, log=None,
                         method_factory=lambda name: make_method(name, model, settings, "cpu", beta or 1000.0))
        later = [r for r in rows if r["round"] >= 1]
        by_part = {}
        for r in later:
            by_part.setdefault("lesions" if r["role"] == "lesion" else "structures", []).append(r["dice"])
        parts = {part: float(np.mean(values)) for part, values in by_part.items()}
        trial = {"method": method, "overrides": overrides or {}, "beta": beta,
                 "score": round(float(np.mean(list(parts.values()))), 4),
                 "parts": {part: round(value, 4) for part, value in parts.items()},
                 "dice_per_round": {str(i): round(float(np.mean([r["dice"] for r in rows if r["round"] == i])), 4)
                                    for i in range(args.rounds + 1)},
                 "seconds_per_round": round(float(np.mean([r["seconds"] for r in later])), 3),
                 "wall_seconds": round(time.perf_counter() - start, 1)}
        trials.append(trial)
        print(json.dumps(trial), file=sys.stderr, flush=True)
        write(complete=False)  # a run cut short by its time budget still leaves its record
        return trial["score"]

    def write(complete: bool, chosen=None, best=None, beta=None):
        settings = Settings.from_card(model.card).with_overrides(chosen or {})
        result = {
            "command": "python -m interactiveseg.evaluation.defaults_search " + " ".join(shlex.quote(a) for a in argv),
            "complete": complete,
            "data": {"subset": "development", "structures": [f"{t.case}/{t.structure} ({t.role})" for t in tasks],
                     "note": "held-out subjects used for choosing defaults only; results are reported on the others"},
            "model": {"path": str(model.path), "name": model.card.get("name"), "sha256": model.card.get("sha256")},
            "score": "mean Dice of the full method over correction rounds 1..R"
                     + (" (mean of the structures' and the lesions' figures)" if args.lesions else ""),
            "rounds": args.rounds, "min_gain": args.min_gain, "candidates": candidates,
            "changed": chosen or {}, "best_score": best,
            "finetune_defaults": _as_card_defaults(settings) if complete else None,
            "random_walker_beta": beta, "trials": trials,
        }
        Path(args.output).write_text(json.dumps(result, indent=1) + "\n")
        return result

    chosen = {}
    best = score("full")
    for candidate in candidates:
        if any(key in chosen for key in candidate):
            continue  # that setting already moved
        value = score("full", dict(chosen, **candidate))
        if value > best + args.min_gain:
            best, chosen = value, dict(chosen, **candidate)
    beta = None
    if not args.skip_beta:
        beta_scores = {b: score("random_walker", beta=b) for b in BETAS}
        beta = max(beta_scores, key=beta_scores.get)
    result = write(True, chosen, best, beta)
    if args.write_card:
        from ..model_card import card_path, update_sections
        record = {k: result[k] for k in ("command", "data", "score", "rounds", "changed", "best_score",
                                          "random_walker_beta")}
        record["searched_on_sha256"] = model.card.get("sha256")  # train --init carries it to new weights
        if args.candidates is not None and model.card.get("finetune_defaults_search"):
            earlier = dict(model.card["finetune_defaults_search"])  # a follow-up: the searches before it stay on record
            record["earlier_searches"] = earlier.pop("earlier_searches", []) + [earlier]
        update_sections(card_path(model.path), finetune_defaults=result["finetune_defaults"],
                        finetune_defaults_search=record)
    print(json.dumps({"finetune_defaults": result["finetune_defaults"], "random_walker_beta": beta}, indent=1))
    return 0


CARD_DEFAULT_KEYS = ("omega", "t0", "t1", "alternations", "iterations", "learning_rate", "geodesic_radius",
                     "geodesic_intensity_weight", "keep_connected", "local_edits", "carry_result", "random_walk",
                     "walk_beta", "walk_gamma", "native_walk", "native_gamma", "native_band", "native_appearance",
                     "first_walk_band", "first_walk_gamma", "protect_depth", "trust_power", "trust_reach",
                     "stroke_claims", "one_way_rounds", "stroke_input_reach", "stroke_input_intensity",
                     "stroke_input_lr", "crf")  # what the card records


def _checked_candidates(candidates) -> list:
    """--candidates: a list of {setting: value} that Settings accepts."""
    from ..errors import InputError
    from ..settings import Settings
    if not isinstance(candidates, list) or not all(isinstance(c, dict) and c for c in candidates):
        raise InputError('--candidates must be a JSON list of objects, e.g. \'[{"walk_gamma": 0.01}]\'.')
    for candidate in candidates:
        Settings().with_overrides(candidate)  # unknown names and bad values fail here, before any trial
    return candidates


def _as_card_defaults(settings) -> dict:
    values = settings.as_dict()
    return {k: values[k] for k in CARD_DEFAULT_KEYS}


if __name__ == "__main__":
    sys.exit(main())
