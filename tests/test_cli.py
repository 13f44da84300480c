"""The CLI end to end, in a subprocess, as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def agent(*args: str, cwd: Path, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, *fragments: str) -> None:
    assert proc.returncode == code, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("agent: error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_help_explains_every_subcommand(tmp_path):
    from agent.commands import COMMANDS

    proc = agent("--help", cwd=tmp_path)
    assert proc.returncode == 0
    for sub in COMMANDS:
        assert sub in proc.stdout
        sub_help = agent(sub, "--help", cwd=tmp_path)
        assert sub_help.returncode == 0 and sub_help.stdout.startswith(f"usage: agent {sub}"), sub_help.stderr
        body = sub_help.stdout.split("\n\n", 1)[1]  # a description or the arguments, under the usage lines
        assert len(body.strip()) > 40 and "Traceback" not in sub_help.stderr


def test_tools_lists_every_tool_with_a_schema(tmp_path):
    proc = agent("tools", "--json", cwd=tmp_path)
    assert proc.returncode == 0
    specs = json.loads(proc.stdout)
    names = {s["name"] for s in specs}
    assert "final_answer" in names
    assert all(s["parameters"]["type"] == "object" and s["description"] for s in specs)


def test_missing_file_is_exit_2(tmp_path):
    proc = agent("run", "read the gauge", "--file", "nothere.jpg", "--model", "replay:x.jsonl", cwd=tmp_path)
    assert_one_line_error(proc, 2, "file not found: nothere.jpg")


def test_file_that_is_not_an_image_is_exit_2(tmp_path):
    (tmp_path / "fake.png").write_text("this is not a png")
    cassette = tmp_path / "c.jsonl"
    cassette.write_text(json.dumps({"format": "lookclosely-cassette/1", "source": "hand-written", "model": "x"}) + "\n")
    proc = agent("run", "what is in fake.png?", "--model", f"replay:{cassette}", cwd=tmp_path)
    assert_one_line_error(proc, 2, "fake.png", "not a readable image")


def test_decompression_bomb_is_exit_2(tmp_path):
    Image.new("1", (10_000, 10_000)).save(tmp_path / "bomb.png")
    cassette = tmp_path / "c.jsonl"
    cassette.write_text(json.dumps({"format": "lookclosely-cassette/1", "source": "hand-written", "model": "x"}) + "\n")
    proc = agent("run", "look at bomb.png", "--model", f"replay:{cassette}", cwd=tmp_path)
    assert_one_line_error(proc, 2, "bomb.png", "decompression bomb")


def test_unknown_model_scheme_is_exit_2(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    proc = agent("run", "look at a.png", "--model", "telepathy:brain", cwd=tmp_path)
    assert_one_line_error(proc, 2, "telepathy")


def test_a_cassette_that_is_not_a_cassette_is_exit_2(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    (tmp_path / "notes.jsonl").write_text('{"hello": 1}\n')
    proc = agent("run", "look at a.png", "--model", "replay:notes.jsonl", cwd=tmp_path)
    assert_one_line_error(proc, 2, "not a cassette")


def test_bad_flag_is_exit_2(tmp_path):
    proc = agent("run", "x", "--max-steps", "many", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_ctrl_c_exits_130_and_keeps_the_run_complete_up_to_the_last_step(tmp_path):
    Image.new("RGB", (16, 16), (9, 9, 9)).save(tmp_path / "a.png")
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from agent.files import collect_inputs
        from agent.loop import Agent
        from agent.models.scripted import ScriptedModel, call
        from tools.answer import FINAL_ANSWER
        from tests.test_loop import ECHO

        def slow(request):
            if len(request.messages) > 2:
                print("second-turn", flush=True)
                time.sleep(60)
            return call("echo_image", image="img1")

        result = Agent(ScriptedModel(slow), tools=[ECHO, FINAL_ANSWER], runs_dir="runs").run("x", collect_inputs("", ["a.png"]))
        print(result.status, flush=True)
        sys.exit(result.exit_code)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "second-turn"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130 and out.strip() == "interrupted"
    run = next((tmp_path / "runs").iterdir())
    answer = json.loads((run / "answer.json").read_text())
    assert answer["status"] == "interrupted"
    lines = (run / "transcript.jsonl").read_text().splitlines()
    assert [json.loads(line)["role"] for line in lines] == ["user", "model", "tool"]
    assert (run / "report.html").exists() and (run / "images" / "img2.png").exists()


def scripted_cassette(path: Path, replies: list) -> Path:
    from agent.files import collect_inputs
    from agent.loop import Agent
    from agent.models.cassette import RecordingModel
    from agent.models.scripted import ScriptedModel

    image = path.parent / "a.png"
    model = RecordingModel(ScriptedModel(replies, name="scripted"), path, source="hand-written", note="test")
    Agent(model, runs_dir=path.parent / "recording").run(
        "look at a.png", collect_inputs("look at a.png", [], cwd=image.parent)
    )
    return path


def test_a_run_budget_stops_the_run_with_exit_1_and_a_complete_record(tmp_path):
    from agent.models.base import ModelReply, Usage
    from agent.transcript import ToolCall

    Image.new("RGB", (16, 16), (9, 9, 9)).save(tmp_path / "a.png")
    zoom = ModelReply(
        [ToolCall("c", "zoom", {"image": "img1", "x_min": 0, "y_min": 0, "x_max": 500, "y_max": 500})],
        Usage(input_tokens=400, output_tokens=100),
        "tool_calls",
    )
    scripted_cassette(tmp_path / "c.jsonl", [zoom] * 5)
    proc = agent(
        "run",
        "look at a.png",
        "--model",
        "replay:c.jsonl",
        "--max-tokens",
        "1200",
        "--run-dir",
        "r",
        "--timeout",
        "600",
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    assert "agent: budget: token budget reached: 1,500 tokens used of 1,200, after 3 step(s)" in proc.stderr
    answer = json.loads((tmp_path / "r" / "answer.json").read_text())
    assert answer["status"] == "budget" and answer["steps"] == 3 and answer["budget"]["timeout_s"] == 600
    assert proc.stdout == ""


def test_bad_budget_flags_are_exit_2(tmp_path):
    for flags, words in (
        (["--max-cost", "-1"], "--max-cost must be more than 0"),
        (["--timeout", "0"], "--timeout must be more than 0"),
        (["--max-tokens", "0"], "--max-tokens must be more than 0"),
        (["--max-steps", "0"], "--max-steps must be at least 1"),
    ):
        assert_one_line_error(agent("run", "x", *flags, cwd=tmp_path), 2, words)
