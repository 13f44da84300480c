"""The live check: three real tasks on real models, recorded, and a table of how each went.

    make live-check              # runs `pytest -m live -s`, which calls run_check
    python -m tests.live_check   # the same without pytest

Which models: GEMINI_API_KEY (or GOOGLE_API_KEY) runs the tasks on Gemini
(AGENT_LIVE_GEMINI_MODEL, default: the project's default model); AGENT_LIVE_OPENAI_URL with
AGENT_LIVE_OPENAI_MODEL on an OpenAI-compatible server (a key, if it needs one, in
OPENAI_API_KEY); AGENT_LIVE_OLLAMA_URL with AGENT_LIVE_OLLAMA_MODEL on Ollama's native API.
With none of them set nothing runs, and `pytest -m live` reports the test as skipped. It costs
money on a paid key: it is never part of `make test` or CI.

The tasks: the gauge example, the deck fix, and a five-job batch (the first five jobs of
examples/batch/jobs.jsonl). Everything lands in AGENT_LIVE_OUT (default
./live-check/<UTC time>/): one cassette per run and per batch job (`--record` format, so any
of them replays offline with `replay:`), the run directories and the batch's results file.
The table: task, model, status, steps, tokens (in / out, cached and thinking counted in
them), cost and seconds.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.batch import JobWork, LocalRunner, ResultsFile, load_jobs, run_batch  # noqa: E402
from agent.files import collect_inputs  # noqa: E402
from agent.loop import Agent  # noqa: E402
from agent.models import default_model_spec, load_model  # noqa: E402
from agent.models.base import Usage  # noqa: E402
from agent.models.cassette import RecordingModel  # noqa: E402

TASKS = {
    "gauge": "read the gauge in examples/gauge/gauge.png",
    "deck fix": "check examples/deck/deck.pptx and fix every defect you find",
}
BATCH_JOBS = ROOT / "examples" / "batch" / "jobs.jsonl"
BATCH_SIZE = 5
FAILED = ("model_error", "crashed")  # statuses that mean the provider or the agent broke, not the model's answer


@dataclass
class Row:
    task: str
    model: str
    status: str
    steps: int
    usage: Usage
    cost_usd: float | None
    seconds: float
    broke: bool = False  # the provider or the agent failed (not merely a wrong or missing answer)


def live_specs(env: Mapping[str, str] = os.environ) -> list[str]:
    """The model specs the environment can run; [] when it has no credentials for any."""
    specs = []
    if env.get("GEMINI_API_KEY") or env.get("GOOGLE_API_KEY"):
        specs.append(
            f"gemini:{env['AGENT_LIVE_GEMINI_MODEL']}" if env.get("AGENT_LIVE_GEMINI_MODEL") else default_model_spec()
        )
    for scheme in ("openai", "ollama"):
        url, name = env.get(f"AGENT_LIVE_{scheme.upper()}_URL"), env.get(f"AGENT_LIVE_{scheme.upper()}_MODEL")
        if url and not name:
            raise ValueError(
                f"AGENT_LIVE_{scheme.upper()}_URL is set: set AGENT_LIVE_{scheme.upper()}_MODEL to the model's name too"
            )
        if url:
            specs.append(f"{scheme}:{name}@{url}")
    return specs


def run_check(specs: list[str], out: Path, load: Callable[[str], object] = load_model) -> list[Row]:
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for spec in specs:
        for task, text in TASKS.items():
            rows.append(_run_task(task, text, spec, out, load))
        rows.append(_run_batch(spec, out, load))
    return rows


def _run_task(task: str, text: str, spec: str, out: Path, load) -> Row:
    name = f"{_slug(task)}--{_slug(spec)}"
    started = time.monotonic()
    try:
        model = RecordingModel(load(spec), out / f"{name}.cassette.jsonl", source="live")
        result = Agent(model, runs_dir=out).run(text, collect_inputs(text, [], cwd=ROOT), run_dir=out / name)
    except Exception as exc:  # a model that cannot even be set up is a row, not a crash of the check
        return Row(task, spec, f"error: {exc}", 0, Usage(), None, time.monotonic() - started, broke=True)
    return Row(
        task,
        spec,
        result.status,
        result.steps,
        result.usage,
        result.cost_usd,
        time.monotonic() - started,
        result.status in FAILED,
    )


def _run_batch(spec: str, out: Path, load) -> Row:
    name = f"batch--{_slug(spec)}"
    jobs = load_jobs(BATCH_JOBS).jobs[:BATCH_SIZE]
    cassettes = out / f"{name}.cassettes"
    cassettes.mkdir(exist_ok=True)

    def model_for(job):
        return RecordingModel(load(spec), cassettes / f"{job.id}.cassette.jsonl", source="live")

    started = time.monotonic()
    work = JobWork(out / name, spec, model_factory=model_for)
    outcome = run_batch(jobs, ResultsFile(out / f"{name}.results.jsonl"), work, LocalRunner(2))
    records = list(outcome.records.values())
    usage = sum((Usage(**r["usage"]) for r in records if r.get("usage")), Usage())
    costs = [r.get("cost_usd") for r in records]
    ok = sum(r["status"] == "ok" for r in records)
    correct = sum(bool(r.get("correct")) for r in records)
    return Row(
        f"batch of {len(jobs)}",
        spec,
        f"{ok}/{len(jobs)} ok, {correct} correct",
        sum(r.get("steps") or 0 for r in records),
        usage,
        None if None in costs else round(sum(costs), 6),
        time.monotonic() - started,
        any(r["status"] == "error" for r in records),
    )


def format_table(rows: list[Row]) -> str:
    header = ("task", "model", "status", "steps", "tokens in / out", "cost", "seconds")
    lines = [header] + [
        (
            r.task,
            r.model,
            r.status,
            str(r.steps),
            f"{r.usage.input_tokens:,} / {r.usage.output_tokens + r.usage.thinking_tokens:,}",
            f"${r.cost_usd:.4f}" if r.cost_usd is not None else "unknown",
            f"{r.seconds:.1f}",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines)


def default_out() -> Path:
    when = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(os.environ.get("AGENT_LIVE_OUT") or ROOT / "live-check" / when)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text.split("@")[0]).strip("-")[:60]


def main() -> int:
    specs = live_specs()
    if not specs:
        print(
            "live check: no GEMINI_API_KEY, GOOGLE_API_KEY, AGENT_LIVE_OPENAI_URL or AGENT_LIVE_OLLAMA_URL; nothing to run",
            file=sys.stderr,
        )
        return 0
    out = default_out()
    rows = run_check(specs, out)
    print(format_table(rows))
    print(f"cassettes and runs: {out}", file=sys.stderr)
    return 1 if any(r.broke for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
