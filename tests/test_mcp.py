"""`agent mcp`: the tools served over the Model Context Protocol, tested as a client sees them.

Every test starts `agent mcp` as a real subprocess and drives it with the MCP SDK's own client
(over stdio; one test over streamable HTTP): listing tools, adding files from the allowed
folder, image results as MCP image content, documents rendered and edited, run_python in the
jail, bad calls answered with error results while the session goes on, and the session's run
record written when the client disconnects. The attacks on the allowed folder are in
tests/test_escape_mcp.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import anyio
import numpy as np
import pytest
from mcp import StdioServerParameters
from PIL import Image

from tests.documents_builders import make_pptx, needs_soffice
from tests.mcp_common import SECRET, images_of, mcp_server, run_dirs, text_of
from tools import default_tools
from tools.images import DETAIL_MAX_SIDE

PROJECT = Path(__file__).resolve().parents[1]
GAUGE = PROJECT / "examples" / "gauge" / "gauge.png"  # 2000 x 1500


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "work"
    (root / "photos").mkdir(parents=True)
    shutil.copy(GAUGE, root / "photos" / "gauge.png")
    return root


@pytest.fixture
def runs(tmp_path):
    return tmp_path / "runs"


def test_lists_the_tools_with_the_schemas_the_model_gets(root, runs):
    with mcp_server(root, runs) as client:
        listed = {t.name: t for t in client.list_tools().tools}
    model_tools = {t.name: t for t in default_tools()}
    assert set(listed) == (set(model_tools) - {"final_answer"}) | {"add_file"}
    for name in ("zoom", "enhance", "annotate", "measure", "find_circles", "read_gauge", "read_text_in_image"):
        assert listed[name].input_schema == model_tools[name].schema(), name
        assert listed[name].description == model_tools[name].description
    for name in ("render_document", "inspect_document", "check_document", "read_text", "edit_pptx", "run_python"):
        assert listed[name].input_schema == model_tools[name].schema(), name
    add = listed["add_file"].input_schema
    assert add["type"] == "object" and add["required"] == ["path"]
    assert run_dirs(runs) == [], "listing tools starts no session: nothing is written under runs/"


def test_zoom_an_image_and_receive_image_content(root, runs):
    with mcp_server(root, runs) as client:
        added = client.call("add_file", {"path": "photos/gauge.png"})
        assert not added.is_error, text_of(added)
        assert "img1 (2000x1500 px)" in text_of(added)
        [shown] = images_of(added)
        # the user's own image goes as the context policy sends an original: at "low" detail
        assert max(shown.size) == DETAIL_MAX_SIDE["low"] and shown.size == (768, 576)

        zoomed = client.call("zoom", {"image": "img1", "x_min": 250, "y_min": 100, "x_max": 450, "y_max": 400})
        assert not zoomed.is_error, text_of(zoomed)
        assert "-> img2" in text_of(zoomed) and "[img2:" in text_of(zoomed)
        [crop] = images_of(zoomed)
        width, height = map(int, re.search(r"img2 \((\d+)x(\d+) px\)", text_of(zoomed)).groups())
        assert crop.size == (width, height)  # under 1536 px: sent as made
        # the crop is of the right place: the gauge photo's region, enlarged
        expected = Image.open(GAUGE).convert("RGB").crop((500, 150, 900, 600)).resize(crop.size)
        diff = np.abs(np.asarray(crop.convert("RGB"), dtype=float) - np.asarray(expected, dtype=float))
        assert diff.mean() < 12

    [run] = run_dirs(runs)
    answer = json.loads((run / "answer.json").read_text())
    assert answer["status"] == "session-ended" and answer["steps"] == 2
    assert answer["isolation"] in ("bwrap", "process")
    index = json.loads((run / "images" / "index.json").read_text())
    assert index["img1"]["source"] == "inputs/gauge.png"
    assert index["img2"]["parent"] == "img1" and index["img2"]["op"] == "zoom"
    assert (run / "home" / "inputs" / "gauge.png").read_bytes() == GAUGE.read_bytes()
    report = (run / "report.html").read_text()
    assert "zoom" in report and "mcp client" in report
    transcript = [json.loads(line) for line in (run / "transcript.jsonl").read_text().splitlines()]
    calls = [p["name"] for m in transcript for p in m["parts"] if p.get("type") == "tool_call"]
    assert calls == ["add_file", "zoom"]


@needs_soffice
def test_render_a_document_and_edit_it(root, runs):
    deck = make_pptx(root / "deck.pptx")
    original = deck.read_bytes()
    with mcp_server(root, runs) as client:
        added = client.call("add_file", {"path": "deck.pptx"})
        assert not added.is_error and "added inputs/deck.pptx" in text_of(added)
        assert images_of(added) == []

        rendered = client.call("render_document", {"path": "inputs/deck.pptx"})
        assert not rendered.is_error, text_of(rendered)
        assert "rendered 1 of 1 pages" in text_of(rendered)
        page, sheet = images_of(rendered)
        assert page.size[0] > page.size[1]  # a 4:3 slide
        rgb = np.asarray(page.convert("RGB")).astype(int)
        red = (rgb[..., 0] > 200) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60)
        assert red.mean() > 0.03  # the red box is drawn

        edited = client.call(
            "edit_pptx",
            {
                "path": "inputs/deck.pptx",
                "operations": [{"op": "set_text", "slide": 1, "shape": "Red box", "text": "OK"}],
            },
        )
        assert not edited.is_error, text_of(edited)
        saved = re.search(r"saved outputs/deck\.edited\.pptx as (\S+) \(", text_of(edited))
        assert saved, text_of(edited)
        copy = Path(saved.group(1))
        with zipfile.ZipFile(copy) as z:
            assert "OK" in z.read("ppt/slides/slide1.xml").decode()
    assert deck.read_bytes() == original  # the user's file is never written
    [run] = run_dirs(runs)
    assert copy == run / "outputs" / "deck.edited.pptx"
    assert json.loads((run / "answer.json").read_text())["outputs"] == [str(copy)]


def test_run_python_in_the_jail(root, runs):
    code = (
        "import os\n"
        "print('keys:', sorted(k for k in os.environ if 'KEY' in k))\n"
        "print('home:', os.getcwd())\n"
        "from PIL import Image\n"
        "Image.new('RGB', (64, 48), (0, 0, 255)).save('outputs/blue.png')\n"
    )
    with mcp_server(root, runs) as client:
        result = client.call("run_python", {"code": code})
        text = text_of(result)
        assert not result.is_error, text
        assert "keys: []" in text and SECRET not in text
        isolation = re.search(r"(\w+) isolation\)", text).group(1)
        if isolation == "bwrap":
            assert "home: /home/sandbox" in text
        [blue] = images_of(result)
        assert blue.size == (64, 48) and blue.convert("RGB").getpixel((5, 5)) == (0, 0, 255)
        assert "saved outputs/blue.png as" in text

        failing = client.call("run_python", {"code": "raise SystemExit(3)"})
        assert failing.is_error and "exited with status 3" in text_of(failing)


def test_bad_arguments_are_error_results_and_the_session_goes_on(root, runs):
    with mcp_server(root, runs) as client:
        assert not client.call("add_file", {"path": "photos/gauge.png"}).is_error
        out_of_range = client.call("zoom", {"image": "img1", "x_min": 5000, "y_min": 0, "x_max": 10, "y_max": 10})
        assert out_of_range.is_error and "x_min" in text_of(out_of_range)
        unknown_id = client.call("zoom", {"image": "img9", "x_min": 0, "y_min": 0, "x_max": 10, "y_max": 10})
        assert unknown_id.is_error and "img9" in text_of(unknown_id)
        unknown_tool = client.call("teleport", {"to": "mars"})
        assert unknown_tool.is_error and "unknown tool 'teleport'" in text_of(unknown_tool)
        not_allowed = client.call("final_answer", {"answer": "x"})
        assert not_allowed.is_error
        missing = client.call("add_file", {"path": "photos/nope.png"})
        assert missing.is_error and "file not found" in text_of(missing)
        assert images_of(client.call("enhance", {"image": "img1", "operation": "grayscale"}))  # still serving
    [run] = run_dirs(runs)
    answer = json.loads((run / "answer.json").read_text())
    assert answer["steps"] == 7 and answer["tool_errors"] == 5


def test_a_path_outside_the_root_is_refused(root, runs, tmp_path):
    outside = tmp_path / "elsewhere.png"
    shutil.copy(GAUGE, outside)
    with mcp_server(root, runs) as client:
        refused = client.call("add_file", {"path": str(outside)})
        assert refused.is_error and "outside the allowed folder" in text_of(refused)
        assert images_of(refused) == []
        assert not client.call("add_file", {"path": str(root / "photos" / "gauge.png")}).is_error  # absolute, inside
    [run] = run_dirs(runs)
    assert sorted(p.name for p in (run / "home" / "inputs").iterdir()) == ["gauge.png"]


def test_skills_are_resources(root, runs):
    with mcp_server(root, runs) as client:
        resources = {str(r.uri): r for r in client.list_resources().resources}
        assert {"skill://slides", "skill://vision", "skill://spreadsheets"} <= set(resources)
        assert resources["skill://slides"].description
        guide = client.read_resource("skill://slides").contents[0]
        assert guide.mime_type == "text/markdown" and "render_document" in guide.text
        assert not guide.text.startswith("---")  # the front matter is the listing's, not the guide's


def test_outputs_keep_only_regular_files(root, runs):
    """A link jailed code plants in outputs/ is not copied out for the client."""
    code = "import os\nos.symlink('/etc/passwd', 'outputs/passwd.txt')\nopen('outputs/notes.txt', 'w').write('hi')\n"
    with mcp_server(root, runs, "--sandbox", "process") as client:
        text = text_of(client.call("run_python", {"code": code}))
        assert "saved outputs/notes.txt" in text and "passwd" not in text.split("stdout")[-1]
    [run] = run_dirs(runs)
    assert sorted(p.name for p in (run / "outputs").iterdir()) == ["notes.txt"]


def test_bad_flags_are_one_line_and_exit_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "agent.cli", "mcp", "--root", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [f"agent: error: --root {tmp_path / 'missing'}: not a folder"]


def test_streamable_http(root, runs, tmp_path):
    """`agent mcp --http --port 0`: a session per client over the SDK's streamable HTTP client, each
    with its own run record, written when the client closes its session."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agent.cli",
            "mcp",
            "--http",
            "--port",
            "0",
            "--root",
            str(root),
            "--runs-dir",
            str(runs),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "GEMINI_API_KEY": SECRET},
    )
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = server.stderr.readline()
            if not line:
                break
            found = re.search(r"MCP server on (http://127\.0\.0\.1:\d+/mcp)", line)
            url = found.group(1) if found else None
        assert url, "the server did not say where it listens"

        async def one_session(close: bool = True) -> tuple[str, int]:
            async with streamable_http_client(url, terminate_on_close=close) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    names = {t.name for t in (await session.list_tools()).tools}
                    assert {"add_file", "zoom", "run_python"} <= names
                    added = await session.call_tool("add_file", {"path": "photos/gauge.png"})
                    zoomed = await session.call_tool(
                        "zoom", {"image": "img1", "x_min": 0, "y_min": 0, "x_max": 500, "y_max": 500}
                    )
                    assert not zoomed.is_error
                    return text_of(added), len(images_of(zoomed))

        first = anyio.run(one_session)
        second = anyio.run(one_session)
        # each session has its own home and image ids: the second one's file is img1 again
        assert (
            first
            == second
            == ("added inputs/gauge.png as img1 (2000x1500 px)\n[img1: 2000x1500 px, input inputs/gauge.png]", 1)
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len([r for r in run_dirs(runs) if (r / "answer.json").exists()]) < 2:
            time.sleep(0.2)
        finished = [r for r in run_dirs(runs) if (r / "answer.json").exists()]
        assert len(finished) == 2, "each session's record is written when its client closes it"
        for run in finished:
            assert json.loads((run / "answer.json").read_text())["status"] == "session-ended"
        anyio.run(high_level_client, url)  # the SDK's Client probes the 2026 era first, then falls back
        anyio.run(one_session, False)  # a client that goes away without closing its session
    finally:
        server.terminate()
        _, rest = server.communicate(timeout=30)
    assert server.returncode == 130, rest  # stopped by a signal, as `agent` says of any interruption
    # the session left open is finished when the server stops
    assert len(runs_with_answer := [r for r in run_dirs(runs) if (r / "answer.json").exists()]) == 4
    assert all((r / "report.html").exists() for r in runs_with_answer)


async def high_level_client(target) -> None:
    """The SDK's `Client` in its default mode (2026 era where the server offers it)."""
    from mcp import Client

    async with Client(target) as client:
        added = await client.call_tool("add_file", {"path": "photos/gauge.png"})
        assert not added.is_error and "img1" in text_of(added)
        zoomed = await client.call_tool("zoom", {"image": "img1", "x_min": 0, "y_min": 0, "x_max": 300, "y_max": 300})
        assert len(images_of(zoomed)) == 1


def test_the_sdk_client_in_its_default_mode_over_stdio(root, runs):
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "agent.cli", "mcp", "--root", str(root), "--runs-dir", str(runs)],
        cwd=str(root),
    )
    anyio.run(high_level_client, params)
    [run] = run_dirs(runs)
    assert json.loads((run / "answer.json").read_text())["steps"] == 2


def test_stdout_carries_only_the_protocol_and_sigterm_still_writes_the_record(root, runs):
    """Raw JSON-RPC over the pipes: every line on stdout is a protocol message, even while the
    jailed code prints; a client that stops the server with SIGTERM (as the SDK's client does when
    the server is slow to exit) still gets the session's record written."""
    server = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "mcp", "--root", str(root), "--runs-dir", str(runs)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=root,
    )

    def send(message: dict) -> None:
        server.stdin.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
        server.stdin.flush()

    def answer(request_id: int) -> dict:
        while True:
            line = server.stdout.readline()
            assert line, "the server closed stdout"
            message = json.loads(line)  # anything but a JSON-RPC message here would break every client
            assert message["jsonrpc"] == "2.0"
            if message.get("id") == request_id:
                return message

    try:
        send(
            {
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "raw-test", "version": "1"},
                },
            }
        )
        assert answer(1)["result"]["serverInfo"]["name"] == "lookclosely"
        send({"method": "notifications/initialized"})
        send(
            {
                "id": 2,
                "method": "tools/call",
                "params": {
                    "name": "run_python",
                    "arguments": {
                        "code": "import sys\nprint('to stdout ' * 1000)\nprint('to stderr', file=sys.stderr)"
                    },
                },
            }
        )
        result = answer(2)["result"]
        assert not result["isError"] and "to stdout" in result["content"][0]["text"]
        send(
            {"id": 3, "method": "tools/call", "params": {"name": "add_file", "arguments": {"path": "photos/gauge.png"}}}
        )
        assert [c["type"] for c in answer(3)["result"]["content"]] == ["text", "image"]
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 130
    finally:
        server.kill()
        server.communicate(timeout=30)
    [run] = run_dirs(runs)
    answer_json = json.loads((run / "answer.json").read_text())
    assert answer_json["status"] == "interrupted" and answer_json["steps"] == 2
    assert "raw-test" in answer_json["model"] and (run / "report.html").exists()
