"""Attacks through past run directories: a run's home, transcript and answer are written by the
model and its jailed code, and `agent show` reads them later on the host (tests/test_runs_cli.py
makes the runs)."""

from __future__ import annotations

import json
import shutil

from tests.test_runs_cli import agent, one_line_error, three_runs  # noqa: F401 - three_runs is a fixture


def test_past_run_links_are_not_followed(three_runs, tmp_path):  # noqa: F811
    _, runs, _ = three_runs
    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    linked = sorted(copy.iterdir())[0]
    (linked / "transcript.jsonl").unlink()
    (linked / "transcript.jsonl").symlink_to("/etc/passwd")
    one_line_error(agent("show", linked.name, "--runs-dir", str(copy), cwd=tmp_path), 2, "transcript.jsonl")


def test_past_run_terminal_escapes_are_not_printed(three_runs, tmp_path):  # noqa: F811
    _, runs, _ = three_runs
    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    hostile = sorted(copy.iterdir())[1]
    evil = "\x1b]0;owned\x07\x1b[2J"
    lines = (hostile / "transcript.jsonl").read_text().splitlines()
    message = {"role": "tool", "meta": {}}
    message["parts"] = [
        {"type": "tool_result", "call_id": "c", "name": "zoom", "text": f"zoomed{evil}", "image_ids": []}
    ]
    (hostile / "transcript.jsonl").write_text("\n".join([*lines, json.dumps(message)]) + "\n")
    answer = json.loads((hostile / "answer.json").read_text())
    (hostile / "answer.json").write_text(json.dumps({**answer, "status": "done", "answer": f"red{evil}"}))
    shown = agent("show", hostile.name, "--runs-dir", str(copy), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "\x1b" not in shown.stdout + shown.stderr and "\x07" not in shown.stderr
    assert "zoomed?]0;owned??[2J" in shown.stderr and shown.stdout.startswith("red?")
