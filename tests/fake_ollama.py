"""A local fake of Ollama's native chat API (`POST /api/chat`), for running the ollama: adapter offline.

A loopback HTTP server that answers from a script, like the other fakes: each entry is a reply
in Ollama's JSON shape (`message` with `content`, `thinking`, `tool_calls` whose arguments are
an object; `done_reason`; `prompt_eval_count`, `eval_count`), a fault, or a function of the
request body. Every request is kept, parsed.

It checks what the real server checks before a model sees anything, and answers with Ollama's
error shape (`{"error": "..."}`): a message whose `content` is not a string (the OpenAI list
form) is a 400 from Go's JSON decoder; an image that is not base64 is a 400 "illegal base64
data". Like the real server it fits the prompt into the context length in force
(`options.num_ctx`, else `default_context`, 4096 as on most machines): the oldest non-system
messages are dropped, whole, the last one kept, and what still does not fit is cut, so
`prompt_eval_count` (the whole prompt read, cached part included, as Ollama counts it since
0.30) is never above the context.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fake_server import ScriptedServer, send_json

CHARS_PER_TOKEN = 4
IMAGE_TOKENS = 800


def call(name: str, args: dict) -> dict:
    return {"function": {"name": name, "arguments": args}}


def reply(
    content: str = "", *calls: dict, thinking: str | None = None, done_reason: str = "stop", eval_count: int = 20
) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking is not None:
        message["thinking"] = thinking
    if calls:
        message["tool_calls"] = list(calls)
    return {
        "model": "fake-ollama",
        "created_at": "2026-12-02T10:00:00Z",
        "message": message,
        "done": True,
        "done_reason": done_reason,
        "eval_count": eval_count,
    }


@dataclass
class OllamaError:
    status: int
    message: str
    headers: dict | None = None

    def __post_init__(self):
        self.headers = self.headers or {}

    def payload(self) -> bytes:
        return json.dumps({"error": self.message}).encode()


@dataclass
class SeenRequest:
    path: str
    body: dict  # as sent
    read: dict  # what the model was given, after fitting the context


class FakeOllama(ScriptedServer):
    def __init__(self, script: list | None = None, default_context: int = 4096):
        super().__init__(script)
        self.default_context = default_context

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        if handler.path != "/api/chat":
            return send_json(handler, 404, OllamaError(404, "404 page not found").payload())
        body = json.loads(raw)
        problem = _refusal(body)
        if problem:
            with self._lock:
                self.requests.append(SeenRequest(handler.path, body, body))
            return send_json(handler, 400, OllamaError(400, problem).payload())
        context = (body.get("options") or {}).get("num_ctx") or self.default_context
        read = fitted(body, context)
        entry = self.next_entry(
            SeenRequest(handler.path, body, read), OllamaError(500, "fake server: script exhausted")
        )

        def counts(reply_body: dict) -> dict:
            reply_body.setdefault(
                "prompt_eval_count", min(estimate_tokens(read["messages"], read.get("tools")), context)
            )
            return reply_body

        self.answer(handler, entry, read, reply("late"), counts)


def _refusal(body: dict) -> str | None:
    for n, m in enumerate(body.get("messages", [])):
        if not isinstance(m.get("content", ""), str):
            return f"json: cannot unmarshal array into Go struct field ChatRequest.messages.content of type string (message {n})"
        for image in m.get("images") or []:
            try:
                base64.b64decode(image, validate=True)
            except (binascii.Error, ValueError, TypeError):
                return "illegal base64 data at input byte 0"
    return None


def fitted(body: dict, context: int) -> dict:
    messages = list(body.get("messages", []))
    while estimate_tokens(messages, body.get("tools")) > context:
        droppable = [i for i, m in enumerate(messages[:-1]) if m.get("role") != "system"]
        if not droppable:
            break
        del messages[droppable[0]]
    return {**body, "messages": messages}


def estimate_tokens(messages: list[dict], tools: list | None) -> int:
    tokens = len(json.dumps(tools or [])) // CHARS_PER_TOKEN
    for m in messages:
        tokens += len(m.get("content") or "") // CHARS_PER_TOKEN + 4 + IMAGE_TOKENS * len(m.get("images") or [])
    return tokens
