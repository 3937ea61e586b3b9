"""The training loop: class-agnostic box segmentation, validation by held-out subject, resumable.

Every step draws subjects uniformly, then a training structure of that subject, then a
jittered box around it (so one large atlas cannot drown the other subjects). Validation
runs the shipped inference path on tight boxes of the validation subjects' structures;
the best model so far is written as a model file, and a checkpoint (weights, optimiser,
step, history) lets a stopped run continue where it left off.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..devices import pick_device
from ..model_file import card_path, new_card, save_model, update_card
from ..networks import build_network, pcnet_architecture, pnet_architecture
from .evaluate_box import evaluate
from .manifest import read_manifest
from .samples import augment, jittered_box, make_sample, pick_slices

GRID_3D = (24, 48, 48)
GRID_2D = (None, 96, 96)


@dataclass
class TrainConfig:
    manifest: str
    output: str  # model weights path, .safetensors; the card is written beside it
    dims: int = 3
    checkpoint: str | None = None  # resumable state; default: output with .ckpt.pt
    steps: int = 4000
    batch: int = 2  # boxes per step (a 2D step takes `slices` slices from each)
    slices: int = 4
    grid: tuple | None = None
    channels: int | None = None
    learning_rate: float = 1e-3
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    validate_every: int = 100
    patience: int = 4  # validations without gain before the learning rate drops
    max_drops: int = 2  # stop after this many drops without gain: validation Dice has stopped improving
    max_seconds: float | None = None
    checkpoint_every: int = 50
    command: str = ""
    extra: dict = field(default_factory=dict)


def build_card(config: TrainConfig) -> dict:
    if config.dims == 3:
        architecture = pcnet_architecture(**({"channels": config.channels} if config.channels else {}))
        grid = config.grid or GRID_3D
    else:
        architecture = pnet_architecture(channels=config.channels or 16, compress_channels=4, classifier_channels=32)
        grid = config.grid or GRID_2D
    return new_card(architecture, list(grid))


def loss_function(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy plus soft Dice of the foreground: Dice keeps small objects from being ignored."""
    ce = F.cross_entropy(logits, targets.long())
    probability = torch.softmax(logits, 1)[:, 1]
    dims = tuple(range(1, probability.dim()))
    target = targets.float()
    soft_dice = (2 * (probability * target).sum(dims) + 1) / (probability.sum(dims) + target.sum(dims) + 1)
    return ce + (1 - soft_dice.mean())


class Trainer:
    def __init__(self, config: TrainConfig, log=None):
        self.config = config
        self.log = log or (lambda text: print(text, file=sys.stderr, flush=True))
        self.device = pick_device(config.device)
        if config.threads:
            torch.set_num_threads(config.threads)
        cases, self.manifest_info = read_manifest(config.manifest)
        self.train_cases = [self._load(c) for c in cases if c.split == "train"
                            and any(s.role == "train" for s in c.structures)]
        self.val_cases = [self._load(c) for c in cases if c.split == "val"]
        if not self.train_cases:
            raise SystemExit(f"No training case with training structures in {config.manifest}.")
        self.card = build_card(config)
        torch.manual_seed(config.seed)
        self.network = build_network(self.card["architecture"]).to(self.device)
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=config.learning_rate)
        self.output = Path(config.output)
        self.checkpoint = Path(config.checkpoint) if config.checkpoint else self.output.with_suffix(".ckpt.pt")
        self.state = {"step": 0, "best_dice": -1.0, "best_step": 0, "since_best": 0, "drops": 0,
                      "seconds": 0.0, "history": []}

    @staticmethod
    def _load(case):
        volume, labels = case.load()
        return case, volume, labels

    # -- samples -------------------------------------------------------------------------
    def batch(self, step: int) -> tuple:
        """Images and targets of one step; the step number seeds it, so a resumed run draws the same."""
        rng = np.random.default_rng([self.config.seed, step])
        images, targets = [], []
        for _ in range(self.config.batch):
            case, volume, labels = self.train_cases[rng.integers(len(self.train_cases))]
            choices = [s for s in case.structures if s.role == "train"]
            structure = choices[rng.integers(len(choices))]
            image, target, _ = make_sample(volume, labels, structure.value,
                                           jittered_box(structure.bbox_ijk, rng), self.card)
            if self.config.dims == 2:
                picks = pick_slices(target, self.config.slices, rng)
                images += [image[:, k] for k in picks]
                targets += [target[k] for k in picks]
            else:
                images.append(image)
                targets.append(target)
        groups = {}
        for image, target in zip(images, targets):  # a flat crop's grid differs: keep equal shapes together
            groups.setdefault(tuple(image.shape), []).append((image, target))
        return [augment(torch.stack([i for i, _ in g]), torch.stack([t for _, t in g]), rng)
                for g in groups.values()]

    # -- checkpoints -----------------------------------------------------------------------
    def save_checkpoint(self):
        state = {"network": self.network.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "state": {k: v for k, v in self.state.items() if k != "history"},
                 "history": torch.tensor(self.state["history"], dtype=torch.float64).reshape(-1, 3)}
        tmp = self.checkpoint.with_name(self.checkpoint.name + ".partial")
        torch.save(state, tmp)
        tmp.replace(self.checkpoint)

    def resume(self) -> bool:
        if not self.checkpoint.is_file():
            return False
        saved = torch.load(self.checkpoint, map_location=self.device, weights_only=True)
        self.network.load_state_dict(saved["network"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.state.update(saved["state"])
        self.state["history"] = saved["history"].tolist()
        self.log(f"resumed from {self.checkpoint} at step {self.state['step']} "
                 f"(best validation Dice {self.state['best_dice']:.4f} at step {self.state['best_step']})")
        return True

    # -- validation ---------------------------------------------------------------------
    def validate(self) -> float:
        rows = evaluate(self.network, self.card, self.val_cases, roles=("val",), device=self.device)
        self.network.train()
        return float(np.mean([r["dice"] for r in rows])) if rows else float("nan")

    def training_record(self) -> dict:
        c = self.config
        subjects = lambda cases: sorted({case.subject for case, _, _ in cases})
        return {
            "manifest": {k: v for k, v in self.manifest_info.items() if k != "version"},
            "subjects_train": subjects(self.train_cases), "subjects_validation": subjects(self.val_cases),
            "sources": sorted({case.source for case, _, _ in self.train_cases + self.val_cases}),
            "structures_train": sorted({s.name for case, _, _ in self.train_cases for s in case.structures
                                        if s.role == "train"}),
            "structures_validation": sorted({s.name for case, _, _ in self.val_cases for s in case.structures
                                             if s.role == "val"}),
            "unseen_classes": list(self.manifest_info.get("unseen_classes", [])),
            "steps": self.state["step"], "best_step": self.state["best_step"],
            "best_validation_dice_during_training": round(self.state["best_dice"], 4),
            "seconds": round(self.state["seconds"]), "device": str(self.device),
            "threads": torch.get_num_threads() if self.device.type == "cpu" else None,
            "batch": c.batch, "slices_per_box": c.slices if c.dims == 2 else None,
            "learning_rate": c.learning_rate, "seed": c.seed, "command": c.command,
            "history_step_loss_dice": [[int(s), round(l, 4), round(d, 4)] for s, l, d in self.state["history"]],
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
            self.optimizer.zero_grad()
            loss = 0.0
            for images, targets in self.batch(step):
                part = loss_function(self.network(images.to(self.device)), targets.to(self.device))
                part.backward()
                loss += float(part.detach())
            self.optimizer.step()
            losses.append(loss)
            self.state["step"] = step + 1
            self.state["seconds"] = seconds_before + time.time() - start
            stop = c.max_seconds is not None and self.state["seconds"] >= c.max_seconds
            if stop:
                stopped_by = f"time budget (--max-seconds {c.max_seconds:g})"
            if self.state["step"] % c.validate_every == 0 or self.state["step"] == c.steps or stop:
                if self._after_validation(float(np.mean(losses[-c.validate_every:]))):
                    stop, stopped_by = True, (f"validation Dice stopped improving ({c.patience} validations "
                                              f"without gain after {c.max_drops} learning-rate drops)")
            elif self.state["step"] % 10 == 0:
                self._progress(float(np.mean(losses[-10:])))
            if self.state["step"] % c.checkpoint_every == 0 or stop:
                self.save_checkpoint()
            if stop:
                break
        self.save_checkpoint()
        if not self.output.is_file():  # a run too short to validate still leaves a loadable model
            self._save_model()
        self._record_run_end(stopped_by)
        return self.output

    def _record_run_end(self, stopped_by: str):
        """Say in the card why the run stopped and what it did after the shipped (best) weights.

        Only the card changes: the weights, and so their checksum, stay those of the best validation.
        """
        update_card(card_path(self.output), lambda card: card["training"].update(
            stopped_by=stopped_by, run_total_steps=self.state["step"], run_total_seconds=round(self.state["seconds"]),
            run_history_step_loss_dice=[[int(s), round(l, 4), round(d, 4)] for s, l, d in self.state["history"]],
            note="steps, seconds and history_step_loss_dice describe the shipped weights (the best validation); "
                 "run_total_* and run_history_* describe the whole run"))

    def _after_validation(self, loss: float) -> bool:
        dice = self.validate()
        self.state["history"].append([self.state["step"], loss, dice])
        if dice > self.state["best_dice"]:
            self.state.update(best_dice=dice, best_step=self.state["step"], since_best=0)
            self._save_model()
        else:
            self.state["since_best"] += 1
        self._progress(loss, dice, newline=True)
        if self.state["since_best"] >= self.config.patience:
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
        text = (f"step {s['step']}/{self.config.steps} loss {loss:.4f} "
                + (f"val Dice {dice:.4f} " if dice is not None else "")
                + f"best {max(s['best_dice'], 0):.4f}@{s['best_step']} {rate:.2f} s/step "
                + f"elapsed {s['seconds'] / 60:.1f} min eta {eta / 60:.0f} min")
        if sys.stderr.isatty() and not newline:
            print("\r" + text, end="", file=sys.stderr, flush=True)
        else:
            self.log(text)
