"""Batches: many jobs run concurrently, scored, and resumable after any crash.

- `load_jobs` reads and checks a jobs file; every bad line is reported with its number.
- `JobWork` runs one job and returns its result record. It holds only settings and is
  picklable, so a distributed runner can ship it to its workers.
- `JobRunner` is the seam between "what a job is" and "where it runs": `LocalRunner` runs
  jobs on threads in this process; a cluster runner (Ray, see docs/batch.md) implements the
  same method and streams results back to the one writer here.
- `ResultsFile` is the output JSON-lines file: repaired on resume, appended one whole line per
  write (O_APPEND, fsync), so a crash at any moment leaves only whole lines.
- `run_batch` ties them together; `summarize` reports on the result lines.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import queue
import re
import threading
import time
import traceback
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from agent.budget import Budget, price_known
from agent.errors import UsageError
from agent.files import collect_inputs, input_problem, mentioned_files, missing_mention_note, open_inputs
from agent.loop import Agent
from agent.models import load_model
from agent.models.base import ModelError, ModelSpecError
from agent.scoring import ScoringError, check_expected, score
from sandbox.files import atomic_write_bytes
from tools.registry import ToolSettings

JOB_FIELDS = {
    "id",
    "task",
    "files",
    "expected",
    "match",
    "tolerance",
    "model",
    "max_steps",
    "max_tokens",
    "max_cost",
    "timeout",
    "tags",
}
STATUSES = ("ok", "failed", "error")
CASSETTE_SUFFIX = ".cassette.jsonl"


@dataclass
class Job:
    id: str
    task: str
    files: list[Path]  # absolute
    base_dir: Path  # the jobs file's folder: file names the task mentions are looked up here
    line: int
    expected: Any = None  # None: not scored
    match: str | None = None
    tolerance: Any = None
    model: str | None = None  # model spec; a replay path is already absolute
    max_steps: int | None = None
    tags: list[str] = field(default_factory=list)
    max_tokens: int | None = None  # the job's own run budget; None: the batch's default
    max_cost: float | None = None
    timeout: float | None = None


@dataclass
class JobProblem:
    line: int
    message: str

    def describe(self, path: Path) -> str:
        return f"{path}:{self.line}: {self.message}"


@dataclass
class JobsFile:
    path: Path
    jobs: list[Job]
    problems: list[JobProblem]
    warnings: list[JobProblem]


# -- reading jobs -----------------------------------------------------------------------------


def load_jobs(path: str | Path) -> JobsFile:
    """Parse and check every line; problems are collected, never raised, so all are reported."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"jobs file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read jobs file {path}: {exc}") from None
    base = path.resolve().parent
    jobs: list[Job] = []
    problems: list[JobProblem] = []
    warnings: list[JobProblem] = []
    first_line_of: dict[str, int] = {}
    checked: dict[Path, str | None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        job_or_errors = _parse_job(line, number, base, checked)
        if isinstance(job_or_errors, list):
            problems += [JobProblem(number, m) for m in job_or_errors]
            continue
        job, notes = job_or_errors
        warnings += [JobProblem(number, note) for note in notes]
        if job.id in first_line_of:
            problems.append(JobProblem(number, f"duplicate id {job.id!r} (first on line {first_line_of[job.id]})"))
            continue
        first_line_of[job.id] = number
        jobs.append(job)
    if not jobs and not problems:
        raise UsageError(f"jobs file {path} has no jobs (one JSON object per line)")
    return JobsFile(path, jobs, problems, warnings)


def _parse_job(line: str, number: int, base: Path, checked: dict) -> list[str] | tuple[Job, list[str]]:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return [f"not valid JSON ({exc.msg} at column {exc.colno})"]
    if not isinstance(data, dict):
        return ["a job must be a JSON object"]
    errors: list[str] = []
    job_id = data.get("id")
    if job_id is None:
        errors.append("missing id")
    elif isinstance(job_id, bool) or not isinstance(job_id, (str, int)) or str(job_id).strip() == "":
        errors.append("id must be a non-empty string or an integer")
    task = data.get("task")
    if task is None:
        errors.append("missing task")
    elif not isinstance(task, str) or not task.strip():
        errors.append("task must be a non-empty string")
    files = data.get("files", [])
    if isinstance(files, str):
        files = [files]
    paths: list[Path] = []
    if not isinstance(files, list) or not all(isinstance(f, str) and f for f in files):
        errors.append("files must be a list of paths (relative to the jobs file)")
    else:
        for name in files:
            errors += _check_file(base, name, checked, paths)
    notes = []
    if isinstance(task, str):
        for name in mentioned_files(task):
            if not (base / Path(name).expanduser()).exists():
                notes.append(f"{missing_mention_note(name)} (names are looked up next to the jobs file)")
    expected, match, tolerance = data.get("expected"), data.get("match"), data.get("tolerance")
    if match is not None and not isinstance(match, str):
        errors.append("match must be a string")
    elif expected is not None:
        try:
            check_expected(expected, match, tolerance)
        except ScoringError as exc:
            errors.append(str(exc))
    elif match is not None or tolerance is not None:
        errors.append("match/tolerance given without expected")
    model = data.get("model")
    if model is not None:
        if not isinstance(model, str) or ":" not in model:
            errors.append("model must be a spec like gemini:<model-id> or replay:<cassette>")
        else:
            model = resolve_model_spec(model, base)
    max_steps = data.get("max_steps")
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1):
        errors.append("max_steps must be a whole number of at least 1")
    max_tokens = data.get("max_tokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        errors.append("max_tokens must be a whole number of at least 1")
    for name in ("max_cost", "timeout"):
        value = data.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0):
            errors.append(f"{name} must be a number more than 0 ({'US dollars' if name == 'max_cost' else 'seconds'})")
    tags = data.get("tags", [])
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        errors.append("tags must be a string or a list of strings")
    if errors:
        return errors
    job = Job(
        str(job_id),
        task,
        paths,
        base,
        number,
        expected,
        match,
        tolerance,
        model,
        max_steps,
        tags,
        max_tokens,
        data.get("max_cost"),
        data.get("timeout"),
    )
    notes += [
        f"unknown field {k!r} ignored (fields: {', '.join(sorted(JOB_FIELDS))})" for k in sorted(set(data) - JOB_FIELDS)
    ]
    return job, notes


def _check_file(base: Path, name: str, checked: dict, paths: list[Path]) -> list[str]:
    """The file checks of a run, without decoding images (each is decoded once, when its job runs)."""
    path = (base / Path(name).expanduser()).resolve()
    if path not in checked:
        checked[path] = input_problem(path, name)
    problem = checked[path]
    if problem:
        return [
            f"{problem} (paths are relative to the jobs file's folder)"
            if problem.startswith("file not found")
            else problem
        ]
    if path not in paths:
        paths.append(path)
    return []


def resolve_model_spec(spec: str, base: Path) -> str:
    """A replay spec's path made absolute against `base`; other specs unchanged."""
    scheme, _, rest = spec.partition(":")
    if scheme != "replay" or not rest:
        return spec
    target = base / Path(rest).expanduser()
    return f"replay:{target}{os.sep if rest.endswith(('/', os.sep)) else ''}"


def model_spec_for(job: Job, default: str | None) -> str | None:
    """The spec a job runs with. `replay:DIR/` (or a folder) means DIR/<id>.cassette.jsonl, the id
    made a safe file name (an id like "../../x" or "/etc/x" names a file in DIR, never outside it)."""
    spec = job.model or default
    if spec and spec.startswith("replay:"):
        target = spec[len("replay:") :]
        if target.endswith(("/", os.sep)) or Path(target).is_dir():
            return f"replay:{Path(target) / (safe_name(job.id) + CASSETTE_SUFFIX)}"
    return spec


def check_models(
    jobs: list[Job], default: str | None, load: Callable[[str | None], Any]
) -> tuple[list[JobProblem], list[str]]:
    """Load each job's model once per spec, before anything runs: a missing cassette or an
    unknown scheme is a problem on the job's line, or one UsageError when the batch-wide
    default model cannot be set up. Returns (problems, specs with no price)."""
    outcome: dict[str | None, str | None] = {}
    unpriced: list[str] = []
    problems: list[JobProblem] = []
    for job in jobs:
        spec = model_spec_for(job, default)
        if spec not in outcome:
            try:
                model = load(spec)
                outcome[spec] = None
                if not price_known(model):
                    unpriced.append(spec or "(default model)")
            except Exception as exc:  # any reason the model cannot be set up belongs on the job's line
                outcome[spec] = str(exc) or type(exc).__name__
        if outcome[spec] and spec == default and not job.model:
            raise UsageError(f"model {spec}: {outcome[spec]}")
        if outcome[spec]:
            problems.append(JobProblem(job.line, f"model {spec}: {outcome[spec]}"))
    return problems, unpriced


# -- running one job ----------------------------------------------------------------------------


@dataclass
class JobWork:
    """Runs one job to a result record. Settings only (picklable): a cluster runner ships it."""

    runs_dir: Path
    default_model: str | None = None
    budget: Budget = field(default_factory=Budget)  # a job's own max_steps/max_tokens/max_cost/timeout replace these
    settings: ToolSettings = field(default_factory=ToolSettings)
    # Builds the model for a job; default: load_model(the job's spec). Tests pass scripted models.
    model_factory: Callable[[Job], Any] | None = None
    tools: list | None = None

    def __call__(self, job: Job, staged: list[tuple[Path, Path]] | None = None) -> dict[str, Any]:
        """`staged`: (original, copy) for each of the job's input files, when a runner has copied
        them elsewhere (a Ray worker); the job then reads the copies and records the originals."""
        started = time.monotonic()
        run_dir = fresh_run_dir(Path(self.runs_dir), job.id)
        try:
            if staged is None:
                inputs = collect_inputs(job.task, job.files, cwd=job.base_dir)  # checked again: a file may have gone
            else:
                inputs = open_inputs([copy for _, copy in staged])
                for one, (original, _) in zip(inputs, staged):
                    one.origin = original
            model = (
                self.model_factory(job) if self.model_factory else load_model(model_spec_for(job, self.default_model))
            )
            agent = Agent(
                model, self.tools, budget=self.budget_for(job), runs_dir=self.runs_dir, settings=self.settings
            )
            result = agent.run(job.task, inputs, run_dir=run_dir)
        except Exception as exc:  # one job's failure never stops the others
            return error_record(
                job, describe_exception(exc), time.monotonic() - started, run_dir if run_dir.exists() else None
            )
        status = {"done": "ok", "model_error": "error", "interrupted": "error"}.get(result.status, "failed")
        error = None if status == "ok" else result.error or result.status
        correct = None
        if job.expected is not None and status != "error":
            correct = status == "ok" and score(result.answer, job.expected, job.match, job.tolerance)
        return _record(
            job,
            status,
            time.monotonic() - started,
            answer=result.answer,
            correct=correct,
            error=error,
            agent_status=result.status,
            steps=result.steps,
            usage=result.usage.to_dict(),
            cost_usd=result.cost_usd,
            model=model.name,
            run_dir=str(result.run_dir),
        )

    def budget_for(self, job: Job) -> Budget:
        mine = {
            "max_steps": job.max_steps,
            "max_tokens": job.max_tokens,
            "max_cost_usd": job.max_cost,
            "timeout_s": job.timeout,
        }
        return replace(self.budget, **{k: v for k, v in mine.items() if v is not None})


def error_record(job: Job, message: str, latency: float, run_dir: Path | None = None) -> dict[str, Any]:
    return _record(job, "error", latency, error=message, run_dir=str(run_dir) if run_dir else None)


def _record(job: Job, status: str, latency: float, **fields: Any) -> dict[str, Any]:
    """A result line; `correct` and `expected` appear only for jobs with an expected answer."""
    record: dict[str, Any] = {"id": job.id, "status": status, "answer": fields.pop("answer", None)}
    if job.expected is not None:
        record["correct"] = fields.pop("correct", None)
        record["expected"] = job.expected
    fields.pop("correct", None)
    record["error"] = fields.pop("error", None)
    record.update({"agent_status": None, "steps": 0, "usage": None, "cost_usd": None, "model": None, "run_dir": None})
    record.update(fields)
    record["latency_s"] = round(latency, 3)
    if job.tags:
        record["tags"] = job.tags
    record["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return record


def describe_exception(exc: BaseException) -> str:
    """One readable line: the message, and for an unexpected error where it happened."""
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, (UsageError, ModelError, ModelSpecError)):
        return text
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {text}{where}"


def safe_name(job_id: str) -> str:
    """A folder name for a job id; distinct ids never share one."""
    if re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,79}", job_id):
        return job_id
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", job_id).strip("-.")[:60] or "job"
    return f"{slug}-{hashlib.sha1(job_id.encode()).hexdigest()[:8]}"


def fresh_run_dir(runs_dir: Path, job_id: str) -> Path:
    # A job rerun after a crash gets name@2, name@3: '@' never appears in a safe name.
    base = runs_dir / safe_name(job_id)
    candidate, attempt = base, 1
    while candidate.exists():
        attempt += 1
        candidate = base.with_name(f"{base.name}@{attempt}")
    return candidate


# -- where jobs run ---------------------------------------------------------------------------


class JobRunner(ABC):
    """Runs jobs somewhere and hands their result records back to the caller as they finish.

    The caller is the single writer of the results file; a runner never writes results.
    """

    @abstractmethod
    def results(
        self, jobs: Iterable[Job], work: Callable[[Job], dict], may_start: Callable[[], bool]
    ) -> Iterator[dict]:
        """Run `work(job)` for the jobs, starting them in order; yield each record as it finishes.

        `may_start()` is asked right before each job starts; once it says no, no more jobs
        start, and the ones already running finish and are yielded."""


class LocalRunner(JobRunner):
    """Up to `concurrency` jobs at once, each on its own thread in this process.

    Jobs wait on the model API most of the time, so threads overlap them well; LibreOffice
    conversions already run in child processes with a profile each (tools/documents/convert.py).
    Threads are daemons: on Ctrl-C the batch exits at once and the running jobs rerun on resume.
    """

    def __init__(self, concurrency: int = 4):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency

    def results(self, jobs, work, may_start):
        finished: queue.SimpleQueue = queue.SimpleQueue()
        pending = iter(jobs)

        def run(job: Job) -> None:
            started = time.monotonic()
            try:
                record = work(job)
            except BaseException as exc:  # the count of running jobs must stay right whatever happens
                record = error_record(job, describe_exception(exc), time.monotonic() - started)
            finished.put(record)

        running, exhausted = 0, False
        while True:
            while not exhausted and running < self.concurrency:
                job = next(pending, None) if may_start() else None
                if job is None:
                    exhausted = True
                    break
                threading.Thread(target=run, args=(job,), name=f"job-{job.id}", daemon=True).start()
                running += 1
            if running == 0:
                return
            while True:
                try:
                    record = finished.get(timeout=0.5)  # a timeout keeps Ctrl-C prompt
                    break
                except queue.Empty:
                    continue
            running -= 1
            yield record


# -- the results file -------------------------------------------------------------------------


@dataclass
class Recovery:
    records: dict[str, dict]  # id -> its result line
    notes: list[str]  # what was repaired, for the user


class ResultsFile:
    """The output JSON lines. Each record is one os.write of one whole line on an O_APPEND
    descriptor, then fsync: a kill at any moment leaves the file ending in a whole line, or,
    on a power cut, in a torn one that `recover` removes before anything is appended."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd: int | None = None
        self._lock = threading.Lock()

    def has_content(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0

    def recover(self, rerun_statuses: Iterable[str] = ()) -> Recovery:
        """Read finished records, first cutting off a torn last line and dropping lines that
        are not records (or whose status is in `rerun_statuses`, so those jobs run again)."""
        if not self.path.exists():
            return Recovery({}, [])
        data = self.path.read_bytes()
        rerun = set(rerun_statuses)
        records: dict[str, dict] = {}
        kept: list[bytes] = []
        notes: list[str] = []
        bad_lines: list[int] = []
        rerun_count = 0
        lines = data.split(b"\n")
        torn = lines.pop()  # the bytes after the last newline: b"" when the file ends cleanly
        for number, raw in enumerate(lines, start=1):
            record = _parse_record(raw)
            if record is None:
                if raw.strip():
                    bad_lines.append(number)
                continue
            if record["status"] in rerun:
                rerun_count += 1
                continue
            if record["id"] in records:
                notes.append(f"{self.path}: line {number} repeats id {record['id']!r}; the first one is kept")
                continue
            records[record["id"]] = record
            kept.append(raw)
        if torn:
            notes.append(
                f"{self.path}: removed a torn last line ({len(torn)} bytes) left by an interrupted run; its job runs again"
            )
        if bad_lines:
            notes.append(
                f"{self.path}: removed {len(bad_lines)} line(s) that are not result records (line {', '.join(map(str, bad_lines[:10]))})"
            )
        if rerun_count:
            notes.append(f"{self.path}: {rerun_count} job(s) with status {'/'.join(sorted(rerun))} will run again")
        if bad_lines or rerun_count or any("repeats id" in n for n in notes):
            atomic_write_bytes(self.path, b"".join(line + b"\n" for line in kept))
        elif torn:
            with open(self.path, "r+b") as fh:
                fh.truncate(len(data) - len(torn))
                fh.flush()
                os.fsync(fh.fileno())
        return Recovery(records, notes)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Only one batch at a time may write a results file: two would duplicate lines.
        The lock is on a hidden file beside it (the results file itself may be replaced by
        `recover`), and the kernel releases it when the process dies, however it dies."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UsageError(
                    f"another `agent batch` is writing {self.path}; wait for it to end or choose another output file"
                ) from None
            yield
            lock_path.unlink(missing_ok=True)
        finally:
            os.close(fd)

    def open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, record: dict) -> None:
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            written = os.write(self._fd, data)
            while written < len(data):  # a short write on a regular file is rare (disk full); finish the line
                written += os.write(self._fd, data[written:])
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _parse_record(raw: bytes) -> dict | None:
    try:
        record = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if isinstance(record, dict) and isinstance(record.get("id"), str) and record.get("status") in STATUSES:
        return record
    return None


# -- the batch ---------------------------------------------------------------------------------


@dataclass
class BatchOutcome:
    records: dict[str, dict]  # id -> result, for the jobs of this batch (earlier runs included)
    ran: int  # jobs run by this call
    skipped: int  # jobs already finished in the results file
    not_started: list[str]  # ids left when the budget ran out
    spent_usd: float
    wall_s: float
    notes: list[str]


def run_batch(
    jobs: list[Job],
    results: ResultsFile,
    work: Callable[[Job], dict],
    runner: JobRunner,
    *,
    resume: bool = False,
    rerun_statuses: Iterable[str] = (),
    max_cost: float | None = None,
    on_start: Callable[[int, dict[str, dict], list[str]], None] | None = None,
    on_result: Callable[[dict], None] | None = None,
) -> BatchOutcome:
    """Run the jobs not yet in the results file, appending each result as it arrives.

    `on_start(to_run, finished_records, notes)` is called once before the first job starts."""
    with results.exclusive():
        return _run_batch(jobs, results, work, runner, resume, rerun_statuses, max_cost, on_start, on_result)


def _run_batch(jobs, results, work, runner, resume, rerun_statuses, max_cost, on_start, on_result) -> BatchOutcome:
    if results.has_content() and not resume:
        raise UsageError(
            f"{results.path} already has results; pass --resume to continue it, or choose another output file"
        )
    recovery = results.recover(rerun_statuses) if resume else Recovery({}, [])
    ids = {job.id for job in jobs}
    records = {i: r for i, r in recovery.records.items() if i in ids}
    todo = [job for job in jobs if job.id not in records]
    spent = sum(r.get("cost_usd") or 0.0 for r in records.values())
    started = time.monotonic()
    if on_start:
        on_start(len(todo), dict(records), recovery.notes)

    def may_start() -> bool:
        return max_cost is None or spent < max_cost

    ran = 0
    results.open()
    try:
        for record in runner.results(todo, work, may_start):
            results.append(record)
            records[record["id"]] = record
            spent += record.get("cost_usd") or 0.0
            ran += 1
            if on_result:
                on_result(record)
    finally:
        results.close()
    not_started = [job.id for job in todo if job.id not in records]
    return BatchOutcome(
        records, ran, len(jobs) - len(todo), not_started, spent, time.monotonic() - started, recovery.notes
    )


# -- the summary -------------------------------------------------------------------------------


def summarize(jobs: list[Job], records: dict[str, dict], slowest: int = 5) -> dict[str, Any]:
    """Counts, accuracy (overall and per tag), tokens, cost and latency over the batch's jobs."""
    done = [records[j.id] for j in jobs if j.id in records]
    status = {s: sum(1 for r in done if r["status"] == s) for s in STATUSES}
    status["not_run"] = len(jobs) - len(done)
    tokens: dict[str, int] = {}
    for r in done:
        for key, value in (r.get("usage") or {}).items():
            tokens[key] = tokens.get(key, 0) + int(value or 0)
    costs = [r.get("cost_usd") for r in done]
    latencies = sorted(float(r["latency_s"]) for r in done if r.get("latency_s") is not None)
    by_tag: dict[str, list[dict]] = {}
    for r in done:
        for tag in r.get("tags") or []:
            by_tag.setdefault(tag, []).append(r)
    return {
        "jobs": len(jobs),
        "status": status,
        "accuracy": _accuracy(done),
        "accuracy_by_tag": {tag: _accuracy(rs) for tag, rs in sorted(by_tag.items())},
        "tokens": tokens,
        "cost_usd": round(sum(c for c in costs if c is not None), 6),
        # Jobs that called the model but whose model has no price (an error before any call cost nothing).
        "cost_unknown_jobs": sum(1 for r in done if r.get("usage") and r.get("cost_usd") is None),
        "latency_s": {
            "p50": _percentile(latencies, 50),
            "p95": _percentile(latencies, 95),
            "max": latencies[-1] if latencies else None,
        },
        "slowest": [
            {"id": r["id"], "latency_s": r["latency_s"], "status": r["status"]}
            for r in sorted(done, key=lambda r: -(r.get("latency_s") or 0))[:slowest]
        ],
        "not_ok": [
            {"id": r["id"], "status": r["status"], "error": r.get("error")} for r in done if r["status"] != "ok"
        ][:10],
        # answered, but not what the job expected (jobs that did not answer are in not_ok)
        "wrong": [
            {"id": r["id"], "answer": r.get("answer"), "expected": r.get("expected"), "run_dir": r.get("run_dir")}
            for r in done
            if r["status"] == "ok" and r.get("correct") is False
        ][:10],
    }


def _accuracy(records: list[dict]) -> dict[str, Any]:
    # Jobs that ended in error never produced an answer to judge: they are counted apart.
    scored = [r for r in records if r.get("correct") is not None]
    correct = sum(1 for r in scored if r["correct"])
    return {
        "scored": len(scored),
        "correct": correct,
        "accuracy": round(correct / len(scored), 4) if scored else None,
        "unscored_errors": sum(1 for r in records if "expected" in r and r.get("correct") is None),
    }


def _percentile(sorted_values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * pct // 100))
    return sorted_values[int(rank) - 1]
