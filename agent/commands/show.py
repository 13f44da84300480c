"""`agent show RUN|last`: a past run as the live display showed it: steps on stderr, answer on stdout."""

from __future__ import annotations

import json
import sys

from agent.commands.runs import add_run_argument, runs_dir_of


def add_parser(sub) -> None:
    p = sub.add_parser(
        "show",
        help="show a past run: its steps as they were displayed live, and its answer",
        description="Print a past run as `agent run` printed it: the run line, each step (the model's thinking, "
        "each tool call and its result, the images made) and the closing line on stderr; the answer on stdout. "
        "RUN is a run directory's name (or a unique prefix), its path, or `last`.",
        epilog="examples: agent show last · agent show 20261128-2330 · agent show last --json",
    )
    add_run_argument(p)
    p.add_argument("--json", action="store_true", help="print the run's answer.json instead")
    p.set_defaults(func=show_command)


def show_command(args) -> int:
    from agent.runs import read_json, read_run_info, read_transcript, resolve_run
    from agent.steps import clip, header_line, printable, reply_lines, result_line, summary_line
    from agent.transcript import ToolResult

    run = resolve_run(args.run, runs_dir_of(args))
    info = read_run_info(run)
    answer = read_json(run, "answer.json", required=False)
    if args.json:
        if answer is None:
            from agent.runs import RunError

            raise RunError(f"{run}: no answer.json yet; the run is unfinished")
        print(json.dumps(answer, indent=2, ensure_ascii=False))
        return 0
    task = read_json(run, "task.json", required=False) or {}
    messages = read_transcript(run)
    isolation = _text((answer or {}).get("isolation")) or _text(task.get("isolation")) or "?"
    _err(header_line(run, info.model or "?", isolation))
    note = _text((answer or {}).get("isolation_note"))
    if note:
        _err(f"warning: {clip(note, 400)}")
    step = 0
    for message in messages:
        if message.role == "model":
            step += 1
            for line in reply_lines(step, message.parts):
                _err(line)
        elif message.role == "tool":
            for part in message.parts:
                if isinstance(part, ToolResult):
                    _err(result_line(step, part))
    if answer is None:
        _err(f"unfinished after {step} steps · no answer.json: the run is still going, or it was killed")
        return 0
    usage = answer.get("usage") if isinstance(answer.get("usage"), dict) else {}
    usage = {k: v for k, v in usage.items() if isinstance(v, int)}
    _err(summary_line(info.status, info.steps or 0, usage, info.cost_usd, run / "report.html"))
    if info.answer is not None:
        print(printable(info.answer))
    error = _text(answer.get("error"))
    if error and info.status != "done":
        _err(f"agent: {clip(info.status, 40)}: {clip(error, 600)}")
    return 0


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
