"""End to end: a person's clicks in Debian's chromium, asserted on the server's scene.

Starts `python -m interactiveseg_web.commands sample` on a free loopback port, then in the
page: refuses Refine without a box and a file that is not an image, places a box with two
clicks, presses Segment, paints one foreground stroke, presses Refine, saves, and uploads an image. The scene
facts come from the server (its `summary` state, computed from the MRML scene) and from
the saved .seg.nrrd. The screenshot goes to output/web-e2e.png for CI's artefacts.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from playwright.sync_api import sync_playwright

from interactiveseg.demo import SAMPLE_IMAGE
from web_helpers import FAST, REPO

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOT = REPO / "output" / "web-e2e.png"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(condition, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="module")
def server(tiny_model, tmp_path_factory):
    """The web app on a free 127.0.0.1 port; killed by its process id whatever happens."""
    port, out = _free_port(), tmp_path_factory.mktemp("web")
    log = open(out / "server.log", "w")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "InteractiveSeg"), os.environ.get("PYTHONPATH", "")]),
               VTK_DEFAULT_OPENGL_WINDOW="vtkEGLRenderWindow")
    env.pop("DISPLAY", None)
    command = [sys.executable, "-m", "interactiveseg_web.commands", "sample", "--port", str(port),
               "--model", str(tiny_model), "--settings", '{"iterations": %d, "alternations": %d}'
               % (FAST["iterations"], FAST["alternations"]), "--output-dir", str(out)]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        def serving():
            assert process.poll() is None, f"server exited:\n{(out / 'server.log').read_text()[-3000:]}"
            try:
                return urllib.request.urlopen(url, timeout=2).status == 200
            except OSError:
                return False
        _wait(serving, 120, "the server to answer")
        yield {"url": url, "port": port, "out": out, "process": process}
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def page(server):
    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 850})
            page.goto(server["url"])
            page.wait_for_selector("#segment-button", timeout=60_000)
            yield page
        finally:
            browser.close()


def state(page, name):
    return page.evaluate("(name) => window.trame.state.get(name)", name)


def summary(page) -> dict:
    return state(page, "summary") or {}


def idle_after(page, predicate, timeout, what):
    """Wait until the server is not computing and the scene facts satisfy `predicate`."""
    return _wait(lambda: (not state(page, "busy") and predicate(summary(page))) and summary(page), timeout, what)


def click_in_view(page, view, fx, fy):
    box = page.locator(f"#view-{view}").bounding_box()
    x, y = box["x"] + fx * box["width"], box["y"] + fy * box["height"]
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.up()
    return x, y


def test_box_segment_paint_refine_in_the_browser(server, page):
    _wait(lambda: summary(page).get("volume") == "CTChest4.nrrd", 60, "the sample to load")
    start = summary(page)

    # Bad input first: a message on the page, the scene unchanged, the server still serving.
    page.click("#refine-button")
    _wait(lambda: state(page, "status_error"), 20, "the refusal of Refine without a box")
    assert "Place a box" in page.locator("#status").inner_text()
    not_an_image = server["out"] / "notes.nrrd"
    not_an_image.write_text("not an image\n")
    page.fill("#volume-path", str(not_an_image))
    page.click("#load-button")
    _wait(lambda: "Cannot read" in (state(page, "status_text") or ""), 20, "the refusal of a non-image")
    assert summary(page) == start

    # Box: two clicks in the axial view (Slicer's ROI placement: one corner, then the opposite one).
    page.click("#box-button")
    _wait(lambda: "opposite corner" in (state(page, "status_text") or ""), 20, "place mode")
    click_in_view(page, "Red", 0.38, 0.38)
    click_in_view(page, "Red", 0.62, 0.62)
    idle_after(page, lambda s: s["box"], 30, "the box to be placed")

    page.click("#segment-button")
    first = idle_after(page, lambda s: s["rounds"] == 1, 120, "the first round")
    assert first["segment_voxels"] > 0, state(page, "status_text")

    # One foreground stroke through the middle of the box.
    page.click("#tool-foreground")
    _wait(lambda: state(page, "tool") == "foreground", 20, "the paint tool")
    box = page.locator("#view-Red").bounding_box()
    y = box["y"] + 0.5 * box["height"]
    page.mouse.move(box["x"] + 0.46 * box["width"], y)
    page.mouse.down()
    for step in range(1, 9):
        page.mouse.move(box["x"] + (0.46 + 0.01 * step) * box["width"], y)
        time.sleep(0.05)  # paced like a hand, so the view sees a stroke, not a jump
    page.mouse.up()
    painted = idle_after(page, lambda s: s["foreground_voxels"] > 0, 60, "the stroke to land in the scene")

    page.click("#refine-button")
    second = idle_after(page, lambda s: s["rounds"] == 2, 240, "the refined round")
    assert not state(page, "status_error"), state(page, "status_text")
    assert second["segment_voxels"] > 0
    assert second["segment_digest"] != first["segment_digest"]
    assert second["foreground_voxels"] == painted["foreground_voxels"]
    assert second["foreground_in_segment"] == second["foreground_voxels"]

    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))

    page.click("#save-button")
    _wait(lambda: (state(page, "status_text") or "").startswith("Saved"), 30, "the save")
    saved = sitk.GetArrayFromImage(sitk.ReadImage(str(server["out"] / "CTChest4.seg.nrrd")))
    assert int(np.count_nonzero(saved)) == second["segment_voxels"]

    # Upload from the browser: the file goes to the server's upload folder and becomes the volume.
    page.set_input_files("#upload-input", str(SAMPLE_IMAGE))
    uploaded = server["out"] / "uploads" / SAMPLE_IMAGE.name
    _wait(lambda: state(page, "volume_path") == str(uploaded) and not state(page, "busy"), 60, "the upload to load")
    assert not state(page, "status_error"), state(page, "status_text")
    assert uploaded.read_bytes() == SAMPLE_IMAGE.read_bytes()
    idle_after(page, lambda s: s["rounds"] == 0 and not s["box"], 20, "a fresh start on the uploaded volume")
    assert server["process"].poll() is None
