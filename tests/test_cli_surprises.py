"""The command line does what a person expects: files to produce are not inputs, mistakes are one
line before anything runs, Ctrl-C is quiet, `agent tools` is short, written files honour the umask."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import time
from importlib.metadata import version

from PIL import Image

from agent.models.scripted import call, say
from tests.test_runs_cli import GAUGE_CASSETTE, GAUGE_TASK, ROOT, agent, one_line_error, record


def test_a_file_the_task_asks_to_produce_is_not_an_input_and_the_run_goes_on(tmp_path):
    task = "read the number in a.png and write the reading to reading.txt, then save the chart as chart.png"
    cassette = record(tmp_path, task, [say("42")])
    proc = agent("run", task, "--model", f"replay:{cassette}", "--run-dir", "r", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "42\n"
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("agent: warning:")]
    assert warnings == [
        f"agent: warning: {name} is mentioned in the task but does not exist; it is not an input (use --file for an input)"
        for name in ("reading.txt", "chart.png")
    ]
    assert json.loads((tmp_path / "r" / "task.json").read_text())["files"] == [str(tmp_path / "a.png")]


def test_an_out_that_cannot_be_written_is_refused_before_the_run(tmp_path):
    (tmp_path / "taken.txt").write_text("mine")
    for out, words in (("taken.txt", "--out taken.txt: a file is there"), ("taken.txt/sub", "taken.txt is a file")):
        proc = agent("run", GAUGE_TASK, "--model", f"replay:{GAUGE_CASSETTE}", "--out", out, cwd=tmp_path)
        one_line_error(proc, 2, words)
    assert not (tmp_path / "runs").exists()  # nothing ran
    assert (tmp_path / "taken.txt").read_text() == "mine"
    one_line_error(agent("run", "hello", "--runs-dir", "taken.txt", cwd=tmp_path), 2, "--runs-dir taken.txt")
    render = agent("render", str(ROOT / "examples" / "deck" / "deck.pptx"), "--out", "taken.txt", cwd=tmp_path)
    one_line_error(render, 2, "--out taken.txt: a file is there")


def test_outputs_are_copied_after_the_answer_is_printed_and_honour_the_umask(tmp_path):
    task = "look at a.png and write a note"
    code = "open('outputs/note.txt', 'w').write('seen')"
    cassette = record(tmp_path, task, [call("run_python", code=code), say("written")])
    proc = subprocess.run(
        [sys.executable, "-m", "agent.cli", "run", task, "--model", f"replay:{cassette}", "--out", "out", "-q"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one stream, to see what came first
        text=True,
        umask=0o027,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.splitlines() == ["written", "agent: copied out/note.txt"]
    note = tmp_path / "out" / "note.txt"
    assert note.read_text() == "seen" and stat.S_IMODE(note.stat().st_mode) == 0o640


def test_a_png_given_as_a_cassette_is_named_as_what_it_is(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    line = one_line_error(agent("run", "look at a.png", "--model", "replay:a.png", cwd=tmp_path), 2)
    assert line == (
        "agent: error: a.png is not a cassette: it is a binary file (a PNG image), "
        "and a cassette is the JSON-lines text file that --record writes"
    )


def test_a_bad_agent_model_says_it_came_from_agent_model(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    env = {"AGENT_MODEL": "telepathy:brain"}
    one_line_error(
        agent("run", "look at a.png", cwd=tmp_path, env=env), 2, "AGENT_MODEL='telepathy:brain'", "telepathy"
    )
    (tmp_path / "jobs.jsonl").write_text('{"id": "a", "task": "look at a.png"}\n')
    batch = agent("batch", "jobs.jsonl", cwd=tmp_path, env={"AGENT_MODEL": "replay:gone.jsonl"})
    one_line_error(batch, 2, "AGENT_MODEL='replay:gone.jsonl'", "cassette not found")
    explicit = agent("run", "look at a.png", "--model", "telepathy:x", cwd=tmp_path, env=env)
    assert "AGENT_MODEL" not in one_line_error(explicit, 2, "telepathy:x")  # the flag, not the variable


def test_tools_is_a_short_table_and_a_name_or_json_gives_the_schemas(tmp_path):
    env = {"AGENT_CACHE_DIR": str(tmp_path / "cache")}
    table = agent("tools", cwd=tmp_path, env=env)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    specs = json.loads(agent("tools", "--json", cwd=tmp_path, env=env).stdout)
    assert len(lines) == len(specs) + 2 and len(specs) > 20  # one line a tool, a blank line, a hint
    assert all(len(line) < 120 for line in lines) and "{" not in table.stdout
    assert [line.split()[0] for line in lines[: len(specs)]] == [s["name"] for s in specs]
    assert lines[specs.index(next(s for s in specs if s["name"] == "view"))].endswith(
        "Show an earlier image again (by id), e.g. one no longer shown to save context."
    )
    zoom = agent("tools", "zoom", cwd=tmp_path, env=env)
    assert zoom.stdout.startswith("zoom: ") and '"x_min"' in zoom.stdout and '"properties"' in zoom.stdout
    assert [s["name"] for s in json.loads(agent("tools", "zoom", "--json", cwd=tmp_path, env=env).stdout)] == ["zoom"]
    one_line_error(agent("tools", "teleport", cwd=tmp_path, env=env), 2, "no tool named 'teleport'")


def test_the_tool_spec_cache_is_what_the_tools_say_and_a_damaged_one_is_rebuilt(tmp_path):
    from tools import default_tools
    from tools.registry import Toolbox

    env = {"AGENT_CACHE_DIR": str(tmp_path / "cache")}
    first = agent("tools", "--json", cwd=tmp_path, env=env).stdout
    assert json.loads(first) == json.loads(json.dumps(Toolbox(default_tools()).specs()))
    (cached,) = (tmp_path / "cache" / "tool-specs").iterdir()
    for damage in ('[{"name": 1}]', "{", "[]"):
        cached.write_text(damage)
        assert agent("tools", "--json", cwd=tmp_path, env=env).stdout == first


def test_version(tmp_path):
    proc = agent("--version", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout == f"agent (lookclosely) {version('lookclosely')}\n"


def test_ctrl_c_while_starting_is_one_line_and_exit_130(tmp_path):
    """Interrupted while it loads (the first part of a second is imports) or early in the run:
    one line and exit 130, never a traceback."""
    (tmp_path / "examples" / "gauge").mkdir(parents=True)
    (tmp_path / "examples" / "gauge" / "gauge.png").symlink_to(ROOT / "examples" / "gauge" / "gauge.png")
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "run", GAUGE_TASK, "--model", f"replay:{GAUGE_CASSETTE}"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "AGENT_CACHE_DIR": str(tmp_path / "cache")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("agent: interrupted")


def test_help_and_tools_import_no_document_image_or_model_library(tmp_path):
    """What keeps start-up short (benchmarks/bench_start.py measures it): building the parser
    and printing the tool table load none of the heavy libraries."""
    heavy = ("cv2", "numpy", "PIL", "pydantic", "google.genai", "docx", "pptx", "openpyxl", "pypdfium2", "rich")
    script = (
        "import sys; from agent.cli import main\n"
        "for argv in (['--help'], ['tools'], ['runs', '--runs-dir', '.']):\n"
        "    try: main(argv)\n"
        "    except SystemExit: pass\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    agent("tools", cwd=tmp_path, env={"AGENT_CACHE_DIR": str(tmp_path / "c")})  # fill the spec cache
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "AGENT_CACHE_DIR": str(tmp_path / "c")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_every_new_command_has_its_help(tmp_path):
    for command in ("runs", "show", "open", "replay"):
        proc = agent(command, "--help", cwd=tmp_path)
        assert proc.returncode == 0 and f"usage: agent {command}" in proc.stdout
    prune = agent("runs", "prune", "--help", cwd=tmp_path)
    assert "--older-than" in prune.stdout and "--dry-run" in prune.stdout


def test_render_help_gives_the_renderer_default_resolution(tmp_path):
    from tools.documents.pages import DEFAULT_DPI

    assert f"(default {DEFAULT_DPI})" in agent("render", "--help", cwd=tmp_path).stdout
