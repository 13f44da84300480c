"""`agent run TASK`: one task from the shell; answer on stdout, steps on stderr, evidence on disk."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agent.budget import budget_from_flags, price_known
from agent.context import ContextPolicy
from agent.errors import UsageError
from agent.files import collect_inputs
from agent.loop import Agent, Event
from agent.models import default_model_spec, load_model
from agent.models.base import ModelSpecError
from agent.models.cassette import RecordingModel
from agent.transcript import Text, Thought, ToolCall
from sandbox.home import HomeError, export_outputs
from sandbox.jail import IsolationUnavailable, choose_isolation, weakness_note
from tools.registry import ToolSettings


def add_parser(sub) -> None:
    p = sub.add_parser(
        "run",
        help="run one task: the model looks, uses tools, and answers",
        description="Run one task. Files are named with --file or simply mentioned in the task text. "
        "The answer goes to stdout; each step goes to stderr; the run directory keeps the evidence.",
        epilog='example: agent run "read the gauge in examples/gauge/gauge.png" '
        "--model replay:examples/gauge/run.cassette.jsonl",
    )
    p.add_argument("task", help="what to do, in plain words; file names in it are picked up")
    p.add_argument("-f", "--file", action="append", default=[], metavar="PATH", help="an input file (repeatable)")
    p.add_argument(
        "-m",
        "--model",
        default=None,
        help=f"model spec: gemini:<id>, openai:<model>[@<base-url>], ollama:<model>[@<url>], replay:<cassette> (default: $AGENT_MODEL or {default_model_spec()})",
    )
    p.add_argument("--max-steps", type=int, default=20, help="stop after this many model turns (default 20)")
    p.add_argument(
        "--max-tokens",
        type=int,
        default=None,
        metavar="N",
        help="stop before a model turn once the run has used N tokens (input + output + thinking)",
    )
    p.add_argument(
        "--max-cost",
        type=float,
        default=None,
        metavar="USD",
        help="stop before a model turn once the run has cost this much (needs a model with a known price)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop before a model turn once the run has taken this long",
    )
    p.add_argument("--runs-dir", default="runs", help="where run directories go (default ./runs)")
    p.add_argument("--run-dir", default=None, help="use exactly this run directory (must not exist)")
    p.add_argument("--record", metavar="CASSETTE", help="record the model's replies to this cassette file")
    p.add_argument(
        "--thinking",
        choices=["minimal", "low", "medium", "high", "xhigh"],
        default=None,
        help="thinking level: Gemini's thinking_level (each model takes some), OpenAI-compatible reasoning_effort, Ollama's think (default: the model's own)",
    )
    p.add_argument(
        "--code-execution",
        choices=["gemini"],
        default=None,
        help="also give the model Gemini's own server-side code execution",
    )
    p.add_argument(
        "--sandbox",
        choices=["bwrap", "process"],
        default=None,
        help="isolation for model-written code (default: strongest available)",
    )
    p.add_argument(
        "--keep-images",
        type=int,
        default=ContextPolicy.keep_recent,
        help="recent observation images sent in full (default %(default)s)",
    )
    p.add_argument(
        "--trim-chunk",
        type=int,
        default=ContextPolicy.chunk,
        help="older images are replaced by stubs this many at a time (default %(default)s)",
    )
    p.add_argument("--no-context-policy", action="store_true", help="send every image at full resolution (costly)")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="when the run succeeds, copy what it wrote to outputs/ into DIR (never overwriting)",
    )
    p.add_argument("--json", action="store_true", help="print answer.json to stdout instead of the answer")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    budget = budget_from_flags(args.max_steps, args.max_tokens, args.max_cost, args.timeout)
    inputs = collect_inputs(args.task, args.file)  # the user's files are checked before any model is set up
    try:
        model = load_model(args.model, **_model_options(args))
    except ModelSpecError as exc:
        raise UsageError(str(exc)) from None
    if args.record:
        model = RecordingModel(model, args.record, source="live")
    if budget.max_cost_usd is not None and not price_known(model):
        print(f"agent: warning: --max-cost cannot be enforced: no price is known for {model.name}", file=sys.stderr)
    try:
        isolation = choose_isolation(args.sandbox)
    except IsolationUnavailable as exc:
        raise UsageError(str(exc)) from None
    policy = ContextPolicy(
        keep_recent=args.keep_images, chunk=max(1, args.trim_chunk), enabled=not args.no_context_policy
    )
    agent = Agent(
        model, budget=budget, context=policy, runs_dir=args.runs_dir, settings=ToolSettings(isolation=isolation)
    )
    show = (lambda event: None) if args.quiet else StepPrinter()
    try:
        result = agent.run(args.task, inputs, run_dir=args.run_dir, on_event=show)
    except ModelSpecError as exc:
        raise UsageError(str(exc)) from None
    except FileExistsError:
        raise UsageError(f"run directory already exists: {args.run_dir}") from None
    if args.out and result.status == "done":
        try:
            for path in export_outputs(result.run_dir / "home", Path(args.out)):
                print(f"agent: copied {path}", file=sys.stderr)
        except HomeError as exc:
            print(f"agent: warning: {exc}", file=sys.stderr)
    if args.json:
        print((result.run_dir / "answer.json").read_text(encoding="utf-8"), end="")
    elif result.answer is not None:
        print(result.answer)
    if result.error and result.status != "done":
        print(f"agent: {result.status}: {result.error}", file=sys.stderr)
    return result.exit_code


def _model_options(args: argparse.Namespace) -> dict:
    options = {}
    if args.thinking:
        options["thinking"] = args.thinking
    if args.code_execution == "gemini":
        options["code_execution"] = True
    return options


class StepPrinter:
    """Shows each step on stderr as it happens."""

    def __call__(self, event: Event) -> None:
        if event.kind == "run_started":
            d = event.data
            _err(f"run {d['run_dir']} · model {d['model']} · sandbox {d['isolation']}")
            weakness = weakness_note(d["isolation"])
            if weakness:
                _err(f"warning: {weakness}")
        elif event.kind == "model_reply":
            for part in event.data["parts"]:
                if isinstance(part, Thought) and part.text:
                    _err(f"[{event.step}] thinking: {_clip(part.text, 300)}")
                elif isinstance(part, Text) and part.text.strip():
                    _err(f"[{event.step}] {_clip(part.text, 300)}")
                elif isinstance(part, ToolCall):
                    _err(f"[{event.step}] → {part.name}({_clip(json.dumps(part.args, ensure_ascii=False), 300)})")
        elif event.kind == "tool_result":
            r = event.data["result"]
            mark = "✗" if r.is_error else "←"
            ids = f" [{', '.join(r.image_ids)}]" if r.image_ids else ""
            _err(
                f"[{event.step}]   {mark} {_clip(r.text.splitlines()[0] if r.text else '', 200)}{ids} ({event.data['seconds']:.2f}s)"
            )
        elif event.kind == "finished":
            res = event.data["result"]
            u = res.usage
            cost = f"${res.cost_usd:.4f}" if res.cost_usd is not None else "cost unknown"
            _err(
                f"{res.status} after {res.steps} steps · tokens in {u.input_tokens} (cached {u.cached_tokens}) "
                f"out {u.output_tokens} (thinking {u.thinking_tokens}) · {cost} · {res.run_dir}/report.html"
            )
            outputs = sorted(p for p in (res.run_dir / "home" / "outputs").rglob("*") if p.is_file())
            for path in outputs:
                _err(f"output: {path}")


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
