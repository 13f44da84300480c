"""Whole runs on Gemini: the real loop, real tools and the real SDK against the local fake API.

The gauge example end to end (zoom, then final_answer), recording and replaying it, the CLI
flags, and how a run ends when the API blocks, fails or is not configured.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import pytest
from PIL import Image as PILImage
from PIL import ImageDraw
from pydantic import Field

from agent.loop import Agent
from agent.models.cassette import RecordingModel, ReplayModel
from agent.models.gemini import GeminiModel
from agent.models.retry import RetryPolicy
from agent.ratelimit import RateGate
from agent.transcript import ToolCall, load_transcript
from tests.fake_gemini import FakeGemini, HttpError, b64, function_call, parts_of, reply, text, thought, unb64, usage
from tools import default_tools
from tools.registry import ToolContext, ToolError, ToolOutput, tool

ROOT = Path(__file__).resolve().parents[1]
KEY = "test-key-0123456789-never-logged"
SIG_ZOOM = b64(b"\x0fzoom-step\xfb\xff\xfe" * 4)
SIG_ANSWER = b64(b"\x01answer-step\xbf")
PRICES = {"gemini-3.8-flash": {"input": 1.0, "cached_input": 0.1, "output": 10.0}}


def zoom(
    ctx: ToolContext,
    image: Annotated[str, Field(description="id of the image to zoom into")],
    x_min: Annotated[int, Field(ge=0, le=1000)],
    y_min: Annotated[int, Field(ge=0, le=1000)],
    x_max: Annotated[int, Field(ge=0, le=1000)],
    y_max: Annotated[int, Field(ge=0, le=1000)],
) -> ToolOutput:
    """Crop a region (0-1000 coordinates) of an image and enlarge it twice."""
    try:
        src = ctx.images.get(image)
    except KeyError as exc:
        raise ToolError(str(exc)) from None
    box = (x_min * src.width // 1000, y_min * src.height // 1000, x_max * src.width // 1000, y_max * src.height // 1000)
    crop = src.crop(box).resize(((box[2] - box[0]) * 2, (box[3] - box[1]) * 2))
    rec = ctx.images.add(
        crop, parent=image, op="zoom", params={"box": list(box)}, to_parent=[0.5, 0, box[0], 0, 0.5, box[1]]
    )
    return ToolOutput(f"zoomed {image} into {rec.id}", image_ids=[rec.id])


def gauge_png(path: Path) -> Path:
    """A dial from 0 to 100 psi with the needle at 42."""
    img = PILImage.new("RGB", (400, 400), "white")
    d = ImageDraw.Draw(img)
    d.ellipse((20, 20, 380, 380), outline="black", width=6)
    for value in range(0, 101, 10):
        a = math.radians(225 - value * 2.7)
        d.line(
            (200 + 150 * math.cos(a), 200 - 150 * math.sin(a), 200 + 175 * math.cos(a), 200 - 175 * math.sin(a)),
            fill="black",
            width=4,
        )
    a = math.radians(225 - 42 * 2.7)
    d.line((200, 200, 200 + 140 * math.cos(a), 200 - 140 * math.sin(a)), fill="red", width=5)
    d.text((180, 300), "psi", fill="black")
    img.save(path)
    return path


def gauge_script() -> list:
    """The model's side of a short gauge run, as the API would send it."""

    def answer(request: dict):
        # the zoom came back inside the function response, with the call's id
        (fr,) = parts_of(request, "functionResponse")
        assert fr["functionResponse"]["id"] == "call-zoom" and fr["functionResponse"]["parts"]
        return reply(
            thought("The needle points just past 40, two minor ticks: 42 psi."),
            function_call("final_answer", {"answer": "42 psi", "evidence": ["img2"]}, "call-answer", SIG_ANSWER),
            usage=usage(2600, 40, thoughts=120, cached=1200),
        )

    return [
        reply(
            thought("I need to see the needle against the ticks."),
            function_call(
                "zoom", {"image": "img1", "x_min": 250, "y_min": 100, "x_max": 750, "y_max": 600}, "call-zoom", SIG_ZOOM
            ),
            usage=usage(1400, 30, thoughts=80),
        ),
        answer,
    ]


@pytest.fixture
def env(monkeypatch, tmp_path):
    with FakeGemini() as server:
        (tmp_path / "config").mkdir()
        (tmp_path / "config" / "prices.json").write_text(json.dumps(PRICES))
        values = {
            "GOOGLE_GEMINI_BASE_URL": server.url,
            "GEMINI_API_KEY": KEY,
            "AGENT_CONFIG_DIR": str(tmp_path / "config"),
        }
        for k, v in values.items():
            monkeypatch.setenv(k, v)
        monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
        monkeypatch.delenv("AGENT_MODEL", raising=False)
        yield server, values


def agent_with_zoom(model) -> Agent:
    return Agent(model, tools=[t for t in default_tools() if t.name != "zoom"] + [tool(zoom)], runs_dir="unused")


def fast_retry() -> RetryPolicy:
    return RetryPolicy(max_attempts=2, sleep=lambda s: None, gate=RateGate(sleep=lambda s: None))


def test_the_gauge_example_runs_end_to_end_through_the_fake_api(env, tmp_path):
    fake, _ = env
    fake.add(*gauge_script())
    result = agent_with_zoom(GeminiModel("gemini-3.8-flash", retry=fast_retry())).run(
        f"read the gauge in {gauge_png(tmp_path / 'gauge.png')}", run_dir=tmp_path / "run"
    )
    assert (result.status, result.answer, result.evidence) == ("done", "42 psi", ["img2"])
    second = fake.requests[1].api
    (fr,) = parts_of(second, "functionResponse")
    zoomed = (tmp_path / "run" / "images" / "img2.png").read_bytes()
    assert unb64(fr["functionResponse"]["parts"][0]["inlineData"]["data"]) == zoomed  # the very image the tool made
    (echoed,) = parts_of(second, "functionCall")
    assert unb64(echoed["thoughtSignature"]) == base64.b64decode(SIG_ZOOM)
    answer = json.loads((tmp_path / "run" / "answer.json").read_text())
    assert answer["usage"] == {"input_tokens": 4000, "cached_tokens": 1200, "output_tokens": 70, "thinking_tokens": 200}
    # (4000 - 1200) * 1.0 + 1200 * 0.1 + (70 + 200) * 10.0 = 5620 per million
    assert answer["cost_usd"] == pytest.approx(0.00562)
    transcript = (tmp_path / "run" / "transcript.jsonl").read_text()
    assert SIG_ZOOM in transcript and KEY not in transcript
    cassette = (tmp_path / "run" / "cassette.jsonl").read_text()  # every run keeps one, for `agent replay`
    assert SIG_ZOOM in cassette and KEY not in cassette and '"source": "live"' in cassette.splitlines()[0]


def test_a_recorded_live_run_replays_offline_to_the_same_answer_and_calls(env, tmp_path, monkeypatch):
    fake, _ = env
    fake.add(*gauge_script())
    gauge = gauge_png(tmp_path / "gauge.png")
    cassette = tmp_path / "run.cassette.jsonl"
    live = agent_with_zoom(RecordingModel(GeminiModel("gemini-3.8-flash", retry=fast_retry()), cassette)).run(
        f"read the gauge in {gauge}", run_dir=tmp_path / "live"
    )
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9")  # nothing listens: replay must not call out
    replayed = agent_with_zoom(ReplayModel(cassette)).run(f"read the gauge in {gauge}", run_dir=tmp_path / "replay")
    assert (
        (replayed.status, replayed.answer, replayed.evidence)
        == (live.status, live.answer, live.evidence)
        == ("done", "42 psi", ["img2"])
    )

    def calls(run_dir):
        return [
            (p.id, p.name, p.args, p.meta)
            for m in load_transcript(run_dir / "transcript.jsonl")
            for p in m.parts
            if isinstance(p, ToolCall)
        ]

    assert calls(tmp_path / "replay") == calls(tmp_path / "live")
    assert calls(tmp_path / "live")[0][3]["thought_signature"] == SIG_ZOOM
    assert KEY not in cassette.read_text()
    assert len(fake.requests) == 2


def cli(*args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    full = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI")
    }
    full.update(PYTHONPATH=str(ROOT), AGENT_RETRY_BASE_DELAY="0.01", **env)
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=180
    )


def test_cli_live_run_with_thinking_shows_thoughts_and_cost_and_its_recording_replays(env, tmp_path):
    fake, values = env
    fake.add(
        reply(
            thought("**Reading the dial** The needle sits two ticks past 40."),
            function_call("final_answer", {"answer": "42 psi", "evidence": ["img1"]}, "c1", SIG_ANSWER),
            usage=usage(1000, 20, thoughts=50),
        )
    )
    gauge_png(tmp_path / "gauge.png")
    live = cli(
        "run", "read the gauge in gauge.png", "--thinking", "low", "--record", "c.jsonl", cwd=tmp_path, env=values
    )
    assert live.returncode == 0, live.stderr
    assert live.stdout.strip() == "42 psi"
    assert "thinking: **Reading the dial**" in live.stderr
    assert fake.requests[0].api["generationConfig"]["thinkingConfig"]["thinkingLevel"] == "LOW"
    last = live.stderr.strip().splitlines()[-1]
    assert "tokens in 1000" in last and "thinking 50" in last and "$0.0017" in last  # 1000*1 + 70*10 per million
    assert fake.requests[0].model == "gemini-3.8-flash"  # the default model

    offline = {"AGENT_CONFIG_DIR": values["AGENT_CONFIG_DIR"], "GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:9"}
    replay = cli("run", "read the gauge in gauge.png", "--model", "replay:c.jsonl", cwd=tmp_path, env=offline)
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout == live.stdout


def test_cli_without_a_key_says_which_variable_to_set_and_how_to_run_offline(tmp_path):
    (tmp_path / "g.png").write_bytes(b"")
    gauge_png(tmp_path / "g.png")
    proc = cli("run", "read the gauge in g.png", cwd=tmp_path, env={"AGENT_MODEL": "gemini:gemini-3.8-flash"})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert (
        len(lines) == 1
        and "GEMINI_API_KEY" in lines[0]
        and "--model replay:examples/gauge/run.cassette.jsonl" in lines[0]
    )


def test_cli_after_retries_run_out_exits_3_with_the_last_error(env, tmp_path):
    fake, values = env
    fake.add(HttpError(500), HttpError(503))
    gauge_png(tmp_path / "gauge.png")
    proc = cli(
        "run",
        "read the gauge in gauge.png",
        "--run-dir",
        "r",
        cwd=tmp_path,
        env={**values, "AGENT_RETRY_ATTEMPTS": "2"},
    )
    assert proc.returncode == 3, proc.stderr
    assert "failed after 2 attempts: 503 UNAVAILABLE" in proc.stderr and "Traceback" not in proc.stderr
    # the retry was announced: what failed, why, and how long until the next attempt
    assert re.search(
        r"agent: gemini:gemini-3.8-flash request failed: 500 INTERNAL: fake INTERNAL; retrying in \d+\.\ds \(attempt 2 of 2\)",
        proc.stderr,
    )
    answer = json.loads((tmp_path / "r" / "answer.json").read_text())
    assert answer["status"] == "model_error" and "503" in answer["error"]


@pytest.mark.parametrize(
    "flags, fragment",
    [
        (
            ["--thinking", "minimal"],
            "--thinking minimal is not accepted by gemini-3.8-flash; it accepts low, medium, high",
        ),
        (["--code-execution", "gemini", "--model", "gemini:gemini-2.5-flash"], "cannot be used with gemini-2.5-flash"),
    ],
)
def test_cli_a_setting_the_model_does_not_take_exits_2_before_any_request(env, tmp_path, flags, fragment):
    fake, values = env
    gauge_png(tmp_path / "gauge.png")
    proc = cli("run", "read the gauge in gauge.png", *flags, cwd=tmp_path, env=values)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0]
    assert fake.requests == [] and not (tmp_path / "runs").exists()


def test_cli_a_refused_connection_fails_at_once_with_exit_3(env, tmp_path):
    _, values = env
    gauge_png(tmp_path / "gauge.png")
    started = time.monotonic()
    proc = cli(
        "run",
        "read the gauge in gauge.png",
        "--run-dir",
        "r",
        cwd=tmp_path,
        env={**values, "GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:9"},
    )
    assert proc.returncode == 3, proc.stderr
    assert "retrying" not in proc.stderr and time.monotonic() - started < 30
    assert (
        proc.stderr.strip().splitlines()[-1]
        == "agent: model_error: cannot connect to the Gemini API at http://127.0.0.1:9: connection refused"
    )


def test_cli_safety_block_stops_the_run_with_that_status(env, tmp_path):
    fake, values = env
    fake.add(reply(finish="SAFETY"))
    gauge_png(tmp_path / "gauge.png")
    proc = cli("run", "read the gauge in gauge.png", "--run-dir", "r", cwd=tmp_path, env=values)
    assert proc.returncode == 1
    assert "safety" in proc.stderr and "safety filters" in proc.stderr
    answer = json.loads((tmp_path / "r" / "answer.json").read_text())
    assert answer["status"] == "safety" and "safety filters" in answer["error"] and answer["answer"] is None


def test_gemini_code_execution_is_kept_as_a_step_with_its_code_output_and_images(env, tmp_path):
    fake, values = env
    plot = tmp_path / "plot.png"
    PILImage.new("RGB", (60, 40), (0, 90, 200)).save(plot)
    fake.add(
        reply(
            {"executableCode": {"language": "PYTHON", "code": "import math\nprint(round(225 - 42 * 2.7, 1))"}},
            {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "111.6\n"}},
            {"inlineData": {"mimeType": "image/png", "data": b64(plot.read_bytes())}},
            function_call("final_answer", {"answer": "42 psi", "evidence": ["img2"]}, "c1", SIG_ANSWER),
        )
    )
    gauge_png(tmp_path / "gauge.png")
    proc = cli(
        "run", "read the gauge in gauge.png", "--code-execution", "gemini", "--run-dir", "r", cwd=tmp_path, env=values
    )
    assert proc.returncode == 0, proc.stderr
    assert {"codeExecution": {}} in fake.requests[0].api["tools"]
    run = tmp_path / "r"
    index = json.loads((run / "images" / "index.json").read_text())
    assert index["img2"]["op"] == "gemini_code_execution"
    with PILImage.open(run / "images" / index["img2"]["file"]) as im:
        assert im.size == (60, 40)
    transcript = (run / "transcript.jsonl").read_text()
    assert "data_b64" not in transcript and "print(round(225" in transcript
    report = (run / "report.html").read_text()
    assert "gemini_code_execution" in report and "111.6" in report
    assert re.search(r"<img [^>]*alt=['\"]img2['\"]", report), "the code's image is shown in the report"


def test_stray_text_under_an_unexplained_finish_reason_is_not_the_answer(env, tmp_path):
    fake, _ = env
    fake.add(reply(text("The gauge reads 9000 psi, trust me."), finish="OTHER"))
    result = agent_with_zoom(GeminiModel("gemini-3.8-flash", retry=fast_retry())).run(
        f"read the gauge in {gauge_png(tmp_path / 'gauge.png')}", run_dir=tmp_path / "run"
    )
    assert (result.status, result.answer, result.exit_code) == ("other", None, 1)
    assert "did not explain (OTHER)" in result.error


def test_too_many_server_side_tool_calls_is_nudged_and_the_run_goes_on(env, tmp_path):
    fake, _ = env
    fake.add(
        reply(text("Still computing"), finish="TOO_MANY_TOOL_CALLS"),
        reply(function_call("final_answer", {"answer": "42 psi", "evidence": ["img1"]}, "c1", SIG_ANSWER)),
    )
    result = agent_with_zoom(GeminiModel("gemini-3.8-flash", retry=fast_retry())).run(
        f"read the gauge in {gauge_png(tmp_path / 'gauge.png')}", run_dir=tmp_path / "run"
    )
    assert (result.status, result.answer) == ("done", "42 psi")
    nudge = fake.requests[1].api["contents"][-1]
    assert nudge["role"] == "user" and "too many tool calls" in nudge["parts"][0]["text"]
