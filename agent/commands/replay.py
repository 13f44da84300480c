"""`agent replay RUN|last`: run a past run again, offline, from the model replies it recorded.

Every run directory keeps a cassette of its model's replies (cassette.jsonl). A replay plays
it back strictly (docs/cassettes.md) while every tool runs for real, in a new run directory,
and says whether it reached the recorded answer. It needs nothing from the original run but
its directory: the task, the settings that shape what the model is sent (context policy, step
limit) and the input files come from there. The inputs are the copies in the run's
home/inputs/ (the bytes the run worked on); an input whose copy is gone is taken from its
original path when that still exists.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agent.commands import add_sandbox_option
from agent.commands.runs import add_run_argument, runs_dir_of


def add_parser(sub) -> None:
    p = sub.add_parser(
        "replay",
        help="run a past run again offline from its recorded model replies; the tools run for real",
        description="Replay a past run: its recorded model replies (the run's cassette.jsonl) are played back "
        "strictly while every tool runs for real, in a new run directory. The task, the inputs (the copies in the "
        "run's home/inputs/) and the settings come from the run directory. It stops with exit 3 at the first "
        "request that differs from the recorded one. RUN is a run directory's name (or a unique prefix), its path, "
        "or `last`.",
        epilog="examples: agent replay last · agent replay 20261128-2330 --quiet",
    )
    add_run_argument(p)
    add_sandbox_option(p, default="the run's own, when this machine has it")
    p.add_argument("--json", action="store_true", help="print the new answer.json to stdout instead of the answer")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=replay_command)


def replay_command(args: argparse.Namespace) -> int:
    import tempfile

    from agent.commands.run import StepPrinter, print_result
    from agent.loop import Agent
    from agent.models.cassette import ReplayModel
    from agent.runs import copy_cassette, read_json, resolve_run
    from tools.registry import ToolSettings

    runs_dir = runs_dir_of(args)
    run = resolve_run(args.run, runs_dir)
    task = read_json(run, "task.json")
    recorded = read_json(run, "answer.json", required=False)
    text = task.get("task")
    if not isinstance(text, str):
        from agent.runs import RunError

        raise RunError(f"{run}: task.json has no task")
    with tempfile.TemporaryDirectory(prefix="agent-replay-") as tmp:
        tmp = Path(tmp)
        copy_cassette(run, tmp / "cassette.jsonl")
        model = ReplayModel(tmp / "cassette.jsonl", shown=str(run / "cassette.jsonl"))
        inputs = _inputs(run, task, tmp / "inputs")
        agent = Agent(
            model,
            budget=_budget(task, len(model.turns)),
            context=_context_policy(task),
            runs_dir=runs_dir,
            settings=ToolSettings(isolation=_isolation(args.sandbox, task)),
        )
        show = (lambda event: None) if args.quiet else StepPrinter()
        result = agent.run(text, inputs, on_event=show)
    print_result(result, args.json)
    if recorded is not None and result.status == "done":
        same = result.answer == recorded.get("answer")
        verdict = "the same answer as" if same else "an answer different from"
        print(f"agent: replay of {run}: {verdict} the recorded run", file=sys.stderr)
    return result.exit_code


def _inputs(run: Path, task: dict, folder: Path) -> list:
    """The run's input files, copied out of its home (through descriptors, never a link) and
    checked as any input is; an input whose copy is gone comes from its original path."""
    from agent.files import collect_inputs
    from agent.runs import RunError
    from sandbox.confined import ConfinedDir, ConfinedPathError, split_relative
    from sandbox.jail import Limits

    copies, originals = task.get("inputs"), task.get("files")
    if not isinstance(originals, list) or not all(isinstance(f, str) for f in originals):
        raise RunError(f"{run}: task.json's files is not a list of paths")
    if not isinstance(copies, list) or len(copies) != len(originals):
        raise RunError(f"{run}: task.json does not list the inputs' copies in the home")
    home = ConfinedDir(run / "home")
    folder.mkdir()
    paths = []
    for copy, original in zip(copies, originals):
        try:
            parts = split_relative(copy) if isinstance(copy, str) else []
        except ConfinedPathError:
            parts = []
        if len(parts) != 2 or parts[0] != "inputs":
            raise RunError(f"{run}: task.json names an input {copy!r} outside home/inputs/")
        dest = folder / parts[1]
        try:
            home.copy_out(copy, dest, limit=Limits().home_bytes)
        except (ConfinedPathError, OSError):
            dest.unlink(missing_ok=True)
            if not Path(original).is_file():
                raise RunError(
                    f"{run}: the input {copy} is gone from the run's home and its original {original} does not exist"
                ) from None
            dest = Path(original)
        paths.append(dest)
    return collect_inputs("", paths)


def _budget(task: dict, turns: int):
    """The recorded step limit (and token budget: a replay uses the tokens the recording did), at
    most the turns recorded. The clock and the cost are left out: a replay spends neither the
    same way, so a run they stopped replays to the same turn and ends at the step limit."""
    from agent.budget import Budget

    recorded = task.get("budget") if isinstance(task.get("budget"), dict) else {}
    steps = recorded.get("max_steps", task.get("max_steps"))
    steps = steps if isinstance(steps, int) and not isinstance(steps, bool) and steps >= 1 else 20
    tokens = recorded.get("max_tokens")
    tokens = tokens if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens >= 1 else None
    return Budget(max_steps=max(1, min(steps, turns)), max_tokens=tokens)


def _context_policy(task: dict):
    """The recorded context policy: it decides which images the model was sent, so the requests
    only match the recording under the same one."""
    from dataclasses import fields

    from agent.context import ContextPolicy

    recorded = task.get("context_policy") if isinstance(task.get("context_policy"), dict) else {}
    kept = {}
    for f in fields(ContextPolicy):
        value = recorded.get(f.name)
        kind = {"int": int, "str": str, "bool": bool}.get(str(f.type))
        if kind and isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
            kept[f.name] = value
    return ContextPolicy(**kept)


def _isolation(requested: str | None, task: dict) -> str:
    from agent.errors import UsageError
    from sandbox.jail import LEVELS, IsolationUnavailable, bwrap_status, choose_isolation

    recorded = task.get("isolation")
    if requested is None and recorded in LEVELS and (recorded != "bwrap" or bwrap_status()[0]):
        requested = recorded
    try:
        return choose_isolation(requested)
    except IsolationUnavailable as exc:
        raise UsageError(str(exc)) from None
