"""The module's side of the engine worker: start it (or connect to one), send requests, poll replies.

The worker is a separate process (`python -m interactiveseg worker`; in Slicer the
`PythonSlicer` executable), so torch never runs in the GUI's process and Slicer's GIL
does not slow it. Polling reads only what has arrived (select with a zero timeout) and
never blocks, so a QTimer or a server loop can call it at any rate. Sending never blocks
either: a request waits in an outbox, and each poll sends what the connection takes (a
large volume over an SSH tunnel would otherwise freeze the GUI until it is through).

Local workers get a fresh random token through the environment; a remote worker (on a
GPU machine, reached through an SSH tunnel) is given by host, port and its token.
Standard library, numpy and the torch-free `interactiveseg.protocol` only.
"""
from __future__ import annotations

import os
import queue
import secrets
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from itertools import count
from pathlib import Path

from interactiveseg.errors import InputError, InteractiveSegError
from interactiveseg.protocol import FrameReader, ProtocolError, encode

TOKEN_VARIABLE = "INTERACTIVESEG_WORKER_TOKEN"  # the worker reads its token from here (interactiveseg.worker)
ENGINE_FOLDER = Path(__file__).resolve().parent.parent  # holds the interactiveseg package
START_TIMEOUT = 60.0  # seconds for a local worker to say its port
HANG_TIMEOUT = 180.0  # seconds without any message while a request runs: the worker is stuck
SEND_CHUNK = 1 << 20  # bytes handed to the socket at a time


class WorkerFailed(InteractiveSegError):
    """The engine process died, hung or refused us; the next round starts a fresh one."""


def slicer_python() -> str:
    """Slicer's own Python for a child process (PythonSlicer beside Slicer), else this Python."""
    beside = Path(sys.executable).parent / ("PythonSlicer.exe" if os.name == "nt" else "PythonSlicer")
    return str(beside) if beside.is_file() else (shutil.which("PythonSlicer") or sys.executable)


def parse_address(text: str) -> tuple:
    """(host, port) from "HOST:PORT"; a clear error otherwise."""
    host, _, port = text.strip().rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"The remote engine address must be HOST:PORT (for example 127.0.0.1:8765), "
                                  f"not '{text}'.")
    return host.strip("[]"), int(port)


class EngineClient:
    """One connection to one worker; `request` sends, `poll` returns what has arrived."""

    def __init__(self, python: str | None = None, host: str | None = None, port: int | None = None,
                 token: str | None = None, threads: int | None = None, hang_timeout: float = HANG_TIMEOUT):
        self.python, self.host, self.port, self.threads = python or sys.executable, host, port, threads
        self.token = token
        self.hang_timeout = hang_timeout
        self.process = None
        self.log_path = None
        self._sock = None
        self._reader = FrameReader()
        self._outbox = deque()  # memoryviews of frames not yet sent, oldest first
        self._ids = count(1)
        self._token = ""
        self.loaded_volume = None  # key of the volume the worker holds (the logic's business)
        self._last_heard = time.monotonic()

    @property
    def remote(self) -> bool:
        return self.host is not None

    @property
    def sending(self) -> int:
        """Bytes of requests still waiting to be sent (polling sends them)."""
        return sum(len(view) for view in self._outbox)

    @property
    def connected(self) -> bool:
        """A connection is open (and, for a local worker, its process is alive)."""
        return self._sock is not None and (self.remote or (self.process is not None and self.process.poll() is None))

    # Connection ------------------------------------------------------------------------

    def ensure_started(self) -> None:
        """Connect, starting a local worker first if there is none (or the last one died)."""
        if self.connected:
            return
        self.close()
        if self.remote:
            host, port, token = self.host, int(self.port), self.token or ""
        else:
            self._token = secrets.token_urlsafe(24)
            host, port, token = "127.0.0.1", self._start_local(), self._token
        try:
            self._sock = socket.create_connection((host, port), timeout=10)
        except OSError as error:
            self.close()
            raise WorkerFailed(f"Cannot reach the engine worker at {host}:{port}: {error.strerror or error}.") from None
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reply = self.call("hello", {"token": token}, timeout=30)
        if reply[0].get("type") != "ok":
            self.close()
            raise WorkerFailed("The engine worker refused the connection: check the token.")

    def _start_local(self) -> int:
        env = dict(os.environ, **{TOKEN_VARIABLE: self._token})
        env["PYTHONPATH"] = os.pathsep.join([str(ENGINE_FOLDER)] + [p for p in [env.get("PYTHONPATH")] if p])
        command = [self.python, "-m", "interactiveseg", "worker", "--parent", "--once"]
        if self.threads:
            command += ["--threads", str(self.threads)]
        handle, self.log_path = tempfile.mkstemp(prefix="interactiveseg-worker-", suffix=".log")
        with os.fdopen(handle, "w") as log:
            # On Windows PythonSlicer is a console program: without the flag a console window opens beside Slicer.
            flags = subprocess.CREATE_NO_WINDOW if sys.platform == "win32" else 0
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                            env=env, creationflags=flags)
        line = _first_line(self.process.stdout, START_TIMEOUT)  # "port N"; "" at EOF (it failed) or timeout
        if not line.startswith("port "):
            if self.process.poll() is None:  # hung before it could listen
                self.process.kill()
            self.process.wait(timeout=START_TIMEOUT)
            raise WorkerFailed(f"The engine worker did not start ({self._log_tail() or 'no message'}).")
        return int(line.split()[1])

    def close(self) -> None:
        """End the connection; a local worker ends with it (and is killed if it does not)."""
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock, self._reader = None, FrameReader()
        self._outbox.clear()  # a half-sent frame dies with its connection
        self.loaded_volume = None  # a new worker has no volume yet
        if self.process is not None:
            if self.process.poll() is None:
                try:
                    self.process.stdin.close()
                    self.process.wait(timeout=3)
                except (OSError, subprocess.TimeoutExpired):
                    self.process.kill()
                    self.process.wait(timeout=5)
            self.process = None

    def kill(self) -> None:
        """Stop a stuck local worker at once (a remote one only loses this connection)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        self.close()

    # Messages --------------------------------------------------------------------------

    def request(self, op: str, header: dict | None = None, arrays: dict | None = None) -> int:
        """Send a request; returns its id, which its reply carries."""
        self.ensure_started()
        request_id = next(self._ids)
        self._outbox.append(memoryview(encode(dict(header or {}, op=op, id=request_id), arrays)))
        self._last_heard = time.monotonic()
        self._send()
        return request_id

    def cancel(self, request_id: int | None = None) -> None:
        """Ask the worker to stop a request (default: whatever it is computing).

        The message queues behind any request still being sent, so frames never interleave.
        """
        message = {"op": "cancel"} if request_id is None else {"op": "cancel", "target": request_id}
        if self._sock is not None:
            self._outbox.append(memoryview(encode(message)))
            try:
                self._send()
            except WorkerFailed:
                pass  # the next poll reports the broken connection

    def _send(self) -> None:
        """Send what the connection takes now, without waiting for it to take more."""
        try:
            while self._outbox and select.select([], [self._sock], [], 0)[1]:
                view = self._outbox[0]
                sent = self._sock.send(view[:SEND_CHUNK])
                self._last_heard = time.monotonic()  # a slow upload is not a hung worker
                if sent == len(view):
                    self._outbox.popleft()
                else:
                    self._outbox[0] = view[sent:]
        except (BlockingIOError, socket.timeout):
            return
        except OSError as error:
            self.close()
            raise WorkerFailed(f"The engine worker connection broke ({error.strerror or error}).") from None

    def poll(self, busy: bool = True) -> list:
        """(header, arrays) messages that have arrived; never blocks.

        Raises WorkerFailed when the worker died, closed the connection, sent garbage, or
        (while `busy`) said nothing for `hang_timeout` seconds.
        """
        if self._sock is None:
            raise WorkerFailed("The engine worker is not running.")
        self._send()
        messages = []
        try:
            while select.select([self._sock], [], [], 0)[0]:
                data = self._sock.recv(1 << 22)
                if not data:
                    if messages:  # its last words first (a refusal, say); the end shows on the next poll
                        return messages
                    raise WorkerFailed(self._death_text())
                messages += self._reader.feed(data)
        except ProtocolError as error:
            self.kill()
            raise WorkerFailed(f"The engine worker sent a bad message ({error}).") from None
        except OSError as error:
            self.close()
            raise WorkerFailed(f"The engine worker connection broke ({error.strerror or error}).") from None
        except WorkerFailed:
            self.close()
            raise
        now = time.monotonic()
        if messages:
            self._last_heard = now
        elif busy and now - self._last_heard > self.hang_timeout:
            self.kill()
            raise WorkerFailed(f"The engine worker did not answer for {self.hang_timeout:.0f} s and was stopped.")
        return messages

    def call(self, op: str, header: dict | None = None, arrays: dict | None = None, timeout: float = 60.0) -> tuple:
        """Send a request and wait for its reply (short requests: undo, regions, ...)."""
        request_id = self.request(op, header, arrays) if op != "hello" else self._hello(header)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for header_in, arrays_in in self.poll():
                if header_in.get("id") == request_id or op == "hello":
                    return header_in, arrays_in
            time.sleep(0.005)
        self.kill()
        raise WorkerFailed(f"The engine worker did not answer '{op}' within {timeout:.0f} s and was stopped.")

    def _hello(self, header: dict) -> int:
        self._sock.sendall(encode(dict(header, op="hello", id=0)))
        return 0

    def _death_text(self) -> str:
        code = self.process.poll() if self.process is not None else None
        if self.process is not None and code is None:
            try:
                code = self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = None
        detail = self._log_tail()
        text = "The engine worker stopped unexpectedly" + (f" (exit code {code})" if code is not None else "")
        return text + (f": {detail}" if detail else ".")

    def _log_tail(self) -> str:
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        lines = [line for line in Path(self.log_path).read_text(errors="replace").splitlines() if line.strip()]
        return lines[-1][:300] if lines else ""


def _first_line(stream, timeout: float) -> str:
    """The first line of a child's pipe, or "" if none comes within `timeout` seconds.

    Read on a thread because a pipe cannot be polled on Windows; the thread ends with the pipe.
    """
    lines = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout).decode(errors="replace").strip()
    except queue.Empty:
        return ""
