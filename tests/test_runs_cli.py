"""Past runs from the command line: `agent runs`, `show`, `open`, `replay`, `runs prune`, in a
subprocess, on run directories made by real runs (replayed model replies, real tools)."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image

from agent.commands.runs import human_bytes
from agent.files import collect_inputs
from agent.loop import Agent
from agent.models.cassette import RecordingModel
from agent.models.scripted import ScriptedModel, call, say
from agent.runs import run_bytes

ROOT = Path(__file__).resolve().parents[1]
GAUGE_TASK = "read the gauge in examples/gauge/gauge.png"
GAUGE_CASSETTE = ROOT / "examples" / "gauge" / "run.cassette.jsonl"


def agent(*args: str, cwd: Path, env: dict | None = None, umask: int = -1) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY", "AGENT_MODEL")}
    full.update(PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
        umask=umask,
    )


def one_line_error(proc: subprocess.CompletedProcess, code: int, *fragments: str) -> str:
    assert proc.returncode == code, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("agent: error:") and "Traceback" not in proc.stderr, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def record(folder: Path, task: str, replies: list, image: str = "a.png") -> Path:
    """A hand-written cassette for `task` over `folder/image`, recorded by running the real loop."""
    if not (folder / image).exists():
        Image.new("RGB", (32, 24), (200, 40, 40)).save(folder / image)
    cassette = folder / f"{len(list(folder.glob('*.cassette.jsonl')))}.cassette.jsonl"
    model = RecordingModel(ScriptedModel(replies, name="scripted"), cassette, source="hand-written", note="test")
    Agent(model, runs_dir=folder / ".recordings").run(task, collect_inputs(task, [], cwd=folder))
    return cassette


def zoom():
    return call("zoom", image="img1", x_min=0, y_min=0, x_max=500, y_max=500)


@pytest.fixture(scope="module")
def gauge(tmp_path_factory):
    """The gauge example run once from the shell with umask 022: its output and its run directory."""
    runs = tmp_path_factory.mktemp("gauge") / "runs"
    proc = agent(
        "run", GAUGE_TASK, "--model", f"replay:{GAUGE_CASSETTE}", "--runs-dir", str(runs), cwd=ROOT, umask=0o022
    )
    assert proc.returncode == 0, proc.stderr
    (run,) = runs.iterdir()
    return proc, runs, run


# -- what a run directory holds ------------------------------------------------------------------


def test_files_the_run_writes_honour_the_umask(gauge):
    _, _, run = gauge
    written = [run / "answer.json", run / "task.json", run / "report.html", run / "cassette.jsonl"]
    written += list((run / "images").iterdir())
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in written} == {"0o644"}  # mkstemp's 0600 no more


def test_the_input_image_is_stored_once(gauge):
    _, _, run = gauge
    image, home_copy = run / "images" / "img1.png", run / "home" / "inputs" / "gauge.png"
    assert image.read_bytes() == (ROOT / "examples" / "gauge" / "gauge.png").read_bytes()
    assert os.path.samefile(image, home_copy)  # one file under two names, not two copies
    every_name = sum(p.stat().st_size for p in run.rglob("*") if p.is_file() and not p.is_symlink())
    assert run_bytes(run) == every_name - image.stat().st_size


def test_every_run_keeps_a_cassette_of_its_model_replies(gauge):
    _, _, run = gauge
    lines = [json.loads(line) for line in (run / "cassette.jsonl").read_text().splitlines()]
    assert lines[0]["format"] == "lookclosely-cassette/1" and lines[0]["source"] == "hand-written"
    assert lines[0]["model"] == "scripted:gauge-example"  # the model that spoke, not "replay:…"
    recorded = [json.loads(line) for line in GAUGE_CASSETTE.read_text().splitlines()[1:]]
    assert [t["reply"] for t in lines[1:]] == [t["reply"] for t in recorded]
    task = json.loads((run / "task.json").read_text())
    assert task["inputs"] == ["inputs/gauge.png"] and datetime.fromisoformat(task["started_at"]).tzinfo


# -- show, open, replay --------------------------------------------------------------------------


def test_show_prints_a_past_run_as_the_live_display_did(gauge):
    live, runs, _ = gauge
    shown = agent("show", "last", "--runs-dir", str(runs), cwd=ROOT)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == live.stdout and shown.stdout.startswith("6.4 bar.")
    took = re.compile(r" \(\d+\.\d\ds\)$")  # how long each tool took is only known live
    assert shown.stderr.splitlines() == [took.sub("", line) for line in live.stderr.splitlines()]
    assert "[2] → read_gauge" in shown.stderr and len(shown.stderr.splitlines()) > 12
    as_json = agent("show", "last", "--json", "--runs-dir", str(runs), cwd=ROOT)
    assert json.loads(as_json.stdout)["status"] == "done"


def test_open_prints_the_report_path_and_starts_only_a_browser_that_is_there(gauge, tmp_path):
    _, runs, run = gauge
    headless = agent("open", "last", "--runs-dir", str(runs), cwd=tmp_path)  # no DISPLAY, no BROWSER
    assert headless.returncode == 0 and headless.stdout.strip() == str((run / "report.html").resolve())
    assert headless.stderr == ""
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(0o755)
    named = agent("open", run.name[:15], "--runs-dir", str(runs), cwd=tmp_path, env={"BROWSER": str(browser)})
    assert named.returncode == 0, named.stderr
    assert opened.read_text().strip() == (run / "report.html").resolve().as_uri()


def test_replay_reruns_a_run_offline_from_its_own_directory(gauge, tmp_path):
    live, runs, run = gauge
    copy = tmp_path / "runs"
    shutil.copytree(runs, copy, symlinks=True)
    # elsewhere, where the task's examples/gauge/gauge.png does not exist: the run's own copy is used
    proc = agent("replay", "last", "--runs-dir", str(copy), "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == live.stdout
    assert "the same answer as the recorded run" in proc.stderr
    assert len(list(copy.iterdir())) == 2
    listed = json.loads(agent("runs", "--json", "--runs-dir", str(copy), cwd=tmp_path).stdout)
    assert [r["model"] for r in listed] == ["replay:scripted:gauge-example"] * 2
    assert listed[1]["name"] == run.name  # newest first: the replay, then the original


# -- listing -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    """Three quick runs: done, step_limit, done, one second apart; the first made 40 days old."""
    folder = tmp_path_factory.mktemp("three")
    runs = folder / "runs"
    blue = record(folder, "what colour is a.png?", [say("red")])
    looping = record(folder, "zoom into a.png", [zoom(), zoom(), zoom()])
    for task, cassette, extra in (
        ("what colour is a.png?", blue, []),
        ("zoom into a.png", looping, ["--max-steps", "1"]),
        ("what colour is a.png?", blue, []),
    ):
        proc = agent("run", task, "--model", f"replay:{cassette}", "--runs-dir", "runs", *extra, cwd=folder)
        assert proc.returncode in (0, 1), proc.stderr
    oldest = sorted(runs.iterdir())[0]
    task_json = oldest / "task.json"
    task = json.loads(task_json.read_text())
    task["started_at"] = (datetime.now(timezone.utc) - timedelta(days=40)).isoformat(timespec="seconds")
    task_json.write_text(json.dumps(task))
    return folder, runs, oldest


def test_runs_lists_time_status_model_steps_cost_and_task_newest_first(three_runs):
    folder, runs, oldest = three_runs
    proc = agent("runs", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    header, *rows = proc.stdout.splitlines()
    assert header.split() == ["started", "status", "model", "steps", "cost", "run", "task"]
    assert [row.split()[2] for row in rows] == ["done", "step_limit", "done"]
    assert rows[-1].split()[6] == oldest.name and rows[0].endswith("what colour is a.png?")
    assert all("replay:scripted" in row and " – " in row for row in rows)  # a replay has no known cost
    listed = json.loads(agent("runs", "--json", cwd=folder).stdout)
    assert [(r["status"], r["steps"], r["task"]) for r in listed] == [
        ("done", 1, "what colour is a.png?"),
        ("step_limit", 1, "zoom into a.png"),
        ("done", 1, "what colour is a.png?"),
    ]
    assert listed[0]["answer"] == "red" and listed[2]["path"] == str(Path("runs") / oldest.name)


def test_runs_filters_by_status_and_time_and_limits(three_runs):
    folder, _, oldest = three_runs

    def names(*flags):
        proc = agent("runs", "--json", *flags, cwd=folder)
        assert proc.returncode == 0, proc.stderr
        return [r["name"] for r in json.loads(proc.stdout)]

    assert len(names()) == 3
    assert len(names("--status", "step_limit")) == 1 and len(names("--status", "done,step_limit")) == 3
    assert oldest.name not in names("--since", "30d") and len(names("--since", "30d")) == 2
    assert names("--since", "2999-01-01") == []
    assert len(names("--limit", "1")) == 1
    table = agent("runs", "--limit", "2", cwd=folder)
    assert len(table.stdout.splitlines()) == 3 and "1 older run(s) not shown" in table.stderr
    one_line_error(agent("runs", "--since", "last tuesday", cwd=folder), 2, "--since", "30d")
    one_line_error(agent("runs", "--runs-dir", "nowhere", cwd=folder), 2, "no runs folder nowhere")
    fresh = folder / "fresh"
    fresh.mkdir(exist_ok=True)
    first_time = agent("runs", cwd=fresh)  # before any run: nothing to list, nothing wrong
    assert first_time.returncode == 0 and first_time.stdout == "" and "no runs yet" in first_time.stderr
    one_line_error(agent("show", "last", cwd=fresh), 2, "no runs folder runs")


def test_a_run_is_named_by_prefix_path_or_last_and_a_wrong_name_is_one_line(three_runs):
    folder, runs, oldest = three_runs
    by_path = agent("show", str(oldest), cwd=folder)
    assert by_path.returncode == 0 and by_path.stdout == "red\n"
    one_line_error(agent("show", "2", cwd=folder), 2, "matches 3 runs")  # every name starts with the year
    one_line_error(agent("show", "nosuchrun", cwd=folder), 2, "no run 'nosuchrun'")
    one_line_error(agent("show", str(folder), cwd=folder), 2, "not a run directory")


# -- damaged and hostile run directories ---------------------------------------------------------


def test_a_damaged_run_is_one_line_and_the_others_are_still_listed(three_runs, tmp_path):
    _, runs, _ = three_runs
    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    broken, garbled, *_ = sorted(copy.iterdir())
    (broken / "answer.json").write_text("[1, 2")
    (garbled / "transcript.jsonl").write_text('{"role": "model", "parts": [{"type": "tool_call", "name": 7}]}\n')
    listed = json.loads(agent("runs", "--json", "--runs-dir", str(copy), cwd=tmp_path).stdout)
    assert sorted(r["status"] for r in listed) == ["corrupt", "done", "step_limit"]
    one_line_error(
        agent("show", broken.name, "--runs-dir", str(copy), cwd=tmp_path), 2, "answer.json is not valid JSON"
    )
    one_line_error(
        agent("show", garbled.name, "--runs-dir", str(copy), cwd=tmp_path),
        2,
        "transcript.jsonl line 1 is not a message",
    )


# -- replay needs only the run directory ---------------------------------------------------------


def test_replay_takes_the_input_from_the_original_when_the_copy_is_gone_and_says_when_both_are(tmp_path):
    cassette = record(tmp_path, "what colour is a.png?", [say("red")])
    assert agent("run", "what colour is a.png?", "--model", f"replay:{cassette}", cwd=tmp_path).returncode == 0
    (run,) = (tmp_path / "runs").iterdir()
    (run / "home" / "inputs" / "a.png").unlink()
    again = agent("replay", "last", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout == "red\n", again.stderr
    (tmp_path / "a.png").unlink()
    one_line_error(agent("replay", run.name, cwd=tmp_path), 2, "inputs/a.png is gone", "a.png does not exist")


def test_a_run_without_a_cassette_cannot_be_replayed(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    called = agent(
        "call",
        "zoom",
        "--image",
        "a.png",
        "--args",
        '{"x_min": 0, "y_min": 0, "x_max": 500, "y_max": 500}',
        cwd=tmp_path,
    )
    assert called.returncode == 0, called.stderr
    one_line_error(agent("replay", "last", cwd=tmp_path), 2, "has no cassette.jsonl to replay")
    assert agent("runs", cwd=tmp_path).stdout.count("agent call zoom") == 1


# -- prune ---------------------------------------------------------------------------------------


def test_prune_removes_only_old_run_directories_and_says_what_it_freed(three_runs, tmp_path):
    _, runs, oldest = three_runs
    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    old_run = copy / oldest.name
    size = run_bytes(old_run)
    keep = tmp_path / "runs" / "notes"  # an old folder that is not a run: never touched
    keep.mkdir()
    (keep / "plan.txt").write_text("mine")
    os.utime(keep, (0, 0))
    outside = tmp_path / "elsewhere"  # a run reached through a link: never followed
    shutil.copytree(old_run, outside)
    (copy / "link-to-a-run").symlink_to(outside)

    dry = agent("runs", "prune", "--older-than", "30d", "--dry-run", "--runs-dir", str(copy), cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        f"would remove {old_run} ({human_bytes(size)}, done, started {oldest_started(old_run)})"
    ]
    assert old_run.exists()
    assert f"would free {size:,} bytes" in dry.stderr

    real = agent("runs", "prune", "--older-than", "30d", "--runs-dir", str(copy), cwd=tmp_path)
    assert real.returncode == 0, real.stderr
    assert real.stdout.startswith(f"removed {old_run} (") and f"removed 1 run(s), freed {size:,} bytes" in real.stderr
    assert (
        not old_run.exists()
        and len(json.loads(agent("runs", "--json", "--runs-dir", str(copy), cwd=tmp_path).stdout)) == 2
    )
    assert (keep / "plan.txt").read_text() == "mine" and (outside / "task.json").exists()
    assert agent("runs", "prune", "--runs-dir", str(copy), cwd=tmp_path).returncode == 2  # --older-than is required


def oldest_started(run: Path) -> str:
    started = datetime.fromisoformat(json.loads((run / "task.json").read_text())["started_at"])
    return f"{started.astimezone():%Y-%m-%d %H:%M}"
