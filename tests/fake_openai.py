"""A local fake of an OpenAI-compatible Chat Completions server, for running the adapter offline.

A loopback HTTP server that answers `POST .../chat/completions` from a script: each entry is
a reply in the JSON shape OpenAI, Ollama and vLLM return (`choices[0].message` with `content`,
`tool_calls` whose arguments are a JSON string, `reasoning_content`, `usage`), a fault (an
HTTP error with headers, a delay past the client's timeout, a body that is not JSON), or a
function of the request body. Every request is kept, parsed, for tests to assert on.

How each local server reports a tool call it could not parse, as script entries:
`vllm_unparsed` (the raw `<tool_call>` text as content, finish "stop"), `ollama_unparsed` (an
empty message, finish "stop"), `llamacpp_unparsed` (HTTP 500 "Failed to parse input at pos N").
`FakeOpenAI(ollama_context=4096)` behaves like Ollama's /v1 endpoint: a prompt longer than
the context loses its oldest non-system messages (whole messages, the last one kept), the
script sees only what is left, and the reply carries Ollama's fingerprint and the prompt
token count of what was read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fake_server import ScriptedServer, send_json

CHARS_PER_TOKEN = 4
IMAGE_TOKENS = 800  # what one image costs in the fake's token estimate

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
    type: str = "invalid_request_error"

    def payload(self) -> bytes:
        code = self.status if self.type == "server_error" else None  # llama.cpp puts the status in "code"
        return json.dumps({"error": {"message": self.message, "type": self.type, "code": code}}).encode()


# -- tool calls the server could not parse ----------------------------------------------------


def vllm_unparsed(name: str, args: dict) -> dict:
    """vLLM when its tool-call parser fails: the model's raw call as text, finish "stop"."""
    return reply(f'<tool_call>\n{{"name": "{name}", "arguments": {json.dumps(args)}\n</tool_call>', finish="stop")


def ollama_unparsed() -> dict:
    """Ollama's /v1 when it cannot parse the model's call: an empty message, finish "stop"."""
    return reply("", finish="stop")


def llamacpp_unparsed(
    pos: int = 212, raw: str = '<tool_call>\n{"name": "zoom", "arguments": {"image": "img1",'
) -> HttpError:
    """llama-server when its chat parser cannot read the model's output."""
    return HttpError(500, f"Failed to parse input at pos {pos}: {raw}", type="server_error")


# -- the server -------------------------------------------------------------------------------


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]
    body: dict


class FakeOpenAI(ScriptedServer):
    """`script` entries: a reply dict, a fault, or a function of the request body -> entry.
    `api_key`: when set, a request without `Authorization: Bearer <api_key>` gets a 401.
    `ollama_context`: behave like Ollama's /v1 endpoint with this context length (tokens)."""

    path_prefix = "/v1"

    def __init__(self, script: list | None = None, api_key: str | None = None, ollama_context: int | None = None):
        super().__init__(script)
        self.api_key = api_key
        self.ollama_context = ollama_context

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        if handler.path != "/v1/chat/completions":
            return send_json(handler, 404, HttpError(404, f"no route {handler.path}").payload())
        if self.api_key is not None and handler.headers.get("Authorization") != f"Bearer {self.api_key}":
            return send_json(handler, 401, HttpError(401, "Incorrect API key provided").payload())
        seen = SeenRequest(handler.path, dict(handler.headers), json.loads(raw))
        entry = self.next_entry(seen, HttpError(500, "fake server: script exhausted"))
        if self.ollama_context is None:
            return self.answer(handler, entry, seen.body, reply("late"))
        read = truncated(seen.body, self.ollama_context)

        def as_ollama(body: dict) -> dict:
            body["system_fingerprint"] = "fp_ollama"
            completion = (body.get("usage") or {}).get("completion_tokens", 10)
            body["usage"] = usage(
                min(estimate_tokens(read["messages"], read.get("tools")), self.ollama_context), completion
            )
            return body

        self.answer(handler, entry, read, reply("late"), as_ollama)


def truncated(body: dict, context: int) -> dict:
    """What Ollama's /v1 endpoint hands the model: the oldest non-system messages dropped, whole,
    until the rest fits (the last message is always kept); what still does not fit is cut by
    the runner, so the prompt token count it reports is never above the context."""
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
        content = m.get("content")
        if isinstance(content, str):
            tokens += len(content) // CHARS_PER_TOKEN + 4
        elif isinstance(content, list):
            for c in content:
                tokens += IMAGE_TOKENS if c.get("type") == "image_url" else len(c.get("text", "")) // CHARS_PER_TOKEN
    return tokens


# -- reading requests ---------------------------------------------------------------------------


def image_urls(message: dict) -> list[dict]:
    """The image_url objects of a message's content, in order."""
    content = message.get("content")
    return [c["image_url"] for c in content if c.get("type") == "image_url"] if isinstance(content, list) else []
