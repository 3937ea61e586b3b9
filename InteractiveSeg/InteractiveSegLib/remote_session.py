"""The Lib's handle on one engine session inside the worker: the rounds of one Segment's box.

It mirrors the parts of `interactiveseg.Session` the logic uses (`result`, `device`,
`undo`, `uncertain_regions`, `assess_box`); Segment and Refine themselves run
asynchronously through the round runner. Short requests (undo, regions) wait for their
reply, which takes milliseconds.
"""
from __future__ import annotations

from types import SimpleNamespace

from interactiveseg.box import Box
from interactiveseg.errors import Cancelled, InputError, ModelError
from interactiveseg.result import Result

from .engine_client import WorkerFailed


def result_from_message(header: dict, arrays: dict):
    """An engine Result from a worker reply (None for an empty one)."""
    if header.get("empty"):
        return None
    return Result(box=Box.from_ijk(header["box"]), region=Box.from_ijk(header["region"]),
                  region_probability=arrays["region_probability"], region_uncertainty=arrays["region_uncertainty"],
                  volume_shape=tuple(header["volume_shape"]), round=int(header["round"]),
                  seconds=float(header["seconds"]), device=str(header["device"]),
                  warnings=list(header.get("warnings", [])))


def raise_for_error(header: dict) -> None:
    """Turn a worker error reply into the exception a user or a developer should see."""
    if header.get("type") != "error":
        return
    kind, message = header.get("kind"), header.get("message", "")
    if kind == "input":
        raise InputError(message)
    if kind == "model":
        raise ModelError(message)
    if kind == "cancelled":
        raise Cancelled(message)
    raise EngineBug(message, header.get("traceback", ""))


class EngineBug(RuntimeError):
    """The engine failed in a way no input explains; `details` holds the worker's traceback."""

    def __init__(self, message: str, details: str = ""):
        super().__init__(message)
        self.details = details


class RemoteSession:
    def __init__(self, client, session_id: str):
        self.client, self.session_id = client, session_id
        self.result = None  # the engine's current round, as the worker last reported it
        self.alive = True
        self._results: dict = {}  # round -> the Result the scene got, so undo hands back that very object

    def record(self, result) -> None:
        """The round the scene now shows; later rounds are gone."""
        self._results = {r: kept for r, kept in self._results.items() if r < result.round}
        self._results[result.round] = self.result = result

    def _back_to(self, reply: tuple):
        result = result_from_message(*reply)
        if result is not None:
            result = self._results.get(result.round, result)
            self.record(result)
        return self.result

    @property
    def device(self) -> str:
        return self.result.device if self.result is not None else ""

    def _call(self, op: str, **header):
        if not self.alive:
            raise InputError("The engine was restarted: press Segment again.")
        reply, arrays = self.client.call(op, dict(header, session=self.session_id))
        raise_for_error(reply)
        return reply, arrays

    def undo(self):
        """Back one round in the engine; returns the round now current (None if there was nothing to undo)."""
        before = self.result.round if self.result is not None else None
        current = self._back_to(self._call("undo"))
        return None if current is None or current.round == before else current

    def reset(self):
        return self._back_to(self._call("reset"))

    def uncertain_regions(self, top: int = 5) -> list:
        reply, _ = self._call("regions", top=top)
        return [SimpleNamespace(**region) for region in reply["regions"]]

    def assess_box(self):
        reply, _ = self._call("assess")
        return reply["report"]

    def forget(self) -> None:
        """Free the session in the worker (a worker that is gone has freed it already; none is started for this)."""
        if not self.alive:
            return
        self.alive = False
        if self.client.connected:
            try:
                self.client.call("forget", {"session": self.session_id}, timeout=10)
            except WorkerFailed:
                pass
