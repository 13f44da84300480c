"""Any OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp) through the Chat Completions API.

One JSON request per turn, `POST {base_url}/chat/completions`, with no SDK:
- tools are `{"type": "function", "function": {name, description, parameters}}` with our JSON
  schemas as `parameters`, `tool_choice: "auto"`; the loop runs the tools;
- images are `image_url` content parts holding `data:` URIs, with OpenAI's `detail` (the
  transcript's own hint, low or high);
- a model turn becomes an assistant message with its text and `tool_calls` (id, function name,
  arguments as a JSON string); each tool result a `tool` message with its call's
  `tool_call_id`, in the order the calls were made. Tool messages cannot carry images, so the
  images of a turn's results follow in one `user` message, each labelled with its id;
- reasoning the server returns (`reasoning` from vLLM since it renamed the field, Ollama and
  others; `reasoning_content` from DeepSeek and older vLLM) becomes a Thought part and goes
  back on its assistant message under the field it came in; when a server sends both, the
  newer `reasoning` wins, which is the one vLLM reads back. DeepSeek's thinking mode answers
  400 when an assistant message of the current tool-call turn comes back without
  `reasoning_content`, so a field that arrived as null on a tool-call turn goes back as "";
  OpenAI never returns reasoning, so it never receives the field;
- a tool call the server could not parse ends the turn as `malformed_call` (the loop asks
  the model to call again), never as an answer, a crash or six retries: arguments that are
  not a JSON object, vLLM's raw `<tool_call>` text with finish "stop", Ollama's empty
  message, llama.cpp's HTTP 500 "Failed to parse input at pos N";
- a prompt the server cut short fails the run with one line saying how to fix it: Ollama's
  /v1 endpoint cannot be told its context length (4096 tokens by default on most machines)
  and drops the oldest messages, the task and the image, when a prompt is longer; the
  system prompt and tool schemas alone are longer than that. Use the ollama: scheme;
- `AGENT_MAX_OUTPUT_TOKENS` is sent as `max_completion_tokens` (vLLM deprecates `max_tokens`,
  OpenAI's reasoning models refuse it);
- transient failures go to the project's one retry policy (agent/models/retry.py); a
  refused connection fails at once (agent/models/http_json.py).
"""

from __future__ import annotations

import base64
import json
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
    ToolSpec,
    Usage,
    max_output_tokens_from_env,
)
from agent.models.http_json import UnparsedToolCall, clip, error_message, post_json, prompt_token_floor, raw_tool_call
from agent.models.retry import RETRYABLE_STATUS, RetryPolicy, TransientError
from agent.pricing import CostMeter, load_prices
from agent.transcript import Image, Message, Part, Text, Thought, ToolCall, ToolResult

OPENAI_BASE_URL = "https://api.openai.com/v1"
# Where servers put the model's reasoning, in the order they are looked for.
REASONING_FIELDS = ("reasoning", "reasoning_content")
REASONING_EFFORTS = ("minimal", "low", "medium", "high", "xhigh")
API = "OpenAI-compatible API"

_FINISH = {
    "stop": "stop",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "length": "max_tokens",
    "content_filter": "safety",
}
_FINISH_MESSAGES = {
    "max_tokens": "the reply was cut off at the output token limit",
    "safety": "the reply was withheld by the server's content filter ({reason})",
    "empty": "the model returned no content",
    "other": "the model stopped for a reason it did not explain ({reason})",
}
UNPARSED_EMPTY = (
    "the server returned an empty message (Ollama does this when it cannot parse the tool call the model wrote)"
)
UNPARSED_TEXT = (
    "the server returned the model's tool call as text, unparsed (vLLM does this when its tool-call parser fails)"
)
_SPEC = re.compile(r"(?P<model>.+?)@(?P<base>https?://.+)")


class OpenAICompatibleModel:
    def __init__(
        self,
        model_id: str,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        thinking: str | None = None,
        code_execution: bool = False,
        max_output_tokens: int | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        prices: dict | None = None,
        transport: httpx2.BaseTransport | None = None,
    ):
        """`model_id` may carry the base URL, `model@http://host:port/v1`; else `base_url`, else
        $OPENAI_BASE_URL, else OpenAI's own."""
        match = _SPEC.fullmatch(model_id)
        if match:
            model_id, base_url = match.group("model"), match.group("base")
        if not model_id:
            raise ModelSpecError(
                "openai: needs a model name, e.g. openai:gpt-4o or openai:llava@http://localhost:11434/v1"
            )
        if code_execution:
            raise ModelSpecError(
                "--code-execution gemini needs a gemini: model; OpenAI-compatible servers have no such tool"
            )
        if thinking is not None and thinking not in REASONING_EFFORTS:
            raise ModelSpecError(f"--thinking must be one of {', '.join(REASONING_EFFORTS)}, not {thinking!r}")
        self.model_id = model_id
        self.base_url = _checked_base_url(base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_BASE_URL)
        self.name = f"openai:{model_id}" if self.base_url == OPENAI_BASE_URL else f"openai:{model_id}@{self.base_url}"
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if not key and urlsplit(self.base_url).hostname == "api.openai.com":
            raise ModelSpecError(
                "no OpenAI API key: set OPENAI_API_KEY, or point the model at a local server "
                "(openai:<model>@http://localhost:11434/v1, or OPENAI_BASE_URL)"
            )
        self.reasoning_effort = thinking
        self.max_output_tokens = max_output_tokens if max_output_tokens is not None else max_output_tokens_from_env()
        self.timeout = timeout if timeout is not None else float(os.environ.get("AGENT_OPENAI_TIMEOUT", "300"))
        try:
            self.retry = retry or RetryPolicy.from_env()
        except ValueError as exc:
            raise ModelSpecError(str(exc)) from None
        self.meter = CostMeter(prices if prices is not None else load_prices())
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx2.Client(headers=headers, timeout=self.timeout, transport=transport)
        self._turn = 0

    # -- the model interface ------------------------------------------------------------
    def complete(self, request: ModelRequest) -> ModelReply:
        self._turn += 1
        body: dict[str, Any] = {
            "model": self.model_id,
            "messages": to_messages(request.system, request.messages, request.load_image),
            "stream": False,
        }
        if request.tools:
            body["tools"] = tool_declarations(request.tools)
            body["tool_choice"] = "auto"
        if self.reasoning_effort:
            body["reasoning_effort"] = self.reasoning_effort
        if self.max_output_tokens:
            body["max_completion_tokens"] = self.max_output_tokens
        try:
            data = self.retry.call(lambda: self._post(body), what=f"{self.name} request")
        except UnparsedToolCall as exc:
            reply = ModelReply(
                [],
                Usage(),
                "malformed_call",
                {"message": f"the server could not parse the tool call the model wrote ({exc})"},
            )
        else:
            _check_prompt_read_whole(data, body)
            reply = from_response(data, turn=self._turn, tools_offered=bool(request.tools))
        self.meter.record(self.model_id, reply.usage)
        return reply

    def cost_usd(self, usage: Usage) -> float | None:
        return self.meter.cost(self.model_id, usage)

    # -- internals ------------------------------------------------------------------------
    def _post(self, body: dict) -> dict:
        url = f"{self.base_url}/chat/completions"
        data = post_json(self._client, url, body, API)
        if not isinstance(data, dict):
            raise TransientError(f"the server sent a reply that is not a JSON object ({clip(json.dumps(data), 200)!r})")
        if "choices" not in data and "error" in data:  # some proxies report failures inside a 200
            status, message = _error_status(data), error_message(data)
            if status in RETRYABLE_STATUS:
                raise TransientError(f"{status}: {message}", status=status)
            raise ModelError(f"{API} error: {message}")
        if not isinstance(data.get("choices"), list):
            raise TransientError(f"the server sent a reply without choices ({clip(json.dumps(data), 200)!r})")
        return data


def _check_prompt_read_whole(data: dict, body: dict) -> None:
    """Ollama's /v1 endpoint drops the oldest messages of a prompt longer than its context and
    says nothing; the prompt token count it reports is then far below what was sent."""
    if data.get("system_fingerprint") != "fp_ollama":
        return
    read = (data.get("usage") or {}).get("prompt_tokens")
    floor = prompt_token_floor(body["messages"], body.get("tools"))
    if isinstance(read, int) and read < floor:
        raise ModelError(
            f"Ollama read only {read} tokens of a prompt of at least {floor}: its /v1 endpoint cut the prompt to its context "
            "length, dropping the oldest messages (the task and the image). Use the ollama: scheme, which sets the context "
            "length (ollama:<model>[@http://host:11434]), or start Ollama with OLLAMA_CONTEXT_LENGTH=32768"
        )


def tool_declarations(specs: list[ToolSpec]) -> list[dict]:
    return [
        {"type": "function", "function": {"name": s.name, "description": s.description, "parameters": s.parameters}}
        for s in specs
    ]


# -- transcript -> Chat Completions messages -----------------------------------------------------


def to_messages(system: str, messages: list[Message], load_image: ImageLoader | None) -> list[dict]:
    def image_part(image_id: str, detail: str) -> dict:
        if load_image is None:
            raise ModelError(f"image {image_id} cannot be sent: the request has no image loader")
        data, mime = load_image(image_id, detail)
        url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        return {"type": "image_url", "image_url": {"url": url, "detail": detail}}

    out: list[dict] = [{"role": "system", "content": system}] if system else []
    call_order: list[str] = []  # ids of the latest assistant message's calls, in order
    for m in messages:
        if m.role == "model":
            assistant = _assistant_message(m)
            call_order = [c["id"] for c in assistant.get("tool_calls", [])]
            if (
                assistant["content"] is not None or "tool_calls" in assistant
            ):  # a reply with no text or calls is not sent back
                out.append(assistant)
        elif m.role == "tool":
            out.extend(_tool_messages(m, call_order, image_part))
        else:
            content = []
            for p in m.parts:
                if isinstance(p, Text):
                    content.append({"type": "text", "text": p.text})
                elif isinstance(p, Image):
                    content.append(image_part(p.image_id, p.detail))
                else:
                    raise ModelError(f"cannot send a {p.type} part in a user message")
            out.append({"role": "user", "content": _compact(content)})
    return out


def _assistant_message(m: Message) -> dict:
    texts, calls, reasoning = [], [], {}
    for p in m.parts:
        if isinstance(p, Text):
            texts.append(p.text)
        elif isinstance(p, ToolCall):
            arguments = json.dumps(p.args, ensure_ascii=False)
            calls.append({"id": p.id, "type": "function", "function": {"name": p.name, "arguments": arguments}})
        elif isinstance(p, Thought) and p.meta.get("field") in REASONING_FIELDS:
            reasoning[p.meta["field"]] = p.text
        elif not isinstance(p, Thought):  # another provider's thoughts have no field to go back in
            raise ModelError(f"cannot send a {p.type} part in an assistant message to an OpenAI-compatible server")
    text = "".join(texts)
    message: dict[str, Any] = {"role": "assistant", "content": text or None, **reasoning}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool_messages(m: Message, call_order: list[str], image_part) -> list[dict]:
    results = [p for p in m.parts if isinstance(p, ToolResult)]
    rank = {call_id: i for i, call_id in enumerate(call_order)}
    results.sort(key=lambda r: rank.get(r.call_id, len(rank)))  # stable: unknown ids keep their order, last
    out: list[dict] = [{"role": "tool", "tool_call_id": r.call_id, "content": r.text} for r in results]
    trailing: list[dict] = []
    for r in results:
        for image_id in r.image_ids:
            trailing.append({"type": "text", "text": f"[{image_id}, returned by {r.name}]"})
            trailing.append(image_part(image_id, "high"))
    trailing += [{"type": "text", "text": p.text} for p in m.parts if isinstance(p, Text)]
    if trailing:
        out.append({"role": "user", "content": _compact(trailing)})
    return out


def _compact(content: list[dict]) -> str | list[dict]:
    """Text-only content as a plain string, which every server accepts (some older ones take
    nothing else); content with images as a list of parts."""
    if all(c["type"] == "text" for c in content):
        return "\n".join(c["text"] for c in content)
    return content


# -- Chat Completions response -> transcript -------------------------------------------------------


def from_response(data: dict, turn: int = 0, tools_offered: bool = False) -> ModelReply:
    usage = _usage(data.get("usage"))
    meta: dict[str, Any] = {}
    if data.get("model"):
        meta["model_version"] = data["model"]
    choices = data.get("choices") or []
    if not choices:
        return ModelReply([], usage, "empty", {**meta, "message": _FINISH_MESSAGES["empty"] + " (no choices)"})
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    raw_reason = choice.get("finish_reason") or "stop"
    meta["openai_finish_reason"] = raw_reason

    parts: list[Part] = []
    present = [name for name in REASONING_FIELDS if name in message]
    written = [name for name in present if isinstance(message[name], str) and message[name].strip()]
    if written:
        parts.append(Thought(message[written[0]], meta={"field": written[0]}))
    elif present and message.get(
        "tool_calls"
    ):  # kept even when empty or null: DeepSeek wants it back on tool-call turns
        parts.append(Thought("", meta={"field": present[0]}))
    content = message.get("content") if isinstance(message.get("content"), str) else ""
    if content:
        parts.append(Text(content))
    calls, malformed = _tool_calls(message.get("tool_calls") or [], turn)
    if malformed:
        meta["message"] = "the model produced a function call that could not be parsed: " + "; ".join(malformed)
        return ModelReply(parts, usage, "malformed_call", meta)
    parts += calls

    finish = _FINISH.get(raw_reason, "other")
    if calls:
        finish = "tool_calls"
    elif content and raw_tool_call(content):
        meta["message"] = UNPARSED_TEXT
        return ModelReply(parts, usage, "malformed_call", meta)
    elif finish == "tool_calls":  # said it called tools but sent none
        finish = "stop"
    if finish == "stop" and not parts:
        if tools_offered:
            meta["message"] = UNPARSED_EMPTY
            return ModelReply(parts, usage, "malformed_call", meta)
        finish = "empty"
    if finish not in ("stop", "tool_calls"):
        meta["message"] = _FINISH_MESSAGES[finish].format(reason=raw_reason)
    return ModelReply(parts, usage, finish, meta)


def _tool_calls(raw_calls: list, turn: int) -> tuple[list[ToolCall], list[str]]:
    calls, malformed = [], []
    for n, raw in enumerate(raw_calls, start=1):
        function = raw.get("function") if isinstance(raw, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not name:
            malformed.append(f"call {n} has no function name")
            continue
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            try:
                args = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                malformed.append(
                    f"{name}: arguments are not JSON ({exc.msg} at position {exc.pos}): {clip(arguments, 120)}"
                )
                continue
        else:  # Ollama has been seen sending the object itself
            args = arguments if arguments is not None else {}
        if not isinstance(args, dict):
            malformed.append(f"{name}: arguments must be a JSON object, not {type(args).__name__}")
            continue
        call_id = raw.get("id") or f"call-{turn}-{n}"  # a server that gives none still needs ids matched in the request
        calls.append(ToolCall(call_id, name, args))
    return calls, malformed


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    prompt = raw.get("prompt_tokens") or 0
    completion = raw.get("completion_tokens") or 0
    cached = (raw.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (raw.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    # OpenAI counts reasoning inside completion_tokens; the transcript keeps them apart, as Gemini does.
    return Usage(
        input_tokens=prompt,
        cached_tokens=cached,
        output_tokens=max(0, completion - reasoning),
        thinking_tokens=reasoning,
    )


# -- errors ------------------------------------------------------------------------------------


def _error_status(body: dict) -> int | None:
    error = body.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) else None


# -- setup -------------------------------------------------------------------------------------


def _checked_base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ModelSpecError(f"OpenAI base URL {url!r} must look like http://host:port/v1")
    if parts.username or parts.password:
        raise ModelSpecError("the OpenAI base URL must not hold credentials; set OPENAI_API_KEY instead")
    return url.rstrip("/")
