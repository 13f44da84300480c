"""A local fake of the Gemini REST API, for running the real google-genai client offline.

A loopback HTTP server that answers `POST /{version}/models/{model}:generateContent` from a
script: each entry is a reply in the JSON shape the API returns (camelCase fields,
`functionCall` parts with ids and `thoughtSignature`, `usageMetadata`), or a fault (an HTTP
error with headers, a delay longer than the client's timeout, a body that is not JSON).
Every request the SDK sends is kept, parsed, for tests to assert on. Reach it with
`GOOGLE_GEMINI_BASE_URL=fake.url` (or HttpOptions(base_url=...)).

Before the script is consulted, the request is checked the way the real API checks it, and
refused with the real API's 400 (`rejections` below, messages as reported by users of the
API where known): built-in tools next to functions without
tool_config.include_server_side_tool_invocations, that flag on a Gemini 2.x model, a
function call of the current turn without its thought signature (Gemini 3), per-part media
resolution or images inside function responses on a model older than Gemini 3, a thinking
level the model does not take. The fake knows its models from `SERVED` (its own list, not
the adapter's table), and resolves the `-latest` aliases the way `aliases` says.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fake_server import ScriptedServer, send_json

# Image tokens per media resolution level (Gemini 3 documentation); used to fill in
# usageMetadata and by the wire benchmark. ULTRA_HIGH is an estimate (twice HIGH).
IMAGE_TOKENS = {
    "MEDIA_RESOLUTION_LOW": 280,
    "MEDIA_RESOLUTION_MEDIUM": 560,
    "MEDIA_RESOLUTION_HIGH": 1120,
    "MEDIA_RESOLUTION_ULTRA_HIGH": 2240,
}
DEFAULT_IMAGE_TOKENS = 1120
CHARS_PER_TOKEN = 4

# Fields whose values are the caller's own JSON (tool arguments, schemas): their keys are data.
_OPAQUE = {"args", "response", "parametersJsonSchema", "parameters", "responseJsonSchema"}


# -- building replies in the API's JSON shape ----------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(value: str) -> bytes:
    """Bytes of a base64 field as the API reads it: the SDK sends the URL-safe alphabet, the
    API itself sends the standard one; both decode to the same bytes."""
    return base64.urlsafe_b64decode(value.replace("+", "-").replace("/", "_"))


def text(value: str, signature: str | None = None) -> dict:
    return {"text": value, **({"thoughtSignature": signature} if signature else {})}


def thought(value: str, signature: str | None = None) -> dict:
    return {"text": value, "thought": True, **({"thoughtSignature": signature} if signature else {})}


def function_call(name: str, args: dict, call_id: str | None = None, signature: str | None = None) -> dict:
    call = {"name": name, "args": args, **({"id": call_id} if call_id else {})}
    return {"functionCall": call, **({"thoughtSignature": signature} if signature else {})}


def reply(
    *parts: dict, finish: str | None = "STOP", usage: dict | None = None, finish_message: str | None = None
) -> dict:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    if finish_message:
        candidate["finishMessage"] = finish_message
    body = {"candidates": [candidate], "modelVersion": "fake-gemini", "responseId": "fake"}
    if usage is not None:
        body["usageMetadata"] = usage
    return body


def usage(prompt: int, output: int, thoughts: int = 0, cached: int = 0) -> dict:
    meta = {"promptTokenCount": prompt, "candidatesTokenCount": output, "totalTokenCount": prompt + output + thoughts}
    if thoughts:
        meta["thoughtsTokenCount"] = thoughts
    if cached:
        meta["cachedContentTokenCount"] = cached
    return meta


# -- what the fake server knows of its models ------------------------------------------------


@dataclass(frozen=True)
class Served:
    generation: int | None  # 3, 2; None for Gemma
    thinking_levels: tuple[str, ...] = ()


SERVED = {
    "gemini-3.8-flash": Served(3, ("LOW", "MEDIUM", "HIGH")),
    "gemini-3.7-flash": Served(3, ("LOW", "MEDIUM", "HIGH")),
    "gemini-3.6-flash": Served(3, ("MINIMAL", "LOW", "MEDIUM", "HIGH")),
    "gemini-3.1-pro-preview": Served(3, ("LOW", "MEDIUM", "HIGH")),
    "gemini-2.5-flash": Served(2),
    "gemini-2.5-flash-lite": Served(2),
    "gemini-2.5-pro": Served(2),
    "gemma-3-27b-it": Served(None),
}
DEFAULT_ALIASES = {
    "gemini-flash-latest": "gemini-3.8-flash",
    "gemini-flash-lite-latest": "gemini-2.5-flash-lite",
    "gemini-pro-latest": "gemini-3.1-pro-preview",
}
_BUILTIN_TOOLS = {
    "codeExecution",
    "googleSearch",
    "urlContext",
    "googleMaps",
    "fileSearch",
    "computerUse",
    "googleSearchRetrieval",
}


def rejections(model: str, body: dict) -> str | None:
    """The 400 message the API would answer `body` with, or None if it would accept it."""
    served = SERVED.get(
        model, Served(3 if model.startswith("gemini-3") else 2 if model.startswith("gemini-2") else None)
    )
    tools = body.get("tools") or []
    functions = any(t.get("functionDeclarations") for t in tools)
    builtin = any(_BUILTIN_TOOLS & set(t) for t in tools)
    circulation = (body.get("toolConfig") or {}).get("includeServerSideToolInvocations")
    if circulation and served.generation != 3:
        return f"Tool call context circulation is not enabled for models/{model}"
    if builtin and functions and not circulation:
        return "Please enable tool_config.include_server_side_tool_invocations to use Built-in tools with Function calling."
    level = ((body.get("generationConfig") or {}).get("thinkingConfig") or {}).get("thinkingLevel")
    if level is not None and level.upper() not in served.thinking_levels:
        return f"Thinking level {level.upper()} is not supported for this model."
    if served.generation != 3:
        if any("mediaResolution" in p for c in body.get("contents", []) for p in c.get("parts", [])):
            return "Per part media resolution is not supported for this Model."
        if any(
            (p.get("functionResponse") or {}).get("parts") for c in body.get("contents", []) for p in c.get("parts", [])
        ):
            return "Multimodal function responses are not supported for this model."  # the fake's wording
    if served.generation == 3:
        missing = _call_without_signature(body.get("contents", []))
        if missing:
            return (
                f"Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, "
                f"and missing thought_signature may lead to degraded model performance. Additional data, function call `{missing}`. "
                "Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
            )
    return None


def _call_without_signature(contents: list[dict]) -> str | None:
    """Gemini 3 checks the current turn (everything after the last user text): in each model
    step there, the first function call must carry the signature the API gave it."""
    start = 0
    for i, c in enumerate(contents):
        if (
            c.get("role") == "user"
            and any("text" in p for p in c.get("parts", []))
            and not any("functionResponse" in p for p in c.get("parts", []))
        ):
            start = i
    for c in contents[start:]:
        if c.get("role") != "model":
            continue
        calls = [p for p in c.get("parts", []) if "functionCall" in p]
        if calls and "thoughtSignature" not in calls[0]:
            return calls[0]["functionCall"].get("name", "?")
    return None


# -- faults -----------------------------------------------------------------------------------


@dataclass
class HttpError:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        if self.body is not None:
            return json.dumps(self.body).encode()
        reason = {
            429: "RESOURCE_EXHAUSTED",
            500: "INTERNAL",
            503: "UNAVAILABLE",
            504: "DEADLINE_EXCEEDED",
            400: "INVALID_ARGUMENT",
        }
        status = reason.get(self.status, "UNKNOWN")
        return json.dumps({"error": {"code": self.status, "message": f"fake {status}", "status": status}}).encode()


def rate_limited(retry_after: float | None = None, retry_delay: str | None = None) -> HttpError:
    """A 429 as the API sends it: RESOURCE_EXHAUSTED, optionally Retry-After and a RetryInfo detail."""
    error: dict[str, Any] = {
        "code": 429,
        "message": "Resource has been exhausted (e.g. check quota).",
        "status": "RESOURCE_EXHAUSTED",
    }
    if retry_delay:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}]
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    return HttpError(429, {"error": error}, headers)


# -- the server -------------------------------------------------------------------------------


@dataclass
class SeenRequest:
    path: str
    model: str
    headers: dict[str, str]
    raw: bytes
    body: dict  # as sent
    api: dict  # keys normalised to the API's camelCase, for assertions


class FakeGemini(ScriptedServer):
    """`script` entries: a reply dict, a fault, or a function of the request (camelCase body) -> entry.
    A request the real API would refuse gets its 400 and does not use up a script entry
    (`refused` keeps the messages)."""

    def __init__(self, script: list | None = None, fill_usage: bool = True, aliases: dict[str, str] | None = None):
        super().__init__(script)
        self.fill_usage = fill_usage
        self.aliases = dict(DEFAULT_ALIASES if aliases is None else aliases)
        self.refused: list[str] = []

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        match = re.match(r"^/[^/]+/models/([^:]+):generateContent", handler.path)
        if handler.headers.get("x-goog-api-key") is None and "key=" not in handler.path:
            return send_json(
                handler,
                403,
                json.dumps({"error": {"code": 403, "message": "no API key", "status": "PERMISSION_DENIED"}}).encode(),
            )
        if not match:
            return send_json(
                handler,
                404,
                json.dumps(
                    {"error": {"code": 404, "message": f"no route {handler.path}", "status": "NOT_FOUND"}}
                ).encode(),
            )
        body = json.loads(raw)
        seen = SeenRequest(handler.path, match.group(1), dict(handler.headers), raw, body, to_api_case(body))
        served_model = self.aliases.get(seen.model, seen.model)
        refusal = rejections(served_model, seen.api)
        if refusal:
            with self._lock:
                self.requests.append(seen)
                self.refused.append(refusal)
            return send_json(
                handler,
                400,
                HttpError(400, {"error": {"code": 400, "message": refusal, "status": "INVALID_ARGUMENT"}}).payload(),
            )
        exhausted = HttpError(
            500, {"error": {"code": 500, "message": "fake server: script exhausted", "status": "INTERNAL"}}
        )
        entry = self.next_entry(seen, exhausted)

        def fill_usage(body: dict) -> dict:
            if self.fill_usage and "usageMetadata" not in body and body.get("candidates"):
                body["usageMetadata"] = usage(estimate_prompt_tokens(seen.api), estimate_output_tokens(body))
            if body.get("modelVersion") == "fake-gemini":
                body["modelVersion"] = served_model
            return body

        self.answer(handler, entry, seen.api, reply(text("late")), fill_usage)


# -- reading requests ---------------------------------------------------------------------------


def to_api_case(value: Any, opaque: bool = False) -> Any:
    """The API reads proto JSON in either case; the SDK sends some nested fields in snake_case.
    Normalise every field name to camelCase, leaving the caller's own JSON (args, schemas) alone."""
    if isinstance(value, list):
        return [to_api_case(v, opaque) for v in value]
    if not isinstance(value, dict) or opaque:
        return value
    out = {}
    for key, v in value.items():
        camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)
        out[camel] = to_api_case(v, opaque=camel in _OPAQUE)
    return out


def parts_of(api_body: dict, kind: str) -> list[dict]:
    """Every part of the request that has field `kind` (e.g. "functionResponse"), in order."""
    return [p for c in api_body.get("contents", []) for p in c.get("parts", []) if kind in p]


def estimate_prompt_tokens(api_body: dict) -> int:
    """A rough token count of a request: text at 4 characters a token, images by resolution."""
    tokens = 0

    def walk(value: Any, resolution: str | None = None) -> None:
        nonlocal tokens
        if isinstance(value, dict):
            level = (value.get("mediaResolution") or {}).get("level") or resolution
            for key, v in value.items():
                if key == "inlineData":
                    tokens += IMAGE_TOKENS.get(level or "", DEFAULT_IMAGE_TOKENS)
                elif key in ("text", "code", "output") and isinstance(v, str):
                    tokens += len(v) // CHARS_PER_TOKEN + 1
                elif key in _OPAQUE or key in ("description", "name"):
                    tokens += len(json.dumps(v)) // CHARS_PER_TOKEN + 1
                elif key != "mediaResolution":
                    walk(v, level)
        elif isinstance(value, list):
            for v in value:
                walk(v, resolution)

    walk({k: v for k, v in api_body.items() if k != "generationConfig"})
    return tokens


def estimate_output_tokens(reply_body: dict) -> int:
    return sum(
        len(json.dumps(p)) // CHARS_PER_TOKEN + 1
        for c in reply_body.get("candidates", [])
        for p in (c.get("content") or {}).get("parts", [])
    )
