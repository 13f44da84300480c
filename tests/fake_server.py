"""What the local fakes of model APIs share: a loopback HTTP server answering POSTs from a
script, fault entries, and JSON replies. Each fake (fake_gemini, fake_openai) supplies its
routes, its error shape and how it fills a reply in."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Delay:
    """Answer only after `seconds` (longer than the client's timeout, the client gives up)."""

    seconds: float
    then: Any = None


@dataclass
class RawBody:
    """A 200 whose body is exactly these bytes (e.g. not JSON)."""

    data: bytes


class ScriptedServer:
    """`script` entries: a reply dict, an HTTP error (anything with status, headers and
    payload()), a Delay, a RawBody, or a function of the request -> entry."""

    path_prefix = ""

    def __init__(self, script: list | None = None):
        self.script: list = list(script or [])
        self.requests: list = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                fake._handle(self)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}{self.path_prefix}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, *entries) -> None:
        with self._lock:
            self.script.extend(entries)

    def next_entry(self, seen, exhausted) -> Any:
        """Keep the request and take the next scripted entry (`exhausted` when none is left)."""
        with self._lock:
            self.requests.append(seen)
            return self.script.pop(0) if self.script else exhausted

    def answer(self, handler, entry, request, late, finish_body=lambda body: body) -> None:
        if callable(entry):
            entry = entry(request)
        if isinstance(entry, Delay):
            time.sleep(entry.seconds)
            entry = entry.then if entry.then is not None else late
        try:
            if isinstance(entry, RawBody):
                send_json(handler, 200, entry.data)
            elif hasattr(entry, "payload"):
                send_json(handler, entry.status, entry.payload(), entry.headers)
            else:
                send_json(handler, 200, json.dumps(finish_body(dict(entry))).encode())
        except (BrokenPipeError, ConnectionResetError):  # the client stopped waiting (a timeout test)
            pass

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError


def send_json(handler, status: int, payload: bytes, headers: dict | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json; charset=UTF-8")
    handler.send_header("Content-Length", str(len(payload)))
    for k, v in (headers or {}).items():
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(payload)
