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
- each image carries its own media resolution on models that accept it (Gemini 3): the
  user's originals at a modest level, observations (zooms and the like) at high;
- what a model accepts comes from the model table (agent/models/gemini_models.py), never
  from the shape of its name: aliases and ids the table does not know get no Gemini-3-only
  field; a thinking level the model does not take is refused before any request (exit 2);
- every finish reason of the SDK's FinishReason enum has an explicit outcome, and only STOP
  can end in an answer; a STOP with no parts (an intermittent empty reply) is asked again
  once, with a short nudge, before it counts as empty; transient failures go to the
  project's one retry policy (agent/models/retry.py); the SDK's own retries are off.

Gemini's server-side code execution, when enabled, shows in the transcript as a tool call
(`gemini_code_execution`) and its result inside the model's message, marked server-side so
the loop does not run it; images it produced come back as Image parts the loop registers.
Declaring it next to the agent's own functions needs
`tool_config.include_server_side_tool_invocations` (Gemini 3, Developer API only); Gemini 2.5
cannot combine the two at all, so that combination is refused before any request.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import replace
from typing import Any

import pydantic

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
from agent.models.gemini_models import THINKING_LEVELS, GeminiModelInfo, describe_unknown, model_info
from agent.models.retry import (
    RETRYABLE_STATUS,
    RetryPolicy,
    TransientError,
    connection_refused,
    parse_retry_after,
    retry_info_delay,
)
from agent.pricing import CostMeter, load_prices
from agent.transcript import Image, Message, Part, Text, Thought, ToolCall, ToolResult

CODE_EXECUTION = "gemini_code_execution"
# detail hint of an Image part -> Gemini per-part media resolution
DEFAULT_MEDIA_RESOLUTION = {"low": "MEDIA_RESOLUTION_MEDIUM", "high": "MEDIA_RESOLUTION_HIGH"}
OFFLINE_EXAMPLE = (
    'agent run "read the gauge in examples/gauge/gauge.png" --model replay:examples/gauge/run.cassette.jsonl'
)

# Every google-genai FinishReason -> the transcript's finish reason. Only STOP may end in an
# answer; MALFORMED_RESPONSE is retried and MISSING_THOUGHT_SIGNATURE is an error (see below).
_FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "max_tokens",
    "CONTINUATION": "max_tokens",  # the per-request token limit was reached, the reply is not done
    "SAFETY": "safety",
    "PROHIBITED_CONTENT": "safety",
    "BLOCKLIST": "safety",
    "SPII": "safety",
    "IMAGE_SAFETY": "safety",
    "IMAGE_PROHIBITED_CONTENT": "safety",
    "MODEL_ARMOR": "safety",
    "ESCALATION": "safety",
    "RECITATION": "recitation",
    "IMAGE_RECITATION": "recitation",
    "LANGUAGE": "blocked",
    "PUP_LIMITED_DISABLED": "blocked",
    "MALFORMED_FUNCTION_CALL": "malformed_call",
    "UNEXPECTED_TOOL_CALL": "malformed_call",
    "TOO_MANY_TOOL_CALLS": "too_many_tool_calls",
    "MALFORMED_RESPONSE": "retry",
    "MISSING_THOUGHT_SIGNATURE": "error",
    "OTHER": "other",
    "FINISH_REASON_UNSPECIFIED": "other",
    "NO_IMAGE": "other",
    "IMAGE_OTHER": "other",
}
_FINISH_MESSAGES = {
    "max_tokens": "the reply was cut off at the output token limit ({reason})",
    "safety": "the model stopped because the reply was flagged by safety filters ({reason})",
    "recitation": "the model stopped because the reply may recite copyrighted material ({reason})",
    "blocked": "the model stopped: {detail} ({reason})",
    "malformed_call": "the model produced a function call that could not be parsed ({reason})",
    "too_many_tool_calls": "the model made too many server-side tool calls in one turn and was stopped before it answered ({reason})",
    "empty": "the model returned no content",
    "other": "the model stopped for a reason it did not explain ({reason})",
}
_BLOCKED_DETAIL = {
    "LANGUAGE": "the reply was flagged for using an unsupported language",
    "PUP_LIMITED_DISABLED": "the account is limited or disabled for violating Google's Prohibited Use Policy",
}
# Sent once when a candidate comes back STOP with no parts, a known intermittent reply.
EMPTY_REPLY_NUDGE = "Your last reply came back empty. Continue the task: call a tool, or give the final answer."


class GeminiModel:
    def __init__(
        self,
        model_id: str,
        *,
        thinking: str | None = None,
        code_execution: bool = False,
        multimodal_function_responses: bool | None = None,
        media_resolution: dict[str, str] | None = None,
        max_output_tokens: int | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        prices: dict | None = None,
        client: Any = None,
    ):
        self.model_id = model_id.removeprefix("models/")
        if not self.model_id:
            raise ModelSpecError("gemini: needs a model id, e.g. gemini:gemini-3.8-flash")
        self.name = f"gemini:{self.model_id}"
        self.info = model_info(self.model_id)
        if multimodal_function_responses is not None:
            self.info = replace(self.info, multimodal_function_responses=multimodal_function_responses)
        if thinking is not None:
            _check_thinking_level(self.model_id, self.info, thinking)
        self.thinking = thinking
        self.code_execution = code_execution
        self.media_resolution = {**DEFAULT_MEDIA_RESOLUTION, **_media_resolution_from_env(), **(media_resolution or {})}
        self.max_output_tokens = max_output_tokens if max_output_tokens is not None else max_output_tokens_from_env()
        self.timeout = timeout if timeout is not None else float(os.environ.get("AGENT_GEMINI_TIMEOUT", "300"))
        try:
            self.retry = retry or RetryPolicy.from_env()
        except ValueError as exc:
            raise ModelSpecError(str(exc)) from None
        self.meter = CostMeter(prices if prices is not None else load_prices())
        self._client = client or _make_client(self.timeout)
        if code_execution:
            _check_code_execution(self.model_id, self.info, vertex=bool(getattr(self._client, "vertexai", False)))
        self._priced_as = self.model_id  # an alias is priced as the model that answered, once known
        self._turn = 0

    # -- the model interface ------------------------------------------------------------
    def complete(self, request: ModelRequest) -> ModelReply:
        from google.genai import types

        self._turn += 1
        contents = to_contents(request.messages, request.load_image, self.info, self.media_resolution)
        tools = self._tools(request.tools)
        config = types.GenerateContentConfig(
            system_instruction=request.system or None,
            tools=tools or None,
            tool_config=self._tool_config(request.tools),
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
            thinking_config=self._thinking_config(),
            max_output_tokens=self.max_output_tokens,
        )
        reply = self._ask(contents, config)
        if reply.finish_reason == "empty" and reply.meta.get("gemini_finish_reason") == "STOP":
            # a candidate with STOP and no parts: ask once more, with a nudge, before it counts
            self.retry.announce(
                f"agent: {self.name} returned an empty reply (STOP with no parts); asking once more, with a nudge"
            )
            nudged = contents + [types.Content(role="user", parts=[types.Part(text=EMPTY_REPLY_NUDGE)])]
            again = self._ask(nudged, config)
            reply = ModelReply(
                again.parts, reply.usage + again.usage, again.finish_reason, {**again.meta, "empty_reply_retried": True}
            )
        return reply

    def cost_usd(self, usage: Usage) -> float | None:
        return self.meter.cost(self._priced_as, usage)

    # -- internals ------------------------------------------------------------------------
    def _ask(self, contents, config) -> ModelReply:
        response = self.retry.call(lambda: self._generate(contents, config), what=f"{self.name} request")
        reply = from_response(response, turn=self._turn)
        if self.info.alias and reply.meta.get("model_version") in self.meter.prices:
            self._priced_as = reply.meta["model_version"]
        self.meter.record(self._priced_as, reply.usage)
        if reply.meta.get("gemini_finish_reason") == "MISSING_THOUGHT_SIGNATURE":
            raise ModelError(
                f"Gemini API refused the request: a thought signature is missing from it (MISSING_THOUGHT_SIGNATURE); "
                f"the transcript lost a signature the API sent, which is a bug in {__name__}"
            )
        return reply

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

    def _tool_config(self, specs: list[ToolSpec]):
        """Built-in tools next to functions need the API to circulate server-side tool calls."""
        from google.genai import types

        if self.code_execution and specs:
            return types.ToolConfig(include_server_side_tool_invocations=True)
        return None

    def _thinking_config(self):
        from google.genai import types

        if not self.info.thoughts:
            return None
        level = self.thinking.upper() if self.thinking else None
        return types.ThinkingConfig(include_thoughts=True, thinking_level=level)

    def _generate(self, contents, config):
        from google.genai import errors

        try:
            response = self._client.models.generate_content(model=self.model_id, contents=contents, config=config)
        except errors.APIError as exc:
            raise _classify_api_error(exc) from exc
        except (
            json.JSONDecodeError,
            pydantic.ValidationError,
        ) as exc:  # a 200 whose body is not the reply it should be
            raise TransientError(
                f"the API sent a reply that could not be parsed ({exc.__class__.__name__}: {exc})"
            ) from exc
        except Exception as exc:
            if connection_refused(exc):
                where = os.environ.get("GOOGLE_GEMINI_BASE_URL") or "its endpoint"
                raise ModelError(f"cannot connect to the Gemini API at {where}: connection refused") from exc
            transient = _transport_error(exc)
            if transient is None:
                raise
            raise transient from exc
        candidates = response.candidates or []
        if candidates and _enum_name(candidates[0].finish_reason) == "MALFORMED_RESPONSE":
            raise TransientError("the model's response was malformed (finish reason MALFORMED_RESPONSE)")
        return response


def _check_thinking_level(model_id: str, info: GeminiModelInfo, level: str) -> None:
    if level not in THINKING_LEVELS:
        raise ModelSpecError(f"--thinking must be one of {', '.join(THINKING_LEVELS)}, not {level!r}")
    if info.generation is None:
        raise ModelSpecError(
            f"--thinking {level}: the thinking levels of {model_id} are unknown: {describe_unknown(model_id, info)}"
        )
    if not info.thinking_levels:
        raise ModelSpecError(
            f"--thinking sets a thinking level, which Gemini 3 and later accept; {model_id} takes a thinking budget instead (leave --thinking out)"
        )
    if level not in info.thinking_levels:
        raise ModelSpecError(
            f"--thinking {level} is not accepted by {model_id}; it accepts {', '.join(info.thinking_levels)}"
        )


def _check_code_execution(model_id: str, info: GeminiModelInfo, vertex: bool) -> None:
    """Gemini's code execution is a built-in tool, and the agent always declares its own functions."""
    if vertex:
        raise ModelSpecError(
            "--code-execution gemini cannot be used on Vertex AI: combining a built-in tool with the agent's functions needs "
            "tool_config.include_server_side_tool_invocations, which google-genai allows only on the Gemini Developer API"
        )
    if info.builtin_tools_with_functions:
        return
    if info.generation is None:
        raise ModelSpecError(
            f"--code-execution gemini needs a model known to combine built-in tools with functions: {describe_unknown(model_id, info)}"
        )
    raise ModelSpecError(
        f"--code-execution gemini cannot be used with {model_id}: Gemini {info.generation}.x cannot combine a built-in tool "
        "with the agent's own functions (Gemini 3 can); use e.g. gemini-3.8-flash, or leave --code-execution out"
    )


# -- transcript -> google-genai -----------------------------------------------------------------


def to_contents(
    messages: list[Message],
    load_image: ImageLoader | None,
    info: GeminiModelInfo,
    media_resolution: dict[str, str] = DEFAULT_MEDIA_RESOLUTION,
) -> list:
    from google.genai import types

    def blob_of(image_id: str, detail: str) -> tuple[bytes, str]:
        if load_image is None:
            raise ModelError(f"image {image_id} cannot be sent: the request has no image loader")
        return load_image(image_id, detail)

    def resolution(detail: str):
        if not info.per_part_media_resolution:
            return None
        level = media_resolution.get(detail) or media_resolution["high"]
        return types.PartMediaResolution(level=level)

    contents = []
    call_order: list[str] = []  # ids of the latest model message's client-side calls, in order
    local_ids: set[str] = set()  # ids we made up for calls the API sent without one: never sent
    for m in messages:
        if m.role == "tool":
            parts = _tool_message_parts(m, call_order, local_ids, blob_of, resolution, info)
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
        return types.Part(
            inline_data=types.Blob(data=data, mime_type=mime),
            media_resolution=resolution(p.detail),
            thought_signature=signature,
        )
    if isinstance(p, ToolCall):
        local = meta.get("local_id")
        if meta.get("server_side"):
            code = types.ExecutableCode(
                code=p.args.get("code", ""), language=p.args.get("language", "PYTHON"), id=None if local else p.id
            )
            return types.Part(executable_code=code, thought_signature=signature)
        call = types.FunctionCall(id=None if local else p.id, name=p.name, args=p.args)
        return types.Part(function_call=call, thought_signature=signature)
    if isinstance(p, ToolResult) and meta.get("server_side"):
        result = types.CodeExecutionResult(
            outcome=meta.get("outcome", "OUTCOME_OK"),
            output=p.text or None,
            id=None if meta.get("local_id") else p.call_id,
        )
        return types.Part(code_execution_result=result, thought_signature=signature)
    raise ModelError(f"cannot send a {p.type} part outside a tool message to Gemini")


def _tool_message_parts(
    m: Message, call_order: list[str], local_ids: set[str], blob_of, resolution, info: GeminiModelInfo
) -> list:
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
            if info.multimodal_function_responses:
                images.append(
                    types.FunctionResponsePart(
                        inline_data=types.FunctionResponseBlob(data=data, mime_type=mime),
                        media_resolution=resolution("high"),
                    )
                )
            else:
                trailing.append(types.Part(text=f"[{image_id}, returned by {r.name}]"))
                trailing.append(
                    types.Part(inline_data=types.Blob(data=data, mime_type=mime), media_resolution=resolution("high"))
                )
        response = types.FunctionResponse(
            id=None if r.call_id in local_ids else r.call_id, name=r.name, response=payload, parts=images or None
        )
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
            return ModelReply(
                [],
                usage,
                "safety",
                {"message": f"the prompt was blocked ({reason}){detail}", "gemini_finish_reason": f"PROMPT_{reason}"},
            )
        return ModelReply([], usage, "empty", {"message": _FINISH_MESSAGES["empty"] + " (no candidates)"})
    candidate = candidates[0]
    parts = _parts_from_api(candidate.content.parts if candidate.content and candidate.content.parts else [], turn)
    raw_reason = _enum_name(candidate.finish_reason) if candidate.finish_reason is not None else "STOP"
    finish = _FINISH.get(raw_reason, "other")
    if finish in ("retry", "error"):  # handled by GeminiModel (a retry, an error); never an answer
        finish = "other"
    has_calls = any(isinstance(p, ToolCall) and not p.meta.get("server_side") for p in parts)
    if finish == "stop":
        if has_calls:
            finish = "tool_calls"
        elif not parts:
            finish = "empty"
    meta: dict[str, Any] = {"gemini_finish_reason": raw_reason}
    if finish not in ("stop", "tool_calls"):
        message = _FINISH_MESSAGES[finish].format(
            reason=raw_reason, detail=_BLOCKED_DETAIL.get(raw_reason, "it gave no reason")
        )
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
            parts.append(
                ToolResult(
                    result.id or last_code_id, CODE_EXECUTION, result.output or "", [], outcome != "OUTCOME_OK", meta
                )
            )
        elif ap.inline_data is not None and (ap.inline_data.mime_type or "").startswith("image/"):
            meta.update(
                data_b64=base64.b64encode(ap.inline_data.data or b"").decode("ascii"), mime=ap.inline_data.mime_type
            )
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
            raise ModelSpecError(
                f"Vertex AI is selected (GOOGLE_GENAI_USE_VERTEXAI) but cannot be used: {exc}"
            ) from None
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


def _signature_bytes(signature: str | None) -> bytes | None:
    return base64.b64decode(signature) if signature is not None else None


def _enum_name(value: Any) -> str:
    return getattr(value, "value", None) or str(value)
