"""The think → act → observe loop.

The history is a plain list of messages. Each turn: send what the context policy lets the
model see, append its reply, run the tools it called, append their results, repeat until it
answers (plain text, or the final_answer tool) or the step limit is reached.
"""
from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


from agent.context import ContextPolicy
from agent.files import InputFile, collect_inputs
from agent.models.base import Model, ModelError, ModelRequest, ModelSpecError, ToolSpec, Usage
from agent.prompt import build_system_prompt
from agent.report import write_report
from agent.transcript import Image, Message, Text, ToolCall, ToolResult
from agent.workspace import Workspace
from sandbox.home import skill_index
from sandbox.jail import choose_isolation, weakness_note
from tools import default_tools
from tools.code import MAX_IMAGE_PIXELS
from tools.images import ImageInputError, ImageStore, open_image_checked
from tools.registry import Tool, ToolContext, Toolbox

FINAL_ANSWER = "final_answer"
# Replies that say the model will not or cannot go on; the run stops with this status. Only a
# "stop" reply's text is an answer: "other" (a reason the provider did not explain) stops too.
STOPPING_FINISH_REASONS = {"safety", "recitation", "empty", "blocked", "other"}


@dataclass
class Event:
    kind: str  # run_started, model_reply, tool_result, finished
    step: int
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    answer: str | None
    status: str  # done, step_limit, model_error, interrupted, safety, recitation, empty, ...
    steps: int
    usage: Usage
    run_dir: Path
    evidence: list[str] = field(default_factory=list)
    error: str | None = None
    cost_usd: float | None = None

    @property
    def exit_code(self) -> int:
        return {"done": 0, "model_error": 3, "interrupted": 130}.get(self.status, 1)


class Agent:
    def __init__(
        self,
        model: Model,
        tools: list[Tool] | None = None,
        *,
        max_steps: int = 20,
        context: ContextPolicy | None = None,
        runs_dir: str | Path = "runs",
        sandbox: str | None = None,
        settings: dict[str, Any] | None = None,
    ):
        self.model = model
        self.toolbox = Toolbox(tools if tools is not None else default_tools())
        self.max_steps = max_steps
        self.context = context or ContextPolicy()
        self.runs_dir = Path(runs_dir)
        self.isolation = choose_isolation(sandbox)
        self.settings = dict(settings or {})

    def run(
        self,
        task: str,
        files: list[str | Path] = (),
        *,
        run_dir: str | Path | None = None,
        on_event: Callable[[Event], None] | None = None,
        cwd: str | Path | None = None,
        inputs: list[InputFile] | None = None,
    ) -> RunResult:
        """`cwd`: where relative file names (given or mentioned in the task) are looked up; default the process's.
        `inputs`: the result of collect_inputs, when the caller has already checked the files."""
        emit = on_event or (lambda event: None)
        if inputs is None:
            inputs = collect_inputs(task, list(files), cwd=Path(cwd) if cwd else None)
        work = Workspace.create(self.runs_dir, task, inputs, self.isolation, self.settings, Path(run_dir) if run_dir else None)
        record, images, ctx = work.record, work.images, work.ctx
        started = time.monotonic()
        system = build_system_prompt(skill_index(record.home_dir))
        specs = [ToolSpec(**s) for s in self.toolbox.specs()]
        record.write_json(
            "task.json",
            {
                "task": task,
                "files": [str(i.path) for i in inputs],
                "model": self.model.name,
                "max_steps": self.max_steps,
                "isolation": self.isolation,
                "context_policy": vars(self.context),
                "tools": self.toolbox.names(),
            },
        )
        emit(Event("run_started", 0, {"run_dir": str(record.path), "model": self.model.name, "isolation": self.isolation}))

        messages: list[Message] = []

        def add(message: Message) -> None:
            messages.append(message)
            record.append_message(message)

        usage, status, answer, evidence, error, steps = Usage(), "step_limit", None, [], None, 0
        crash: Exception | None = None
        try:
            add(self._first_message(task, work))
            for steps in range(1, self.max_steps + 1):
                request = ModelRequest(
                    system=system,
                    messages=self.context.apply(messages, lambda i: images.record(i).describe()),
                    tools=specs,
                    load_image=images.encoded,
                )
                reply = self.model.complete(request)
                usage = usage + reply.usage
                parts = _register_model_images(reply.parts, images)
                add(Message("model", parts, {"finish_reason": reply.finish_reason, "usage": reply.usage.to_dict()}))
                emit(Event("model_reply", steps, {"parts": parts, "finish_reason": reply.finish_reason}))
                # server-side calls (e.g. Gemini's own code execution) already ran, their results are in the reply
                calls = [p for p in parts if isinstance(p, ToolCall) and not p.meta.get("server_side")]
                if not calls:
                    text = "\n".join(p.text for p in parts if isinstance(p, Text)).strip()
                    if reply.finish_reason in STOPPING_FINISH_REASONS:
                        status, error = reply.finish_reason, reply.meta.get("message") or f"the model stopped: {reply.finish_reason}"
                        break
                    if reply.finish_reason in _NUDGES or not text:
                        add(Message("user", [Text(_NUDGES.get(reply.finish_reason, _NUDGES["empty"]))]))
                        continue
                    status, answer = "done", text
                    break
                results = [self._run_tool(call, ctx, steps, emit) for call in calls]
                add(Message("tool", results))
                final = next((c for r, c in zip(results, calls) if c.name == FINAL_ANSWER and not r.is_error), None)
                if final is not None:
                    status, answer, evidence = "done", final.args["answer"], list(final.args.get("evidence", []))
                    break
        except KeyboardInterrupt:
            status, error = "interrupted", "interrupted by the user"
        except ModelSpecError:
            raise
        except ModelError as exc:
            status, error = "model_error", str(exc)
        except Exception as exc:  # a bug: keep the run record complete, then let it surface
            status, error, crash = "crashed", f"{type(exc).__name__}: {exc}", exc

        result = RunResult(answer, status, steps, usage, record.path, evidence, error, _cost(self.model, usage))
        record.write_json(
            "answer.json",
            {
                "answer": answer,
                "evidence": evidence,
                "status": status,
                "error": error,
                "steps": steps,
                "usage": usage.to_dict(),
                "cost_usd": result.cost_usd,
                "model": self.model.name,
                "isolation": self.isolation,
                "isolation_note": weakness_note(self.isolation),
                "seconds": round(time.monotonic() - started, 3),
                "images": {i: r.describe() for i, r in images.records.items()},
            },
        )
        write_report(record.path)
        if crash is not None:
            raise crash
        emit(Event("finished", steps, {"result": result}))
        return result

    def _first_message(self, task: str, work: Workspace) -> Message:
        parts: list = [Text(task)]
        for original, copy, rec in work.add_input_images():
            rel = copy.relative_to(work.home).as_posix()
            if rec is not None:
                parts += [Text(f"[{rec.id}: {rec.width}x{rec.height} px, the file {rel}]"), Image(rec.id)]
            else:
                parts.append(Text(f"[file {rel} ({original.path.suffix.lstrip('.').upper() or 'no extension'}, {original.path.stat().st_size:,} bytes)]"))
        return Message("user", parts)

    def _run_tool(self, call: ToolCall, ctx: ToolContext, step: int, emit) -> ToolResult:
        started = time.monotonic()
        out = self.toolbox.call(call.name, call.args, ctx)
        labels = [ctx.images.record(i).describe() for i in out.image_ids]
        text = "\n".join([out.text, *(f"[{label}]" for label in labels)])
        result = ToolResult(call.id, call.name, text, list(out.image_ids), out.is_error)
        emit(Event("tool_result", step, {"call": call, "result": result, "seconds": time.monotonic() - started, "data": out.data}))
        return result


_NUDGES = {
    "max_tokens": "Your last reply was cut off at the output limit. Continue, more briefly.",
    "malformed_call": "Your last function call was malformed and could not be parsed. Call the tool again with valid JSON arguments.",
    "too_many_tool_calls": "Your last turn made too many tool calls. Continue with fewer calls per turn.",
    "empty": "Your last reply was empty. Continue the task: call a tool, or give the final answer.",
}


def _register_model_images(parts: list, images: ImageStore) -> list:
    """Images the model's reply carries inline (server-side code execution output) become run
    images: registered in the store, the bytes dropped from the part before it is recorded."""
    out = []
    for p in parts:
        if isinstance(p, Image) and not p.image_id and "data_b64" in p.meta:
            try:
                # the model's bytes: decoded with the same format list and pixel cap as any image the jail wrote
                decoded = open_image_checked(io.BytesIO(base64.b64decode(p.meta["data_b64"])), name="the model's image",
                                             max_pixels=MAX_IMAGE_PIXELS)
                rec = images.add(decoded, parent=None, op="gemini_code_execution", params={"mime": p.meta.get("mime")})
            except (ImageInputError, ValueError):
                out.append(Text("[the model returned an image that could not be decoded or was too large]"))
                continue
            meta = {k: v for k, v in p.meta.items() if k not in ("data_b64", "mime")}
            p = Image(rec.id, p.detail, meta)
        out.append(p)
    return out


def _cost(model: Model, usage: Usage) -> float | None:
    price = getattr(model, "cost_usd", None)
    return price(usage) if callable(price) else None
