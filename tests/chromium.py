"""A real headless Chromium driven over the DevTools protocol, for tests that look at pages.

Chromium is started with --remote-debugging-pipe: commands go in on its fd 3 and answers come
out on its fd 4, as JSON messages ended by a NUL byte. No Python package is needed, and the
viewport is set exactly (a headless window is never narrower than 500 px, a phone is).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
FLAGS = [
    "--headless",
    "--no-sandbox",  # the test machine's user namespaces belong to bwrap; the pages are our own files
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--mute-audio",
]


def _above_four(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


def find_chromium() -> str | None:
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


@dataclass
class PageLoad:
    """What a page did when loaded at one width."""

    width: int
    result: dict  # what the page's own probe returned (see PROBE)
    console_errors: list[str] = field(default_factory=list)
    screenshot: bytes | None = None


# Run in the page after it loaded: its width against the viewport, every image, every link, and
# what a page made of hostile text must not contain (scripts, event handlers, script URLs).
PROBE = r"""(() => {
  const root = document.documentElement;
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width && (r.right > root.clientWidth + 1 || r.left < -1) && wide.length < 8)
      wide.push(`${el.tagName.toLowerCase()}.${el.className} right=${Math.round(r.right)}`);
  }
  return {
    innerWidth: window.innerWidth, clientWidth: root.clientWidth, scrollWidth: root.scrollWidth, wide,
    // anything drawn past the left edge cannot be scrolled to, so scrollWidth does not show it
    images: [...document.images].map(i => ({alt: i.alt, loaded: i.complete && i.naturalWidth > 0,
                                             shown: Math.round(i.getBoundingClientRect().width)})),
    links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id),
    scripts: document.scripts.length,
    handlers: [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => /^on/i.test(a.name))).length,
    scriptUrls: [...document.querySelectorAll('[href],[src],[action],[formaction]')]
      .map(e => e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('action') || e.getAttribute('formaction'))
      .filter(u => /^\s*(javascript|vbscript|data:text\/html)/i.test(u)),
    pwned: typeof window.__pwned,
    text: document.body.innerText,
  };
})()"""


class Chromium:
    def __init__(self, executable: str, timeout: float = 60.0):
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="chromium-profile-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # above 4, so that putting one end on fd 3 or 4 cannot overwrite the other
        to_browser_r, from_browser_w = (_above_four(fd) for fd in (to_browser_r, from_browser_w))
        # bash (dash takes single-digit fds only) moves the two pipe ends onto fds 3 and 4, where Chromium looks for them
        script = f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w} {to_browser_r}<&- {from_browser_w}>&-'
        self.proc = subprocess.Popen(
            ["bash", "-c", script, executable, *FLAGS, f"--user-data-dir={self._profile}", "--remote-debugging-pipe"],
            pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict] = []

    def close(self) -> None:
        try:
            self._send("Browser.close")
        except (OSError, TimeoutError, RuntimeError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def load(self, path: Path, width: int, height: int = 900, screenshot: bool = False) -> PageLoad:
        """Open the file in a fresh tab `width` CSS pixels wide (a phone's viewport below 600),
        wait for it to load, and run PROBE in it."""
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        try:
            for domain in ("Page", "Runtime", "Log"):
                self._send(f"{domain}.enable", session=session)
            self._send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
                session=session,
            )
            self._events.clear()
            self._send("Page.navigate", {"url": Path(path).resolve().as_uri()}, session=session)
            self._wait_event("Page.loadEventFired", session)
            result = self._send("Runtime.evaluate", {"expression": PROBE, "returnByValue": True}, session=session)[
                "result"
            ]["value"]
            shot = None
            if screenshot:
                size = self._send("Page.getLayoutMetrics", session=session)["cssContentSize"]
                self._send(
                    "Emulation.setDeviceMetricsOverride",
                    {
                        "width": width,
                        "height": min(int(size["height"]) + 1, 16000),
                        "deviceScaleFactor": 1,
                        "mobile": width < 600,
                    },
                    session=session,
                )
                shot = base64.b64decode(
                    self._send("Page.captureScreenshot", {"format": "png"}, session=session)["data"]
                )
            return PageLoad(width, result, self._console_errors(session), shot)
        finally:
            self._send("Target.closeTarget", {"targetId": target})

    # -- the protocol ---------------------------------------------------------------------------
    def _console_errors(self, session: str) -> list[str]:
        errors = []
        for e in self._events:
            if e.get("sessionId") != session:
                continue
            params = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                errors.append(params["exceptionDetails"].get("text", "exception"))
            elif e["method"] == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
            elif e["method"] == "Log.entryAdded" and params["entry"].get("level") == "error":
                errors.append(f"{params['entry'].get('source')}: {params['entry'].get('text')}")
        return errors

    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)

    def _wait_event(self, method: str, session: str) -> dict:
        while True:
            for e in self._events:
                if e["method"] == method and e.get("sessionId") == session:
                    return e
            message = self._read()
            if "method" in message:
                self._events.append(message)

    def _read(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError(f"Chromium did not answer within {self.timeout:.0f} s")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError(f"Chromium exited (code {self.proc.poll()})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)
