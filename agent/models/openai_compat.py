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
- reasoning the server returns (`reasoning_content` from vLLM and DeepSeek, `reasoning` from
  Ollama and others) becomes a Thought part and goes back on its assistant message under the
  field it came in (DeepSeek's thinking mode answers 400 when a tool-call turn comes back
  without it; OpenAI never returns reasoning, so it never receives the field);
- tool-call arguments that are not a JSON object end the turn as `malformed_call` (the loop
  asks the model to call again), never as a crash;
- transient failures go to the project's one retry policy (agent/models/retry.py).
"""
from __future__ import annotations

import base64
import json
import os
import re
from typing import Any
from urllib.parse import urlsplit

import httpx2

from agent.models.base import ImageLoader, ModelError, ModelReply, ModelRequest, ModelSpecError, ToolSpec, Usage
from agent.models.retry import RETRYABLE_STATUS, RetryPolicy, TransientError, parse_retry_after
from agent.pricing import cost_usd, load_prices
from agent.transcript import Image, Message, Part, Text, Thought, ToolCall, ToolResult

OPENAI_BASE_URL = "https://api.openai.com/v1"
# Where servers put the model's reasoning, in the order they are looked for.
REASONING_FIELDS = ("reasoning_content", "reasoning")
REASONING_EFFORTS = ("minimal", "low", "medium", "high")

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
            raise ModelSpecError("openai: needs a model name, e.g. openai:gpt-4o or openai:llava@http://localhost:11434/v1")
        if code_execution:
            raise ModelSpecError("--code-execution gemini needs a gemini: model; OpenAI-compatible servers have no such tool")
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
        self.timeout = timeout if timeout is not None else float(os.environ.get("AGENT_OPENAI_TIMEOUT", "300"))
        try:
            self.retry = retry or RetryPolicy.from_env()
        except ValueError as exc:
            raise ModelSpecError(str(exc)) from None
        self.prices = prices if prices is not None else load_prices()
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
        data = self.retry.call(lambda: self._post(body), what=f"{self.name} request")
        return from_response(data, turn=self._turn)

    def cost_usd(self, usage: Usage) -> float | None:
        return cost_usd(self.model_id, usage, self.prices)

    # -- internals ------------------------------------------------------------------------
    def _post(self, body: dict) -> dict:
        url = f"{self.base_url}/chat/completions"
        try:
            response = self._client.post(url, json=body)
        except httpx2.TimeoutException as exc:
            raise TransientError(f"the request to {url} timed out ({exc.__class__.__name__})") from exc
        except httpx2.TransportError as exc:
            raise TransientError(f"the connection to {url} failed ({exc.__class__.__name__}: {exc}); is the server running?") from exc
        if response.status_code >= 400:
            raise _http_error(response)
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TransientError(f"the server sent a reply that is not JSON ({_clip(response.text, 200)!r})") from exc
        if not isinstance(data, dict):
            raise TransientError(f"the server sent a reply that is not a JSON object ({_clip(response.text, 200)!r})")
        if "choices" not in data and "error" in data:  # some proxies report failures inside a 200
            status, message = _error_status(data), _error_message(data)
            if status in RETRYABLE_STATUS:
                raise TransientError(f"{status}: {message}", status=status)
            raise ModelError(f"OpenAI-compatible API error: {message}")
        if not isinstance(data.get("choices"), list):
            raise TransientError(f"the server sent a reply without choices ({_clip(response.text, 200)!r})")
        return data


def tool_declarations(specs: list[ToolSpec]) -> list[dict]:
    return [{"type": "function", "function": {"name": s.name, "description": s.description, "parameters": s.parameters}} for s in specs]


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
            if assistant["content"] is not None or "tool_calls" in assistant:  # a reply with no text or calls is not sent back
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


def from_response(data: dict, turn: int = 0) -> ModelReply:
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
    for name in REASONING_FIELDS:
        reasoning = message.get(name)
        # kept even when empty on a tool-call turn: DeepSeek wants the field back on those
        if isinstance(reasoning, str) and (reasoning.strip() or message.get("tool_calls")):
            parts.append(Thought(reasoning, meta={"field": name}))
            break
    if isinstance(message.get("content"), str) and message["content"]:
        parts.append(Text(message["content"]))
    calls, malformed = _tool_calls(message.get("tool_calls") or [], turn)
    if malformed:
        meta["message"] = "the model produced a function call that could not be parsed: " + "; ".join(malformed)
        return ModelReply(parts, usage, "malformed_call", meta)
    parts += calls

    finish = _FINISH.get(raw_reason, "other")
    if calls:
        finish = "tool_calls"
    elif finish == "tool_calls":  # said it called tools but sent none
        finish = "stop"
    if finish == "stop" and not parts:
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
                malformed.append(f"{name}: arguments are not JSON ({exc.msg} at position {exc.pos}): {_clip(arguments, 120)}")
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
    return Usage(input_tokens=prompt, cached_tokens=cached, output_tokens=max(0, completion - reasoning), thinking_tokens=reasoning)


# -- errors ------------------------------------------------------------------------------------


def _http_error(response: httpx2.Response) -> Exception:
    status = response.status_code
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    message = _error_message(body) if body is not None else _clip(response.text, 300) or response.reason_phrase
    text = f"{status} {response.reason_phrase}: {message}" if message else f"{status} {response.reason_phrase}"
    if status in RETRYABLE_STATUS:
        return TransientError(text, status=status, retry_after=parse_retry_after(response.headers.get("retry-after")))
    return ModelError(f"OpenAI-compatible API error {text}")


def _error_message(body: Any) -> str:
    """The server's own words, on one line: OpenAI, vLLM and llama.cpp send {"error": {"message"}},
    some servers {"error": "..."} or {"detail": "..."}."""
    error = body.get("error", body.get("detail", body)) if isinstance(body, dict) else body
    if isinstance(error, dict):
        error = error.get("message") or json.dumps(error, ensure_ascii=False)
    return _clip(str(error), 300)


def _error_status(body: dict) -> int | None:
    error = body.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) else None


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- setup -------------------------------------------------------------------------------------


def _checked_base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ModelSpecError(f"OpenAI base URL {url!r} must look like http://host:port/v1")
    if parts.username or parts.password:
        raise ModelSpecError("the OpenAI base URL must not hold credentials; set OPENAI_API_KEY instead")
    return url.rstrip("/")
