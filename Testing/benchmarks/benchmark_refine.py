"""Seconds per refine round and peak memory, on the bundled CT with a box resampled to a given grid.

    python Testing/benchmarks/benchmark_refine.py --device cpu --grid 48 96 96 --rounds 5

Each round adds one foreground and one background stroke (the demo's strokes shifted
slice by slice), as a user would. Prints one JSON object; `--output` also writes it.
The first segment() is timed apart: it includes computing the box's features.
This is a measurement script, not a test: targets are compared by reading its output.
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import resource
import statistics
import sys
import time

import numpy as np
import torch

from interactiveseg import Session, Settings, load_model, read_volume
from interactiveseg.demo import DEMO_BOX, DEMO_STROKES, SAMPLE_IMAGE
from interactiveseg.devices import pick_device
from interactiveseg.evaluation.commands import add_set_argument, parse_overrides


def strokes_for_round(shape, round_index):
    fg, bg = np.zeros(shape, bool), np.zeros(shape, bool)
    for i0, i1, j, k, label in DEMO_STROKES:
        target = fg if label == "foreground" else bg
        target[min(k + round_index, shape[0] - 1), j, i0:i1 + 1] = True
    return fg, bg


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model .safetensors (default: the shipped model for a volume, the 3D U-Net)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--grid", nargs=3, type=int, metavar=("K", "J", "I"), default=None,
                        help="network grid to resample the box to (default: the model card's)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    add_set_argument(parser)
    parser.add_argument("--output", help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.model)
    if args.grid:
        model = copy.copy(model)
        model.card = json.loads(json.dumps(model.card))
        model.card["input"]["grid_shape"] = list(args.grid)
    volume = read_volume(SAMPLE_IMAGE)
    device = pick_device(args.device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    overrides = parse_overrides(args.set)
    settings = Settings.from_card(model.card).with_overrides(overrides)
    session = Session(volume, model=model, device=args.device, settings=settings)
    start = time.perf_counter()
    session.segment(DEMO_BOX)
    segment_seconds = time.perf_counter() - start
    # One warm-up refine (first-call library set-up), then undo, so rounds measure steady state.
    session.refine(*strokes_for_round(volume.shape, 0))
    session.undo()
    seconds = []
    for r in range(args.rounds):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        session.refine(*strokes_for_round(volume.shape, r))
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    report = {
        "device": str(session.device),
        "device_name": (torch.cuda.get_device_name() if device.type == "cuda"
                        else platform.processor() or platform.machine()),
        "torch_threads": torch.get_num_threads(), "grid_shape": list(session.grid_shape),
        "model": str(model.path), "segment_seconds": round(segment_seconds, 3),
        "refine_seconds": [round(s, 3) for s in seconds], "refine_median_seconds": round(statistics.median(seconds), 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2 ** 20, 1) if device.type == "cuda" else None,
        "settings": {"alternations": session.settings.alternations, "iterations": session.settings.iterations,
                     "pixels_per_step": session.settings.pixels_per_step, "native_walk": session.settings.native_walk,
                     "overrides": overrides},
        "command": " ".join(["python", "Testing/benchmarks/benchmark_refine.py",
                             *(argv if argv is not None else sys.argv[1:])]),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        with open(args.output, "w") as handle:
            handle.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
