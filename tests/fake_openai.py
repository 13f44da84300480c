"""A local fake of an OpenAI-compatible Chat Completions server, for running the adapter offline.

A loopback HTTP server that answers `POST .../chat/completions` from a script: each entry is
a reply in the JSON shape OpenAI, Ollama and vLLM return (`choices[0].message` with `content`,
`tool_calls` whose arguments are a JSON string, `reasoning_content`, `usage`), a fault (an
HTTP error with headers, a delay past the client's timeout, a body that is not JSON), or a
function of the request body. Every request is kept, parsed, for tests to assert on.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# -- building replies in the API's JSON shape ----------------------------------------------------


def call(name: str, args: dict | str, call_id: str) -> dict:
    """A tool call; `args` as a string is sent verbatim (malformed JSON, say)."""
    arguments = args if isinstance(args, str) else json.dumps(args)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def reply(
    content: str | None = None,
    *calls: dict,
    finish: str | None = None,
    usage: dict | None = None,
    reasoning: str | None = None,
    reasoning_field: str = "reasoning_content",
) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = list(calls)
    if reasoning is not None:
        message[reasoning_field] = reasoning
    choice = {"index": 0, "message": message, "finish_reason": finish or ("tool_calls" if calls else "stop")}
    body = {"id": "chatcmpl-fake", "object": "chat.completion", "model": "fake-model", "choices": [choice]}
    if usage is not None:
        body["usage"] = usage
    return body


def usage(prompt: int, completion: int, cached: int = 0, reasoning: int = 0) -> dict:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


# -- faults -----------------------------------------------------------------------------------


@dataclass
class HttpError:
    status: int
    message: str = "fake error"
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        return json.dumps({"error": {"message": self.message, "type": "invalid_request_error", "code": None}}).encode()


@dataclass
class Delay:
    """Answer only after `seconds` (longer than the client's timeout, the client gives up)."""

    seconds: float
    then: Any = None


@dataclass
class RawBody:
    """A 200 whose body is exactly these bytes (e.g. not JSON)."""

    data: bytes


# -- the server -------------------------------------------------------------------------------


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]
    body: dict


class FakeOpenAI:
    """`script` entries: a reply dict, a fault, or a function of the request body -> entry.
    `api_key`: when set, a request without `Authorization: Bearer <api_key>` gets a 401."""

    def __init__(self, script: list | None = None, api_key: str | None = None):
        self.script: list = list(script or [])
        self.requests: list[SeenRequest] = []
        self.api_key = api_key
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                fake._handle(self)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, *entries) -> None:
        with self._lock:
            self.script.extend(entries)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        if handler.path != "/v1/chat/completions":
            return _send(handler, 404, HttpError(404, f"no route {handler.path}").payload())
        if self.api_key is not None and handler.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _send(handler, 401, HttpError(401, "Incorrect API key provided").payload())
        seen = SeenRequest(handler.path, dict(handler.headers), json.loads(raw))
        with self._lock:
            self.requests.append(seen)
            entry = self.script.pop(0) if self.script else HttpError(500, "fake server: script exhausted")
        if callable(entry):
            entry = entry(seen.body)
        if isinstance(entry, Delay):
            time.sleep(entry.seconds)
            entry = entry.then if entry.then is not None else reply("late")
        try:
            if isinstance(entry, HttpError):
                _send(handler, entry.status, entry.payload(), entry.headers)
            elif isinstance(entry, RawBody):
                _send(handler, 200, entry.data)
            else:
                _send(handler, 200, json.dumps(entry).encode())
        except (BrokenPipeError, ConnectionResetError):  # the client stopped waiting (a timeout test)
            pass


def _send(handler, status: int, payload: bytes, headers: dict | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    for k, v in (headers or {}).items():
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(payload)


# -- reading requests ---------------------------------------------------------------------------


def image_urls(message: dict) -> list[dict]:
    """The image_url objects of a message's content, in order."""
    content = message.get("content")
    return [c["image_url"] for c in content if c.get("type") == "image_url"] if isinstance(content, list) else []
