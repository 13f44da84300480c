"""`agent runs`: past runs, newest first; `agent runs prune` deletes old ones."""

from __future__ import annotations

import argparse
import json
import sys

DEFAULT_LIMIT = 20


def add_parser(sub) -> None:
    p = sub.add_parser(
        "runs",
        help="list past runs (time, status, model, steps, cost, task), newest first; prune old ones",
        description="List the runs in the runs folder, newest first: when each started, how it ended, the "
        "model, its steps and cost, and the task. Batch runs (RUNS_DIR/<results>/<job id>) are listed too. "
        "`agent show RUN`, `agent open RUN` and `agent replay RUN` take a run's name, a unique prefix of it, "
        "its path, or `last`.",
        epilog="examples: agent runs · agent runs --status done --since 2d · agent runs prune --older-than 30d --dry-run",
    )
    add_runs_dir(p)
    p.add_argument("--status", metavar="S[,S…]", help="only runs that ended so: done, step_limit, budget, …")
    p.add_argument("--since", metavar="AGE|DATE", help="only runs started since: 2d, 12h, 2w, 90m or 2026-11-28")
    p.add_argument(
        "-n",
        "--limit",
        type=int,
        default=None,
        help=f"show at most N runs (default {DEFAULT_LIMIT} in the table, all with --json; 0: all)",
    )
    p.add_argument("--json", action="store_true", help="print the runs as one JSON array")
    p.set_defaults(func=runs_command)
    actions = p.add_subparsers(
        dest="action", metavar="ACTION", help="prune: delete old runs (without it, runs are listed)"
    )
    prune = actions.add_parser(
        "prune",
        help="delete old run directories",
        description="Delete the run directories older than --older-than (and, with --status, only those that "
        "ended so). Only folders that are run directories (they hold task.json or answer.json) are touched; "
        "links and other folders are left alone. Prints each run removed and the bytes freed.",
        epilog="example: agent runs prune --older-than 30d --dry-run",
    )
    add_runs_dir(prune)
    prune.add_argument("--older-than", required=True, metavar="AGE|DATE", help="30d, 12h, 2w, 90m or a date")
    prune.add_argument("--status", metavar="S[,S…]", help="only runs that ended so")
    prune.add_argument("--dry-run", action="store_true", help="say what would be removed; remove nothing")
    prune.set_defaults(func=prune_command)


def add_run_argument(p: argparse.ArgumentParser) -> None:
    """RUN and --runs-dir, as `show`, `open` and `replay` take them."""
    p.add_argument("run", metavar="RUN", help="a run's name, a unique prefix of it, its path, or last")
    add_runs_dir(p)


def add_runs_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--runs-dir",
        default=argparse.SUPPRESS,  # given before or after `prune`, it means the same folder
        help="the folder the runs are in (default ./runs)",
    )


def runs_dir_of(args: argparse.Namespace):
    from pathlib import Path

    return Path(getattr(args, "runs_dir", "runs"))


def runs_command(args: argparse.Namespace) -> int:
    from agent.errors import UsageError
    from agent.runs import list_runs

    folder = runs_dir_of(args)
    if not folder.is_dir():
        if hasattr(args, "runs_dir"):  # named, so a typo is worth saying
            raise UsageError(f"no runs folder {folder}")
        print(f"agent: no runs yet (they go to {folder}/)", file=sys.stderr)
        return 0
    runs = _select(list_runs(folder), args.status, args.since, "--since")
    limit = args.limit if args.limit is not None else (0 if args.json else DEFAULT_LIMIT)
    shown = runs[:limit] if limit > 0 else runs
    if args.json:
        print(json.dumps([r.to_json() for r in shown], indent=2, ensure_ascii=False))
        return 0
    if not runs:
        print(f"agent: no runs{' match' if args.status or args.since else ''} in {folder}", file=sys.stderr)
        return 0
    print_table(shown)
    if len(shown) < len(runs):
        print(f"… {len(runs) - len(shown)} older run(s) not shown (--limit 0 shows all)", file=sys.stderr)
    return 0


def print_table(runs) -> None:
    from agent.steps import clip

    rows = [
        (
            r.started.astimezone().strftime("%Y-%m-%d %H:%M"),
            clip(r.status, 14),
            clip(r.model or "–", 30),
            "–" if r.steps is None else str(r.steps),
            "–" if r.cost_usd is None else f"${r.cost_usd:.4f}",
            clip(r.name, 60),
            clip(r.problem or r.task, 70),
        )
        for r in runs
    ]
    header = ("started", "status", "model", "steps", "cost", "run", "task")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.rjust(w) if i in (3, 4) else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        print("  ".join([*cells, row[-1]]).rstrip())


def prune_command(args: argparse.Namespace) -> int:
    from agent.runs import list_runs, parse_when, remove_run, run_bytes

    cutoff = parse_when(args.older_than, "--older-than")
    runs = [r for r in _select(list_runs(runs_dir_of(args)), args.status, None, None) if r.started < cutoff]
    verb = "would remove" if args.dry_run else "removed"
    freed = 0
    removed = 0
    for run in sorted(runs, key=lambda r: r.started):
        size = run_bytes(run.path)
        if not args.dry_run:
            try:
                remove_run(run.path)
            except OSError as exc:
                print(f"agent: warning: could not remove {run.path}: {exc.strerror or exc}", file=sys.stderr)
                continue
        freed += size
        removed += 1
        print(
            f"{verb} {run.path} ({human_bytes(size)}, {run.status}, started {run.started.astimezone():%Y-%m-%d %H:%M})"
        )
    freeing = "would free" if args.dry_run else "freed"
    print(f"{verb} {removed} run(s), {freeing} {freed:,} bytes ({human_bytes(freed)})", file=sys.stderr)
    return 0


def _select(runs, statuses: str | None, since: str | None, flag: str | None):
    from agent.runs import parse_when

    if statuses:
        wanted = {s.strip() for s in statuses.split(",") if s.strip()}
        runs = [r for r in runs if r.status in wanted]
    if since:
        start = parse_when(since, flag)
        runs = [r for r in runs if r.started >= start]
    return runs


def human_bytes(n: float) -> str:
    if n < 1000:
        return f"{int(n):,} bytes"
    for unit in ("KB", "MB", "GB", "TB"):
        n /= 1000
        if n < 1000 or unit == "TB":
            break
    return f"{n:.1f} {unit}"
