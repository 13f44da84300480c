"""Batch throughput: 200 jobs, a scripted model that sleeps 0.5 s a turn, 2 turns a job
(a real zoom on the job's image, then the answer), 8 at a time, with the default toolbox,
real run directories, reports and the fsync'd results file.

Baseline: the ideal wall time, jobs × turns × turn time / concurrency (25 s by default), as if
the batch machinery and the tools cost nothing. Target: within 1.2× of it. Also printed, from
the same run: the batch machinery alone (the same jobs, each just sleeping its 1.0 s, through
the same runner and results file), the overhead of one real job with a model that answers
instantly, and the peak memory of the process.

With --ray, the same serial instant jobs and the same batch also run on a local Ray started
here (agent/ray_runner.py: a task per job, inputs and run records through the object store),
at the same concurrency. Printed: how long Ray took to start and to start a worker process per
slot (a first wave of jobs, run just before the batch so the batch finds its workers warm, as
a long batch would), the batch's wall time against the ideal and against the local runner,
and what Ray adds to each job.

    python3 benchmarks/bench_batch.py [--jobs 200] [--concurrency 8] [--turn 0.5] [--ray]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.batch import Job, JobWork, LocalRunner, ResultsFile, run_batch, summarize  # noqa: E402
from agent.models.base import ModelRequest  # noqa: E402
from agent.models.scripted import ScriptedModel, call, say  # noqa: E402

TURNS = 2


def sleeping_model(turn_seconds: float) -> ScriptedModel:
    def zoom_turn(request: ModelRequest):
        time.sleep(turn_seconds)
        return call("zoom", image="img1", x_min=0, y_min=0, x_max=500, y_max=500)

    def answer_turn(request: ModelRequest):
        time.sleep(turn_seconds)
        return say("3 red squares")

    return ScriptedModel([zoom_turn, answer_turn])


def make_jobs(folder: Path, n: int) -> list[Job]:
    jobs = []
    for i in range(n):
        image = folder / f"img{i}.png"
        im = Image.new("RGB", (320, 240), "white")
        draw = ImageDraw.Draw(im)
        for k in range(3):
            draw.rectangle([20 + 90 * k, 60, 80 + 90 * k, 120], fill=(220, 30, 30))
        im.save(image)
        jobs.append(Job(f"job{i:04d}", "How many red squares are there?", [image], folder, i + 1, expected=3))
    return jobs


def run(folder: Path, jobs: list[Job], runner, turn_seconds: float) -> tuple[float, dict]:
    work = JobWork(folder / "runs", model_factory=lambda job: sleeping_model(turn_seconds))
    started = time.perf_counter()
    outcome = run_batch(jobs, ResultsFile(folder / "results.jsonl"), work, runner)
    wall = time.perf_counter() - started
    return wall, summarize(jobs, outcome.records)


def on_ray(root: Path, args, n_overhead: int) -> dict:
    """The same measurements on a local Ray: its start, serial instant jobs, a first wave that
    starts a worker process per slot, then (at once, before Ray retires idle workers) the batch."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from agent.ray_runner import RayRunner, ray_session

    for name in ("ray-serial-warm", "ray-overhead", "ray-first-wave", "ray-batch"):
        (root / name).mkdir()
    started = time.perf_counter()
    with ray_session(None) as where:
        figures = {"start_s": time.perf_counter() - started, "where": where}
        run(root / "ray-serial-warm", make_jobs(root / "ray-serial-warm", 2), RayRunner(1), 0.0)
        figures["serial_wall"], _ = run(
            root / "ray-overhead", make_jobs(root / "ray-overhead", n_overhead), RayRunner(1), 0.0
        )
        wave = make_jobs(root / "ray-first-wave", args.concurrency)
        figures["first_wave_wall"], _ = run(root / "ray-first-wave", wave, RayRunner(args.concurrency), args.turn)
        jobs = make_jobs(root / "ray-batch", args.jobs)
        figures["wall"], figures["summary"] = run(root / "ray-batch", jobs, RayRunner(args.concurrency), args.turn)
    return figures


def sleep_only(seconds: float):
    def work(job: Job) -> dict:
        time.sleep(seconds)
        return {"id": job.id, "status": "ok", "answer": "3", "latency_s": seconds}

    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--turn", type=float, default=0.5, help="seconds the model sleeps each turn")
    parser.add_argument("--ray", action="store_true", help="also run it on a local Ray (needs lookclosely[ray])")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "warm").mkdir()
        (root / "overhead").mkdir()
        (root / "batch").mkdir()
        run(root / "warm", make_jobs(root / "warm", 2), LocalRunner(1), 0.0)  # first-use costs (sandbox probe, imports)
        n_overhead = 10
        overhead_wall, _ = run(root / "overhead", make_jobs(root / "overhead", n_overhead), LocalRunner(1), 0.0)
        jobs = make_jobs(root / "batch", args.jobs)
        started = time.perf_counter()
        run_batch(
            jobs, ResultsFile(root / "machinery.jsonl"), sleep_only(TURNS * args.turn), LocalRunner(args.concurrency)
        )
        machinery_wall = time.perf_counter() - started
        wall, summary = run(root / "batch", jobs, LocalRunner(args.concurrency), args.turn)
        if args.ray:
            on = on_ray(root, args, n_overhead)

    ideal = args.jobs * TURNS * args.turn / args.concurrency
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ok = summary["status"]["ok"]
    print(f"jobs {args.jobs} · {TURNS} turns × {args.turn}s · concurrency {args.concurrency}")
    print(f"ok {ok}/{args.jobs} · accuracy {summary['accuracy']['accuracy']}")
    print(f"batch machinery alone (jobs that only sleep): {machinery_wall:.2f}s, ratio {machinery_wall / ideal:.3f}")
    print(f"one job's own overhead (instant model, serial): {overhead_wall / n_overhead * 1000:.1f} ms")
    print(f"wall {wall:.2f}s · ideal {ideal:.2f}s · ratio {wall / ideal:.3f} (target ≤ 1.2)")
    print(f"latency p50 {summary['latency_s']['p50']:.2f}s · p95 {summary['latency_s']['p95']:.2f}s")
    print(f"peak memory (max RSS of this process) {peak_mb:.0f} MB")
    if ok != args.jobs:
        print(f"warning: {args.jobs - ok} job(s) did not finish ok: {summary['not_ok'][:3]}")
    if args.ray:
        ok_ray = on["summary"]["status"]["ok"]
        serial_extra = (on["serial_wall"] - overhead_wall) / n_overhead * 1000
        slot_extra = (on["wall"] - wall) * args.concurrency / args.jobs * 1000
        print(
            f"{on['where']}: started in {on['start_s']:.1f}s; a first wave of {args.concurrency} jobs "
            f"(a worker process each) {on['first_wave_wall']:.1f}s against {TURNS * args.turn:.1f}s of model time"
        )
        print(f"ray: ok {ok_ray}/{args.jobs} · accuracy {on['summary']['accuracy']['accuracy']}")
        print(
            f"ray: one job's own overhead (instant model, serial): {on['serial_wall'] / n_overhead * 1000:.1f} ms, "
            f"{serial_extra:+.1f} ms a job over the local runner"
        )
        print(
            f"ray: wall {on['wall']:.2f}s · ratio to ideal {on['wall'] / ideal:.3f} · ratio to the local runner "
            f"{on['wall'] / wall:.3f} ({slot_extra:+.0f} ms of slot time a job)"
        )
        print(
            f"ray: latency p50 {on['summary']['latency_s']['p50']:.2f}s · p95 {on['summary']['latency_s']['p95']:.2f}s"
        )
        if ok_ray != args.jobs:
            print(f"warning: ray: {args.jobs - ok_ray} job(s) did not finish ok: {on['summary']['not_ok'][:3]}")


if __name__ == "__main__":
    main()
