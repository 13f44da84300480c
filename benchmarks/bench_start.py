"""Start-up time of the commands a person types most: `agent --help`, `agent tools`, `agent runs`.

Each command is started as a new process, as a shell starts it, ROUNDS times, interleaved with
two baselines measured in the same run: a bare interpreter (`python -c pass`, which already
pays for site-packages) and `python -I -c "import argparse"`. Printed: the median and best
wall time of each, its ratio to the bare interpreter, and whether it is under the target
(0.3 s). `agent tools` reads the tool specs from the cache (agent/toolspecs.py); the first,
cold call that builds them is timed apart.

    python3 benchmarks/bench_start.py [--rounds 15] [--project DIR]

`--project DIR` times another checkout of the project (e.g. the main branch, for a
before/after comparison) with its own `.venv` (an editable install always imports its own
checkout); commands it does not have are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 0.3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--project", type=Path, default=ROOT, help="the checkout to time (default: this one)")
    args = parser.parse_args()
    project = args.project.resolve()
    python = project / ".venv" / "bin" / "python"
    python = str(python) if python.exists() else sys.executable
    with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "PYTHONPATH": str(project), "AGENT_CACHE_DIR": str(tmp / "cache")}
        env.pop("BROWSER", None)
        runs = make_runs(tmp / "runs", 200)
        agent = [python, "-m", "agent.cli"]
        commands = {
            "python -c pass": [python, "-c", "pass"],
            "python -I -c 'import argparse'": [python, "-I", "-c", "import argparse"],
            "agent --help": [*agent, "--help"],
            "agent tools": [*agent, "tools"],
            "agent runs (200 runs)": [*agent, "runs", "--runs-dir", str(runs)],
        }
        available = {name: argv for name, argv in commands.items() if works(argv, env, tmp)}
        cold = timed([*agent, "tools"], {**env, "AGENT_CACHE_DIR": str(tmp / "cold-cache")}, tmp)
        times: dict[str, list[float]] = {name: [] for name in available}
        for _ in range(args.rounds):
            for name, argv in available.items():
                times[name].append(timed(argv, env, tmp))
    base = statistics.median(times["python -c pass"])
    print(f"start-up of {project} ({args.rounds} rounds, {python})")
    print(f"{'command':34} {'median':>8} {'best':>8} {'× bare python':>14}  target {TARGET_S}s")
    for name in commands:
        if name not in times:
            print(f"{name:34} {'–':>8} {'–':>8} {'–':>14}  (not in this checkout)")
            continue
        med, best = statistics.median(times[name]), min(times[name])
        verdict = "" if name.startswith("python") else ("ok" if med < TARGET_S else "OVER")
        print(f"{name:34} {med:8.3f} {best:8.3f} {med / base:14.2f}  {verdict}")
    print(f"{'agent tools, cold cache (once)':34} {cold:8.3f} {'':>8} {cold / base:14.2f}")
    return 0


def timed(argv: list[str], env: dict, cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def works(argv: list[str], env: dict, cwd: Path) -> bool:
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False).returncode == 0


def make_runs(folder: Path, count: int) -> Path:
    """`count` run directories holding what `agent runs` reads (task.json, answer.json)."""
    folder.mkdir()
    for n in range(count):
        run = folder / f"20261101-{n:06d}-read-the-gauge"
        (run / "images").mkdir(parents=True)
        task = {
            "task": f"read the gauge {n}",
            "model": "gemini:gemini-3.8-flash",
            "started_at": "2026-11-01T10:00:00+00:00",
        }
        answer = {
            "answer": "6.4 bar",
            "status": "done" if n % 5 else "step_limit",
            "steps": 4,
            "cost_usd": 0.0123,
            "usage": {"input_tokens": 9000, "output_tokens": 300},
            "images": {f"img{i}": f"img{i}: 1024x1024 px, zoom of img1" for i in range(1, 6)},
        }
        (run / "task.json").write_text(json.dumps(task))
        (run / "answer.json").write_text(json.dumps(answer))
        (run / "transcript.jsonl").write_text("")
    shutil.rmtree(folder / f"20261101-{0:06d}-read-the-gauge" / "images")
    return folder


if __name__ == "__main__":
    sys.exit(main())
