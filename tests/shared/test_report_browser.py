"""The report in a real headless browser: Debian's chromium loads it with no console errors
and a screenshot of it is not blank.

chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON
messages ending in NUL on file descriptors 3 and 4), with the standard library only. CI installs
chromium with ``scripts/browser-deps.sh``; without it these tests are skipped.
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _report_fixtures import write_all
from PIL import Image

from racelens.shared.report.build import write_report

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium")
                                        else None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
         "--remote-debugging-pipe"]


class Chromium:
    """A headless chromium driven over the DevTools pipe; collects console errors of one page."""

    def __init__(self, profile: Path, timeout: float = 60.0) -> None:
        self.timeout = timeout
        to_r, self._to_w = os.pipe()
        self._from_r, from_w = os.pipe()

        def _fds() -> None:  # chromium reads commands on fd 3 and writes replies on fd 4
            # copy both ends above 10 first so neither dup2 can overwrite the other; dup2 makes
            # 3 and 4 inheritable, every other descriptor Python opened is close-on-exec
            a, b = fcntl.fcntl(to_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        profile.mkdir(parents=True, exist_ok=True)
        self._log = open(profile.parent / "chromium-stderr.log", "w+b")  # noqa: SIM115
        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._log, preexec_fn=_fds, close_fds=False)
        os.close(to_r)
        os.close(from_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []
        self.session = ""

    def _read(self, until: float) -> dict[str, Any] | None:
        while b"\0" not in self._buf:
            left = until - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self._from_r], [], [], left)
            if ready:
                chunk = os.read(self._from_r, 1 << 20)
                if not chunk:
                    self._log.seek(0)
                    raise RuntimeError("chromium closed the DevTools pipe: "
                                       + self._log.read().decode(errors="replace")[-2000:])
                self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return json.loads(msg)

    def send(self, method: str, params: dict[str, Any] | None = None, *,
             browser: bool = False) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if self.session and not browser:
            msg["sessionId"] = self.session
        os.write(self._to_w, json.dumps(msg).encode() + b"\0")
        until = time.monotonic() + self.timeout
        while (reply := self._read(until)) is not None:
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)
        raise TimeoutError(f"{method}: no reply from chromium in {self.timeout}s")

    def wait_event(self, method: str, seconds: float) -> bool:
        if any(e.get("method") == method for e in self.events):
            return True
        until = time.monotonic() + seconds
        while (event := self._read(until)) is not None:
            self.events.append(event)
            if event.get("method") == method:
                return True
        return False

    def open(self, url: str, width: int = 1280, height: int = 2000) -> None:
        page = next(t for t in self.send("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self.session = self.send("Target.attachToTarget",
                                 {"targetId": page["targetId"], "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        self.events.clear()
        self.send("Page.navigate", {"url": url})
        if not self.wait_event("Page.loadEventFired", self.timeout):
            raise TimeoutError(f"{url} did not load in {self.timeout}s")
        self.wait_event("never", 0.5)  # late console messages

    def errors(self) -> list[str]:
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(f"{p['entry']['source']}: {p['entry']['text']}")
        return out

    def screenshot(self, full_page: bool = False) -> bytes:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                              "scale": 1}
        return base64.b64decode(self.send("Page.captureScreenshot", params)["data"])

    def close(self) -> None:
        try:
            self.send("Browser.close", browser=True)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_w)
        os.close(self._from_r)
        self._log.close()


@pytest.fixture()
def browser(tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed; run scripts/browser-deps.sh (apt-get install chromium)")
    b = Chromium(tmp_path / "profile")
    yield b
    b.close()


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)


def test_report_loads_without_console_errors_and_renders(tmp_path, browser):
    paths = write_report(write_all(tmp_path / "runs"), tmp_path / "out" / "report.html")
    browser.open(paths["html"].as_uri())
    assert browser.errors() == []
    title = browser.send("Runtime.evaluate", {"expression": "document.title"})["result"]["value"]
    assert title.startswith("racelens report")
    # every embedded figure decoded (an <img> that failed would have naturalWidth 0)
    imgs = browser.send("Runtime.evaluate", {"returnByValue": True, "expression": (
        "Array.from(document.images).map(i => [i.complete, i.naturalWidth])")})["result"]["value"]
    assert len(imgs) == 3 and all(ok and w > 100 for ok, w in imgs)  # AUC panels + 2 ROC
    shot = browser.screenshot()
    px = _pixels(shot)
    assert px.shape[:2] == (2000, 1280)
    assert px.std() > 20  # not blank
    assert (px < 250).any(axis=2).mean() > 0.05  # more than a few dark pixels: content drawn
    (tmp_path / "out" / "screenshot.png").write_bytes(shot)
    if os.environ.get("RACELENS_KEEP_SCREENSHOT"):  # for a human look at the page
        Path(os.environ["RACELENS_KEEP_SCREENSHOT"]).write_bytes(browser.screenshot(full_page=True))


def test_helper_does_see_console_errors(tmp_path, browser):
    """The check above is only worth something if a broken page fails it."""
    page = tmp_path / "broken.html"
    page.write_text("<!doctype html><html><head><title>x</title></head><body>"
                    "<script>console.error('planted error'); undefinedFunction();</script>"
                    f"<img src='{(tmp_path / 'missing.png').as_uri()}'></body></html>")
    browser.open(page.as_uri())
    errs = " | ".join(browser.errors())
    assert "planted error" in errs and "undefinedFunction" in errs and "ERR_FILE_NOT_FOUND" in errs
    px = _pixels(browser.screenshot())
    assert px.std() < 1  # a blank page is recognised as blank
