"""Gemini through the google-genai SDK: the transcript to the API's types and back.

Faithful to the API, not just its happy path:
- tools are FunctionDeclarations with our JSON schemas (`parameters_json_schema`); the SDK's
  automatic function calling is off, the loop runs the tools;
- every function response carries its call's id; the calls of one turn are answered in one
  content, in the order they were made;
- thought signatures are kept (base64, in `meta["thought_signature"]` or `Thought.signature`)
  and sent back byte for byte on the part they came with;
- images a tool returns go back inside the FunctionResponse (`parts`) on models that accept
  multimodal function responses (Gemini 3 and later), else as image parts after the function
  responses of the same user turn;
- each image carries its own media resolution: the user's originals at a modest level,
  observations (zooms and the like) at high;
- every finish reason has a status and a readable message; transient failures go to the
  project's one retry policy (agent/models/retry.py); the SDK's own retries are off.

Gemini's server-side code execution, when enabled, shows in the transcript as a tool call
(`gemini_code_execution`) and its result inside the model's message, marked server-side so
the loop does not run it; images it produced come back as Image parts the loop registers.
"""
from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass
from typing import Any

import pydantic

from agent.models.base import ImageLoader, ModelError, ModelReply, ModelRequest, ModelSpecError, ToolSpec, Usage
from agent.models.retry import RETRYABLE_STATUS, RetryPolicy, TransientError, parse_retry_after, retry_info_delay
from agent.pricing import cost_usd, load_prices
from agent.transcript import Image, Message, Part, Text, Thought, ToolCall, ToolResult

CODE_EXECUTION = "gemini_code_execution"
THINKING_LEVELS = ("minimal", "low", "medium", "high")
# detail hint of an Image part -> Gemini per-part media resolution
DEFAULT_MEDIA_RESOLUTION = {"low": "MEDIA_RESOLUTION_MEDIUM", "high": "MEDIA_RESOLUTION_HIGH"}
OFFLINE_EXAMPLE = 'agent run "read the gauge in examples/gauge/gauge.png" --model replay:examples/gauge/run.cassette.jsonl'

_FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "max_tokens",
    "SAFETY": "safety",
    "PROHIBITED_CONTENT": "safety",
    "BLOCKLIST": "safety",
    "SPII": "safety",
    "IMAGE_SAFETY": "safety",
    "IMAGE_PROHIBITED_CONTENT": "safety",
    "MODEL_ARMOR": "safety",
    "RECITATION": "recitation",
    "IMAGE_RECITATION": "recitation",
    "MALFORMED_FUNCTION_CALL": "malformed_call",
    "UNEXPECTED_TOOL_CALL": "malformed_call",
}
_FINISH_MESSAGES = {
    "max_tokens": "the reply was cut off at the output token limit",
    "safety": "the model stopped because the reply was flagged by safety filters ({reason})",
    "recitation": "the model stopped because the reply may recite copyrighted material ({reason})",
    "malformed_call": "the model produced a function call that could not be parsed ({reason})",
    "empty": "the model returned no content",
    "other": "the model stopped for a reason it did not explain ({reason})",
}


@dataclass
class FamilySettings:
    """What a model family accepts. Defaults per family; each can be overridden."""

    multimodal_function_responses: bool  # images inside FunctionResponse.parts
    per_part_media_resolution: bool
    thinking_level: bool  # ThinkingConfig.thinking_level (Gemini 3); 2.5 uses budgets
    thoughts: bool  # can return thought summaries

    @classmethod
    def for_model(cls, model_id: str) -> "FamilySettings":
        version = _major_minor(model_id)
        if version is None or version >= (3, 0):  # unknown names and the -latest aliases are current models
            return cls(True, True, True, True)
        if version >= (2, 5):
            return cls(False, False, False, True)
        return cls(False, False, False, False)


class GeminiModel:
    def __init__(
        self,
        model_id: str,
        *,
        thinking: str | None = None,
        code_execution: bool = False,
        multimodal_function_responses: bool | None = None,
        media_resolution: dict[str, str] | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        prices: dict | None = None,
        client: Any = None,
    ):
        self.model_id = model_id.removeprefix("models/")
        self.name = f"gemini:{self.model_id}"
        self.family = FamilySettings.for_model(self.model_id)
        if multimodal_function_responses is not None:
            self.family.multimodal_function_responses = multimodal_function_responses
        if thinking is not None:
            if thinking not in THINKING_LEVELS:
                raise ModelSpecError(f"--thinking must be one of {', '.join(THINKING_LEVELS)}, not {thinking!r}")
            if not self.family.thinking_level:
                raise ModelSpecError(
                    f"--thinking sets a thinking level, which Gemini 3 and later accept; {self.model_id} does not (leave it out)"
                )
        self.thinking = thinking
        self.code_execution = code_execution
        self.media_resolution = {**DEFAULT_MEDIA_RESOLUTION, **_media_resolution_from_env(), **(media_resolution or {})}
        self.timeout = timeout if timeout is not None else float(os.environ.get("AGENT_GEMINI_TIMEOUT", "300"))
        try:
            self.retry = retry or RetryPolicy.from_env()
        except ValueError as exc:
            raise ModelSpecError(str(exc)) from None
        self.prices = prices if prices is not None else load_prices()
        self._client = client or _make_client(self.timeout)
        self._turn = 0

    # -- the model interface ------------------------------------------------------------
    def complete(self, request: ModelRequest) -> ModelReply:
        from google.genai import types

        self._turn += 1
        contents = to_contents(request.messages, request.load_image, self.family, self.media_resolution)
        config = types.GenerateContentConfig(
            system_instruction=request.system or None,
            tools=self._tools(request.tools) or None,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
            thinking_config=self._thinking_config(),
        )
        response = self.retry.call(
            lambda: self._generate(contents, config),
            what=f"{self.name} request",
        )
        return from_response(response, turn=self._turn)

    def cost_usd(self, usage: Usage) -> float | None:
        return cost_usd(self.model_id, usage, self.prices)

    # -- internals ------------------------------------------------------------------------
    def _tools(self, specs: list[ToolSpec]) -> list:
        from google.genai import types

        tools = []
        if specs:
            declarations = [
                types.FunctionDeclaration(name=s.name, description=s.description, parameters_json_schema=s.parameters)
                for s in specs
            ]
            tools.append(types.Tool(function_declarations=declarations))
        if self.code_execution:
            tools.append(types.Tool(code_execution=types.ToolCodeExecution()))
        return tools

    def _thinking_config(self):
        from google.genai import types

        if not self.family.thoughts:
            return None
        level = self.thinking.upper() if self.thinking else None
        return types.ThinkingConfig(include_thoughts=True, thinking_level=level)

    def _generate(self, contents, config):
        from google.genai import errors

        try:
            return self._client.models.generate_content(model=self.model_id, contents=contents, config=config)
        except errors.APIError as exc:
            raise _classify_api_error(exc) from exc
        except (json.JSONDecodeError, pydantic.ValidationError) as exc:  # a 200 whose body is not the reply it should be
            raise TransientError(f"the API sent a reply that could not be parsed ({exc.__class__.__name__}: {exc})") from exc
        except Exception as exc:
            transient = _transport_error(exc)
            if transient is None:
                raise
            raise transient from exc


# -- transcript -> google-genai -----------------------------------------------------------------


def to_contents(
    messages: list[Message],
    load_image: ImageLoader | None,
    family: FamilySettings,
    media_resolution: dict[str, str] = DEFAULT_MEDIA_RESOLUTION,
) -> list:
    from google.genai import types

    def blob_of(image_id: str, detail: str) -> tuple[bytes, str]:
        if load_image is None:
            raise ModelError(f"image {image_id} cannot be sent: the request has no image loader")
        return load_image(image_id, detail)

    def resolution(detail: str):
        if not family.per_part_media_resolution:
            return None
        level = media_resolution.get(detail) or media_resolution["high"]
        return types.PartMediaResolution(level=level)

    contents = []
    call_order: list[str] = []  # ids of the latest model message's client-side calls, in order
    local_ids: set[str] = set()  # ids we made up for calls the API sent without one: never sent
    for m in messages:
        if m.role == "tool":
            parts = _tool_message_parts(m, call_order, local_ids, blob_of, resolution, family)
            role = "user"
        else:
            parts = []
            for p in m.parts:
                part = _part(p, blob_of, resolution)
                if part is not None:
                    parts.append(part)
            role = "model" if m.role == "model" else "user"
            if m.role == "model":
                call_order = [p.id for p in m.parts if isinstance(p, ToolCall) and not p.meta.get("server_side")]
                local_ids.update(p.id for p in m.parts if isinstance(p, ToolCall) and p.meta.get("local_id"))
        if parts:  # a reply with no parts (an empty or blocked candidate) is not sent back
            contents.append(types.Content(role=role, parts=parts))
    return contents


def _part(p: Part, blob_of, resolution):
    from google.genai import types

    meta = p.meta
    if "gemini_raw" in meta:  # a part kind we do not model, kept as the API sent it
        return types.Part.model_validate(meta["gemini_raw"])
    signature = _signature_bytes(p.signature if isinstance(p, Thought) else meta.get("thought_signature"))
    if isinstance(p, Thought):
        if not p.text and signature is None:
            return None
        return types.Part(text=p.text, thought=True, thought_signature=signature)
    if isinstance(p, Text):
        return types.Part(text=p.text, thought_signature=signature)
    if isinstance(p, Image):
        if p.image_id:
            data, mime = blob_of(p.image_id, p.detail)
        else:
            data, mime = base64.b64decode(meta["data_b64"]), meta["mime"]
        return types.Part(inline_data=types.Blob(data=data, mime_type=mime), media_resolution=resolution(p.detail), thought_signature=signature)
    if isinstance(p, ToolCall):
        local = meta.get("local_id")
        if meta.get("server_side"):
            code = types.ExecutableCode(code=p.args.get("code", ""), language=p.args.get("language", "PYTHON"), id=None if local else p.id)
            return types.Part(executable_code=code, thought_signature=signature)
        call = types.FunctionCall(id=None if local else p.id, name=p.name, args=p.args)
        return types.Part(function_call=call, thought_signature=signature)
    if isinstance(p, ToolResult) and meta.get("server_side"):
        result = types.CodeExecutionResult(
            outcome=meta.get("outcome", "OUTCOME_OK"), output=p.text or None, id=None if meta.get("local_id") else p.call_id
        )
        return types.Part(code_execution_result=result, thought_signature=signature)
    raise ModelError(f"cannot send a {p.type} part outside a tool message to Gemini")


def _tool_message_parts(m: Message, call_order: list[str], local_ids: set[str], blob_of, resolution, family: FamilySettings) -> list:
    from google.genai import types

    results = [p for p in m.parts if isinstance(p, ToolResult)]
    rank = {call_id: i for i, call_id in enumerate(call_order)}
    results.sort(key=lambda r: rank.get(r.call_id, len(rank)))  # stable: unknown ids keep their order, last
    responses, trailing = [], []
    for r in results:
        payload = {"error": r.text} if r.is_error else {"output": r.text}
        images = []
        for image_id in r.image_ids:
            data, mime = blob_of(image_id, "high")
            if family.multimodal_function_responses:
                images.append(
                    types.FunctionResponsePart(
                        inline_data=types.FunctionResponseBlob(data=data, mime_type=mime), media_resolution=resolution("high")
                    )
                )
            else:
                trailing.append(types.Part(text=f"[{image_id}, returned by {r.name}]"))
                trailing.append(types.Part(inline_data=types.Blob(data=data, mime_type=mime), media_resolution=resolution("high")))
        response = types.FunctionResponse(id=None if r.call_id in local_ids else r.call_id, name=r.name, response=payload, parts=images or None)
        responses.append(types.Part(function_response=response))
    others = [types.Part(text=p.text) for p in m.parts if isinstance(p, Text)]
    return responses + trailing + others


# -- google-genai -> transcript -----------------------------------------------------------------


def from_response(response, turn: int = 0) -> ModelReply:
    usage = _usage(response.usage_metadata)
    candidates = response.candidates or []
    feedback = response.prompt_feedback
    if not candidates:
        if feedback is not None and feedback.block_reason is not None:
            reason = _enum_name(feedback.block_reason)
            detail = f": {feedback.block_reason_message}" if feedback.block_reason_message else ""
            return ModelReply([], usage, "safety", {"message": f"the prompt was blocked ({reason}){detail}", "gemini_finish_reason": f"PROMPT_{reason}"})
        return ModelReply([], usage, "empty", {"message": _FINISH_MESSAGES["empty"] + " (no candidates)"})
    candidate = candidates[0]
    parts = _parts_from_api(candidate.content.parts if candidate.content and candidate.content.parts else [], turn)
    raw_reason = _enum_name(candidate.finish_reason) if candidate.finish_reason is not None else "STOP"
    finish = _FINISH.get(raw_reason, "other")
    has_calls = any(isinstance(p, ToolCall) and not p.meta.get("server_side") for p in parts)
    if finish == "stop":
        if has_calls:
            finish = "tool_calls"
        elif not parts:
            finish = "empty"
    meta: dict[str, Any] = {"gemini_finish_reason": raw_reason}
    if finish not in ("stop", "tool_calls"):
        message = _FINISH_MESSAGES[finish].format(reason=raw_reason)
        if candidate.finish_message:
            message += f": {candidate.finish_message}"
        meta["message"] = message
    if response.model_version:
        meta["model_version"] = response.model_version
    return ModelReply(parts, usage, finish, meta)


def _parts_from_api(api_parts: list, turn: int) -> list[Part]:
    parts: list[Part] = []
    last_code_id = ""
    for n, ap in enumerate(api_parts, start=1):
        sig = base64.b64encode(ap.thought_signature).decode("ascii") if ap.thought_signature is not None else None
        meta = {"thought_signature": sig} if sig is not None else {}
        local_id = f"gemini-{turn}-{n}"
        if ap.thought and ap.text is not None:
            parts.append(Thought(ap.text, signature=sig))
        elif ap.function_call is not None:
            fc = ap.function_call
            if not fc.id:
                meta["local_id"] = True
            parts.append(ToolCall(fc.id or local_id, fc.name or "", dict(fc.args or {}), meta))
        elif ap.executable_code is not None:
            code = ap.executable_code
            meta["server_side"] = True
            if not code.id:
                meta["local_id"] = True
            last_code_id = code.id or local_id
            args = {"code": code.code or "", "language": _enum_name(code.language) if code.language else "PYTHON"}
            parts.append(ToolCall(last_code_id, CODE_EXECUTION, args, meta))
        elif ap.code_execution_result is not None:
            result = ap.code_execution_result
            outcome = _enum_name(result.outcome) if result.outcome else "OUTCOME_UNSPECIFIED"
            meta.update(server_side=True, outcome=outcome)
            if not result.id:
                meta["local_id"] = True
            parts.append(ToolResult(result.id or last_code_id, CODE_EXECUTION, result.output or "", [], outcome != "OUTCOME_OK", meta))
        elif ap.inline_data is not None and (ap.inline_data.mime_type or "").startswith("image/"):
            meta.update(data_b64=base64.b64encode(ap.inline_data.data or b"").decode("ascii"), mime=ap.inline_data.mime_type)
            parts.append(Image("", "high", meta))
        elif ap.text is not None and _only_text(ap):
            parts.append(Text(ap.text, meta))
        else:
            parts.append(Text("", {"gemini_raw": ap.model_dump(mode="json", exclude_none=True)}))
    return parts


def _only_text(ap) -> bool:
    fields = ap.model_dump(exclude_none=True)
    return set(fields) <= {"text", "thought_signature"}


def _usage(meta) -> Usage:
    if meta is None:
        return Usage()
    return Usage(
        input_tokens=(meta.prompt_token_count or 0) + (meta.tool_use_prompt_token_count or 0),
        cached_tokens=meta.cached_content_token_count or 0,
        output_tokens=meta.candidates_token_count or 0,
        thinking_tokens=meta.thoughts_token_count or 0,
    )


# -- errors ------------------------------------------------------------------------------------


def _classify_api_error(exc) -> Exception:
    code = getattr(exc, "code", None)
    text = f"{code} {exc.status or ''}: {exc.message or exc.details}".strip()
    if code in RETRYABLE_STATUS:
        headers = getattr(getattr(exc, "response", None), "headers", None) or {}
        hint = parse_retry_after(headers.get("retry-after")) if hasattr(headers, "get") else None
        info = retry_info_delay(exc.details)
        waits = [w for w in (hint, info) if w is not None]
        return TransientError(text, status=code, retry_after=max(waits) if waits else None)
    return ModelError(f"Gemini API error {text}")


def _transport_error(exc: Exception) -> TransientError | None:
    """Timeouts and dropped connections, from whichever HTTP library the SDK used (httpx or
    its fork httpx2; both name their exception classes alike)."""
    names = {cls.__name__ for cls in type(exc).__mro__ if cls.__module__.split(".")[0] in ("httpx", "httpx2")}
    if "TimeoutException" in names:
        return TransientError(f"the request timed out ({exc.__class__.__name__})")
    if "TransportError" in names:
        return TransientError(f"the connection failed ({exc.__class__.__name__}: {exc})")
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return TransientError(f"the request failed ({exc.__class__.__name__}: {exc})")
    return None


# -- setup -------------------------------------------------------------------------------------


def _make_client(timeout: float):
    from google import genai
    from google.genai import types

    http_options = types.HttpOptions(timeout=int(timeout * 1000), retry_options=types.HttpRetryOptions(attempts=1))
    if _env_flag("GOOGLE_GENAI_USE_VERTEXAI") or _env_flag("GOOGLE_GENAI_USE_ENTERPRISE"):
        try:
            return genai.Client(http_options=http_options)  # project, location and credentials from the SDK's env vars
        except Exception as exc:  # the SDK says what is missing
            raise ModelSpecError(f"Vertex AI is selected (GOOGLE_GENAI_USE_VERTEXAI) but cannot be used: {exc}") from None
    key = os.environ.get("GOOGLE_API_KEY") or os.environ.get("GEMINI_API_KEY")
    if not key:
        raise ModelSpecError(
            "no Gemini API key: set GEMINI_API_KEY (or GOOGLE_API_KEY), or try the offline example: " + OFFLINE_EXAMPLE
        )
    return genai.Client(api_key=key, http_options=http_options)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


def _media_resolution_from_env() -> dict[str, str]:
    """AGENT_GEMINI_MEDIA_RESOLUTION="low=MEDIUM,high=ULTRA_HIGH" (detail=level)."""
    raw = os.environ.get("AGENT_GEMINI_MEDIA_RESOLUTION", "")
    out = {}
    for item in filter(None, (s.strip() for s in raw.split(","))):
        detail, _, level = item.partition("=")
        level = level.strip().upper()
        if detail.strip() not in ("low", "high") or not level:
            raise ModelSpecError(f"AGENT_GEMINI_MEDIA_RESOLUTION: {item!r} must look like low=MEDIUM or high=HIGH")
        out[detail.strip()] = level if level.startswith("MEDIA_RESOLUTION_") else f"MEDIA_RESOLUTION_{level}"
    return out


def _major_minor(model_id: str) -> tuple[int, int] | None:
    match = re.match(r"gemini-(\d+)(?:\.(\d+))?", model_id)
    return (int(match.group(1)), int(match.group(2) or 0)) if match else None


def _signature_bytes(signature: str | None) -> bytes | None:
    return base64.b64decode(signature) if signature is not None else None


def _enum_name(value: Any) -> str:
    return getattr(value, "value", None) or str(value)

