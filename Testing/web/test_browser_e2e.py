"""End to end: a person's clicks in Debian's chromium, asserted on the server's scene and on what the views show.

Starts `python -m interactiveseg_web.commands sample` on a free loopback port, then in the
page: refuses Refine without a box and a file that is not an image, places a box with two
clicks, presses Segment, paints one foreground stroke, presses Refine, saves, undoes, and
uploads an image. The scene facts come from the server (its `summary` state, computed from
the MRML scene) and from the saved .seg.nrrd; what the user sees comes from screenshots of
regions of the axial view: a colour there, or not. The screenshot goes to
output/web-e2e.png for CI's artefacts.
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


def view_width(page, view) -> float:
    """A view's width on the page; 0 while it is not shown (another view fills the page)."""
    marker = page.locator(f"#view-{view}")
    box = marker.bounding_box() if marker.count() else None
    return box["width"] if box else 0.0


def view_colours(page, view, left, top, right, bottom, tmp_dir) -> np.ndarray:
    """RGB pixels of a region of a view, the region given in fractions of the view's size."""
    box = page.locator(f"#view-{view}").bounding_box()
    clip = {"x": box["x"] + left * box["width"], "y": box["y"] + top * box["height"],
            "width": (right - left) * box["width"], "height": (bottom - top) * box["height"]}
    path = tmp_dir / "region.png"
    page.screenshot(path=str(path), clip=clip)
    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))[..., :3].astype(int)


def amber(rgb):  # the segment's colour (display.SEGMENT_COLOUR), filled or outlined, over grey
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return (r - b > 50) & (g - b > 35) & (abs(r - g) < 70)


def green(rgb):  # the foreground scribbles
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return (g - r > 50) & (g - b > 40)


def red(rgb):  # the box's outline
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return (r - g > 70) & (r - b > 70)


def red_tint(rgb):  # a semi-opaque red fill over grey: redder than green and blue, which stay alike
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return (r - g > 40) & (abs(g - b) < 8) & (g > 40)


def shows(page, region, colour, tmp_dir) -> int:
    return int(colour(view_colours(page, "Red", *region, tmp_dir)).sum())


INSIDE_BOX = (0.42, 0.42, 0.58, 0.58)  # the box is clicked from 0.38 to 0.62 of the axial view
STROKE = (0.44, 0.48, 0.56, 0.52)  # a band around the foreground stroke
BOX_EDGE = (0.36, 0.40, 0.40, 0.60)  # the box's left edge
BOX_LEFT_HALF = (0.40, 0.42, 0.47, 0.58)  # inside the box, clear of its centre handle


def test_another_sites_page_cannot_reach_the_server(server):
    """The page can read and write files on the server: a page of another site must not drive it."""
    import http.client

    def status(path, **headers):
        connection = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=10)
        try:
            connection.request("GET", path, headers=headers)
            return connection.getresponse().status
        finally:
            connection.close()
    handshake = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                 "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    own = f"http://127.0.0.1:{server['port']}"
    assert status("/") in (200, 302)  # the page (or the redirect to it)
    assert status("/ws", Origin=own, **handshake) == 101  # the page's own websocket
    assert status("/ws", Origin="http://evil.example", **handshake) == 403
    assert status("/", Host=f"rebound.evil.example:{server['port']}") == 403


def test_box_segment_paint_refine_in_the_browser(server, page):
    tmp_dir = server["out"]
    _wait(lambda: summary(page).get("volume") == "CTChest4", 60, "the sample to load")
    start = summary(page)

    # Each view says what it is and which way the patient faces, and can fill the page and go back.
    assert page.inner_text("#view-Red-name") == "Axial" and page.inner_text("#view-Green-name") == "Coronal"
    assert [page.inner_text(f"#view-Red-{edge}") for edge in ("left", "right", "top", "bottom")] == ["R", "L", "A", "P"]
    quarter = view_width(page, "Red")
    page.click("#view-Red-enlarge")
    _wait(lambda: view_width(page, "Red") > 1.7 * quarter, 20, "the enlarged view")
    assert view_width(page, "Green") == 0
    page.click("#view-Red-enlarge")
    _wait(lambda: abs(view_width(page, "Red") - quarter) < 2 and view_width(page, "Green") > 0, 20, "four views again")

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
    placed = idle_after(page, lambda s: s["box"], 30, "the box to be placed")
    assert "Box placed: check its top and bottom" in state(page, "status_text")
    first_slice, last_slice = placed["box_slices"]
    _wait(lambda: page.input_value("#box-first") == str(first_slice), 20, "the box's first slice in the panel")
    assert page.input_value("#box-last") == str(last_slice)
    _wait(lambda: shows(page, BOX_EDGE, red, tmp_dir), 20, "the box's outline")

    page.click("#segment-button")
    first = idle_after(page, lambda s: s["rounds"] == 1, 120, "the first round")
    assert first["segment_voxels"] > 0, state(page, "status_text")
    assert state(page, "status_text").startswith("Round 1 done") and "after round 1" in state(page, "summary_text")
    # An outline, not a fill: the segment's colour shows inside the box.
    _wait(lambda: shows(page, INSIDE_BOX, amber, tmp_dir) > 20, 20, "the segment to show inside the box")
    inside = view_colours(page, "Red", *BOX_LEFT_HALF, tmp_dir)
    assert red_tint(inside).mean() < 0.01, "the box is filled: it tints what lies inside it"

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
    assert state(page, "status_text").startswith("Round 2 done") and "after round 2" in state(page, "summary_text")
    _wait(lambda: shows(page, STROKE, green, tmp_dir) > 10, 20, "the stroke in the view")
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

    # Undo takes the stroke out of the data and out of the view, also after a reload of the page.
    page.click("#undo-button")
    undone = idle_after(page, lambda s: s["rounds"] == 1, 30, "the undo")
    assert undone["foreground_voxels"] == 0 and undone["segment_digest"] == first["segment_digest"]
    _wait(lambda: shows(page, STROKE, green, tmp_dir) == 0, 20, "the stroke to leave the view")
    page.reload()
    page.wait_for_selector("#segment-button", timeout=60_000)
    _wait(lambda: summary(page).get("rounds") == 1, 30, "the page to reconnect")
    time.sleep(1)  # the views' first image after a reload
    assert shows(page, STROKE, green, tmp_dir) == 0

    # Upload from the browser: the file goes to the server's upload folder and becomes the volume.
    page.set_input_files("#upload-input", str(SAMPLE_IMAGE))
    uploaded = server["out"] / "uploads" / SAMPLE_IMAGE.name
    _wait(lambda: state(page, "volume_path") == str(uploaded) and not state(page, "busy"), 60, "the upload to load")
    assert not state(page, "status_error"), state(page, "status_text")
    assert uploaded.read_bytes() == SAMPLE_IMAGE.read_bytes()
    fresh = idle_after(page, lambda s: s["rounds"] == 0 and not s["box"], 20, "a fresh start on the uploaded volume")
    assert fresh["volumes_in_scene"] == 1  # the old volume node is gone, not kept beside the new one
    assert "not saved" in state(page, "status_text")  # the undone-to round was kept on disk, not lost
    _wait(lambda: not shows(page, INSIDE_BOX, amber, tmp_dir) and not shows(page, BOX_EDGE, red, tmp_dir), 20,
          "the old segment and box to leave the view")
    assert server["process"].poll() is None
