"""One interactive segmentation of one volume: segment(box), refine(scribbles), undo, reset.

    session = Session(volume)                     # loads the default model
    first = session.segment(Box.from_ijk(...))     # features computed once for this box
    second = session.refine(foreground=fg, background=bg)
    session.undo()                                 # back to `first`

Rounds accumulate: each refine starts from the previous round's fine-tuned weights and
adds its scribbles to the earlier ones (or, with `replace=True`, takes them as the whole
set). The loaded model is never modified.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch

from .components import keep_object, keep_unmarked, local_changes
from .devices import is_out_of_memory, pick_device
from .errors import InputError
from .flat_axis import Turn
from .finetune import (Cancel, GridState, Progress, check_cancel, compute_features, crf_only, fine_tune,
                       global_update, predict)
from .box import Box
from .model_file import LoadedModel, load_model
from .preprocess import PreparedInput, prepare_input
from .region_walk import NATIVE_WALK_MAX_VOXELS, crop_prior, first_mask_region, region_too_large, walk_on_region
from .result import Result
from .settings import Settings
from .uncertainty import uncertainty_map
from .volume import Volume


@dataclass
class _Round:
    weights: dict  # state dict of the working network after this round
    foreground: np.ndarray  # accumulated scribbles, crop-sized bool
    background: np.ndarray
    result: Result  # on the engine's axes
    grid_probability: torch.Tensor  # the round's foreground probability on the network grid
    shown: Result  # the same on the caller's axes (the same object unless the volume was turned)


class Session:
    def __init__(self, volume: Volume, model=None, device: str = "auto", settings: Settings | None = None):
        if not isinstance(volume, Volume):
            raise InputError("Session needs an interactiveseg.Volume (use read_volume or Volume(array, ...)).")
        self.volume = volume
        # A sagittal or coronal single slice is turned so that its one voxel lies along k (flat_axis.py).
        self._turn = Turn.for_shape(volume.shape)
        self._volume = self._turn.volume_in(volume) if self._turn else volume  # what the engine works on
        self.model = model if isinstance(model, LoadedModel) else load_model(model, slices=self._volume.shape[0])
        self.settings = (settings or Settings.from_card(self.model.card)).validated()
        self.device = pick_device(device)
        self._pending_warnings: list = []  # said during the current call, reported in its result
        self._network = copy.deepcopy(self.model.network).to(self.device).eval()
        self._prepared: PreparedInput | None = None
        self._grid: GridState | None = None
        self._network_map: torch.Tensor | None = None  # the box's first grid probability, before any walk
        self._rounds: list = []

    # Public API -----------------------------------------------------------------------

    @property
    def result(self) -> Result | None:
        return self._rounds[-1].shown if self._rounds else None

    @property
    def round(self) -> int:
        return len(self._rounds) - 1

    @property
    def grid_shape(self) -> tuple | None:
        """The network grid (k, j, i) the current box was resampled to (on the engine's axes, which are the
        volume's unless a sagittal or coronal single slice was turned); None before the first segment()."""
        return tuple(self._grid.image.shape) if self._grid is not None else None

    def segment(self, box, progress: Progress = None, cancel: Cancel = None) -> Result:
        """Initial segmentation inside a box (a Box or six inclusive indices I0 J0 K0 I1 J1 K1)."""
        box = box if isinstance(box, Box) else Box.from_ijk(box)
        clipped = box.clipped(self.volume.shape)
        start = time.perf_counter()
        notes = [] if clipped == box else [
            f"The box was clipped to the volume: {clipped.as_ijk()} (I0 J0 K0 I1 J1 K1)."]
        engine_box = self._turn.box_in(clipped) if self._turn else clipped
        prepared = prepare_input(self._volume, engine_box, self.model.card)
        _report(progress, 0.1, "computing features")
        before = self._prepared, self._grid, self._network_map
        self._network.load_state_dict(self.model.network.state_dict())
        try:
            result, probability = self._first_mask(prepared, notes, start, cancel, progress)
        except BaseException:  # the previous box, its rounds and their weights stay current
            self._prepared, self._grid, self._network_map = before
            if self._rounds:
                self._restore(self._rounds[-1].weights)
            raise
        empty = np.zeros(prepared.crop.crop_shape, dtype=bool)
        self._rounds = [_Round(self._weights(), empty, empty, result, probability, self._shown(result))]
        _report(progress, 1.0, "done")
        return self.result

    def refine(self, foreground=None, background=None, progress: Progress = None, cancel: Cancel = None,
               replace: bool = False) -> Result:
        """Fine-tune on scribbles (boolean (k, j, i) masks on the full grid); no scribbles: unsupervised.

        By default the scribbles are new strokes, added to the earlier rounds' ones. With
        `replace=True` they are the whole set (as a scribble layer that can be erased holds):
        a stroke erased since the last round no longer counts.
        """
        if not self._rounds:
            raise InputError("Place a box and segment before refining.")
        start = time.perf_counter()
        previous = self._rounds[-1]
        new_fg, new_bg, notes = self._crop_scribbles(foreground, background)
        if replace:
            fg, bg = new_fg, new_bg & ~new_fg
        else:
            fg = (previous.foreground & ~new_bg) | new_fg  # the newest stroke wins where strokes overlap
            bg = (previous.background & ~new_fg) | new_bg
        grid_fg = self._prepared.crop.mask_to_grid(fg)
        grid_bg = self._prepared.crop.mask_to_grid(bg) & ~grid_fg
        steps = {}

        def count(step: str, probability: torch.Tensor) -> torch.Tensor:
            steps[step] = int((probability > 0.5).sum())
            return probability

        def compute():
            fg_here, bg_here = grid_fg.to(self.device), grid_bg.to(self.device)
            # The round's first label update starts from the last result, or from the network's own map.
            first_map = previous.grid_probability.to(self.device) if self.settings.carry_result else \
                predict(self._network, self._grid)
            count("start", first_map)
            if self.settings.fine_tune:
                probability, interaction = fine_tune(self._network, self._grid, first_map, fg_here, bg_here,
                                                     self.settings, progress, cancel)
            else:
                probability, interaction = crf_only(self._grid, first_map, fg_here, bg_here, self.settings,
                                                    progress, cancel)
            count("fine-tuning" if self.settings.fine_tune else "crf", probability)
            if self.settings.random_walk:
                probability = count("grid walk", global_update(self._grid, probability, fg_here, bg_here,
                                                               self.settings, self._network_map.to(self.device)))
            return probability, interaction
        try:
            # A retry on the CPU after the GPU ran out of memory starts again from the last round's weights.
            probability, interaction = self._with_fallback(compute, lambda: self._restore(previous.weights))
            probability = self._mask_rules(previous, probability, grid_fg, grid_bg, bg, count)
            probability, region = self._at_image_resolution(probability, fg, bg, notes, steps, cancel)
            if self.settings.one_way_rounds:
                probability, region = self._one_way(previous, probability, region, fg, bg, steps)
            result = self._result(probability, interaction, len(self._rounds), start, notes, fg, bg, region)
        except BaseException:
            self._restore(previous.weights)  # cancelled or failed: back to the last round
            raise
        result.steps = steps
        self._rounds.append(_Round(self._weights(), fg, bg, result, probability, self._shown(result)))
        return self.result

    def undo(self) -> Result | None:
        """Drop the last refine round; returns the round now current (None if there was nothing to undo)."""
        if len(self._rounds) <= 1:
            return None
        self._rounds.pop()
        self._restore(self._rounds[-1].weights)
        return self.result

    def reset(self) -> Result | None:
        """Back to the pretrained weights and the first segmentation of the current box."""
        if not self._rounds:
            return None
        del self._rounds[1:]
        self._restore(self._rounds[0].weights)
        return self.result

    def uncertain_regions(self, top: int = 5) -> list:
        """Where to scribble next: the current result's most uncertain regions, most uncertain first."""
        from .trust.regions import uncertain_regions
        return uncertain_regions(self.result, self.volume, top=top) if self._rounds else []

    def assess_box(self) -> dict | None:
        """Is the current box like the model's training data? None if the card has no spectral signature.

        Uses the loaded network, never the fine-tuned one, on the box's cached grid image.
        """
        if self._grid is None:
            raise InputError("Place a box and segment before assessing it.")
        from .trust.ood import assess
        return assess(self.model.network, self.model.card, self._grid.image[None], self.model.dims)

    # Internals ------------------------------------------------------------------------

    def _first_mask(self, prepared: PreparedInput, notes: list, start: float, cancel: Cancel,
                    progress: Progress) -> tuple:
        """(round 0's result, its grid probability) for a new box; sets the box's state on the session."""
        grid, probability = self._with_fallback(lambda: self._first_pass(prepared, cancel, progress))
        check_cancel(cancel)
        self._prepared, self._grid = prepared, grid
        if self.settings.keep_connected:
            probability = keep_object(probability, grid.inside_box())
        self._network_map = probability  # the pretrained network's own map, which the prior's trust judges
        region = self._with_fallback(lambda: first_mask_region(prepared, self._network_map.to(self.device),
                                                               self.settings, notes, cancel))
        if region is not None:  # later rounds start from the mask the user saw
            probability = prepared.crop.to_grid(region[None])[0].to(probability.device)
        result = self._result(probability, torch.zeros_like(probability, dtype=torch.bool), 0, start, notes,
                              region=region)
        return result, probability

    def _first_pass(self, prepared: PreparedInput, cancel: Cancel = None, progress: Progress = None):
        image = prepared.image[0].to(self.device)
        # Each pass is news for the worker's client: a long, silent Segment would look hung.
        features = compute_features(self._network, image, self.model.dims, cancel,
                                    lambda fraction, message: _report(progress, 0.1 + 0.8 * fraction, message))
        outside = prepared.crop.outside_on_grid(prepared.box).to(self.device)
        grid = GridState(image, features, prepared.grid_spacing, self.model.dims, outside)
        return grid, predict(self._network, grid)

    def _with_fallback(self, compute, before_retry=None):
        """Run on the chosen device; on CUDA out-of-memory, say so and run again on the CPU
        (`before_retry` first undoes what the failed try changed)."""
        try:
            return compute()
        except RuntimeError as error:
            if self.device.type == "cpu" or not is_out_of_memory(error):
                raise
        torch.cuda.empty_cache()
        message = "The GPU ran out of memory; this and later rounds run on the CPU (slower)."
        self._pending_warnings.append(message)
        self.device = torch.device("cpu")
        self._network.to(self.device)
        if self._grid is not None:
            grid = self._grid
            grid.image, grid.features, grid.outside_box = grid.image.cpu(), grid.features.cpu(), grid.outside_box.cpu()
            grid.pairwise.clear()  # cached on the GPU; rebuilt on the CPU when next needed
        if before_retry is not None:
            before_retry()
        return compute()

    def _mask_rules(self, previous: _Round, probability: torch.Tensor, grid_fg: torch.Tensor,
                    grid_bg: torch.Tensor, background: np.ndarray, count) -> torch.Tensor:
        """The rules a round's grid probability passes before the walk at the image's resolution."""
        inside = self._grid.inside_box()
        grid_fg = grid_fg.to(probability.device)
        if self.settings.local_edits:
            probability = count("local edits", local_changes(previous.grid_probability, probability, inside,
                                                             grid_fg, grid_bg))
        if self.settings.keep_connected:
            probability = count("components", keep_object(probability, inside, grid_fg))
        if self.settings.protect_depth > 0:  # this round's background strokes: older ones had their round
            painted = self._prepared.crop.mask_to_grid(background & ~previous.background).to(probability.device)
            probability = count("kept unmarked", keep_unmarked(previous.grid_probability, probability, inside,
                                                               grid_fg, painted, self.settings.protect_depth,
                                                               self._grid.spacing))
        return probability

    def _one_way(self, previous: _Round, probability: torch.Tensor, region: torch.Tensor | None, fg: np.ndarray,
                 bg: np.ndarray, steps: dict) -> tuple:
        """A round whose new strokes are all of one label moves the mask only that way: background strokes
        alone only remove, foreground strokes alone only add (`one_way_rounds`). Returns (grid probability,
        crop probability)."""
        added_fg, added_bg = bool((fg & ~previous.foreground).any()), bool((bg & ~previous.background).any())
        if added_fg == added_bg:
            return probability, region
        bound = torch.maximum if added_fg else torch.minimum
        if region is None:
            region = crop_prior(self._prepared, probability).cpu()
        region = bound(region, torch.from_numpy(previous.result.region_probability))
        probability = bound(probability, previous.grid_probability.to(probability.device))
        steps["one way"] = int((region > 0.5).sum())
        return probability, region

    def _crop_scribbles(self, foreground, background):
        """Validate full-grid scribbles and cut them to the crop region."""
        crop = self._prepared.crop
        masks, notes = [], []
        for name, mask in (("foreground", foreground), ("background", background)):
            if mask is None:
                masks.append(np.zeros(crop.crop_shape, dtype=bool))
                continue
            mask = np.asarray(mask)
            if mask.shape != self.volume.shape:
                raise InputError(f"The {name} scribbles have shape {mask.shape} but the image has "
                                 f"{self.volume.shape} (k, j, i): scribbles must be on the image grid.")
            if mask.dtype != bool and not (mask.dtype.kind in "iu" and mask.min() >= 0 and mask.max() <= 1):
                raise InputError(f"The {name} scribbles must be a boolean or 0/1 mask.")
            mask = mask.astype(bool)
            if self._turn:
                mask = self._turn.mask_in(mask)
            inside = crop.extract(mask)
            outside = int(mask.sum() - inside.sum())
            if outside:
                notes.append(f"{outside} {name} scribble voxels lie outside the box region and were ignored.")
            masks.append(inside.copy())
        fg, bg = masks
        # The margin around the box is background by the box's word, and the mask never leaves the box.
        in_margin = fg & crop.outside_in_region(self._prepared.box)
        if in_margin.any():
            fg &= ~in_margin
            notes.append(f"{int(in_margin.sum())} foreground scribble voxels lie outside the box, where the "
                         "result is always background, and were ignored: draw a larger box to include them.")
        given = [m for m in (foreground, background) if m is not None]
        if given and not any(np.any(m) for m in given):
            raise InputError("The scribble masks are empty: paint at least one stroke, or call refine() "
                             "without scribbles for unsupervised fine-tuning.")
        if given and not (fg.any() or bg.any()):
            raise InputError("No scribble lies inside the box region: paint inside the box.")
        if np.any(fg & bg):
            raise InputError("Some voxels are marked both foreground and background in the same round.")
        return fg, bg, notes

    def _at_image_resolution(self, probability: torch.Tensor, fg: np.ndarray, bg: np.ndarray, notes: list,
                             steps: dict, cancel: Cancel) -> tuple:
        """(grid probability, crop probability or None): the round's walk at the image's resolution, when on."""
        if not (self.settings.random_walk and self.settings.native_walk):
            return probability, None
        if region_too_large(self._prepared):
            notes.append(f"The box region holds {fg.size:,} voxels, more than the walk at the image's "
                         f"resolution takes ({NATIVE_WALK_MAX_VOXELS:,}); the boundary is the network grid's.")
            return probability, None
        check_cancel(cancel)  # the second walk can take a second or more on a large box
        region = self._with_fallback(lambda: self._native_walk(probability, fg, bg, cancel))
        steps["native walk"] = int((region > 0.5).sum())
        return self._prepared.crop.to_grid(region[None])[0].to(probability.device), region

    def _native_walk(self, probability: torch.Tensor, foreground: np.ndarray, background: np.ndarray,
                     cancel: Cancel = None) -> torch.Tensor:
        """The round's result at the image's own resolution (finetune.native_update), kept to the object."""
        fg, bg = (torch.from_numpy(np.ascontiguousarray(m)).to(self.device) for m in (foreground, background))
        prior = crop_prior(self._prepared, probability.to(self.device))
        return walk_on_region(self._prepared, prior, fg, bg, self.settings, cancel).cpu()

    def _result(self, probability: torch.Tensor, interaction: torch.Tensor, round_index: int,
                start: float, notes: list, foreground=None, background=None, region=None) -> Result:
        """`region`: the probability at the image's resolution when the round computed it there."""
        crop = self._prepared.crop
        uncertainty = uncertainty_map(probability, self.settings.t0, self.settings.t1, interaction)
        back = crop.from_grid(torch.stack([probability, uncertainty]).float().cpu()).clamp(0, 1).numpy()
        region_probability, region_uncertainty = back[0], back[1]
        if region is not None:
            region_probability = region.numpy().astype(region_probability.dtype, copy=True)
        if foreground is not None:  # painted voxels are what the user said, at full resolution
            region_probability[foreground], region_uncertainty[foreground] = 1.0, 0.0
            region_probability[background], region_uncertainty[background] = 0.0, 0.0
        return Result(
            box=self._prepared.box, region=crop.region,
            region_probability=region_probability, region_uncertainty=region_uncertainty,
            volume_shape=self._volume.shape, round=round_index, seconds=time.perf_counter() - start,
            device=str(self.device), warnings=notes + self._take_warnings())

    def _shown(self, result: Result) -> Result:
        """A result on the caller's axes."""
        return self._turn.result_out(result) if self._turn else result

    def _take_warnings(self) -> list:
        taken, self._pending_warnings = self._pending_warnings, []
        return taken

    def _restore(self, weights: dict) -> None:
        self._network.load_state_dict(weights)
        if self.settings.finetune_scope == "all":  # the cached features came from other weights
            self._grid.features = compute_features(self._network, self._grid.image, self._grid.dims)

    def _weights(self) -> dict:
        return {k: v.detach().clone() for k, v in self._network.state_dict().items()}


def _report(progress: Progress, fraction: float, message: str) -> None:
    if progress is not None:
        progress(fraction, message)
