"""Training throughput: slices (2D) or grids (3D) per second, batch making and augmentation included.

    python Testing/benchmarks/benchmark_training.py --cache /path/to/default-2d.cache --threads 2
    python Testing/benchmarks/benchmark_training.py --cache ... --device cuda --batch 64

Draws batches from a training cache exactly as `interactiveseg train` does (real,
synthesized and procedural-object items, augmented) and times forward, backward and
AdamW steps of the default U-Net; the first steps are a warm-up and not counted.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from interactiveseg.devices import pick_device
from interactiveseg.networks import build_network, unet_architecture
from interactiveseg.training.batches import BatchMaker
from interactiveseg.training.cache import TrainingCache
from interactiveseg.training.trainer import pretraining_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True, help="a training cache folder (interactiveseg train builds one)")
    parser.add_argument("--dims", type=int, default=2, choices=(2, 3))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--output", help="also write the JSON here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    network = build_network(unet_architecture(args.dims)).to(device)
    optimizer = torch.optim.AdamW(network.parameters(), lr=1e-3)
    batches = BatchMaker(TrainingCache.load(args.cache), args.dims, network.context_slices)
    making = computing = 0.0
    for step in range(args.warmup + args.steps):
        start = time.perf_counter()
        images, targets = batches.batch(step, args.batch)
        images, targets = images.to(device), targets.to(device)
        made = time.perf_counter()
        optimizer.zero_grad()
        pretraining_loss(network(images), targets).backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= args.warmup:
            making += made - start
            computing += time.perf_counter() - made
    items = args.steps * args.batch
    result = {"device": str(device), "threads": torch.get_num_threads() if device.type == "cpu" else None,
              "dims": args.dims, "batch": args.batch, "steps": args.steps,
              "items_per_second": round(items / (making + computing), 1),
              "batch_making_share": round(making / (making + computing), 3),
              "peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2 ** 20) if device.type == "cuda" else None}
    print(json.dumps(result, indent=1))
    if args.output:
        with open(args.output, "w") as handle:
            handle.write(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
