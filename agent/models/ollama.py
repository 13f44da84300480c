"""Ollama through its native chat API (`POST {base}/api/chat`), where the context length can be set.

Ollama's OpenAI-compatible /v1 endpoint cannot be told the context length; the server's default
(4096 tokens on most machines unless OLLAMA_CONTEXT_LENGTH says otherwise) is smaller than this
agent's system prompt and tool schemas, and a longer prompt loses its oldest messages, the task
and the image, without an error. The native API takes `options.num_ctx` per request, so this
adapter sets it (default 32768, `AGENT_OLLAMA_NUM_CTX` or `num_ctx=` to change), and checks the
prompt token count Ollama reports against what was sent, so a prompt that still does not fit
ends the run with one line instead of a confident wrong answer.

The wire format (Ollama's docs/api.md and docs.ollama.com): one JSON request, not streamed;
- tools as `{"type": "function", "function": {name, description, parameters}}`;
- a user message's images as a list of base64 strings in `images` (no MIME type, no detail);
  a message's `content` is always a string;
- the model's turn as an assistant message with `content`, `thinking` and `tool_calls` whose
  `arguments` are an object; each tool result as a `tool` message with `tool_name`, in the
  order the calls were made; images a tool made follow in one user message, each labelled;
- `think`: `--thinking low|medium|high` is sent as that level (models with named levels, such
  as gpt-oss, use it; models with an on/off switch treat a level they do not list as their
  default, per Ollama's thinking docs); without it, the model's own default;
- the reply: `message.content`, `message.thinking` (a Thought), `message.tool_calls` (ids made
  up when Ollama sends none), `done_reason` ("stop", "length"), `prompt_eval_count`
  (the whole prompt, cached part included), `prompt_eval_cached_count`, `eval_count`.
An empty message when tools were offered, or an HTTP error "error parsing tool call", is the
model's unparsable tool call: the turn ends as `malformed_call` and the loop asks again.
"""

from __future__ import annotations

import base64
import os
import re
from typing import Any
from urllib.parse import urlsplit

import httpx2

from agent.models.base import (
    ImageLoader,
    ModelError,
    ModelReply,
    ModelRequest,
    ModelSpecError,
    Usage,
    max_output_tokens_from_env,
)
from agent.models.http_json import UnparsedToolCall, clip, post_json, prompt_token_floor, raw_tool_call
from agent.models.openai_compat import tool_declarations
from agent.models.retry import RetryPolicy, TransientError
from agent.pricing import CostMeter, load_prices
from agent.transcript import Image, Message, Part, Text, Thought, ToolCall, ToolResult

OLLAMA_BASE_URL = "http://localhost:11434"
DEFAULT_NUM_CTX = 32768
THINK_LEVELS = ("low", "medium", "high")
API = "Ollama API"
_SPEC = re.compile(r"(?P<model>.+?)@(?P<base>https?://.+)")
_FINISH = {"stop": "stop", "length": "max_tokens"}


class OllamaModel:
    def __init__(
        self,
        model_id: str,
        base_url: str | None = None,
        *,
        thinking: str | None = None,
        code_execution: bool = False,
        num_ctx: int | None = None,
        max_output_tokens: int | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        prices: dict | None = None,
        transport: httpx2.BaseTransport | None = None,
    ):
        """`model_id` may carry the server, `model@http://host:11434`; else `base_url`, else
        $OLLAMA_HOST (Ollama's own variable), else http://localhost:11434."""
        match = _SPEC.fullmatch(model_id)
        if match:
            model_id, base_url = match.group("model"), match.group("base")
        if not model_id:
            raise ModelSpecError(
                "ollama: needs a model name, e.g. ollama:qwen2.5vl:7b or ollama:qwen2.5vl:7b@http://gpu-box:11434"
            )
        if code_execution:
            raise ModelSpecError("--code-execution gemini needs a gemini: model; Ollama has no such tool")
        if thinking is not None and thinking not in THINK_LEVELS:
            raise ModelSpecError(
                f"--thinking for Ollama is one of {', '.join(THINK_LEVELS)} (Ollama's think levels), not {thinking!r}"
            )
        self.model_id = model_id
        self.base_url = _checked_base_url(base_url or _ollama_host())
        self.name = f"ollama:{model_id}" if self.base_url == OLLAMA_BASE_URL else f"ollama:{model_id}@{self.base_url}"
        self.think = thinking
        self.num_ctx = num_ctx if num_ctx is not None else _num_ctx_from_env()
        self.max_output_tokens = max_output_tokens if max_output_tokens is not None else max_output_tokens_from_env()
        self.timeout = timeout if timeout is not None else float(os.environ.get("AGENT_OLLAMA_TIMEOUT", "600"))
        try:
            self.retry = retry or RetryPolicy.from_env()
        except ValueError as exc:
            raise ModelSpecError(str(exc)) from None
        self.meter = CostMeter(prices if prices is not None else load_prices())
        self._client = httpx2.Client(timeout=self.timeout, transport=transport)
        self._turn = 0

    # -- the model interface ------------------------------------------------------------
    def complete(self, request: ModelRequest) -> ModelReply:
        self._turn += 1
        options: dict[str, Any] = {"num_ctx": self.num_ctx}
        if self.max_output_tokens:
            options["num_predict"] = self.max_output_tokens
        body: dict[str, Any] = {
            "model": self.model_id,
            "messages": to_messages(request.system, request.messages, request.load_image),
            "stream": False,
            "options": options,
        }
        if request.tools:
            body["tools"] = tool_declarations(request.tools)
        if self.think:
            body["think"] = self.think
        try:
            data = self.retry.call(lambda: self._post(body), what=f"{self.name} request")
        except UnparsedToolCall as exc:
            reply = ModelReply(
                [],
                Usage(),
                "malformed_call",
                {"message": f"Ollama could not parse the tool call the model wrote ({exc})"},
            )
        else:
            self._check_prompt_read_whole(data, body)
            reply = from_response(data, turn=self._turn, tools_offered=bool(request.tools))
        self.meter.record(self.model_id, reply.usage)
        return reply

    def cost_usd(self, usage: Usage) -> float | None:
        return self.meter.cost(self.model_id, usage)

    # -- internals ------------------------------------------------------------------------
    def _post(self, body: dict) -> dict:
        data = post_json(self._client, f"{self.base_url}/api/chat", body, API)
        if not isinstance(data, dict) or not isinstance(data.get("message"), dict):
            raise TransientError(f"Ollama sent a reply without a message ({clip(str(data), 200)!r})")
        return data

    def _check_prompt_read_whole(self, data: dict, body: dict) -> None:
        read = data.get("prompt_eval_count")
        floor = prompt_token_floor(body["messages"], body.get("tools"))
        if isinstance(read, int) and read < floor:
            raise ModelError(
                f"Ollama read only {read} tokens of a prompt of at least {floor}: the prompt is longer than the context "
                f"length (num_ctx {self.num_ctx}) and lost its oldest messages; set AGENT_OLLAMA_NUM_CTX higher"
            )


# -- transcript -> Ollama messages -------------------------------------------------------------


def to_messages(system: str, messages: list[Message], load_image: ImageLoader | None) -> list[dict]:
    def image_b64(image_id: str, detail: str) -> str:
        if load_image is None:
            raise ModelError(f"image {image_id} cannot be sent: the request has no image loader")
        data, _mime = load_image(image_id, detail)
        return base64.b64encode(data).decode("ascii")

    out: list[dict] = [{"role": "system", "content": system}] if system else []
    call_order: list[str] = []
    for m in messages:
        if m.role == "model":
            assistant = _assistant_message(m)
            call_order = [p.id for p in m.parts if isinstance(p, ToolCall)]
            if assistant["content"] or "tool_calls" in assistant or assistant.get("thinking"):
                out.append(assistant)
        elif m.role == "tool":
            out.extend(_tool_messages(m, call_order, image_b64))
        else:
            texts, images = [], []
            for p in m.parts:
                if isinstance(p, Text):
                    texts.append(p.text)
                elif isinstance(p, Image):
                    images.append(image_b64(p.image_id, p.detail))
                else:
                    raise ModelError(f"cannot send a {p.type} part in a user message")
            out.append({"role": "user", "content": "\n".join(texts), **({"images": images} if images else {})})
    return out


def _assistant_message(m: Message) -> dict:
    texts, calls, thinking = [], [], ""
    for p in m.parts:
        if isinstance(p, Text):
            texts.append(p.text)
        elif isinstance(p, ToolCall):
            calls.append({"function": {"name": p.name, "arguments": p.args}})
        elif isinstance(p, Thought) and p.meta.get("field") == "thinking":
            thinking = p.text
        elif not isinstance(p, Thought):  # another provider's thoughts have no field to go back in
            raise ModelError(f"cannot send a {p.type} part in an assistant message to Ollama")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts)}
    if thinking:
        message["thinking"] = thinking
    if calls:
        message["tool_calls"] = calls
    return message


def _tool_messages(m: Message, call_order: list[str], image_b64) -> list[dict]:
    results = [p for p in m.parts if isinstance(p, ToolResult)]
    rank = {call_id: i for i, call_id in enumerate(call_order)}
    results.sort(key=lambda r: rank.get(r.call_id, len(rank)))
    out: list[dict] = [{"role": "tool", "tool_name": r.name, "content": r.text} for r in results]
    labels, images = [], []
    for r in results:
        for image_id in r.image_ids:
            labels.append(f"[{image_id}, returned by {r.name}]")
            images.append(image_b64(image_id, "high"))
    labels += [p.text for p in m.parts if isinstance(p, Text)]
    if labels or images:
        out.append({"role": "user", "content": "\n".join(labels), **({"images": images} if images else {})})
    return out


# -- Ollama reply -> transcript ------------------------------------------------------------------


def from_response(data: dict, turn: int = 0, tools_offered: bool = False) -> ModelReply:
    message = data["message"]
    usage = Usage(
        input_tokens=_count(data.get("prompt_eval_count")),
        cached_tokens=_count(data.get("prompt_eval_cached_count")),
        output_tokens=_count(data.get("eval_count")),
    )
    raw_reason = data.get("done_reason") or "stop"
    meta: dict[str, Any] = {"ollama_done_reason": raw_reason}
    if data.get("model"):
        meta["model_version"] = data["model"]
    parts: list[Part] = []
    if isinstance(message.get("thinking"), str) and message["thinking"].strip():
        parts.append(Thought(message["thinking"], meta={"field": "thinking"}))
    content = message.get("content") if isinstance(message.get("content"), str) else ""
    if content:
        parts.append(Text(content))
    calls, malformed = [], []
    for n, raw in enumerate(message.get("tool_calls") or [], start=1):
        function = raw.get("function") if isinstance(raw, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        args = function.get("arguments") if isinstance(function, dict) else None
        if not name or not isinstance(args if args is not None else {}, dict):
            malformed.append(f"call {n} has no function name or its arguments are not an object")
            continue
        calls.append(ToolCall(raw.get("id") or f"call-{turn}-{n}", name, dict(args or {})))
    if malformed:
        meta["message"] = "the model produced a function call that could not be parsed: " + "; ".join(malformed)
        return ModelReply(parts, usage, "malformed_call", meta)
    parts += calls
    if calls:
        return ModelReply(parts, usage, "tool_calls", meta)
    if content and raw_tool_call(content):
        meta["message"] = "Ollama returned the model's tool call as text, unparsed"
        return ModelReply(parts, usage, "malformed_call", meta)
    finish = _FINISH.get(raw_reason, "other")
    if finish == "stop" and not parts:
        if tools_offered:
            meta["message"] = (
                "Ollama returned an empty message, which it does when it cannot parse the tool call the model wrote"
            )
            return ModelReply(parts, usage, "malformed_call", meta)
        meta["message"] = "the model returned no content"
        return ModelReply(parts, usage, "empty", meta)
    if finish == "max_tokens":
        meta["message"] = "the reply was cut off at the output token limit"
    elif finish == "other":
        meta["message"] = f"the model stopped for a reason it did not explain ({raw_reason})"
    return ModelReply(parts, usage, finish, meta)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


# -- setup -------------------------------------------------------------------------------------


def _ollama_host() -> str:
    """$OLLAMA_HOST as Ollama reads it: "host:port", "host" or a URL."""
    host = os.environ.get("OLLAMA_HOST", "").strip()
    if not host:
        return OLLAMA_BASE_URL
    if "://" not in host:
        host = f"http://{host}"
    parts = urlsplit(host)
    return host if parts.port else f"{host.rstrip('/')}:11434"


def _checked_base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ModelSpecError(f"Ollama URL {url!r} must look like http://host:11434")
    if parts.username or parts.password:
        raise ModelSpecError("the Ollama URL must not hold credentials")
    path = parts.path.rstrip("/")
    if path.endswith("/v1") or path.endswith("/api"):
        raise ModelSpecError(
            f"ollama: takes the server's address ({url[: len(url) - len(parts.path)]}), not its {path} endpoint"
        )
    return url.rstrip("/")


def _num_ctx_from_env() -> int:
    raw = os.environ.get("AGENT_OLLAMA_NUM_CTX", "").strip()
    if not raw:
        return DEFAULT_NUM_CTX
    if not raw.isdigit() or int(raw) < 2048:
        raise ModelSpecError(f"AGENT_OLLAMA_NUM_CTX={raw!r} must be a whole number of tokens, at least 2048")
    return int(raw)
