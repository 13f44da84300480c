"""`agent batch` end to end, in a subprocess, with cassettes recorded here from scripted models."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw

from agent.files import collect_inputs
from agent.loop import Agent
from agent.models.cassette import RecordingModel
from agent.models.scripted import ScriptedModel, say

ROOT = Path(__file__).resolve().parents[1]


def agent_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "agent.cli", *args]


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def agent(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(agent_cmd(*args), cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout)


def make_batch(folder: Path, answers: dict[str, str], expected: dict[str, object] | None = None) -> Path:
    """A jobs file over one image per job, and a cassette per job under cassettes/<id>.cassette.jsonl."""
    (folder / "img").mkdir(parents=True, exist_ok=True)
    (folder / "cassettes").mkdir(exist_ok=True)
    lines = []
    for n, (job_id, answer) in enumerate(answers.items()):
        image = folder / "img" / f"{job_id}.png"
        im = Image.new("RGB", (60, 40), "white")
        ImageDraw.Draw(im).rectangle([5, 5, 5 + n % 50, 30], fill="red")
        im.save(image)
        job = {"id": job_id, "task": "How many red squares are there?", "files": [f"img/{job_id}.png"]}
        if expected and job_id in expected:
            job["expected"] = expected[job_id]
        lines.append(json.dumps(job))
        model = RecordingModel(
            ScriptedModel([say(answer)]),
            folder / "cassettes" / f"{job_id}.cassette.jsonl",
            source="hand-written",
            note="test",
        )
        Agent(model, runs_dir=folder / "recording-runs").run(
            job["task"], collect_inputs(job["task"], job["files"], cwd=folder)
        )
    jobs = folder / "jobs.jsonl"
    jobs.write_text("\n".join(lines) + "\n")
    return jobs


def result_lines(path: Path) -> list[dict]:
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), "the results file ends in a torn line"
    return [json.loads(line) for line in data.decode().splitlines()]


def test_invalid_lines_are_all_reported_and_nothing_runs(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    (tmp_path / "jobs.jsonl").write_text(
        '{"id": "a", "task": "look at a.png"}\n'
        "{oops\n"
        '{"id": "a", "task": "again"}\n'
        '{"id": "b", "task": "x", "files": ["nothere.pdf"]}\n'
        '{"task": "no id"}\n'
    )
    proc = agent("batch", "jobs.jsonl", "-o", "out.jsonl", "--model", "replay:cassettes/", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    for fragment in (
        "jobs.jsonl:2: not valid JSON",
        "jobs.jsonl:3: duplicate id 'a'",
        "jobs.jsonl:4: file not found: nothere.pdf",
        "jobs.jsonl:5: missing id",
    ):
        assert fragment in proc.stderr
    assert "a.cassette.jsonl" in proc.stderr  # line 1's cassette is missing: a problem too
    assert proc.stderr.strip().splitlines()[-1].startswith("agent: error: 5 invalid job line(s)")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "runs").exists()


def test_a_batch_runs_scores_and_summarises(tmp_path):
    answers = {"q1": "There are 3 red squares.", "q2": "2", "q3": "I count 7.", "q4": "five"}
    jobs = make_batch(tmp_path / "data", answers, expected={"q1": 3, "q2": 2, "q3": 8})
    jobs.write_text(jobs.read_text() + '{"id": "bad", "task": "x", "files": ["gone.png"]}\n')
    proc = agent(
        "batch",
        str(jobs),
        "-o",
        "results.jsonl",
        "--model",
        "replay:data/cassettes/",
        "--json",
        "--skip-invalid",
        "-c",
        "3",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["status"] == {"ok": 4, "failed": 0, "error": 0, "not_run": 0}
    assert summary["accuracy"]["correct"] == 2 and summary["accuracy"]["scored"] == 3
    assert summary["skipped_invalid_lines"] == [5] and "gone.png" in proc.stderr
    runs_dir = tmp_path / "runs" / "results"
    assert summary["runs_dir"] == str(runs_dir)
    assert [(w["id"], w["answer"], w["expected"], w["run_dir"]) for w in summary["wrong"]] == [
        ("q3", "I count 7.", 8, str(runs_dir / "q3"))
    ]
    records = {r["id"]: r for r in result_lines(tmp_path / "results.jsonl")}
    assert set(records) == set(answers)
    assert records["q3"]["correct"] is False and records["q4"]["answer"] == "five" and "correct" not in records["q4"]
    assert all(Path(r["run_dir"], "report.html").exists() for r in records.values())

    table = agent(
        "batch",
        str(jobs),
        "-o",
        "results.jsonl",
        "--model",
        "replay:data/cassettes/",
        "--resume",
        "--skip-invalid",
        cwd=tmp_path,
    )
    assert table.returncode == 0, table.stderr
    assert "66.7% (2/3)" in table.stdout and "4 were already done" in table.stdout
    assert "q3: answered 'I count 7.', expected 8" in table.stdout  # a wrong answer is named, not only failures
    unwrapped = re.sub(r"[\s│]", "", table.stdout)  # the table wraps long paths over lines
    assert f"{runs_dir}/<jobid>" in unwrapped  # where the run directories went
    assert len(result_lines(tmp_path / "results.jsonl")) == 4

    again = agent(
        "batch", str(jobs), "-o", "results.jsonl", "--model", "replay:data/cassettes/", "--skip-invalid", cwd=tmp_path
    )
    assert again.returncode == 2 and "--resume" in again.stderr


def test_kill_9_at_any_moment_then_resume_gives_exactly_one_line_per_job(tmp_path):
    ids = [f"job{i:02d}" for i in range(40)]
    jobs = make_batch(tmp_path, {i: f"{int(i[3:]) % 5} squares" for i in ids})
    out = tmp_path / "results.jsonl"
    args = agent_cmd(
        "batch", str(jobs), "-o", str(out), "--model", f"replay:{tmp_path / 'cassettes'}/", "-c", "3", "-q", "--resume"
    )
    kills, attempts = 0, 0
    while attempts < 30:
        attempts += 1
        proc = subprocess.Popen(args, cwd=tmp_path, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        before = len(result_lines(out)) if out.exists() else 0
        # Kill as soon as this run has written a couple of lines (or finishes first).
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if out.exists() and out.stat().st_size and len(out.read_bytes().splitlines()) >= before + 2 + attempts % 3:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
        proc.wait()
        if proc.returncode == -signal.SIGKILL:
            kills += 1
            continue
        assert proc.returncode == 0, [r for r in result_lines(out) if r["status"] != "ok"][:3]
        break
    assert kills >= 2  # the batch really was killed mid-run, more than once
    records = result_lines(out)
    assert sorted(r["id"] for r in records) == ids  # none lost, none duplicated
    assert all(r["status"] == "ok" for r in records)


def test_the_example_batch_replays_offline(tmp_path):
    example = ROOT / "examples" / "batch"
    proc = agent(
        "batch",
        str(example / "jobs.jsonl"),
        "-o",
        "results.jsonl",
        "--model",
        f"replay:{example / 'cassettes'}/",
        "--json",
        "--max-cost",
        "5",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--max-cost cannot be enforced" in proc.stderr  # replayed models have no price
    summary = json.loads(proc.stdout)
    assert summary["status"] == {"ok": 6, "failed": 1, "error": 0, "not_run": 0}
    assert summary["accuracy"]["correct"] == 5 and summary["accuracy"]["scored"] == 7


def test_ctrl_c_stops_at_once_with_exit_130_and_resume_finishes(tmp_path):
    ids = [f"job{i:02d}" for i in range(30)]
    jobs = make_batch(tmp_path, {i: "1" for i in ids})
    out = tmp_path / "results.jsonl"
    args = agent_cmd("batch", str(jobs), "-o", str(out), "--model", f"replay:{tmp_path / 'cassettes'}/", "-c", "1")
    proc = subprocess.Popen(args, cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while proc.poll() is None and not (out.exists() and out.stat().st_size):
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "--resume" in stderr and "Traceback" not in stderr
    written = result_lines(out)
    assert 0 < len(written) < len(ids)
    done = agent(
        "batch",
        str(jobs),
        "-o",
        str(out),
        "--model",
        f"replay:{tmp_path / 'cassettes'}/",
        "--resume",
        "--json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["already_done"] == len(written)
    assert sorted(r["id"] for r in result_lines(out)) == ids


def test_a_spent_budget_starts_nothing_and_says_so(tmp_path):
    jobs = make_batch(tmp_path, {"a": "1", "b": "2", "c": "3"})
    proc = agent(
        "batch",
        str(jobs),
        "-o",
        "out.jsonl",
        "--model",
        f"replay:{tmp_path / 'cassettes'}/",
        "--max-cost",
        "0",
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    assert "budget reached" in proc.stderr and "3 job(s) not started" in proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["status"]["not_run"] == 3 and summary["budget"]["not_started"] == ["a", "b", "c"]
    assert (tmp_path / "out.jsonl").read_text() == ""
