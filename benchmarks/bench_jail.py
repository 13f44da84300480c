"""Start-up overhead of one run_python call (a print) at each isolation level.

Baseline: a bare `subprocess.run([python, "-c", "print('hi')"])`, measured in the same run. Target:
the jail adds under 100 ms to it. Prints median times, the overhead over the baseline and ratios.

    python benchmarks/bench_jail.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.home import create_home  # noqa: E402
from sandbox.jail import Limits, bwrap_status, run_python  # noqa: E402
from tools.code import TOOLS  # noqa: E402
from tools.images import ImageStore  # noqa: E402
from tools.registry import Toolbox, ToolContext, ToolSettings  # noqa: E402

TARGET_MS = 100.0


def median_ms(fn, repeat: int) -> float:
    fn()  # warm caches (page cache, bwrap probe) before timing
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        create_home(home, [])
        toolbox = Toolbox(TOOLS)
        baseline = median_ms(
            lambda: subprocess.run([sys.executable, "-c", "print('hi')"], capture_output=True, check=True), args.repeat
        )
        print(f"baseline: bare subprocess.run of Python      {baseline:7.1f} ms")
        levels = ["process"] + (["bwrap"] if bwrap_status()[0] else [])
        if "bwrap" not in levels:
            print(f"bwrap: not measured ({bwrap_status()[1]})")
        worst = 0.0
        for level in levels:
            jail = median_ms(lambda: run_python("print('hi')", home, level, Limits()), args.repeat)
            ctx = ToolContext(
                images=ImageStore(Path(tmp) / "images"), home=home, settings=ToolSettings(isolation=level)
            )
            via_tool = median_ms(lambda: toolbox.call("run_python", {"code": "print('hi')"}, ctx), args.repeat)
            for label, ms in ((f"{level}: jail.run_python", jail), (f"{level}: run_python tool", via_tool)):
                added = ms - baseline
                worst = max(worst, added)
                print(f"{label:42s} {ms:7.1f} ms   +{added:6.1f} ms   ratio {ms / baseline:4.2f}x")
        verdict = "meets" if worst < TARGET_MS else "MISSES"
        print(f"largest overhead over the baseline: {worst:.1f} ms ({verdict} the {TARGET_MS:.0f} ms target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
