"""The training loop: class-agnostic box segmentation from the training cache, resumable, DDP-ready.

Every step draws a batch from the cache (batches.py: real, synthesized and procedural-object
items), augments it and takes one AdamW step. The learning rate follows a cosine decay over
the whole step budget after a short warm-up (`schedule="cosine"`, the default), or drops by
0.3 when validation stalls (`schedule="plateau"`). Validation (validation.py) runs the
shipped inference path on the held-out subjects; the model with the best *smoothed*
validation score is written as a model file, so one lucky validation does not choose it. A
checkpoint (weights, optimiser, step, history) lets a stopped run continue where it left off.

Under `torchrun` (WORLD_SIZE > 1) the network is wrapped in DistributedDataParallel; each rank
draws its own batches, rank 0 alone validates and writes files.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..devices import pick_device
from ..errors import InputError
from ..model_card import read_card, update_sections
from ..model_file import card_path, load_model, new_card, save_model
from ..networks import build_network, pcnet_architecture, pnet_architecture, unet_architecture
from .batches import BatchMaker, Mix
from .cache import TrainingCache, build_cache
from .manifest import read_manifest
from .validation import build_validation, validate

GRID_3D = (24, 48, 48)
GRID_2D = (None, 96, 96)
WARMUP_STEPS = 200
FINAL_LEARNING_RATE_SHARE = 0.02  # the cosine ends at this share of the peak rate
SMOOTHING = 0.5  # weight of the newest validation in the smoothed score


@dataclass
class TrainConfig:
    manifest: str
    output: str  # model weights path, .safetensors; the card is written beside it
    dims: int = 2
    architecture: str = "unet"  # "unet", or "dilated" (P-Net / PC-Net)
    checkpoint: str | None = None  # resumable state; default: output with .ckpt.pt
    cache: str | None = None  # training cache folder; default: output with .cache (built when absent)
    init: str | None = None  # start from this model file's weights and architecture
    steps: int = 4000
    batch: int = 16  # 2D: slices per step; 3D: grids per step
    grid: tuple | None = None
    channels: int | None = None
    context_slices: int = 1  # 2D U-Net: neighbour slices each side as input channels
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"  # or "plateau"
    mix: Mix = field(default_factory=Mix)
    cache_boxes: int = 4  # real boxes per training structure in the cache
    cache_variants: int = 3  # synthesized images per training subject
    cache_deform_mm: float = 0.0  # bend each synthesized image's anatomy by about this much (0: not)
    validation_jitter: int = 2  # jittered boxes per validation structure, besides the tight one
    validation_lesions: int = 20  # synthetic lesions per validation subject
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    validate_every: int = 100
    patience: int = 4  # plateau: validations without gain before the learning rate drops
    max_drops: int = 2  # plateau: stop after this many drops without gain
    max_seconds: float | None = None
    checkpoint_every: int = 50
    command: str = ""


def build_card(config: TrainConfig) -> dict:
    if config.init:
        card = load_model(config.init).card
        fresh = new_card(card["architecture"], card["input"]["grid_shape"], card["input"]["margin_fraction"],
                         card["input"]["margin_minimum"])
        if card.get("finetune_defaults"):  # inherited until searched again, and the card says whose they are
            fresh["finetune_defaults"] = card["finetune_defaults"]
            search = card.get("finetune_defaults_search") or {}
            fresh["finetune_defaults_search"] = dict(
                search, searched_on_sha256=search.get("searched_on_sha256", card["sha256"]),
                note="searched on the weights these were fine-tuned from (init_sha256), not searched again")
        return fresh
    grid = config.grid or (GRID_3D if config.dims == 3 else GRID_2D)
    if config.architecture == "unet":
        architecture = unet_architecture(config.dims, config.channels or 16, context_slices=config.context_slices)
    elif config.dims == 3:
        architecture = pcnet_architecture(**({"channels": config.channels} if config.channels else {}))
    else:
        architecture = pnet_architecture(channels=config.channels or 16)
    return new_card(architecture, list(grid))


def pretraining_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy plus soft Dice of the foreground: Dice keeps small objects from being ignored."""
    ce = F.cross_entropy(logits, targets.long())
    probability = torch.softmax(logits, 1)[:, 1]
    dims = tuple(range(1, probability.dim()))
    target = targets.float()
    soft_dice = (2 * (probability * target).sum(dims) + 1) / (probability.sum(dims) + target.sum(dims) + 1)
    return ce + (1 - soft_dice.mean())


def cosine_rate(step: int, steps: int, peak: float, time_share: float = 0.0) -> float:
    """Linear warm-up, then cosine decay to FINAL_LEARNING_RATE_SHARE of the peak at the end of the budget.

    The budget is the step limit or, when a time limit is set, whichever runs out first
    (`time_share`: the share of the time limit spent), so a run on a busy machine still
    ends annealed rather than cut off at a high rate.
    """
    warmup = min(WARMUP_STEPS, max(steps // 10, 1))
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = max((step - warmup) / max(steps - warmup, 1), time_share)
    final = peak * FINAL_LEARNING_RATE_SHARE
    return final + (peak - final) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


class Trainer:
    def __init__(self, config: TrainConfig, log=None):
        self.config = config
        self.rank, self.world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
        self.log = log or (lambda text: print(text, file=sys.stderr, flush=True))
        if self.rank:
            self.log = lambda text: None
        self.output = Path(config.output)
        _check_output(self.output)
        self.device = pick_device(config.device)
        if self.world > 1 and self.device.type == "cuda":  # one GPU per process, as torchrun numbers them
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(self.device)
        if config.threads:
            torch.set_num_threads(config.threads)
        if not Path(config.manifest).exists():
            raise InputError(f"No training data at {config.manifest}: run interactiveseg prepare-data first.")
        cases, self.manifest_info = read_manifest(config.manifest)
        self.train_cases = [c for c in cases if c.split == "train" and any(s.role == "train" for s in c.structures)]
        if not self.train_cases:
            raise InputError(f"No training case with training structures in {config.manifest}.")
        self.val_cases = [(c, *c.load()) for c in cases if c.split == "val"]
        if not self.val_cases:
            self.log("no validation case: the model written is the last step's, not the best validation's")
        self.card = build_card(config)
        # Which weights it started from, by checksum: the init file may later be replaced (a new default model).
        self.init_sha256 = read_card(config.init)["sha256"] if config.init else None
        self.dims = self.card["architecture"]["dims"]
        torch.manual_seed(config.seed)
        self.network = build_network(self.card["architecture"]).to(self.device)
        if config.init:
            self.network.load_state_dict(load_model(config.init).network.state_dict())
        self.checkpoint = Path(config.checkpoint) if config.checkpoint else self.output.with_suffix(".ckpt.pt")
        if self.world > 1 and not torch.distributed.is_initialized():  # before the cache: the ranks wait for it
            torch.distributed.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        self.cache = self._cache()
        self.batches = BatchMaker(self.cache, self.dims, self.network.context_slices,
                                  config.mix, config.seed)
        self.validation = (build_validation(self.val_cases, config.validation_jitter, config.validation_lesions)
                           if self.rank == 0 else [])
        self.model = self.network
        if self.world > 1:
            self.model = torch.nn.parallel.DistributedDataParallel(self.network)
        self.optimizer = torch.optim.AdamW(self.network.parameters(), lr=config.learning_rate,
                                           weight_decay=config.weight_decay)
        self.state = {"step": 0, "best_dice": -1.0, "best_step": 0, "since_best": 0, "drops": 0, "smoothed": -1.0,
                      "seconds": 0.0, "samples": 0, "history": []}

    def _cache(self) -> TrainingCache:
        """The training cache, built when absent or made from other data or for another grid. Under DDP rank 0
        builds it while the other ranks wait."""
        folder = Path(self.config.cache) if self.config.cache else self.output.with_suffix(".cache")
        if self.rank == 0 and not self._cache_fits(folder):
            self.log(f"building the training cache in {folder}")
            build_cache(self.config.manifest, self.card, folder, self.config.cache_boxes, self.config.cache_variants,
                        seed=self.config.seed, log=self.log, deform_mm=self.config.cache_deform_mm)
        if self.world > 1:
            torch.distributed.barrier()
        return TrainingCache.load(folder)

    def _cache_fits(self, folder: Path) -> bool:
        if not (folder / "index.json").is_file():
            return False
        info = TrainingCache.load(folder).info
        if info.get("grid_shape") != self.card["input"]["grid_shape"]:
            self.log(f"{folder} was built for another grid: building it again")
            return False
        if Path(info.get("manifest", "")).resolve() != Path(self.config.manifest).resolve():
            self.log(f"{folder} was built from other data ({info.get('manifest')}): building it again")
            return False
        return True  # its own seed, variants and bending are recorded in the card's training.cache

    def batch(self, step: int) -> list:
        """[(images, targets)] of one step; (seed, step, rank) seed it, so a resumed run draws the same."""
        return [self.batches.batch(step, self.config.batch, self.rank)]

    # -- checkpoints -----------------------------------------------------------------------
    def run_identity(self) -> str:
        """What a checkpoint may only be resumed with: the same network, grid and data."""
        return json.dumps({"architecture": self.card["architecture"], "grid": self.card["input"]["grid_shape"],
                           "manifest": str(Path(self.config.manifest).resolve())}, sort_keys=True)

    def save_checkpoint(self):
        if self.rank:
            return
        state = {"network": self.network.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "identity": self.run_identity(),
                 "state": {k: v for k, v in self.state.items() if k != "history"},
                 "history": torch.tensor(self.state["history"], dtype=torch.float64).reshape(-1, 3)}
        tmp = self.checkpoint.with_name(self.checkpoint.name + ".partial")
        torch.save(state, tmp)
        tmp.replace(self.checkpoint)

    def resume(self) -> bool:
        if not self.checkpoint.is_file():
            return False
        saved = torch.load(self.checkpoint, map_location=self.device, weights_only=True)
        if saved.get("identity", self.run_identity()) != self.run_identity():  # older checkpoints carry none
            raise InputError(f"{self.checkpoint} belongs to a run with another network, grid or data: pass "
                             "--restart to start this one from scratch, or --checkpoint to keep both.")
        self.network.load_state_dict(saved["network"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.state.update(saved["state"])
        self.state["history"] = saved["history"].tolist()
        self.log(f"resumed from {self.checkpoint} at step {self.state['step']} "
                 f"(best validation score {self.state['best_dice']:.4f} at step {self.state['best_step']})")
        return True

    # -- validation ---------------------------------------------------------------------
    def validate(self) -> float:
        scores = validate(self.network, self.card, self.validation, self.device)
        self.network.train()
        self.last_validation = scores
        return scores["score"]

    def training_record(self) -> dict:
        c = self.config
        val_subjects = sorted({case.subject for case, _, _ in self.val_cases})
        return {
            "manifest": {k: v for k, v in self.manifest_info.items() if k != "version"},
            "subjects_train": sorted({case.subject for case in self.train_cases}), "subjects_validation": val_subjects,
            "sources": sorted({case.source for case in self.train_cases} | {c.source for c, _, _ in self.val_cases}),
            "structures_train": sorted({s.name for case in self.train_cases for s in case.structures
                                        if s.role == "train"}),
            "structures_validation": sorted({s.name for case, _, _ in self.val_cases for s in case.structures
                                             if s.role == "val"}),
            "unseen_classes": list(self.manifest_info.get("unseen_classes", [])),
            "steps": self.state["step"], "best_step": self.state["best_step"],
            "best_validation_dice_during_training": round(self.state["best_dice"], 4),
            "validation": "mean of (structures: tight and jittered boxes; synthetic lesions) box-only Dice, "
                          "smoothed over validations",
            "seconds": round(self.state["seconds"]), "device": str(self.device),
            "threads": torch.get_num_threads() if self.device.type == "cpu" else None, "processes": self.world,
            "batch": c.batch, "samples_seen": self.state["samples"], "schedule": c.schedule,
            "learning_rate": c.learning_rate, "weight_decay": c.weight_decay, "seed": c.seed,
            "mix": vars(c.mix), "cache": dict(self.cache.info, samples=len(self.cache)), "init": c.init,
            "init_sha256": self.init_sha256, "command": c.command,
            "history_step_loss_dice": [[int(s), round(loss, 4), round(d, 4)] for s, loss, d in self.state["history"]],
        }

    # -- loop ---------------------------------------------------------------------------
    def run(self, resume: bool = True) -> Path:
        if resume:
            self.resume()
        c = self.config
        self.network.train()
        start, losses = time.time(), []
        seconds_before = self.state["seconds"]
        stopped_by = f"step limit (--steps {c.steps})"
        while self.state["step"] < c.steps:
            step = self.state["step"]
            if c.schedule == "cosine":
                time_share = self._largest(self.state["seconds"] / c.max_seconds) if c.max_seconds else 0.0
                for group in self.optimizer.param_groups:
                    group["lr"] = cosine_rate(step, c.steps, c.learning_rate, time_share)
            self.optimizer.zero_grad()
            loss = 0.0
            for images, targets in self.batch(step):
                part = pretraining_loss(self.model(images.to(self.device)), targets.to(self.device))
                part.backward()
                loss += float(part.detach())
                self.state["samples"] += len(images) * self.world
            self.optimizer.step()
            losses.append(loss)
            self.state["step"] = step + 1
            self.state["seconds"] = seconds_before + time.time() - start
            stop = c.max_seconds is not None and self.state["seconds"] >= c.max_seconds
            if stop:
                stopped_by = f"time budget (--max-seconds {c.max_seconds:g})"
            if self.rank == 0 and (self.state["step"] % c.validate_every == 0 or self.state["step"] == c.steps or stop):
                if self._after_validation(float(np.mean(losses[-c.validate_every:]))):
                    stop, stopped_by = True, (f"validation Dice stopped improving ({c.patience} validations "
                                              f"without gain after {c.max_drops} learning-rate drops)")
            elif self.state["step"] % 10 == 0:
                self._progress(float(np.mean(losses[-10:])))
            if self.world > 1 and c.schedule == "plateau":  # rank 0's validation lowers the rate: every rank's
                self._rate_from_rank0()
            stop = self._agreed(stop)
            if self.state["step"] % c.checkpoint_every == 0 or stop:
                self.save_checkpoint()
            if stop:
                break
        self.save_checkpoint()
        if self.rank == 0:
            # A run too short to validate, or one without validation cases, still leaves its model.
            if not self.output.is_file() or not self.val_cases:
                self._save_model()
            self._record_run_end(stopped_by, float(np.mean(losses[-c.validate_every:])) if losses else None)
        return self.output

    def _agreed(self, stop: bool) -> bool:
        """Under DDP every rank stops at the same step when any rank wants to (rank 0's validation, a clock)."""
        return self._largest(1.0 if stop else 0.0) > 0.5

    def _rate_from_rank0(self) -> None:
        rate = torch.tensor([self.optimizer.param_groups[0]["lr"]], dtype=torch.float64,
                            device=self.device if self.device.type == "cuda" else "cpu")
        torch.distributed.broadcast(rate, src=0)
        for group in self.optimizer.param_groups:
            group["lr"] = float(rate.item())

    def _largest(self, value: float) -> float:
        """The largest of every rank's value (itself without DDP): ranks must agree on rates and stops."""
        if self.world == 1:
            return value
        tensor = torch.tensor([float(value)], device=self.device if self.device.type == "cuda" else "cpu")
        torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.MAX)
        return float(tensor.item())

    def _record_run_end(self, stopped_by: str, final_loss):
        """Say in the card why the run stopped and what it did after the shipped (best) weights.

        Only the card changes: the weights, and so their checksum, stay those of the best validation.
        """
        path = card_path(self.output)
        run_end = dict(
            stopped_by=stopped_by, run_total_steps=self.state["step"], run_total_seconds=round(self.state["seconds"]),
            run_total_samples=self.state["samples"],
            run_final_training_loss=None if final_loss is None else round(final_loss, 4),
            run_history_step_loss_dice=[[int(s), round(loss, 4), round(d, 4)] for s, loss, d in self.state["history"]],
            note="steps, seconds and history_step_loss_dice describe the shipped weights (the best validation); "
                 "run_total_* and run_history_* describe the whole run")
        update_sections(path, training={**read_card(path)["training"], **run_end})

    def _after_validation(self, loss: float) -> bool:
        """Record a validation; keep the best model; True when the plateau rule says stop."""
        score = self.validate()
        self.state["history"].append([self.state["step"], loss, score])
        previous = self.state["smoothed"]
        smoothed = score if previous < 0 or self.config.schedule != "cosine" else (
            SMOOTHING * score + (1 - SMOOTHING) * previous)
        self.state["smoothed"] = smoothed
        if smoothed > self.state["best_dice"]:
            self.state.update(best_dice=smoothed, best_step=self.state["step"], since_best=0)
            self._save_model()
        else:
            self.state["since_best"] += 1
        self._progress(loss, score, newline=True)
        if self.config.schedule != "plateau" or self.state["since_best"] < self.config.patience:
            return False
        if self.state["drops"] >= self.config.max_drops:
            self.log(f"validation Dice has not improved for {self.state['since_best']} validations "
                     f"after {self.state['drops']} learning-rate drops: stopping")
            return True
        self.state["drops"] += 1
        self.state["since_best"] = 0
        for group in self.optimizer.param_groups:
            group["lr"] *= 0.3
        self.log(f"learning rate -> {self.optimizer.param_groups[0]['lr']:.2e}")
        return False

    def _save_model(self):
        card = dict(self.card, training=self.training_record())
        save_model(self.output, self.network, card)

    def _progress(self, loss: float, dice: float | None = None, newline: bool = False):
        s = self.state
        rate = s["seconds"] / max(s["step"], 1)
        eta = rate * (self.config.steps - s["step"])
        parts = getattr(self, "last_validation", {}) if dice is not None else {}
        detail = " ".join(f"{k} {v:.4f}" for k, v in parts.items() if k != "score")
        text = (f"step {s['step']}/{self.config.steps} loss {loss:.4f} "
                + (f"val {dice:.4f} ({detail}) " if dice is not None else "")
                + f"best {max(s['best_dice'], 0):.4f}@{s['best_step']} {rate:.2f} s/step "
                + f"lr {self.optimizer.param_groups[0]['lr']:.2e} "
                + f"elapsed {s['seconds'] / 60:.1f} min eta {eta / 60:.0f} min")
        if sys.stderr.isatty() and not newline:
            print("\r" + text, end="", file=sys.stderr, flush=True)
        else:
            self.log(text)


def _check_output(output: Path) -> None:
    """Refuse an output the first save would refuse, before the cache is built and training begins."""
    if output.suffix != ".safetensors":
        raise InputError(f"The model is written as .safetensors: {output}")
    if not output.parent.is_dir():
        raise InputError(f"The output folder does not exist: {output.parent}")
