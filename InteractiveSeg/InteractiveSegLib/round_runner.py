"""One round at a time, for both GUIs: start it in the worker, poll it, cancel it, apply or abandon it.

    runner = RoundRunner(logic)
    runner.start(logic.plan_segment(...))     # GUI thread; returns at once
    status = runner.poll()                     # from a QTimer or the server loop; never blocks
    runner.cancel()                            # the worker stops at its next check (well within 1 s)

`poll` returns a RoundStatus. When the round ends it has already been written into the
scene (`logic.apply`) or dropped (`logic.abandon`), and the status says which, with the
message to show. Errors are sorted: bad input and a dead or stuck worker are the user's
to act on (`bug` False); anything else is a bug (`bug` True, `details` for the log).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from interactiveseg.errors import Cancelled, InteractiveSegError

from .engine_client import WorkerFailed
from .remote_session import EngineBug, raise_for_error, result_from_message

CANCEL_GRACE = 5.0  # seconds a cancelled round may take to stop before the worker is restarted
IDLE, RUNNING, CANCELLING, DONE, CANCELLED, FAILED = "idle", "running", "cancelling", "done", "cancelled", "failed"


@dataclass
class RoundStatus:
    state: str
    fraction: float = 0.0
    message: str = ""
    result: object = None  # the engine Result, once DONE
    job: object = None
    bug: bool = False  # FAILED by a bug rather than by input or by the worker
    details: str = ""  # the worker's traceback of a bug
    error: BaseException | None = None  # what ended a FAILED or CANCELLED round

    @property
    def finished(self) -> bool:
        return self.state in (DONE, CANCELLED, FAILED)


class RoundRunner:
    def __init__(self, logic, apply: bool = True):
        self.logic = logic
        self.applies = apply  # False: a DONE round is left for the caller to apply (scripts, tests)
        self.status = RoundStatus(IDLE)
        self._job = None
        self._pending = {}  # request id -> what its reply means: "load" or "round"
        self._cancel_deadline = None

    @property
    def busy(self) -> bool:
        return self._job is not None

    def start(self, job) -> None:
        if self._job is not None:
            raise InteractiveSegError("A computation is still running: wait for it or press Cancel.")
        self._job, self._pending, self._cancel_deadline = job, {}, None
        self.status = RoundStatus(RUNNING, 0.0, "starting", job=job)
        try:
            for role, (op, header, arrays) in self.logic.requests(job):
                self._pending[self.logic.engine.request(op, header, arrays)] = role
        except BaseException as error:
            self._finish_failed(error)

    def cancel(self) -> None:
        if self._job is None or self.status.state == CANCELLING:
            return
        if self.logic.engine.sending:  # still uploading: drop the connection rather than wait for the rest
            self.logic.engine_lost()
            self._finish_failed(Cancelled("Cancelled: nothing was changed."))
            return
        for request_id in self._pending:  # the volume upload too, if it has not finished
            self.logic.engine.cancel(request_id)
        self._cancel_deadline = time.monotonic() + CANCEL_GRACE
        self.status = RoundStatus(CANCELLING, self.status.fraction, "cancelling", job=self._job)

    def drop(self, message: str = "Cancelled: the scene was closed.") -> None:
        """Forget the running job without a word to the engine, which is about to be closed with its scene."""
        if self._job is not None:
            job, self._job, self._pending = self._job, None, {}
            # Closed first, so that forgetting the job asks nothing of a worker that may still be computing it.
            self.logic.engine_lost()
            self.logic.abandon(job)
            self.status = RoundStatus(CANCELLED, 0.0, message, job=job, error=Cancelled(message))

    def poll(self) -> RoundStatus:
        if self._job is None:
            return self.status
        try:
            messages = self.logic.engine.poll()
        except WorkerFailed as error:
            return self._finish_failed(error)
        for header, arrays in messages:
            if header.get("type") == "progress":
                if self.status.state == RUNNING:
                    self.status.fraction, self.status.message = header["fraction"], header["message"]
                continue
            role = self._pending.pop(header.get("id"), None)
            if role is None:
                continue  # the reply to an earlier, abandoned request
            try:
                raise_for_error(header)
            except BaseException as error:
                return self._finish_failed(error)
            if role == "round":
                return self._finish(result_from_message(header, arrays))
        left = self.logic.engine.sending
        if left and self.status.state == RUNNING:
            self.status.message = f"sending to the engine ({left / 2**20:.0f} MB left)"
        if self._cancel_deadline is not None and time.monotonic() > self._cancel_deadline:
            self.logic.engine.kill()  # it would not stop: a fresh worker serves the next round
            return self._finish_failed(WorkerFailed("The engine did not stop when cancelled and was restarted."))
        return self.status

    def start_and_wait(self, job, timeout: float | None = None) -> RoundStatus:
        self.start(job)
        return self.wait(timeout)

    def wait(self, timeout: float | None = None, interval: float = 0.01) -> RoundStatus:
        """Poll until the round ends (scripts and tests; a GUI polls from its timer instead)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.poll().finished:
            if deadline is not None and time.monotonic() > deadline:
                self.cancel()
                deadline = None
            time.sleep(interval)
        return self.status

    # Endings -----------------------------------------------------------------------------

    def _finish(self, result) -> RoundStatus:
        job, self._job = self._job, None
        job.result = result
        if self.status.state == CANCELLING:  # finished before the cancel arrived: drop it all the same
            self.logic.abandon(job)
            self.status = RoundStatus(CANCELLED, 0.0, "Cancelled: nothing was changed.", job=job,
                                      error=Cancelled("Cancelled: nothing was changed."))
            return self.status
        if not self.applies:
            self.status = RoundStatus(DONE, 1.0, "done", result=result, job=job)
            return self.status
        try:
            self.logic.apply(job, result)  # on failure it has put the scene and the engine back
        except InteractiveSegError as error:
            self.status = RoundStatus(FAILED, 0.0, str(error), job=job, error=error)
            return self.status
        except Exception as error:
            self.status = RoundStatus(FAILED, 0.0, f"Unexpected error: {error}", job=job, bug=True, error=error)
            return self.status
        self.status = RoundStatus(DONE, 1.0, "done", result=result, job=job)
        return self.status

    def _finish_failed(self, error: BaseException) -> RoundStatus:
        job, self._job = self._job, None
        if isinstance(error, WorkerFailed):
            self.logic.engine_lost()  # first: nothing below may talk to the dead worker
        if job is not None:
            self.logic.abandon(job)
        if isinstance(error, WorkerFailed):
            self.status = RoundStatus(FAILED, 0.0, f"{error} Nothing was changed.", job=job, error=error)
        elif isinstance(error, Cancelled) or self.status.state == CANCELLING:
            self.status = RoundStatus(CANCELLED, 0.0, "Cancelled: nothing was changed.", job=job,
                                      error=error if isinstance(error, Cancelled) else Cancelled(str(error)))
        elif isinstance(error, InteractiveSegError):
            self.status = RoundStatus(FAILED, 0.0, str(error), job=job, error=error)
        else:
            details = error.details if isinstance(error, EngineBug) else ""
            self.status = RoundStatus(FAILED, 0.0, f"Unexpected error: {error}", job=job, bug=True,
                                      details=details, error=error)
        return self.status
