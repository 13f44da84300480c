"""The think → act → observe loop.

A run is a `Workspace` (run directory, home, images, tool context) and a history, a plain list
of messages. `Agent.run` starts a run and calls `step` until the run ends. Each step checks the
budget, sends what the context policy lets the model see, appends its reply, runs the tools it
called and appends their results. The run ends when the model answers (plain text, or a tool
whose result is final: final_answer), stops (a safety block, …) or the budget runs out.

A caller can drive a run itself (`start`, then `step` until `run.status` is set, then `finish`),
or subclass `Agent` and override `step`, `act` or `request`.
"""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from agent.budget import Budget
from agent.context import ContextPolicy
from agent.files import InputFile, collect_inputs
from agent.models.base import Model, ModelError, ModelReply, ModelRequest, ModelSpecError, ToolSpec, Usage
from agent.models.cassette import RecordingModel
from agent.prompt import build_system_prompt
from agent.transcript import Image, Message, Text, ToolCall, ToolResult
from agent.workspace import Workspace
from sandbox.home import skill_index
from tools import default_tools
from tools.code import MAX_IMAGE_PIXELS
from tools.images import ImageInputError, ImageStore, open_image_checked
from tools.registry import Tool, Toolbox, ToolSettings

CASSETTE_NAME = "cassette.jsonl"  # every run directory keeps its model's replies here

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
    status: str  # done, step_limit, budget, model_error, interrupted, safety, recitation, empty, …
    steps: int
    usage: Usage
    run_dir: Path
    evidence: list[str] = field(default_factory=list)
    error: str | None = None
    cost_usd: float | None = None

    @property
    def exit_code(self) -> int:
        return {"done": 0, "usage_error": 2, "model_error": 3, "interrupted": 130}.get(self.status, 1)


@dataclass
class Run:
    """One run in progress: where it works, what was said, what it has spent, how it ended."""

    task: str
    work: Workspace
    system: str
    emit: Callable[[Event], None]
    started: float = field(default_factory=time.monotonic)
    messages: list[Message] = field(default_factory=list)
    steps: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    status: str | None = None  # set once, when the run ends
    answer: str | None = None
    evidence: list[str] = field(default_factory=list)
    error: str | None = None
    model: Model | None = None  # what this run asks: the agent's model, its replies recorded in the run's cassette

    def add(self, message: Message) -> None:
        self.messages.append(message)
        self.work.record.append_message(message)  # appended as it happens: a crash loses nothing said

    def end(
        self, status: str, answer: str | None = None, evidence: Sequence[str] = (), error: str | None = None
    ) -> None:
        self.status, self.answer, self.evidence, self.error = status, answer, list(evidence), error

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started


class Agent:
    def __init__(
        self,
        model: Model,
        tools: list[Tool] | None = None,
        *,
        budget: Budget | None = None,
        context: ContextPolicy | None = None,
        runs_dir: str | Path = "runs",
        settings: ToolSettings | None = None,
    ):
        self.model = model
        self.toolbox = Toolbox(tools if tools is not None else default_tools())
        self.specs = [ToolSpec(**s) for s in self.toolbox.specs()]
        self.budget = budget or Budget()
        self.context = context or ContextPolicy()
        self.runs_dir = Path(runs_dir)
        self.settings = settings or ToolSettings()

    def run(
        self,
        task: str,
        inputs: list[InputFile] | None = None,
        *,
        run_dir: str | Path | None = None,
        on_event: Callable[[Event], None] | None = None,
    ) -> RunResult:
        """Run `task` to its end. `inputs`: the checked files (agent.files.collect_inputs); by
        default the files the task mentions, looked up in the current directory. The run
        directory is complete whatever ends the run; a bug still surfaces once it is written."""
        run = self.start(task, inputs, run_dir=run_dir, on_event=on_event)
        try:
            while run.status is None:
                self.step(run)
        except BaseException as exc:
            if _ended_by(run, exc):
                return self.finish(run)
            self.finish(run)
            raise
        return self.finish(run)

    def start(
        self,
        task: str,
        inputs: list[InputFile] | None = None,
        *,
        run_dir: str | Path | None = None,
        on_event: Callable[[Event], None] | None = None,
    ) -> Run:
        """Lay out the run's workspace and record the task; the run is then driven by `step`."""
        if inputs is None:
            inputs = collect_inputs(task, [])
        work = Workspace.create(self.runs_dir, task, inputs, self.settings, Path(run_dir) if run_dir else None)
        run = Run(task, work, build_system_prompt(skill_index(work.home)), on_event or (lambda event: None))
        run.model = RecordingModel(self.model, work.record.path / CASSETTE_NAME)  # for `agent replay`
        work.write_task(
            task=task,
            started_at=datetime.now(timezone.utc)
            .astimezone()
            .isoformat(timespec="milliseconds"),  # orders `agent runs`
            model=self.model.name,
            max_steps=self.budget.max_steps,
            budget=self.budget.to_dict(),
            context_policy=vars(self.context),
            tools=self.toolbox.names(),
        )
        run.emit(
            Event(
                "run_started",
                0,
                {"run_dir": str(work.record.path), "model": self.model.name, "isolation": work.isolation},
            )
        )
        run.add(work.first_message(task))
        return run

    def step(self, run: Run) -> None:
        """One turn: stop if the budget is spent; else ask the model, then run the tools it called."""
        over = self.budget.exceeded(run.steps, run.usage, run.cost_usd, run.seconds)
        if over:
            run.end(over[0], error=over[1])
            return
        run.steps += 1
        asked = time.monotonic()
        reply = (run.model or self.model).complete(self.request(run))
        seconds = time.monotonic() - asked
        run.usage = run.usage + reply.usage
        run.cost_usd = self.model.cost_usd(run.usage)
        parts = _register_model_images(reply.parts, run.work.images)
        run.add(Message("model", parts, {"finish_reason": reply.finish_reason, "usage": reply.usage.to_dict()}))
        # timings live beside the transcript, not in it: a message's bytes are what a cassette matches
        run.work.record.append_step(
            {
                "step": run.steps,
                "kind": "model",
                "seconds": round(seconds, 3),
                "usage": reply.usage.to_dict(),
                "finish_reason": reply.finish_reason,
            }
        )
        run.emit(
            Event("model_reply", run.steps, {"parts": parts, "finish_reason": reply.finish_reason, "seconds": seconds})
        )
        # server-side calls (e.g. Gemini's own code execution) already ran, their results are in the reply
        calls = [p for p in parts if isinstance(p, ToolCall) and not p.meta.get("server_side")]
        if calls:
            run.add(Message("tool", [self.act(run, call) for call in calls]))
        else:
            self.read_reply(run, reply, parts)

    def request(self, run: Run) -> ModelRequest:
        images = run.work.images
        messages = self.context.apply(run.messages, lambda image_id: images.record(image_id).describe())
        return ModelRequest(system=run.system, messages=messages, tools=self.specs, load_image=images.encoded)

    def act(self, run: Run, call: ToolCall) -> ToolResult:
        """Run one tool call. A final result (final_answer's) ends the run; the calls after it in
        the same turn are not run, each answered with a note so every call keeps its result."""
        if run.status is not None:
            result = ToolResult(
                call.id, call.name, "not run: the run had already ended with a final answer in this turn", [], True
            )
            run.emit(Event("tool_result", run.steps, {"call": call, "result": result, "seconds": 0.0, "data": {}}))
            return result
        started = time.monotonic()
        out = self.toolbox.call(call.name, call.args, run.work.ctx)
        labels = [run.work.images.record(i).describe() for i in out.image_ids]
        result = ToolResult(
            call.id,
            call.name,
            "\n".join([out.text, *(f"[{label}]" for label in labels)]),
            list(out.image_ids),
            out.is_error,
        )
        if out.final and not out.is_error:
            run.end("done", answer=out.data.get("answer", out.text), evidence=out.data.get("evidence", []))
        seconds = time.monotonic() - started
        run.work.record.append_step(
            {
                "step": run.steps,
                "kind": "tool",
                "call_id": call.id,
                "name": call.name,
                "seconds": round(seconds, 3),
                "is_error": out.is_error,
                "data": out.data,
            }
        )
        run.emit(
            Event("tool_result", run.steps, {"call": call, "result": result, "seconds": seconds, "data": out.data})
        )
        return result

    def read_reply(self, run: Run, reply: ModelReply, parts: list) -> None:
        """A reply without tool calls: the answer, a stop, or a nudge to go on."""
        text = "\n".join(p.text for p in parts if isinstance(p, Text)).strip()
        if reply.finish_reason in STOPPING_FINISH_REASONS:
            run.end(reply.finish_reason, error=reply.meta.get("message") or f"the model stopped: {reply.finish_reason}")
        elif reply.finish_reason in _NUDGES or not text:
            run.add(Message("user", [Text(_NUDGES.get(reply.finish_reason, _NUDGES["empty"]))]))
        else:
            run.end("done", answer=text)

    def finish(self, run: Run) -> RunResult:
        """Write answer.json and the report; the run's result."""
        if run.status is None:  # a caller that drove the run stopped stepping before it ended
            run.end("stopped", error="the caller stopped the run before it ended")
        result = RunResult(
            run.answer, run.status, run.steps, run.usage, run.work.record.path, run.evidence, run.error, run.cost_usd
        )
        run.work.finish(
            {
                "answer": run.answer,
                "evidence": run.evidence,
                "status": run.status,
                "error": run.error,
                "steps": run.steps,
                "usage": run.usage.to_dict(),
                "cost_usd": run.cost_usd,
                "model": self.model.name,
                "budget": self.budget.to_dict(),
                "seconds": round(run.seconds, 3),
            }
        )
        run.emit(Event("finished", run.steps, {"result": result}))
        return result


def _ended_by(run: Run, exc: BaseException) -> bool:
    """End the run with the status `exc` means. True: the run simply ended (Ctrl-C, a model that
    failed after its retries); False: the exception must surface once the record is written."""
    if isinstance(exc, KeyboardInterrupt):
        run.end("interrupted", error="interrupted by the user")
        return True
    if isinstance(exc, ModelError):
        run.end("model_error", error=str(exc))
        return True
    if isinstance(exc, ModelSpecError):  # a model that cannot be used as given: the caller's mistake (exit 2)
        run.end("usage_error", error=str(exc))
        return False
    run.end("crashed", error=f"{type(exc).__name__}: {exc}")  # a bug
    return False


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
                decoded = open_image_checked(
                    io.BytesIO(base64.b64decode(p.meta["data_b64"])),
                    name="the model's image",
                    max_pixels=MAX_IMAGE_PIXELS,
                )
                rec = images.add(decoded, parent=None, op="gemini_code_execution", params={"mime": p.meta.get("mime")})
            except (ImageInputError, ValueError):
                out.append(Text("[the model returned an image that could not be decoded or was too large]"))
                continue
            meta = {k: v for k, v in p.meta.items() if k not in ("data_b64", "mime")}
            p = Image(rec.id, p.detail, meta)
        out.append(p)
    return out
