"""The engine worker process as the module drives it: real subprocesses, real sockets, a real MRML scene."""
import ctypes
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from interactiveseg.protocol import FrameReader, ProtocolError, encode, pack_mask, unpack_mask

from scene_checks import scene_state
from slicer_scene import add_roi, add_volume, blob_image
from InteractiveSegLib.engine_client import ENGINE_FOLDER, TOKEN_VARIABLE, EngineClient, WorkerFailed
from InteractiveSegLib.labelmaps import full_region, read_segment, write_segment_region
from InteractiveSegLib.logic import InteractiveSegmentationLogic
from InteractiveSegLib.matrices import ijk_to_ras
from InteractiveSegLib.round_runner import CANCELLED, DONE, FAILED, RUNNING, RoundRunner
from InteractiveSegLib.scribbles import FOREGROUND

FAST = {"iterations": 2, "alternations": 1}
SHAPE = (20, 40, 40)


@pytest.fixture
def volume(scene):
    return add_volume(scene, blob_image(SHAPE), spacing=(1.0, 1.0, 2.0), name="CT")


@pytest.fixture
def roi(scene, volume):
    return add_roi(scene, (ijk_to_ras(volume) @ [20, 20, 10, 1])[:3], (16, 16, 16))


def paint_foreground(logic, volume, voxels):
    node = logic.ensure_scribble_node(volume, logic.scribble_node)
    mask = read_segment(node, FOREGROUND, volume)
    for kji in voxels:
        mask[kji] = True
    write_segment_region(node, FOREGROUND, volume, full_region(volume), mask)


# The protocol ---------------------------------------------------------------------------


def test_frames_carry_json_and_arrays_in_pieces_of_any_size():
    arrays = {"a": np.arange(12, dtype=np.int16).reshape(3, 4), "b": np.array([True, False]),
              "c": np.linspace(0, 1, 5, dtype=np.float32)}
    frame = encode({"op": "x", "n": 3}, arrays) + encode({"op": "y"})
    reader, messages = FrameReader(), []
    for start in range(0, len(frame), 7):  # as a socket may deliver them
        messages += reader.feed(frame[start:start + 7])
    assert [m[0]["op"] for m in messages] == ["x", "y"]
    header, received = messages[0]
    assert header["n"] == 3 and set(received) == set(arrays)
    for name, array in arrays.items():
        assert received[name].dtype == array.dtype and np.array_equal(received[name], array)
    mask = np.zeros(SHAPE, bool)
    mask[3, 4, 5] = mask[10, 0, 39] = True
    assert np.array_equal(unpack_mask(pack_mask(mask), SHAPE), mask)


def test_frames_that_could_carry_code_or_lie_about_sizes_are_refused():
    with pytest.raises(ProtocolError):
        encode({"op": "x"}, {"objects": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ProtocolError, match="magic"):
        FrameReader().feed(b"\x80\x04pickle-ish" + b"\0" * 20)
    good = encode({"op": "x"}, {"a": np.zeros(4, np.float32)})
    for forged in (good.replace(b'"float32"', b'"object "'), good.replace(b'"shape": [4]', b'"shape": [8]')):
        assert len(forged) == len(good)
        with pytest.raises(ProtocolError):
            FrameReader().feed(forged)
    with pytest.raises(ProtocolError):
        unpack_mask(np.array([[0, 0, 99]], np.int32), SHAPE)


# Lifetime, failures, security -------------------------------------------------------------


def test_a_killed_worker_gives_a_clear_message_and_the_next_segment_starts_a_fresh_one(scene, volume, roi,
                                                                                        tiny_model):
    logic = InteractiveSegmentationLogic(scene, EngineClient(threads=1))
    try:
        logic.segment(volume, roi, model_path=str(tiny_model), settings=FAST)
        paint_foreground(logic, volume, [(10, 20, 20)])
        before, first_pid = scene_state(scene), logic.engine.process.pid
        runner = RoundRunner(logic)
        runner.start(logic.plan_refine())
        logic.engine.process.kill()
        status = runner.wait(30)
        assert status.state == FAILED and not status.bug
        assert "stopped unexpectedly" in status.message and "Nothing was changed" in status.message
        assert scene_state(scene) == before and not logic.can_refine and not logic.busy
        logic.segment(volume, roi, model_path=str(tiny_model), settings=FAST)  # a new worker serves it
        assert logic.engine.process.pid != first_pid and logic.can_refine
    finally:
        logic.engine.close()


def test_a_worker_that_hangs_is_stopped_with_a_message(scene, volume, roi, tiny_model):
    logic = InteractiveSegmentationLogic(scene, EngineClient(threads=1))
    try:
        logic.segment(volume, roi, model_path=str(tiny_model), settings=FAST)
        paint_foreground(logic, volume, [(10, 20, 20)])
        logic.engine.hang_timeout = 1.0  # after the first Segment, which loads torch and the model
        process = logic.engine.process
        os.kill(process.pid, signal.SIGSTOP)  # alive, but it will never answer
        status = RoundRunner(logic).start_and_wait(logic.plan_refine(), timeout=30)
        assert status.state == FAILED and "did not answer" in status.message
        assert process.wait(10) is not None  # it was killed, not left behind
    finally:
        logic.engine.close()


def test_closing_the_connection_ends_a_local_worker(tiny_model):
    client = EngineClient(threads=1)
    client.ensure_started()
    process = client.process
    client.close()
    assert process.wait(10) is not None


def test_a_worker_that_hangs_before_listening_is_stopped_with_a_message(tmp_path, monkeypatch):
    # A stand-in for PythonSlicer that never prints its port: the panel must not wait for it for ever.
    hanging = tmp_path / "python"
    hanging.write_text("#!/bin/sh\nsleep 60\n")
    hanging.chmod(0o755)
    monkeypatch.setattr("InteractiveSegLib.engine_client.START_TIMEOUT", 1.0)
    client = EngineClient(python=str(hanging))
    started = time.monotonic()
    with pytest.raises(WorkerFailed, match="did not start"):
        client.ensure_started()
    assert time.monotonic() - started < 10
    assert client.process.poll() is not None  # killed, not left behind


def start_listening_worker(token: str):
    env = dict(os.environ, **{TOKEN_VARIABLE: token})
    env["PYTHONPATH"] = os.pathsep.join([str(ENGINE_FOLDER), env.get("PYTHONPATH", "")])
    process = subprocess.Popen([sys.executable, "-m", "interactiveseg", "worker", "--listen", "127.0.0.1:0",
                                "--threads", "1"], stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, text=True)
    line = process.stderr.readline()
    match = re.search(r"listening on 127\.0\.0\.1:(\d+) \(this machine only\)", line)
    assert match, line
    return process, int(match.group(1))


def test_a_listening_worker_serves_the_right_token_and_refuses_others(scene, volume, roi, tiny_model):
    process, port = start_listening_worker("right-token")
    try:
        with pytest.raises(WorkerFailed, match="refused"):
            EngineClient(host="127.0.0.1", port=port, token="wrong-token").ensure_started()
        import socket
        with socket.create_connection(("127.0.0.1", port)) as stranger:  # no hello: it is shown the door
            stranger.sendall(encode({"op": "segment", "id": 1}))
            reply = FrameReader().feed(stranger.recv(1 << 16))
            assert reply[0][0]["kind"] == "auth"
        remote = EngineClient(host="127.0.0.1", port=port, token="right-token")
        logic = InteractiveSegmentationLogic(scene, remote)
        result = logic.segment(volume, roi, model_path=str(tiny_model), settings=FAST)
        assert result.round == 0 and logic.rounds == 1
        remote.call("shutdown")
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_a_connection_that_never_gives_its_token_is_dropped_after_a_while():
    """A listening worker serves one client at a time: a silent one must not hold it."""
    import socket
    from interactiveseg.worker import Engine, serve_connection
    ours, theirs = socket.socketpair()
    with ours, theirs:
        started = time.monotonic()
        assert serve_connection(theirs, "right-token", Engine(), hello_timeout=0.3) == (False, False)
        assert 0.3 <= time.monotonic() - started < 2.0


def test_the_calls_that_follow_a_segment_are_answered_before_the_warm_up(tiny_model):
    """Warming up for the first Refine takes seconds; the panel's short calls after a Segment must not wait."""
    import socket
    from interactiveseg.worker import Engine, serve_connection

    class RecordingEngine(Engine):
        def __init__(self):
            super().__init__()
            self.log = []

        def handle(self, header, arrays, progress, cancel):
            self.log.append(header.get("op"))
            return super().handle(header, arrays, progress, cancel)

        def warm_up(self):
            self.log.append("warm-up")
            super().warm_up()

    def ask(sock, reader, header, arrays=None):
        sock.sendall(encode(header, arrays))
        while True:
            for reply, _ in reader.feed(sock.recv(1 << 20)):
                if reply.get("type") != "progress":
                    return reply

    engine = RecordingEngine()
    ours, theirs = socket.socketpair()
    serving = threading.Thread(target=serve_connection, args=(theirs, "right-token", engine), daemon=True)
    serving.start()
    with ours:
        reader = FrameReader()
        assert ask(ours, reader, {"op": "hello", "token": "right-token"})["type"] == "ok"
        assert ask(ours, reader, {"op": "load_volume", "id": 1, "spacing": [1, 1, 2], "origin": [0, 0, 0],
                                  "direction": np.eye(3).tolist()}, {"volume": blob_image()})["type"] == "ok"
        segmented = ask(ours, reader, {"op": "segment", "id": 2, "session": "s", "box": [11, 11, 6, 29, 29, 14],
                                       "model": str(tiny_model), "device": "cpu"})
        assert segmented["type"] == "result", segmented
        assert ask(ours, reader, {"op": "regions", "id": 3, "session": "s"})["type"] == "regions"
        waited = time.monotonic()
        while not engine.warm and time.monotonic() - waited < 30:  # then, with nothing more asked, it warms up
            time.sleep(0.05)
    serving.join(30)
    assert engine.log == ["load_volume", "segment", "regions", "warm-up"]


def test_a_computer_without_torch_segments_through_a_remote_engine(tiny_model):
    """The laptop of "a GPU server for a laptop": no torch on it at all, the worker elsewhere."""
    process, port = start_listening_worker("right-token")
    code = ("import sys; sys.modules['torch'] = None  # any 'import torch' now fails\n"
            "from slicer_scene import add_roi, add_volume, blob_image, new_scene\n"
            "from InteractiveSegLib.engine_client import EngineClient\n"
            "from InteractiveSegLib.logic import InteractiveSegmentationLogic\n"
            "scene = new_scene()\n"
            "volume = add_volume(scene, blob_image((20, 40, 40)), spacing=(1.0, 1.0, 2.0))\n"
            "roi = add_roi(scene, (20.0, 20.0, 20.0), (16, 16, 16))\n"
            f"engine = EngineClient(host='127.0.0.1', port={port}, token='right-token')\n"
            "logic = InteractiveSegmentationLogic(scene, engine)\n"
            f"result = logic.segment(volume, roi, model_path={str(tiny_model)!r}, settings={FAST!r})\n"
            "engine.call('shutdown')\n"
            "print(logic.rounds, result.voxels > 0)\n")
    here = Path(__file__).resolve().parent
    path = [str(here), str(ENGINE_FOLDER), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0 and done.stdout.split() == ["1", "True"], done.stderr[-2000:]
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()


def stopped(process):
    """A worker that takes no bytes for a while, as at the far end of a slow link (SIGSTOP; resumed after)."""
    class Pause:
        def __enter__(self):
            os.kill(process.pid, signal.SIGSTOP)

        def __exit__(self, *exc):
            os.kill(process.pid, signal.SIGCONT)
    return Pause()


LOAD_HEADER = {"spacing": [1.0, 1.0, 1.0], "origin": [0.0, 0.0, 0.0], "direction": np.eye(3).tolist(),
               "modality": "CT"}


def test_a_large_request_never_blocks_and_the_polls_send_it():
    client = EngineClient(threads=1)
    client.ensure_started()
    try:
        volume = blob_image((100, 256, 256))  # 13 MB: more than the socket buffers hold
        with stopped(client.process):
            started = time.monotonic()
            request_id = client.request("load_volume", LOAD_HEADER, {"volume": volume})
            assert time.monotonic() - started < 1.0 and client.sending > 0  # sendall would wait here
            time.sleep(0.2)
            assert client.poll() == [] and client.sending > 0
        deadline, replies = time.monotonic() + 30, []
        while not replies and time.monotonic() < deadline:
            replies = [h for h, _ in client.poll() if h.get("id") == request_id]
            time.sleep(0.01)
        assert replies and replies[0]["type"] == "ok" and client.sending == 0
    finally:
        client.close()


def test_cancel_while_the_volume_is_still_on_its_way_to_a_remote_engine_ends_at_once(scene, roi, tiny_model):
    process, port = start_listening_worker("right-token")
    try:
        large = add_volume(scene, blob_image((100, 256, 256)), name="large")
        logic = InteractiveSegmentationLogic(scene, EngineClient(host="127.0.0.1", port=port, token="right-token"))
        logic.engine.ensure_started()
        runner = RoundRunner(logic)
        with stopped(process):  # a slow link: the engine takes nothing for now
            runner.start(logic.plan_segment(large, roi, model_path=str(tiny_model), settings=FAST))
            assert runner.poll().state == RUNNING and "sending to the engine" in runner.status.message
            pressed = time.monotonic()
            runner.cancel()
            assert runner.status.state == CANCELLED and time.monotonic() - pressed < 1.0
        assert not logic.busy and logic.rounds == 0
        status = runner.start_and_wait(logic.plan_segment(large, roi, model_path=str(tiny_model), settings=FAST), 120)
        assert status.state == DONE and logic.rounds == 1  # a new connection took the volume whole
        logic.engine.call("shutdown")
    finally:
        if process.poll() is None:
            process.kill()


# Speed as the module sees it: cancel, and a main thread that holds the GIL ------------------


def start_a_long_refine(scene, engine, volume, roi, tiny_model) -> tuple:
    """(logic, runner) with a refine round running that would take minutes."""
    logic = InteractiveSegmentationLogic(scene, engine)
    logic.segment(volume, roi, model_path=str(tiny_model), settings=dict(FAST, iterations=100000))
    paint_foreground(logic, volume, [(10, 20, 20)])
    runner = RoundRunner(logic)
    runner.start(logic.plan_refine())
    return logic, runner


def test_cancel_stops_a_long_round_within_a_second(scene, engine, volume, roi, tiny_model):
    logic, runner = start_a_long_refine(scene, engine, volume, roi, tiny_model)
    while runner.poll().state == RUNNING and not runner.status.message.startswith("fine-tuning"):
        time.sleep(0.01)
    pressed = time.monotonic()
    runner.cancel()
    status = runner.wait(10)
    assert status.state == CANCELLED and time.monotonic() - pressed < 1.0
    assert logic.can_refine and logic.rounds == 1  # the first round is still there to refine


def test_a_round_dropped_as_its_scene_closes_ends_quietly(scene, engine, volume, roi, tiny_model):
    logic, runner = start_a_long_refine(scene, engine, volume, roi, tiny_model)
    runner.drop()  # the scene closes and its worker with it: nothing is asked of the busy worker
    assert not logic.engine.connected
    status = runner.poll()
    assert status.state == CANCELLED and "scene was closed" in status.message and not logic.busy


def hold_the_gil(seconds: float) -> None:
    """Block in C code *without* releasing the GIL, as Slicer's idle main thread does.

    ctypes.PyDLL keeps the GIL during the call (CDLL would release it); usleep uses no CPU,
    so the test measures the GIL, not competition for the machine's cores.
    """
    ctypes.PyDLL(None).usleep(int(seconds * 1e6))


def test_holding_the_gil_as_slicer_does_starves_a_python_thread():
    """The condition the next test reproduces: work on a thread of this process barely runs."""
    counts = []

    def count(stop):
        n = 0
        while not stop.is_set():
            n += 1
        counts.append(n)

    # Between two holds the thread gets about one switch interval (5 ms): long holds make that share small
    # (about 1/40 here), so the measure stays far from its bound on a busy machine.
    for gap in (lambda: time.sleep(0.2), lambda: hold_the_gil(0.2)):
        stop = threading.Event()
        thread = threading.Thread(target=count, args=(stop,))
        thread.start()
        for _ in range(3):
            gap()
        stop.set()
        thread.join()
    free, held = counts
    assert held < free / 5


def timed_refine(logic, volume, poll_gap) -> float:
    paint_foreground(logic, volume, [(10, 20, 20), (10, 21, 20)])
    runner = RoundRunner(logic)
    start = time.perf_counter()
    runner.start(logic.plan_refine())
    while not runner.poll().finished:
        poll_gap()
    assert runner.status.state == DONE, runner.status.message
    return time.perf_counter() - start


def test_a_round_keeps_its_speed_while_the_main_thread_holds_the_gil(scene, engine, volume, roi, tiny_model):
    logic = InteractiveSegmentationLogic(scene, engine)
    logic.segment(volume, roi, model_path=str(tiny_model), settings=dict(FAST, iterations=300))
    timed_refine(logic, volume, lambda: time.sleep(0.01))  # warm-up
    idle = np.median([timed_refine(logic, volume, lambda: time.sleep(0.01)) for _ in range(2)])
    busy = np.median([timed_refine(logic, volume, lambda: hold_the_gil(0.1)) for _ in range(2)])
    # on a thread of this process the round would stall like the counter above; in the worker it cannot
    assert busy < 1.5 * idle + 0.25, f"idle {idle:.2f} s, busy {busy:.2f} s"
