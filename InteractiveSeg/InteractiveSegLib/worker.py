"""Run one computation on a background thread; the GUI polls it from a timer.

Only the worker touches the computation and only the GUI thread touches the scene: the
task hands over plain Python results. Qt-free, so it is tested without Slicer.
"""
from __future__ import annotations

import threading
import time


class BackgroundTask:
    """Calls `function(progress, cancel)` on a daemon thread.

    `progress(fraction, message)` is stored for the GUI to read; `cancel()` returns True
    once the user asked to stop, and the engine then raises `Cancelled` at its next check.
    """

    def __init__(self, function):
        self._function = function
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name="InteractiveSeg compute", daemon=True)
        self._progress = (0.0, "starting")
        self.result = None
        self.error: BaseException | None = None
        self.started_at = None

    def start(self) -> "BackgroundTask":
        self.started_at = time.monotonic()
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        return self.started_at is not None and not self._thread.is_alive()

    @property
    def progress(self) -> tuple:
        with self._lock:
            return self._progress

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the task ends (tests and scripts); True if it ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _report(self, fraction: float, message: str) -> None:
        with self._lock:
            self._progress = (float(fraction), str(message))

    def _run(self) -> None:
        try:
            self.result = self._function(self._report, self._cancel.is_set)
        except BaseException as error:  # handed to the GUI thread, which shows it
            self.error = error
