"""The gauge example end to end through the CLI: replayed model turns, real tools, full run record."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from tools.images import ImageStore

ROOT = Path(__file__).resolve().parents[1]
CASSETTE = ROOT / "examples" / "gauge" / "run.cassette.jsonl"


def test_gauge_example_replays_offline_to_the_reading(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent.cli",
            "run",
            "read the gauge in examples/gauge/gauge.png",
            "--model",
            f"replay:{CASSETTE}",
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("6.4 bar")
    # each step shows on stderr: the reasoning, the call with its arguments, the images produced
    assert "thinking:" in proc.stderr and '→ zoom({"image": "img1"' in proc.stderr and "[img2]" in proc.stderr
    run = next((tmp_path / "runs").iterdir())
    answer = json.loads((run / "answer.json").read_text())
    assert answer["status"] == "done" and answer["steps"] == 5
    store = ImageStore.load(run / "images")
    ops = [store.records[i].op for i in sorted(store.records, key=lambda i: int(i[3:]))]
    # zoom on the dial, read it with read_gauge, check it by zooming on the tip, confirm the print
    assert ops == ["input", "zoom", "read_gauge", "zoom", "zoom"]
    assert '→ read_gauge({"image": "img2"})' in proc.stderr and "gauge in img2: 6.3" in proc.stderr
    # the evidence is the annotated dial and the zoomed tip, both traceable to the original
    assert answer["evidence"] == ["img3", "img4"]
    assert all(store.root_of(i) == "img1" for i in answer["evidence"])
    # the tip zoom is where read_gauge said the tip is: the needle's tip at (1340, 600) + 350 px at 52.2 degrees
    root, box = store.map_box("img4", (0, 0, store.records["img4"].width, store.records["img4"].height))
    tip = (1340 + 0.95 * 350 * math.cos(math.radians(52.2)), 600 - 0.95 * 350 * math.sin(math.radians(52.2)))
    assert root == "img1" and box[0] < tip[0] < box[2] and box[1] < tip[1] < box[3]
    root, box = store.map_box("img5", (0, 0, store.records["img5"].width, store.records["img5"].height))
    assert root == "img1" and [round(v) for v in box] == [1180, 660, 1500, 840]
    html = (run / "report.html").read_text()
    assert "6.4 bar" in html and html.count("<img ") >= 5
    roles = [json.loads(line)["role"] for line in (run / "transcript.jsonl").read_text().splitlines()]
    assert roles == ["user"] + ["model", "tool"] * 5
