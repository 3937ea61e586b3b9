"""Seconds per refine round in the web server's path against the same rounds standalone.

    python Testing/benchmarks/benchmark_web_refine.py --rounds 5 --threads 2

Standalone: `Session.refine` in this process. Server: the web front end's `Workflow` on a
trame-slicer scene (no browser), so each round is planned on the scene, computed in the
engine worker process and written back into the scene, timed from Refine to the round
shown. Both get the demo box and the same strokes (benchmark_refine's, one more pair a
round). Prints one JSON object; `--output` also writes it. A measurement, not a test.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "InteractiveSeg"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

from benchmark_refine import strokes_for_round  # noqa: E402

PAINTING_SECONDS = 3.0  # between Segment and the first Refine, a user looks and paints for at least this long


def standalone_rounds(model_path, rounds: int) -> list:
    from interactiveseg import Session, load_model, read_volume
    from interactiveseg.demo import DEMO_BOX, SAMPLE_IMAGE
    volume = read_volume(SAMPLE_IMAGE)
    session = Session(volume, model=load_model(model_path), device="cpu")
    session.segment(DEMO_BOX)
    session.refine(*strokes_for_round(volume.shape, 0))  # warm-up, as in benchmark_refine
    session.undo()
    seconds = []
    for r in range(rounds):
        start = time.perf_counter()
        session.refine(*strokes_for_round(volume.shape, r))
        seconds.append(time.perf_counter() - start)
    return seconds


def server_rounds(model_path, rounds: int, threads: int | None) -> tuple:
    from trame_slicer.core import SlicerApp

    from interactiveseg.demo import DEMO_BOX, SAMPLE_IMAGE
    from interactiveseg_web.workflow import Workflow
    from InteractiveSegLib.engine_client import EngineClient
    from InteractiveSegLib.labelmaps import full_region, write_segment_region
    from InteractiveSegLib.logic import InteractiveSegmentationLogic
    from InteractiveSegLib.roi_box import roi_over_box

    app = SlicerApp()
    logic = InteractiveSegmentationLogic(app.scene, EngineClient(threads=threads))
    workflow = Workflow(app, model_path=str(model_path or ""), device="cpu", logic=logic)

    def run(action) -> float:
        start = time.perf_counter()
        assert workflow.act(action), workflow.status.text
        while not workflow.poll():
            time.sleep(0.01)
        assert not workflow.status.error, workflow.status.text
        return time.perf_counter() - start

    def paint(upto: int) -> None:
        shape = tuple(reversed(workflow.volume_node.GetImageData().GetDimensions()))
        fg, bg = np.zeros(shape, bool), np.zeros(shape, bool)
        for r in range(upto + 1):  # every stroke so far stays drawn, as on the page
            f, b = strokes_for_round(shape, r)
            fg, bg = fg | f, bg | b
        node = workflow.logic.ensure_scribble_node(workflow.volume_node, workflow.logic.scribble_node)
        region = full_region(workflow.volume_node)
        write_segment_region(node, "foreground", workflow.volume_node, region, fg)
        write_segment_region(node, "background", workflow.volume_node, region, bg)

    assert workflow.act("load", SAMPLE_IMAGE), workflow.status.text
    workflow.roi_node = roi_over_box(app.scene, workflow.volume_node, DEMO_BOX)
    segment_seconds = run("segment")
    time.sleep(PAINTING_SECONDS)
    paint(0)
    first_refine_seconds = run("refine")  # what the user waits for first; then undo, so rounds match standalone
    assert workflow.act("undo"), workflow.status.text
    seconds, engine_seconds = [], []
    for r in range(rounds):
        paint(r)
        seconds.append(run("refine"))
        engine_seconds.append(workflow.logic.result.seconds)
    logic.engine.close()
    return segment_seconds, first_refine_seconds, seconds, engine_seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="", help="model .safetensors (default: the shipped default model)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads in both (default: torch's)")
    parser.add_argument("--output", help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    alone = standalone_rounds(args.model or None, args.rounds)
    segment_seconds, first_refine, served, engine = server_rounds(args.model or None, args.rounds, args.threads)
    report = {
        "standalone_refine_seconds": [round(s, 3) for s in alone],
        "server_refine_seconds": [round(s, 3) for s in served],
        "server_engine_seconds": [round(s, 3) for s in engine],  # the worker's own time per round
        "standalone_median": round(statistics.median(alone), 3),
        "server_median": round(statistics.median(served), 3),
        "server_over_standalone": round(statistics.median(served) / statistics.median(alone), 2),
        "server_first_segment_seconds": round(segment_seconds, 3),  # includes starting the worker
        "server_first_refine_seconds": round(first_refine, 3),  # after PAINTING_SECONDS of painting
        "threads": args.threads,
        "command": " ".join(["python", "Testing/benchmarks/benchmark_web_refine.py",
                             *(argv if argv is not None else sys.argv[1:])]),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
