"""`interactiveseg worker`: the engine in a process of its own, driven over the worker protocol.

The Slicer module (and the web app) never run torch in their own process: Slicer's main
thread holds the GIL while idle, so a computation on a Python thread there would crawl.
They start this worker (in Slicer with `PythonSlicer`), or connect to one on a GPU
machine, and poll its socket without blocking.

One client at a time. The first message must be {"op": "hello", "token": ...} with the
token the worker was started with (from the environment variable
INTERACTIVESEG_WORKER_TOKEN, or printed when the worker made one up); anything else
closes the connection. Then each request gets progress messages and one reply:

    load_volume  arrays: volume; header: spacing, origin, direction, modality -> ok
    segment      session (a new id), box (I0 J0 K0 I1 J1 K1), model (path, "" = shipped),
                 settings, device -> result
    refine       session; arrays: foreground, background ((N, 3) k, j, i indices); replace -> result
    undo, reset  session -> result (or {"type": "result", "empty": true})
    regions      session, top -> regions;  assess  session -> assessment
    forget       session -> ok;  shutdown -> ok, then the worker ends
    cancel       target (a request id; default: the running one): stops it at the engine's next
                 check, or before it starts (no reply of its own)

Errors come back as {"type": "error", "kind": "input" | "model" | "cancelled" | "bug", "message"}.
Nothing received is unpickled: arrays are raw bytes of plain dtypes (protocol.py).
"""
from __future__ import annotations

import argparse
import dataclasses
import hmac
import os
import queue
import secrets
import socket
import sys
import threading
import time
import traceback

import numpy as np

from .errors import Cancelled, InputError, ModelError
from .protocol import FrameReader, ProtocolError, encode, unpack_mask

TOKEN_VARIABLE = "INTERACTIVESEG_WORKER_TOKEN"
DEFAULT_HOST = "127.0.0.1"
HELLO_TIMEOUT = 10.0  # seconds a new connection has to give its token; a silent one must not hold the worker
FOLLOW_UP_SECONDS = 1.0  # after a reply, how long the follow-up calls of a GUI poll (every 50 ms) may take to come


def result_message(result) -> tuple:
    """(header, arrays) of an engine Result."""
    if result is None:
        return {"type": "result", "empty": True}, {}
    header = {"type": "result", "box": result.box.as_ijk(), "region": result.region.as_ijk(),
              "volume_shape": list(result.volume_shape), "round": result.round, "seconds": result.seconds,
              "device": result.device, "warnings": list(result.warnings)}
    return header, {"region_probability": result.region_probability.astype(np.float32),
                    "region_uncertainty": result.region_uncertainty.astype(np.float32)}


def _plain(value):
    """JSON-safe copy of numpy scalars and tuples inside dataclass dicts."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


class Engine:
    """What the worker holds between requests: the current volume, sessions by id, loaded models.

    Each Segment makes a session of its own under the id the client chose; the client
    says `forget` when it no longer needs one, so a cancelled or dropped Segment never
    replaces the session the scene still shows.
    """

    def __init__(self):
        self.volume = None
        self.sessions: dict = {}
        self._models = {}
        self._warm = False

    def handle(self, header: dict, arrays: dict, progress, cancel) -> tuple:
        op = header.get("op")
        handler = getattr(self, f"op_{op}", None) if isinstance(op, str) else None
        if handler is None:
            raise InputError(f"Unknown worker request {op!r}.")
        return handler(header, arrays, progress, cancel)

    def op_load_volume(self, header, arrays, progress, cancel):
        from .volume import Volume
        if "volume" not in arrays:
            raise InputError("load_volume needs the volume array.")
        self.volume = Volume(arrays["volume"], tuple(header["spacing"]), tuple(header["origin"]),
                             np.asarray(header["direction"], dtype=float), header.get("modality", "auto"))
        return {"type": "ok"}, {}

    def op_segment(self, header, arrays, progress, cancel):
        from .box import Box
        from .flat_axis import slices_seen
        from .session import Session
        from .settings import Settings
        if self.volume is None:
            raise InputError("Send the volume before segmenting.")
        model = self._model(header.get("model") or "", slices_seen(self.volume.shape))
        settings = Settings.from_card(model.card, **(header.get("settings") or {}))
        session = Session(self.volume, model, header.get("device") or "auto", settings)
        result = session.segment(Box.from_ijk(header["box"]), progress=progress, cancel=cancel)
        self.sessions[str(header["session"])] = session
        return result_message(result)

    def op_refine(self, header, arrays, progress, cancel):
        session = self._session(header)
        shape = session.volume.shape
        masks = [unpack_mask(arrays[name], shape) if name in arrays else None for name in ("foreground", "background")]
        result = session.refine(*masks, progress=progress, cancel=cancel, replace=bool(header.get("replace")))
        return result_message(result)

    def op_undo(self, header, arrays, progress, cancel):
        return result_message(self._session(header).undo())

    def op_reset(self, header, arrays, progress, cancel):
        return result_message(self._session(header).reset())

    def op_regions(self, header, arrays, progress, cancel):
        regions = self._session(header).uncertain_regions(int(header.get("top", 5)))
        return {"type": "regions", "regions": [_plain(dataclasses.asdict(r)) for r in regions]}, {}

    def op_assess(self, header, arrays, progress, cancel):
        return {"type": "assessment", "report": _plain(self._session(header).assess_box())}, {}

    def op_forget(self, header, arrays, progress, cancel):
        self.sessions.pop(str(header.get("session")), None)
        return {"type": "ok"}, {}

    def op_shutdown(self, header, arrays, progress, cancel):
        return {"type": "ok", "shutdown": True}, {}

    @property
    def warm(self) -> bool:
        return self._warm

    def warm_up(self) -> None:
        """Import what the first Refine needs (the optimiser pulls in torch's compiler, seconds to load) ahead of it."""
        if not self._warm:
            import torch
            torch.optim.Adam([torch.zeros(1, requires_grad=True)])
            self._warm = True

    def _session(self, header):
        session = self.sessions.get(str(header.get("session")))
        if session is None:
            raise InputError("Place a box and press Segment first (the engine has no such segmentation).")
        return session

    def _model(self, path: str, slices: int):
        """The model at `path`; "" is the shipped default for an image of this many slices."""
        from .model_file import default_model_path, load_model
        key = path or str(default_model_path(slices=slices))
        if key not in self._models:
            self._models[key] = load_model(key)
        return self._models[key]


def error_message(error: BaseException) -> dict:
    if isinstance(error, Cancelled):
        return {"type": "error", "kind": "cancelled", "message": str(error)}
    if isinstance(error, ModelError):
        return {"type": "error", "kind": "model", "message": str(error)}
    if isinstance(error, InputError):
        return {"type": "error", "kind": "input", "message": str(error)}
    return {"type": "error", "kind": "bug", "message": f"{type(error).__name__}: {error}",
            "traceback": "".join(traceback.format_exception(type(error), error, error.__traceback__))[-4000:]}


class Connection:
    """One client: a reader thread turns frames into requests, and catches "cancel" at once."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.requests: queue.Queue = queue.Queue()
        self.cancelled: set = set()  # ids of requests the client cancelled, even before they started
        self.running = None  # id of the request being computed
        self._send_lock = threading.Lock()
        threading.Thread(target=self._read, name="worker reader", daemon=True).start()

    def send(self, header: dict, arrays: dict | None = None) -> None:
        frame = encode(header, arrays)
        with self._send_lock:
            self.sock.sendall(frame)

    def _read(self) -> None:
        reader = FrameReader()
        try:
            while True:
                data = self.sock.recv(1 << 20)
                if not data:
                    break
                for header, arrays in reader.feed(data):
                    if header.get("op") == "cancel":
                        self.cancelled.add(header.get("target", self.running))
                    else:
                        self.requests.put((header, arrays))
        except (OSError, ProtocolError):
            pass
        self.requests.put(None)  # the client is gone, or sent something that is not a frame


def serve_connection(sock: socket.socket, token: str, engine: Engine, hello_timeout: float = HELLO_TIMEOUT) -> tuple:
    """Answer one client until it leaves: (it gave the right token, it asked the worker to shut down)."""
    connection = Connection(sock)
    try:
        first = connection.requests.get(timeout=hello_timeout)
    except queue.Empty:
        first = None  # connected and said nothing: the next client's turn
    if first is None:
        return False, False
    header, _ = first
    given = header.get("token") if header.get("op") == "hello" else None
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), token.encode()):
        try:
            connection.send({"type": "error", "kind": "auth", "message": "The worker refused the token."})
        except OSError:
            pass
        return False, False
    connection.send({"type": "ok", "pid": os.getpid()})
    ahead = []  # a request that arrived while the worker waited to warm up
    while True:
        request = ahead.pop() if ahead else connection.requests.get()
        if request is None:
            return True, False
        header, arrays = request
        connection.running = header.get("id")
        last = [0.0]

        def progress(fraction, message):
            now = time.monotonic()
            if now - last[0] >= 0.05 or fraction >= 1.0:  # enough for a progress bar, not a flood
                last[0] = now
                connection.send({"type": "progress", "fraction": float(fraction), "message": str(message)})

        try:
            reply, reply_arrays = engine.handle(header, arrays, progress,
                                                lambda: header.get("id") in connection.cancelled)
        except BaseException as error:  # every failure becomes a message; the worker carries on
            reply, reply_arrays = error_message(error), {}
        reply["id"] = header.get("id")
        connection.send(reply, reply_arrays)
        if reply.get("shutdown"):
            return True, True
        if engine.sessions and not engine.warm:
            # While the user paints the first strokes. A Segment's reply is followed at once by short calls
            # (assess, regions) that would otherwise wait seconds behind the warm-up: give them their turn.
            try:
                ahead.append(connection.requests.get(timeout=FOLLOW_UP_SECONDS))
            except queue.Empty:
                engine.warm_up()


def parse_listen(text: str) -> tuple:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--listen takes HOST:PORT (for example 127.0.0.1:8765), got {text!r}.")
    return host.strip("[]"), int(port)


def _exit_when_parent_leaves() -> None:
    """A worker started by the module ends when its parent does (its stdin closes)."""
    def watch():
        try:
            while sys.stdin.buffer.read(1 << 16):
                pass
        except (OSError, ValueError):
            pass
        os._exit(0)
    threading.Thread(target=watch, name="parent watch", daemon=True).start()


def worker_main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="interactiveseg worker",
                                     description="Serve the engine to the Slicer module or the web app.")
    parser.add_argument("--listen", default=f"{DEFAULT_HOST}:0",
                        help="HOST:PORT to listen on (default %(default)s: this machine only, any free port)")
    parser.add_argument("--once", action="store_true", help="end when the first client leaves")
    parser.add_argument("--parent", action="store_true",
                        help="started by the module: end when stdin closes, print the port as one line")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    args = parser.parse_args(argv)
    host, port = parse_listen(args.listen)
    token = os.environ.get(TOKEN_VARIABLE) or ""
    made_up = not token
    if made_up:
        token = secrets.token_urlsafe(24)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = socket.socket(family, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen(1)
    bound = server.getsockname()[1]
    if args.parent:
        _exit_when_parent_leaves()
        print(f"port {bound}", flush=True)
    else:
        where = "this machine only" if host in ("127.0.0.1", "localhost", "::1") else "the network: use a tunnel"
        print(f"interactiveseg worker listening on {host}:{bound} ({where})", file=sys.stderr, flush=True)
        if made_up:
            print(f"token: {token}", file=sys.stderr, flush=True)
    if args.threads:  # after the port is out: importing torch takes seconds, and the module waits for the port
        import torch
        torch.set_num_threads(args.threads)
    engine = Engine()
    while True:
        client, _ = server.accept()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            served, shutdown = serve_connection(client, token, engine)
        except OSError:  # the client vanished mid-reply
            served, shutdown = True, False
        finally:
            client.close()
        if shutdown or (args.once and served):  # a stranger with a wrong token does not end it
            return 0
