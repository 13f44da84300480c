"""A local fake of an OpenAI-compatible Chat Completions server, for running the adapter offline.

A loopback HTTP server that answers `POST .../chat/completions` from a script: each entry is
a reply in the JSON shape OpenAI, Ollama and vLLM return (`choices[0].message` with `content`,
`tool_calls` whose arguments are a JSON string, `reasoning_content`, `usage`), a fault (an
HTTP error with headers, a delay past the client's timeout, a body that is not JSON), or a
function of the request body. Every request is kept, parsed, for tests to assert on.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fake_server import ScriptedServer, send_json

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


# -- the server -------------------------------------------------------------------------------


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]
    body: dict


class FakeOpenAI(ScriptedServer):
    """`script` entries: a reply dict, a fault, or a function of the request body -> entry.
    `api_key`: when set, a request without `Authorization: Bearer <api_key>` gets a 401."""

    path_prefix = "/v1"

    def __init__(self, script: list | None = None, api_key: str | None = None):
        super().__init__(script)
        self.api_key = api_key

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        if handler.path != "/v1/chat/completions":
            return send_json(handler, 404, HttpError(404, f"no route {handler.path}").payload())
        if self.api_key is not None and handler.headers.get("Authorization") != f"Bearer {self.api_key}":
            return send_json(handler, 401, HttpError(401, "Incorrect API key provided").payload())
        seen = SeenRequest(handler.path, dict(handler.headers), json.loads(raw))
        entry = self.next_entry(seen, HttpError(500, "fake server: script exhausted"))
        self.answer(handler, entry, seen.body, reply("late"))


# -- reading requests ---------------------------------------------------------------------------


def image_urls(message: dict) -> list[dict]:
    """The image_url objects of a message's content, in order."""
    content = message.get("content")
    return [c["image_url"] for c in content if c.get("type") == "image_url"] if isinstance(content, list) else []
