"""Command lines: `signature` (store the training data's spectral signature in a model card)
and `ood-eval` (how well it flags unfamiliar boxes, against mean prediction entropy).

    python -m interactiveseg.evaluation.ood_commands signature --model MODEL.safetensors
    python -m interactiveseg.evaluation.ood_commands ood-eval --model MODEL.safetensors --output ood.json
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from ..training.prepare_data import DEFAULT_CACHE


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="model .safetensors (default: the shipped model for a volume, the 3D U-Net)")
    parser.add_argument("--data", default=str(DEFAULT_CACHE), help="manifest.json or its folder (default: %(default)s)")
    parser.add_argument("--jitter", type=int, default=0,
                        help="jittered boxes per training structure besides the tight one (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="CPU threads")


def _load(args):
    import torch
    from ..model_file import load_model
    from ..training.manifest import read_manifest
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.model)
    model.network.to(args.device).eval()
    cases, _ = read_manifest(args.data)
    return model, [(case, *case.load()) for case in cases]


def signature_main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="interactiveseg signature",
                                     description="Fit the spectral signature of the training boxes and store it in "
                                                 "the model's card (key 'spectral_signature').")
    _common(parser)
    parser.add_argument("--modality", choices=("CT", "MR"), help="fit on one modality's training images only")
    parser.add_argument("--layers", nargs="+",
                        help="layers to summarise (default: block1 ... block5; 'input' adds the image)")
    parser.add_argument("--card", help="card JSON to write (default: the model's own card)")
    args = parser.parse_args(argv)
    from ..model_file import card_path
    from .ood_boxes import training_boxes
    from .ood_measure import box_vectors, stderr_log
    from ..trust.ood import fit_signature, store_signature
    from ..trust.spectral import DEFAULT_LAYERS
    start = time.time()
    model, loaded = _load(args)
    items = training_boxes(loaded, args.jitter, args.seed, [args.modality] if args.modality else None)
    stderr_log(f"{len(items)} training boxes")
    layers = tuple(args.layers or DEFAULT_LAYERS)
    vectors, _ = box_vectors(model.network, model.card, items, stderr_log, layers)
    entry = fit_signature(vectors, layers, modalities=sorted({i.modality for i in items}),
                          subjects=sorted({i.case for i in items}),
                          box_rule=f"tight box plus {args.jitter} jittered per training structure",
                          command=_command("signature", argv),
                          seconds=round(time.time() - start, 1))
    path = store_signature(args.card or card_path(model.path), entry)
    print(json.dumps({k: entry[k] for k in ("boxes", "modalities", "threshold", "shrinkage")} | {"card": str(path)}))
    return 0


def ood_eval_main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="interactiveseg ood-eval",
                                     description="AUROC of the spectral score and of mean prediction entropy: "
                                                 "held-out boxes of the training kinds against unfamiliar boxes.")
    _common(parser)
    parser.add_argument("--output", help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    from .ood_measure import box_vectors, stderr_log
    from .ood_protocols import VARIANTS, box_sets, protocols, select_layers
    from ..trust.spectral import DEFAULT_LAYERS
    start = time.time()
    model, loaded = _load(args)
    sets = box_sets(loaded, args.jitter, args.seed)
    computed = {}
    for name, items in sets.items():
        stderr_log(f"{name}: {len(items)} boxes")
        computed[name] = box_vectors(model.network, model.card, items, stderr_log)
    results = {name: protocols(sets, select_layers(computed, layers), layers)[0] for name, layers in VARIANTS.items()}
    full = protocols(sets, select_layers(computed, DEFAULT_LAYERS))[1]
    report = {
        "model": model.card.get("name", str(model.path)), "model_file": Path(model.path).name,
        "model_sha256": model.card["sha256"], "command": _command("ood-eval", argv),
        "boxes": {name: len(items) for name, items in sets.items()},
        "signature": {"features": full["features"], "threshold_quantile": full["threshold_quantile"],
                      "threshold": full["threshold"]},
        "variants": {name: list(layers) for name, layers in VARIANTS.items()},
        "results": results, "seconds": round(time.time() - start, 1),
        "per_box": _rows(sets, select_layers(computed, DEFAULT_LAYERS), full),
    }
    text = json.dumps(report, indent=1) + "\n"
    if args.output:
        Path(args.output).write_text(text)
    print(json.dumps(results, indent=1))
    return 0


def _command(name: str, argv) -> str:
    return f"interactiveseg {name} " + shlex.join(sys.argv[2:] if argv is None else argv)


def _rows(sets, computed, entry) -> list:
    from ..trust.ood import score_vector
    rows = []
    for name, items in sets.items():
        vectors, entropies = computed[name]
        for item, vector, entropy in zip(items, vectors, entropies):
            rows.append([name, item.case, item.structure, round(score_vector(vector, entry), 3),
                         round(float(entropy), 4)])
    return rows


COMMANDS = {"signature": signature_main, "ood-eval": ood_eval_main}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python -m interactiveseg.evaluation.ood_commands {{{','.join(COMMANDS)}}} ...")
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
