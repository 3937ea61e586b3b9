"""The interactive loop on a MRML scene: box -> segment -> scribbles -> refine -> undo -> accept.

Each user action is split in three; the heavy part runs in the engine worker process:

    job = logic.plan_segment(volume, roi, segmentation)   # GUI thread: read and check the scene
    runner.start(job); runner.poll() ...                   # the worker computes (round_runner.py)
    logic.apply(job, result)                               # GUI thread: write the scene, one undo step

`plan_*` raises `InputError` (or `ModelError`) with a message for the user and leaves the
scene unchanged; `apply` writes only the round's box of the chosen segment, plus the
scribbles and the uncertainty overlay this logic owns. `segment()` and `refine()` do all
three in one call (and wait). Qt-free and torch-free: it runs in Slicer and on a plain
`slicer-core` scene, and never imports the engine's heavy parts.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from interactiveseg.errors import InputError, ModelError
from interactiveseg.flat_axis import slices_seen
from interactiveseg.model_card import default_model_path, read_card
from interactiveseg.protocol import pack_mask
from interactiveseg.settings import Settings

from . import editor_masking, history, labelmaps, scribbles
from .engine_client import EngineClient, parse_address
from .guidance import RegionCycler
from .module_nodes import mark_uncertainty, module_nodes
from .remote_session import RemoteSession
from .roi_box import box_from_roi
from .volume_nodes import volume_from_node, write_region_volume

DEFAULT_SEGMENT_NAME = "InteractiveSeg"
UNCERTAINTY_NAME = "InteractiveSeg uncertainty"
UNCERTAINTY_COLORS = "vtkMRMLPETProceduralColorNodePET-Heat"  # dark where sure, bright where unsure


@dataclass
class Job:
    """One round to compute: the worker requests it needs, and where its result goes."""
    kind: str  # history.SEGMENT or history.REFINE
    epoch: int
    volume_node: object
    segmentation_node: object  # None: a new segmentation node is made when the result arrives
    segment_id: str  # "": a new segment is made when the result arrives
    session: RemoteSession
    request: dict = field(default_factory=dict)  # op, header, arrays of the round's request
    volume: object = None  # a Segment's engine Volume, sent first if the worker lacks it
    volume_key: tuple = ()
    painted: object = None  # the scribbles a refine used (scribbles.Scribbles)
    result: object = None


class InteractiveSegmentationLogic:
    def __init__(self, scene, engine: EngineClient | None = None):
        self.scene = scene
        self.engine = engine or EngineClient()  # a local worker on this Python; Slicer passes PythonSlicer
        self.show_uncertainty = False
        self.uncertainty_node = None
        self.scribble_node = None
        self._session = None
        self._volume_node = None
        self._epoch = 0  # bumped by every Segment; a refine must belong to the current one
        self._history: list = []
        self._scribbles_after_last_round = None
        self._in_flight = None
        self._cards: dict = {}
        self._regions = RegionCycler()

    # One call: plan, run, apply (scripts and tests) ----------------------------------

    def segment(self, volume_node, roi_node, segmentation_node=None, segment_id: str = "", **options):
        return self._run(self.plan_segment(volume_node, roi_node, segmentation_node, segment_id, **options))

    def refine(self, scribble_node=None):
        return self._run(self.plan_refine(scribble_node or self.scribble_node))

    # Planning (GUI thread): read and check the scene, change nothing -----------------

    def plan_segment(self, volume_node, roi_node, segmentation_node=None, segment_id: str = "",
                     model_path: str = "", settings: dict | None = None, device: str = "auto") -> Job:
        self._check_idle()
        if segmentation_node is not None:
            if scribbles.is_scribble_node(segmentation_node):
                raise InputError("The output segmentation is the scribble segmentation: choose or create another one.")
            labelmaps.require_labelmap_source(segmentation_node)
            if segment_id:
                labelmaps.require_segment(segmentation_node, segment_id)
        editor_masking.check_mask_segment(editor_masking.user_editor_node(self.scene), segmentation_node)
        volume = volume_from_node(volume_node)
        box = box_from_roi(roi_node, volume_node).clipped(volume.shape)
        # The worker's card for this image: the default model depends on the slice count (2D for one slice).
        # Settings.from_card refuses bad values before anything is sent.
        Settings.from_card(self.card(model_path, slices_seen(volume.shape)), **(settings or {}))
        image = volume_node.GetImageData()
        # "" lets the worker load its own shipped model: a remote engine has no file at this computer's path.
        request = {"op": "segment", "header": {
            "session": uuid.uuid4().hex, "box": box.as_ijk(),
            "model": str(self._model_path(model_path)) if model_path else "",
            "settings": dict(settings or {}), "device": device}, "arrays": {}}
        return self._plan(Job(history.SEGMENT, self._epoch + 1, volume_node, segmentation_node, segment_id,
                              RemoteSession(self.engine, request["header"]["session"]), request, volume,
                              (volume_node.GetID(), image.GetMTime(), volume_node.GetMTime())))

    def plan_refine(self, scribble_node=None) -> Job:
        self._check_idle()
        if not self.can_refine:
            raise InputError("Place a box and press Segment before refining.")
        top = self._history[-1]
        if not self._present(self._volume_node) or not self._present(top.segmentation_node):
            raise InputError("The volume or the segmentation was removed: press Segment again.")
        editor_masking.check_mask_segment(editor_masking.user_editor_node(self.scene), top.segmentation_node)
        painted = scribbles.read_scribbles(scribble_node or self.scribble_node, self._volume_node)
        if painted.empty:
            raise InputError("Paint foreground or background scribbles on the mistakes, then press Refine.")
        foreground, background = painted.masks()
        # The scribble layer holds every stroke still drawn: an erased one must stop counting (replace).
        request = {"op": "refine", "header": {"session": self._session.session_id, "replace": True},
                   "arrays": {"foreground": pack_mask(foreground), "background": pack_mask(background)}}
        return self._plan(Job(history.REFINE, self._epoch, self._volume_node, top.segmentation_node,
                              top.segment_id, self._session, request, painted=painted))

    def requests(self, job: Job) -> list:
        """The worker requests of a job, in order: [(role, (op, header, arrays))]; role "round" is the result."""
        todo = []
        if job.volume is not None and self.engine.loaded_volume != job.volume_key:
            volume = job.volume
            todo.append(("load", ("load_volume", {"spacing": list(volume.spacing), "origin": list(volume.origin),
                                                  "direction": np.asarray(volume.direction).tolist(),
                                                  "modality": volume.modality}, {"volume": volume.array})))
            self.engine.loaded_volume = job.volume_key
        todo.append(("round", (job.request["op"], job.request["header"], job.request["arrays"])))
        return todo

    def use_engine(self, address: str = "", token: str = "") -> None:
        """Compute in a worker on this computer (address "") or in a remote one at HOST:PORT with its token.

        Switching ends the current interaction's engine session: refining needs a new Segment.
        """
        self._check_idle()
        wanted = parse_address(address) if address.strip() else None
        current = (self.engine.host, int(self.engine.port)) if self.engine.remote else None
        if wanted == current and (wanted is None or token == self.engine.token):
            return
        if wanted is not None and not token:
            raise InputError("Enter the token the remote engine printed when it started.")
        self.engine_lost()
        python = self.engine.python
        self.engine = (EngineClient(python=python) if wanted is None
                       else EngineClient(python=python, host=wanted[0], port=wanted[1], token=token))

    def model_settings(self, path: str = "", slices: int | None = None) -> dict:
        """The fine-tuning settings the panel shows, as measured for this model and written in its card;
        `slices`: the image's slice count, which picks the default model when path is ""."""
        return Settings.from_card(self.card(path, slices)).panel_values()

    def card(self, path: str = "", slices: int | None = None) -> dict:
        """A model's card, read (once) without torch; "" is the default model shipped with the extension
        for an image of `slices` slices (the 2D model for a single slice, as the worker chooses).

        The worker verifies the weights against the card's checksum when it loads them.
        """
        path = self._model_path(path, slices)
        key = (str(path.resolve()), path.stat().st_mtime_ns if path.is_file() else None)
        if key not in self._cards:
            if not path.is_file():
                raise ModelError(f"Model file not found: {path}")
            self._cards[key] = read_card(path)  # ModelError on a missing or damaged card
        return self._cards[key]

    @staticmethod
    def _model_path(path: str, slices: int | None = None) -> Path:
        path = Path(path) if path else default_model_path(slices=slices)
        return path.with_suffix(".safetensors") if path.suffix == ".json" else path

    # Guidance ------------------------------------------------------------------------

    def uncertain_regions(self, top: int = 5) -> list:
        """The current round's most uncertain regions, most uncertain first ([] before a Segment)."""
        return self._session.uncertain_regions(top) if self._session is not None and self._session.result else []

    def next_uncertain_region(self):
        """(region, world RAS point) of the current round's next most uncertain region, or None."""
        return self._regions.next_region(self._session, self._volume_node)

    def familiarity(self):
        """The engine's out-of-distribution report for the current box; None without a signature."""
        return self._session.assess_box() if self._session is not None and self._session.result else None

    # Applying (GUI thread) -----------------------------------------------------------

    def apply(self, job: Job, result=None):
        """Write a finished round into the scene as one undo step; returns the engine Result."""
        result = result if result is not None else job.result
        self._in_flight = None
        if job.kind == history.REFINE and job.epoch != self._epoch:
            raise InputError("The segmentation changed while refining: the result was dropped.")
        if not self._present(job.volume_node) or (job.segmentation_node and not self._present(job.segmentation_node)):
            self._drop_late(job)
            raise InputError("The volume or segmentation was removed while computing: nothing was written.")
        created_node = job.segmentation_node is None
        segmentation_node = job.segmentation_node or self._new_segmentation(job.volume_node)
        if segmentation_node.GetDisplayNode() is None:  # made by a node selector, which adds no display node
            segmentation_node.CreateDefaultDisplayNodes()
        segment_id, created, wrote = job.segment_id, False, False
        try:
            if not segment_id or segmentation_node.GetSegmentation().GetSegment(segment_id) is None:
                segment_id, created = self._new_segment(segmentation_node), True
            # Only the box is written: the segment's voxels in the margin around it stay as they were.
            previous = labelmaps.read_segment(segmentation_node, segment_id, job.volume_node, result.box)
            mask, others_before = self._masked_result(segmentation_node, segment_id, job.volume_node, result, previous)
            labelmaps.write_segment_region(segmentation_node, segment_id, job.volume_node, result.box, mask)
            wrote = True
            for other, before in others_before.items():
                labelmaps.write_segment_region(segmentation_node, other, job.volume_node, result.box, before & ~mask)
            if job.kind == history.SEGMENT:
                scribbles_before = self._clear_scribbles_for_new_box(job.volume_node)
            else:
                scribbles_before = self._scribbles_after_last_round
        except BaseException:  # nothing half-written: the scene and the engine stay in step
            if created_node:
                self._remove_node(segmentation_node)
            elif created and segmentation_node.GetSegmentation().GetSegment(segment_id) is not None:
                segmentation_node.GetSegmentation().RemoveSegment(segment_id)
            elif wrote:
                labelmaps.write_segment_region(segmentation_node, segment_id, job.volume_node, result.box, previous)
            if wrote:
                for other, before in others_before.items():
                    labelmaps.write_segment_region(segmentation_node, other, job.volume_node, result.box, before)
            self._drop_late(job)
            raise
        job.session.record(result)
        if job.kind == history.SEGMENT:
            if self._session is not None:
                self._session.forget()  # the engine cannot return to an earlier box
            self._session, self._volume_node, self._epoch = job.session, job.volume_node, job.epoch
        else:
            self._scribbles_after_last_round = job.painted
        self._history.append(history.Step(
            kind=job.kind, epoch=job.epoch, volume_node=job.volume_node, segmentation_node=segmentation_node,
            segment_id=segment_id, created_segment=created, region=result.box, previous=previous,
            scribbles_before=scribbles_before, created_node=created_node, others_before=others_before))
        job.segmentation_node, job.segment_id = segmentation_node, segment_id
        self.update_uncertainty(result)
        return result

    def _masked_result(self, segmentation_node, segment_id: str, volume_node, result, previous) -> tuple:
        """The round's mask within the Segment Editor's editable area, and the other segments it overwrites
        (their voxels in the box before, for undo), as the user set them in the Segment Editor."""
        editor_node = editor_masking.user_editor_node(self.scene)
        mask = result.box_mask
        area = editor_masking.editable_area(editor_node, segmentation_node, volume_node, result.box, segment_id)
        if area is not None:
            mask = np.where(area, mask, previous)
        others_before = {}
        for other in editor_masking.overwritten_segments(editor_node, segmentation_node, segment_id):
            before = labelmaps.read_segment(segmentation_node, other, volume_node, result.box)
            if (before & mask).any():
                others_before[other] = before
        return mask, others_before

    def abandon(self, job: Job) -> None:
        """Forget a job that was cancelled or failed; a result that still arrives never reaches the scene."""
        self._in_flight = None
        self._drop_late(job)

    def engine_lost(self) -> None:
        """The worker died or was restarted: its sessions are gone, so refining needs a new Segment."""
        self._in_flight = None
        self.engine.close()
        if self._session is not None:
            self._session.alive = False
            self._session, self._epoch = None, self._epoch + 1

    # Undo, accept, discard -----------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._in_flight is not None

    @property
    def can_undo(self) -> bool:
        return bool(self._history) and not self.busy

    @property
    def can_refine(self) -> bool:
        return bool(self._history) and self._session is not None and self._history[-1].epoch == self._epoch

    @property
    def rounds(self) -> int:
        """Undo steps kept: rounds applied since the interaction started."""
        return len(self._history)

    def undo(self) -> bool:
        """Take back the last round: its box of the segment, the scribbles, the engine's round."""
        self._check_idle()
        if not self._history:
            return False
        step = self._history.pop()
        if self._present(step.segmentation_node) and self._present(step.volume_node):
            segmentation = step.segmentation_node.GetSegmentation()
            if step.created_node and segmentation.GetNumberOfSegments() <= 1:  # nothing else was added to it
                self._remove_node(step.segmentation_node)
            elif step.created_segment:
                segmentation.RemoveSegment(step.segment_id)
            elif segmentation.GetSegment(step.segment_id) is not None:
                labelmaps.write_segment_region(step.segmentation_node, step.segment_id, step.volume_node,
                                               step.region, step.previous)
            for other, before in step.others_before.items():  # what the overwrite mode took from them
                if segmentation.GetSegment(other) is not None:
                    labelmaps.write_segment_region(step.segmentation_node, other, step.volume_node, step.region, before)
        if step.scribbles_before is not None and self._present(self.scribble_node) and self._present(step.volume_node):
            scribbles.write_scribbles(self.scribble_node, step.volume_node, step.scribbles_before)
        current = None
        if step.epoch == self._epoch and self._session is not None:
            if step.kind == history.REFINE:
                current = self._session.undo()
                self._scribbles_after_last_round = step.scribbles_before
            else:  # the engine cannot return to an earlier box: refining now needs a new Segment
                self._end_session()
        self.update_uncertainty(current)
        return True

    def accept(self) -> None:
        """Keep the segment as it is and end the interaction (frees the engine's memory)."""
        self._check_idle()
        if self._present(self.scribble_node):
            scribbles.clear_scribbles(self.scribble_node)
        self._history.clear()
        self._end_session()
        self._scribbles_after_last_round = None
        self._remove_uncertainty()

    def discard(self) -> None:
        """Undo every round of this interaction, then end it."""
        while self.undo():
            pass
        self.accept()

    # Scene helpers the GUI uses ------------------------------------------------------

    def ensure_scribble_node(self, volume_node, node=None):
        """The scribble segmentation to paint on, made if needed (the user is about to paint)."""
        if not (scribbles.is_scribble_node(node) and self._present(node) and scribbles.drawn_on(node) is volume_node):
            if volume_node is None:
                raise InputError("Select a source volume before painting scribbles.")
            # Back on a volume painted before: its scribbles, not one more scribble segmentation.
            earlier = [n for n in module_nodes(self.scene) if scribbles.is_scribble_node(n)
                       and scribbles.drawn_on(n) is volume_node]
            node = earlier[0] if earlier else scribbles.create_scribble_node(self.scene, volume_node)
        scribbles.ensure_segments(node)
        self.scribble_node = node
        return node

    def export_labelmap(self, labelmap_node=None):
        """Copy the current segment into a labelmap volume on the source volume's grid."""
        step = self._history[-1] if self._history else None
        if step is None or not self._present(step.segmentation_node) or not self._present(step.volume_node):
            raise InputError("Nothing to export yet: press Segment first.")
        if labelmap_node is None:
            name = labelmaps.require_segment(step.segmentation_node, step.segment_id).GetName()
            labelmap_node = self.scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode",
                                                         self.scene.GenerateUniqueName(f"{name} label"))
        labelmaps.export_to_labelmap(step.segmentation_node, step.segment_id, step.volume_node, labelmap_node)
        return labelmap_node

    def update_uncertainty(self, result) -> None:
        """Show the round's uncertainty (0 sure, 1 unsure) over its region, or remove the overlay."""
        if not self.show_uncertainty or result is None or not self._present(self._volume_node):
            self._remove_uncertainty()
            return
        existed = self._present(self.uncertainty_node)
        self.uncertainty_node = write_region_volume(
            self.scene, self.uncertainty_node if existed else None, UNCERTAINTY_NAME,
            result.region_uncertainty.astype(np.float32), self._volume_node, result.region)
        mark_uncertainty(self.uncertainty_node)  # never offered as a source volume, even after a reload
        display = self.uncertainty_node.GetDisplayNode()
        if display is not None and not existed:
            display.AutoWindowLevelOff()
            display.SetWindowLevelMinMax(0.0, 1.0)
            if self.scene.GetNodeByID(UNCERTAINTY_COLORS) is not None:
                display.SetAndObserveColorNodeID(UNCERTAINTY_COLORS)

    @property
    def device(self) -> str:
        """Where the engine computes ("cuda", "mps", "cpu"); "" before the first round."""
        return str(self._session.device) if self._session is not None else ""

    @property
    def result(self):
        """The engine's current round, while the interaction can still be refined."""
        return self._session.result if self.can_refine else None

    # Internals -----------------------------------------------------------------------

    def _run(self, job: Job):
        from .round_runner import DONE, RoundRunner
        status = RoundRunner(self).start_and_wait(job)
        if status.state != DONE:
            raise status.error
        return status.result

    def _end_session(self) -> None:
        if self._session is not None:
            self._session.forget()  # frees its features and weights in the worker
        self._session, self._epoch = None, self._epoch + 1

    def _plan(self, job: Job) -> Job:
        self._in_flight = job
        return job

    def _check_idle(self) -> None:
        if self._in_flight is not None:
            raise InputError("A computation is still running: wait for it or press Cancel.")

    def _present(self, node) -> bool:
        return node is not None and bool(self.scene.IsNodePresent(node))

    def _drop_late(self, job: Job) -> None:
        """A round the scene will never show: keep the engine in step with the scene.

        A dropped Segment ran on a session of its own, which the worker is told to forget;
        a dropped Refine that finished is undone in the engine.
        """
        if job.kind == history.SEGMENT and job.session is not self._session:
            job.session.forget()
        elif job.result is not None and job.epoch == self._epoch and job.session is self._session:
            self._session.undo()

    def _new_segmentation(self, volume_node):
        node = self.scene.AddNewNodeByClass("vtkMRMLSegmentationNode",
                                            self.scene.GenerateUniqueName(f"{volume_node.GetName()} segmentation"))
        node.CreateDefaultDisplayNodes()
        node.SetAndObserveTransformNodeID(volume_node.GetTransformNodeID())  # first: see scribbles.create_scribble_node
        node.SetReferenceImageGeometryParameterFromVolumeNode(volume_node)
        return node

    def _new_segment(self, segmentation_node) -> str:
        segmentation = segmentation_node.GetSegmentation()
        name, n = DEFAULT_SEGMENT_NAME, 1
        while segmentation.GetSegmentIdBySegmentName(name):
            n += 1
            name = f"{DEFAULT_SEGMENT_NAME} {n}"
        return segmentation.AddEmptySegment("", name)

    def _clear_scribbles_for_new_box(self, volume_node):
        """A new box starts without scribbles; returns the old ones for undo (None if there were none)."""
        self._scribbles_after_last_round = scribbles.Scribbles.none(volume_node)
        if not self._present(self.scribble_node):
            return None
        before = scribbles.read_scribbles(self.scribble_node, volume_node)
        if before.empty:
            return None
        scribbles.clear_scribbles(self.scribble_node)
        return before

    def _remove_uncertainty(self) -> None:
        if self._present(self.uncertainty_node):
            self._remove_node(self.uncertainty_node)
        self.uncertainty_node = None

    def _remove_node(self, node) -> None:
        remove_node(self.scene, node)


def remove_node(scene, node) -> None:
    """Remove a node with its display and storage nodes (removing the node alone leaves those in the scene)."""
    if node is None or not scene.IsNodePresent(node):
        return
    helpers = [node.GetNthDisplayNode(n) for n in range(node.GetNumberOfDisplayNodes())]
    helpers.append(node.GetStorageNode())
    for helper in helpers:
        if helper is not None and scene.IsNodePresent(helper):
            scene.RemoveNode(helper)
    scene.RemoveNode(node)
