"""`agent call TOOL`: any tool from the shell, no model, on a fresh run record."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gauge_synth import CASES, make_gauge
from tools.images import ImageStore

ROOT = Path(__file__).resolve().parents[1]


def agent(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def dial(tmp_path) -> Path:
    img, _ = make_gauge(CASES["plain"])
    path = tmp_path / "dial.png"
    img.save(path)
    return path


def test_read_gauge_from_the_shell_with_json(tmp_path, dial):
    proc = agent("call", "read_gauge", "--image", str(dial), "--json", "--runs-dir", "runs", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == {"text", "data", "images", "is_error"} and out["is_error"] is False
    assert out["text"].startswith("gauge in img1: 6.40 bar")
    assert abs(out["data"]["value"] - 6.4) <= 0.1 and out["data"]["unit"] == "bar"
    [image] = out["images"]
    assert Path(tmp_path, image).is_file() or Path(image).is_file()
    # the run record is laid out as `agent run` lays it out, with the call as its one step
    [run] = (tmp_path / "runs").iterdir()
    store = ImageStore.load(run / "images")
    assert [store.records[i].op for i in ("img1", "img2")] == ["input", "read_gauge"]
    assert (run / "home" / "inputs" / "dial.png").is_file()
    answer = json.loads((run / "answer.json").read_text())
    assert answer["status"] == "done" and answer["evidence"] == ["img2"]
    assert json.loads((run / "task.json").read_text())["args"] == {"image": "img1"}
    assert "read_gauge" in (run / "report.html").read_text()


def test_plain_text_output_and_images_on_stderr(tmp_path, dial):
    proc = agent(
        "call",
        "zoom",
        "--image",
        str(dial),
        "--args",
        '{"x_min": 250, "y_min": 250, "x_max": 750, "y_max": 750}',
        "--runs-dir",
        "runs",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("zoomed img1 region x 250-750")
    assert "agent: img2: " in proc.stderr


def test_documents_land_in_inputs(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    proc = agent(
        "call",
        "run_python",
        "--file",
        "notes.txt",
        "--sandbox",
        "process",
        "--args",
        '{"code": "print(open(\'inputs/notes.txt\').read())"}',
        "--runs-dir",
        "runs",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "hello" in proc.stdout


def test_a_tool_error_exits_1(tmp_path, dial):
    proc = agent(
        "call", "zoom", "--image", str(dial), "--args", '{"x_min": 500}', "--json", "--runs-dir", "runs", cwd=tmp_path
    )
    assert proc.returncode == 1
    out = json.loads(proc.stdout)
    assert out["is_error"] is True and "y_min" in out["text"]
    [run] = (tmp_path / "runs").iterdir()
    assert json.loads((run / "answer.json").read_text())["status"] == "tool_error"


@pytest.mark.parametrize(
    "args, message",
    [
        (["call", "no_such_tool"], "unknown tool 'no_such_tool'"),
        (["call", "zoom", "--args", "{x_min: 1}"], "--args is not valid JSON"),
        (["call", "zoom", "--args", "[1, 2]"], "--args must be a JSON object"),
        (["call", "read_gauge", "--image", "missing.png"], "file not found: missing.png"),
        (["call", "read_gauge", "--image", "notes.txt"], "not an image file name"),
    ],
)
def test_bad_usage_exits_2_with_one_line(tmp_path, args, message):
    (tmp_path / "notes.txt").write_text("x")
    proc = agent(*args, "--runs-dir", "runs", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("agent: error: ") and message in proc.stderr
    assert not (tmp_path / "runs").exists()  # nothing half-made
