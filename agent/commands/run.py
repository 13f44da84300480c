"""`agent run TASK`: one task from the shell; answer on stdout, steps on stderr, evidence on disk."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from agent.commands import add_sandbox_option
from agent.context import ContextPolicy
from agent.models import default_model_spec
from agent.steps import clip, header_line, printable, reply_lines, result_line, summary_line

if TYPE_CHECKING:
    from agent.loop import Event


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
    add_sandbox_option(p)
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
    from agent.budget import budget_from_flags, price_known
    from agent.errors import UsageError
    from agent.files import check_out_dir, collect_inputs, warn
    from agent.loop import Agent
    from agent.models import load_model
    from agent.models.base import ModelSpecError
    from agent.models.cassette import RecordingModel
    from sandbox.jail import IsolationUnavailable, choose_isolation
    from tools.registry import ToolSettings

    budget = budget_from_flags(args.max_steps, args.max_tokens, args.max_cost, args.timeout)
    # where the run will write is checked before anything runs, so a mistake costs no model call
    check_out_dir(args.runs_dir, "--runs-dir")
    if args.out:
        check_out_dir(args.out, "--out")
    if args.run_dir and Path(args.run_dir).exists():
        raise UsageError(f"run directory already exists: {args.run_dir}")
    inputs = collect_inputs(args.task, args.file, warn=warn)  # checked before any model is set up
    try:
        model = load_model(args.model, **_model_options(args))
    except ModelSpecError as exc:
        raise UsageError(str(exc)) from None
    if args.record:
        try:
            model = RecordingModel(model, args.record)
        except OSError as exc:
            raise UsageError(f"--record {args.record}: {exc.strerror or exc}") from None
    if budget.max_cost_usd is not None and not price_known(model):
        warn(f"--max-cost cannot be enforced: no price is known for {model.name}")
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
    print_result(result, args.json)
    if args.out and result.status == "done":
        return copy_outputs(result.run_dir, Path(args.out))
    return result.exit_code


def print_result(result, as_json: bool) -> None:
    """The answer (or answer.json) on stdout, and why the run ended when it did not answer."""
    if as_json:
        print((result.run_dir / "answer.json").read_text(encoding="utf-8"), end="")
    elif result.answer is not None:
        print(printable(result.answer))
    sys.stdout.flush()  # the answer is out before anything else can go wrong
    if result.error and result.status != "done":
        print(f"agent: {result.status}: {result.error}", file=sys.stderr)


def copy_outputs(run_dir: Path, dest: Path) -> int:
    """--out: copy what the run wrote to outputs/ into `dest`; 0, or 1 when the copy failed."""
    from sandbox.home import HomeError, export_outputs

    try:
        for path in export_outputs(run_dir / "home", dest):
            print(f"agent: copied {path}", file=sys.stderr)
    except (HomeError, OSError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        print(
            f"agent: error: the outputs were not copied to {dest}: {why} (they are in {run_dir}/home/outputs)",
            file=sys.stderr,
        )
        return 1
    return 0


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
            from sandbox.jail import weakness_note

            d = event.data
            _err(header_line(d["run_dir"], d["model"], d["isolation"]))
            weakness = weakness_note(d["isolation"])
            if weakness:
                _err(f"warning: {weakness}")
        elif event.kind == "model_reply":
            for line in reply_lines(event.step, event.data["parts"]):
                _err(line)
        elif event.kind == "tool_result":
            _err(result_line(event.step, event.data["result"], event.data["seconds"]))
        elif event.kind == "finished":
            from sandbox.confined import ConfinedDir

            res = event.data["result"]
            _err(summary_line(res.status, res.steps, res.usage.to_dict(), res.cost_usd, f"{res.run_dir}/report.html"))
            # the home is jailed code's: listed without following its links
            outputs = sorted(entry.path for entry in ConfinedDir(res.run_dir / "home").regular_files("outputs"))
            for path in outputs:
                _err(f"output: {clip(str(res.run_dir / 'home' / path), 400)}")


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
