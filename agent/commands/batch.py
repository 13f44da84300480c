"""`agent batch JOBS.jsonl`: every job run, concurrently, resumably; results, scores and cost."""

from __future__ import annotations

import argparse
import json
import os
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.commands import add_sandbox_option
from agent.models import default_model_spec

if TYPE_CHECKING:
    from rich.console import Console


def add_parser(sub) -> None:
    p = sub.add_parser(
        "batch",
        help="run many jobs from a JSON-lines file: concurrent, resumable, scored",
        description="Run every job of a JSON-lines jobs file and append one result line per job to the "
        'output file. Each job: {"id", "task", "files": [paths relative to the jobs file], optional '
        '"expected", "match" (exact|normalized|numeric|contains|set), "tolerance", "model", '
        '"max_steps", "max_tokens", "max_cost" (USD), "timeout" (seconds), "tags"}. A summary table goes to stdout; progress to stderr. See docs/batch.md.',
        epilog="example: agent batch examples/batch/jobs.jsonl -o results.jsonl --model replay:examples/batch/cassettes/",
    )
    p.add_argument("jobs", help="the jobs file (JSON lines)")
    p.add_argument(
        "-o",
        "--output",
        default=None,
        help="results file, appended line by line (default: <jobs name>.results.jsonl here)",
    )
    p.add_argument("-c", "--concurrency", type=int, default=4, help="jobs running at once (default 4)")
    p.add_argument(
        "-m",
        "--model",
        default=None,
        help=f"model spec for jobs that name none (default $AGENT_MODEL or {default_model_spec()}); "
        "replay:DIR/ replays DIR/<id>.cassette.jsonl for each job",
    )
    p.add_argument(
        "--rpm", type=float, default=None, help="at most this many model requests per minute, across all jobs"
    )
    p.add_argument(
        "--max-cost", type=float, default=None, metavar="USD", help="start no new job once this much has been spent"
    )
    p.add_argument("--max-steps", type=int, default=20, help="model turns per job unless the job says (default 20)")
    p.add_argument(
        "--max-tokens", type=int, default=None, metavar="N", help="tokens per job unless the job says (max_tokens)"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="wall-clock seconds per job unless the job says (timeout)",
    )
    p.add_argument("--resume", action="store_true", help="continue the output file: skip jobs already in it")
    p.add_argument(
        "--retry-errors", action="store_true", help="with --resume, run again the jobs whose status is error"
    )
    p.add_argument(
        "--skip-invalid", action="store_true", help="run the valid jobs even when some job lines are invalid"
    )
    p.add_argument(
        "--runs-dir", default="runs", help="run directories go to RUNS_DIR/<output name>/<job id> (default ./runs)"
    )
    add_sandbox_option(p)
    p.add_argument(
        "--runner",
        choices=["local", "ray"],
        default="local",
        help="where jobs run: threads of this process (default), or Ray tasks on a local Ray or a cluster "
        "(needs pip install 'lookclosely[ray]')",
    )
    p.add_argument(
        "--address",
        default=None,
        help="with --runner ray: the cluster to join (auto, HOST:PORT or ray://HOST:PORT); default: start a local Ray",
    )
    p.add_argument(
        "--job-cpus",
        type=float,
        default=None,
        metavar="N",
        help="with --runner ray: CPUs Ray reserves for each job (default: the cluster's CPUs shared by "
        "--concurrency jobs, at most 1)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=batch_command)


def batch_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from agent.batch import (
        JobWork,
        LocalRunner,
        ResultsFile,
        check_models,
        load_jobs,
        resolve_model_spec,
        run_batch,
        summarize,
    )
    from agent.budget import budget_from_flags
    from agent.errors import UsageError
    from agent.models import load_model
    from agent.ratelimit import GATE
    from tools.registry import ToolSettings

    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if args.rpm is not None and args.rpm <= 0:
        raise UsageError("--rpm must be a positive number")
    if args.max_cost is not None and args.max_cost < 0:
        raise UsageError("--max-cost must be zero or more (US dollars)")
    if args.runner != "ray" and (args.address or args.job_cpus is not None):
        raise UsageError(f"{'--address' if args.address else '--job-cpus'} works with --runner ray")
    if args.job_cpus is not None and args.job_cpus <= 0:
        raise UsageError("--job-cpus must be a positive number")
    job_budget = budget_from_flags(args.max_steps, args.max_tokens, None, args.timeout)
    if args.retry_errors and not args.resume:
        raise UsageError("--retry-errors works with --resume")
    ray_runner = _ray_runner_module() if args.runner == "ray" else None
    if ray_runner:
        ray_runner.check_address(args.address)
    err = Console(stderr=True, highlight=False)
    jobs_file = load_jobs(args.jobs)
    output = Path(args.output or f"{Path(args.jobs).name.removesuffix('.jsonl')}.results.jsonl")
    if output.resolve() == Path(args.jobs).resolve():
        raise UsageError("the output file must not be the jobs file")
    default_spec = resolve_model_spec(args.model or default_model_spec(), Path.cwd())

    for warning in jobs_file.warnings:
        _say(err, f"agent: warning: {warning.describe(jobs_file.path)}")
    try:
        model_problems, unpriced = check_models(jobs_file.jobs, default_spec, load_model)
    except UsageError as exc:
        for problem in jobs_file.problems:
            _say(err, f"agent: {problem.describe(jobs_file.path)}")
        if not args.model and os.environ.get("AGENT_MODEL"):  # say where the failing default came from
            raise UsageError(f"AGENT_MODEL={os.environ['AGENT_MODEL']!r}: {exc}") from None
        raise
    problems = sorted(jobs_file.problems + model_problems, key=lambda p: p.line)
    for problem in problems:
        _say(err, f"agent: {'skipping: ' if args.skip_invalid else ''}{problem.describe(jobs_file.path)}")
    if problems and not args.skip_invalid:
        bad = len({p.line for p in problems})
        raise UsageError(
            f"{bad} invalid job line(s) in {jobs_file.path}; nothing was run. Fix them, or pass --skip-invalid to run the rest"
        )
    bad_lines = {p.line for p in problems}
    jobs = [job for job in jobs_file.jobs if job.line not in bad_lines]
    if not jobs:
        raise UsageError(f"no valid jobs in {jobs_file.path}")
    if args.max_cost is not None and unpriced:
        _say(
            err,
            f"agent: warning: --max-cost cannot be enforced: no price is known for {', '.join(unpriced[:3])}"
            f"{' …' if len(unpriced) > 3 else ''}, so what its jobs spend is unknown",
        )

    sandbox = _choose_sandbox(args.sandbox)
    GATE.set_rpm(args.rpm)
    work = JobWork(
        Path(args.runs_dir).resolve() / output.name.removesuffix(".jsonl"),
        default_spec,
        job_budget,
        ToolSettings(isolation=sandbox),
    )
    results = ResultsFile(output)
    progress = None if args.quiet else BatchProgress(err, len(jobs))
    try:
        with ExitStack() as stack:
            if ray_runner:
                _say(err, f"agent: {stack.enter_context(ray_runner.ray_session(args.address))}")
                runner = ray_runner.RayRunner(args.concurrency, args.job_cpus)
            else:
                runner = LocalRunner(args.concurrency)
            outcome = run_batch(
                jobs,
                results,
                work,
                runner,
                resume=args.resume,
                rerun_statuses=("error",) if args.retry_errors else (),
                max_cost=args.max_cost,
                on_start=progress.start if progress else _print_notes(err),
                on_result=progress.advance if progress else None,
            )
    except KeyboardInterrupt:
        if progress:
            progress.stop()
        _say(
            err, f"agent: interrupted; the results so far are in {output}: run the same command with --resume to finish"
        )
        return 130
    finally:
        GATE.set_rpm(None)
    if progress:
        progress.stop()
    if outcome.not_started:
        _say(
            err,
            f"agent: budget reached: ${outcome.spent_usd:.4f} spent of --max-cost ${args.max_cost:g}; "
            f"{len(outcome.not_started)} job(s) not started. Raise --max-cost and add --resume to run them",
        )
    summary = summarize(jobs, outcome.records)
    summary.update(
        output=str(output),
        runs_dir=str(work.runs_dir),
        ran_now=outcome.ran,
        already_done=outcome.skipped,
        wall_s=round(outcome.wall_s, 3),
        budget={
            "max_cost_usd": args.max_cost,
            "reached": bool(outcome.not_started),
            "not_started": outcome.not_started,
        },
        skipped_invalid_lines=sorted(bad_lines),
    )
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print_summary(Console(highlight=False), summary)
    complete = summary["status"]["not_run"] == 0 and summary["status"]["error"] == 0
    return 0 if complete else 1


def _ray_runner_module():
    """agent.ray_runner, or one usage error saying how to install Ray (an optional extra)."""
    from agent.errors import UsageError

    try:
        from agent import ray_runner
    except ImportError as exc:
        raise UsageError(f"--runner ray needs Ray, an optional extra: pip install 'lookclosely[ray]' ({exc})") from None
    return ray_runner


def _choose_sandbox(requested: str | None) -> str:
    """Decide the isolation once, so an unavailable one is one error before any job runs."""
    from agent.errors import UsageError
    from sandbox.jail import IsolationUnavailable, choose_isolation

    try:
        return choose_isolation(requested)
    except IsolationUnavailable as exc:
        raise UsageError(str(exc)) from None


def _print_notes(console: Console):
    def show(to_run: int, previous: dict, notes: list[str]) -> None:
        for note in notes:
            _say(console, f"agent: {note}")

    return show


def _say(console: Console, line: str) -> None:
    from rich.text import Text

    console.print(Text(line), soft_wrap=True)


def _rate_column():
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed * 60:.1f} jobs/min" if speed else "– jobs/min")

    return RateColumn()


class BatchProgress:
    """A bar on stderr: done of total, ok/failed/error counts, rate, ETA; a line per non-ok job."""

    def __init__(self, console: Console, total: int):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = console
        self.total = total
        self.counts = {"ok": 0, "failed": 0, "error": 0}
        self.progress = Progress(
            TextColumn("batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "[green]ok {task.fields[ok]}[/] [yellow]failed {task.fields[failed]}[/] [red]error {task.fields[error]}[/]"
            ),
            _rate_column(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = None

    def start(self, to_run: int, previous: dict, notes: list[str]) -> None:
        for note in notes:
            _say(self.console, f"agent: {note}")
        for record in previous.values():
            self.counts[record["status"]] += 1
        if previous:
            _say(self.console, f"agent: resuming: {len(previous)} job(s) already done, {to_run} to run")
        self.task = self.progress.add_task("batch", total=self.total, completed=len(previous), **self.counts)
        self.progress.start()

    def advance(self, record: dict) -> None:
        self.counts[record["status"]] += 1
        if record["status"] != "ok":
            _say(
                self.progress.console,
                f"{record['status']} {record['id']}: {record.get('error') or record.get('agent_status')}",
            )
        self.progress.update(self.task, advance=1, **self.counts)

    def stop(self) -> None:
        self.progress.stop()


def print_summary(console: Console, s: dict[str, Any]) -> None:
    from rich.table import Table

    st = s["status"]
    table = Table(title=f"batch: {s['jobs']} jobs → {s['output']}", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("status", f"ok {st['ok']} · failed {st['failed']} · error {st['error']} · not run {st['not_run']}")
    table.add_row("accuracy", _accuracy_text(s["accuracy"]))
    for tag, acc in s["accuracy_by_tag"].items():
        table.add_row(f"  tag {tag}", _accuracy_text(acc))
    t = s["tokens"]
    table.add_row(
        "tokens",
        f"in {t.get('input_tokens', 0):,} (cached {t.get('cached_tokens', 0):,}) · "
        f"out {t.get('output_tokens', 0):,} (thinking {t.get('thinking_tokens', 0):,})",
    )
    unknown = (
        f" (+ unknown for {s['cost_unknown_jobs']} job(s): no price for their model)" if s["cost_unknown_jobs"] else ""
    )
    table.add_row("cost", f"${s['cost_usd']:.4f}{unknown}")
    lat = s["latency_s"]
    table.add_row(
        "latency",
        "–" if lat["p50"] is None else f"p50 {lat['p50']:.2f}s · p95 {lat['p95']:.2f}s · max {lat['max']:.2f}s",
    )
    table.add_row("slowest", "\n".join(f"{x['id']} {x['latency_s']:.2f}s {x['status']}" for x in s["slowest"]) or "–")
    if s["not_ok"]:
        table.add_row("not ok", "\n".join(f"{x['id']} {x['status']}: {x['error']}" for x in s["not_ok"]))
    if s["wrong"]:
        table.add_row(
            "wrong",
            "\n".join(
                f"{x['id']}: answered {_short(x['answer'])}, expected {_short(x['expected'])}" for x in s["wrong"]
            ),
        )
    table.add_row("this run", f"{s['ran_now']} job(s) in {s['wall_s']:.1f}s; {s['already_done']} were already done")
    console.print(table)
    # outside the table: a long path inside a cell squeezes every row to an ellipsis, and a path
    # broken over lines cannot be copied
    console.print(f"run directories: {s['runs_dir']}/<job id> (agent runs --runs-dir {s['runs_dir']})", soft_wrap=True)


def _short(value: Any, limit: int = 60) -> str:
    from agent.steps import clip

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return repr(clip(text, limit)) if isinstance(value, str) else clip(text, limit)


def _accuracy_text(acc: dict) -> str:
    if acc["accuracy"] is None:
        text = "– (no job with an expected answer finished)"
    else:
        text = f"{acc['accuracy']:.1%} ({acc['correct']}/{acc['scored']})"
    if acc["unscored_errors"]:
        text += f"; {acc['unscored_errors']} errored job(s) not scored"
    return text
