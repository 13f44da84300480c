"""The render → check → fix → render → check loop, end to end through the CLI with replayed turns."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
needs_soffice = pytest.mark.skipif(
    shutil.which("soffice") is None and not os.environ.get("CI"), reason="LibreOffice (soffice) is not installed"
)


def agent(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@needs_soffice
@pytest.mark.parametrize(
    "task, original, cassette, fixed",
    [
        (
            "check examples/deck/deck.pptx and fix every defect you find",
            "examples/deck/deck.pptx",
            "examples/deck/fix.cassette.jsonl",
            "deck.edited.pptx",
        ),
        (
            "find and fix the broken formula in examples/sheet/budget.xlsx",
            "examples/sheet/budget.xlsx",
            "examples/sheet/fix.cassette.jsonl",
            "budget.edited.xlsx",
        ),
    ],
)
def test_fix_loop_example(tmp_path, task, original, cassette, fixed):
    before = hashlib.sha256((ROOT / original).read_bytes()).hexdigest()
    assert agent("check", original).returncode == 1  # the example really is broken

    (tmp_path / "results").mkdir()
    (tmp_path / "results" / fixed).write_text("an older result that must survive")
    proc = agent(
        "run",
        task,
        "--model",
        f"replay:{cassette}",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--out",
        str(tmp_path / "results"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = next((tmp_path / "runs").iterdir())
    answer = json.loads((run / "answer.json").read_text())
    assert answer["status"] == "done" and len(answer["evidence"]) == 2
    out = run / "home" / "outputs" / fixed
    assert out.exists() and f"output: {out}" in proc.stderr

    check = agent("check", str(out), "--json")
    assert check.returncode == 0, check.stdout[-2000:]
    # the result is copied out on success, next to (not over) what was there
    copied = tmp_path / "results" / (Path(fixed).stem + "-2" + Path(fixed).suffix)
    assert copied.read_bytes() == out.read_bytes()
    assert (tmp_path / "results" / fixed).read_text() == "an older result that must survive"
    # the user's file is never modified
    assert hashlib.sha256((ROOT / original).read_bytes()).hexdigest() == before
