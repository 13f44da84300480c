"""One JSON request to a model server over plain HTTP, its failures sorted for the retry policy.

Shared by the adapters that speak to servers without an SDK (openai:, ollama:):
- a refused connection fails at once (`ModelError`: nothing is listening there, and waiting
  will not start the server); timeouts and dropped connections are transient;
- an HTTP error is transient when its status is (408, 429, 5xx gateways), with the server's
  Retry-After; else a `ModelError` carrying the server's own words on one line;
- a server that could not parse the model's own tool call and says so with an HTTP error
  (llama.cpp: 500 "Failed to parse input at pos N: <tool_call>..."; Ollama: "error parsing
  tool call") raises `UnparsedToolCall`: the turn is the model's mistake, to be answered with
  the loop's malformed-call nudge, not a server fault to retry six times;
- `raw_tool_call` spots tool-call markup left in a reply's text, which is how vLLM reports a
  call its tool parser could not read (the raw `<tool_call>...` text as content, finish
  "stop").
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx2

from agent.models.base import ModelError
from agent.models.retry import RETRYABLE_STATUS, TransientError, connection_refused, parse_retry_after

# llama.cpp's chat parser and Ollama's tool parser, failing on what the model wrote
_UNPARSED_CALL = re.compile(r"Failed to parse input at pos \d+|error parsing tool call", re.IGNORECASE)
# Tool-call markup of the common chat templates (Hermes/Qwen, Qwen3 XML, Llama 3, Mistral, LFM)
_RAW_TOOL_CALL = re.compile(
    r"<tool_call>|<\|tool_call(?:_start)?\|>|\[TOOL_CALLS\]|<function=[\w.-]+>|<\|python_tag\|>"
)


class UnparsedToolCall(Exception):
    """The server could not parse the tool call the model wrote; the message is the server's."""


def post_json(client: httpx2.Client, url: str, body: dict, label: str) -> Any:
    """POST `body` to `url` and return the parsed JSON reply. `label` names the API in errors."""
    try:
        response = client.post(url, json=body)
    except httpx2.TimeoutException as exc:
        raise TransientError(f"the request to {url} timed out ({exc.__class__.__name__})") from exc
    except httpx2.TransportError as exc:
        if connection_refused(exc):
            raise ModelError(f"cannot connect to {url}: connection refused; is the server running?") from exc
        raise TransientError(
            f"the connection to {url} failed ({exc.__class__.__name__}: {exc}); is the server running?"
        ) from exc
    if response.status_code >= 400:
        raise http_error(response, label)
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TransientError(f"the server sent a reply that is not JSON ({clip(response.text, 200)!r})") from exc


def http_error(response: httpx2.Response, label: str) -> Exception:
    status = response.status_code
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    message = error_message(body) if body is not None else clip(response.text, 300) or response.reason_phrase
    if _UNPARSED_CALL.search(message or ""):
        return UnparsedToolCall(f"{status} {response.reason_phrase}: {message}")
    text = f"{status} {response.reason_phrase}: {message}" if message else f"{status} {response.reason_phrase}"
    if status in RETRYABLE_STATUS:
        return TransientError(text, status=status, retry_after=parse_retry_after(response.headers.get("retry-after")))
    return ModelError(f"{label} error {text}")


def error_message(body: Any) -> str:
    """The server's own words, on one line: OpenAI, vLLM and llama.cpp send {"error": {"message"}},
    Ollama and some others {"error": "..."} or {"detail": "..."}."""
    error = body.get("error", body.get("detail", body)) if isinstance(body, dict) else body
    if isinstance(error, dict):
        error = error.get("message") or json.dumps(error, ensure_ascii=False)
    return clip(str(error), 300)


def raw_tool_call(text: str) -> bool:
    return bool(_RAW_TOOL_CALL.search(text))


def prompt_token_floor(messages: list[dict], tools: list[dict] | None) -> int:
    """Fewer tokens than any tokenizer we know makes of a chat request: its text (messages, tool
    schemas; images left out) at 5 characters a token, where English runs at 4 to 4.5 and JSON
    schemas at about 3. A server that reports fewer prompt tokens did not read the whole request."""
    chars = len(json.dumps(tools or [], ensure_ascii=False))
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            chars += sum(len(c.get("text", "")) for c in content if isinstance(c, dict))
    return chars // 5


def clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
