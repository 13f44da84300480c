"""The ollama: adapter against a local fake of Ollama's native chat API: the real loop, tools and
HTTP client; only the server is a fake. The fake fits each prompt into the context length in
force the way Ollama does, so a prompt that does not fit loses its oldest messages there too."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from PIL import Image as PILImage

from agent.loop import Agent
from agent.models import load_model
from agent.models.base import ModelRequest, ModelSpecError, Usage
from agent.models.ollama import DEFAULT_NUM_CTX, OllamaModel, to_messages
from agent.models.retry import RetryPolicy
from agent.ratelimit import RateGate
from agent.transcript import Message, Text, Thought, ToolCall, ToolResult, load_transcript
from tests.fake_clock import Clock
from tests.fake_ollama import FakeOllama, OllamaError, call, fitted, reply

ROOT = Path(__file__).resolve().parents[1]
GAUGE = ROOT / "examples" / "gauge" / "gauge.png"
ZOOM_ARGS = {"image": "img1", "x_min": 470, "y_min": 133, "x_max": 870, "y_max": 667}


@pytest.fixture
def fake(monkeypatch, tmp_path):
    for var in ("OLLAMA_HOST", "AGENT_OLLAMA_NUM_CTX", "AGENT_MAX_OUTPUT_TOKENS", "AGENT_MODEL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AGENT_CONFIG_DIR", str(tmp_path / "config"))
    with FakeOllama() as server:
        yield server


def model(fake: FakeOllama, clock: Clock | None = None, said: list | None = None, **kwargs) -> OllamaModel:
    clock = clock or Clock()
    policy = RetryPolicy(
        max_attempts=4,
        gate=RateGate(clock=clock, sleep=clock.sleep),
        sleep=clock.sleep,
        random=lambda: 0.5,
        announce=(said if said is not None else []).append,
    )
    return OllamaModel(f"qwen2.5vl:7b@{fake.url}", retry=policy, **kwargs)


def run(m: OllamaModel, tmp_path: Path):
    return Agent(m, runs_dir=tmp_path).run(f"read the gauge in {GAUGE}", run_dir=tmp_path / "run")


def test_the_gauge_runs_with_num_ctx_images_tools_and_tool_results_in_ollamas_own_shape(fake, tmp_path):
    fake.add(
        reply("Let me look closer.", call("zoom", ZOOM_ARGS), thinking="The dial is right of centre."),
        reply("", call("final_answer", {"answer": "6.5 bar", "evidence": ["img2"]})),
    )
    result = run(model(fake), tmp_path)
    assert (result.status, result.answer, result.evidence) == ("done", "6.5 bar", ["img2"])
    first, second = (r.body for r in fake.requests)
    assert first["options"] == {"num_ctx": DEFAULT_NUM_CTX} and first["stream"] is False and "think" not in first
    assert [t["function"]["name"] for t in first["tools"]][:1] and all(t["type"] == "function" for t in first["tools"])
    user = first["messages"][1]
    assert user["role"] == "user" and isinstance(user["content"], str) and "read the gauge" in user["content"]
    (image,) = user["images"]
    with PILImage.open(io.BytesIO(base64.b64decode(image, validate=True))) as im:
        assert im.size[0] > 0  # a real image, as bare base64 (no data: URI, no MIME type)
    assistant, tool, images = second["messages"][2:5]
    assert assistant == {
        "role": "assistant",
        "content": "Let me look closer.",
        "thinking": "The dial is right of centre.",
        "tool_calls": [{"function": {"name": "zoom", "arguments": ZOOM_ARGS}}],
    }
    assert tool["role"] == "tool" and tool["tool_name"] == "zoom" and "img2" in tool["content"]
    assert images["role"] == "user" and images["content"] == "[img2, returned by zoom]" and len(images["images"]) == 1
    zoomed = (tmp_path / "run" / "images").glob("img2.*")
    assert base64.b64decode(images["images"][0]) == next(zoomed).read_bytes()
    thought = next(
        p for m in load_transcript(tmp_path / "run" / "transcript.jsonl") if m.role == "model" for p in m.parts
    )
    assert isinstance(thought, Thought) and thought.meta == {"field": "thinking"}


def test_num_ctx_think_and_the_output_cap_are_settable(fake, monkeypatch):
    monkeypatch.setenv("AGENT_OLLAMA_NUM_CTX", "65536")
    monkeypatch.setenv("AGENT_MAX_OUTPUT_TOKENS", "2048")
    fake.add(reply("hi"))
    model(fake, thinking="high").complete(ModelRequest("s", [Message("user", [Text("hello")])], []))
    body = fake.requests[0].body
    assert body["options"] == {"num_ctx": 65536, "num_predict": 2048} and body["think"] == "high"
    with pytest.raises(ModelSpecError, match="AGENT_OLLAMA_NUM_CTX"):
        monkeypatch.setenv("AGENT_OLLAMA_NUM_CTX", "lots")
        model(fake)
    with pytest.raises(ModelSpecError, match="Ollama's think levels"):
        model(fake, thinking="minimal")


def test_a_context_too_small_for_the_prompt_ends_the_run_with_one_line(fake, tmp_path):
    fake.add(reply("It reads 3 bar."))  # an answer to a prompt the model did not see whole
    result = run(model(fake, num_ctx=4096), tmp_path)
    assert (result.status, result.answer) == ("model_error", None)
    assert result.error.startswith("Ollama read only 4096 tokens of a prompt of at least ")
    assert "set AGENT_OLLAMA_NUM_CTX higher" in result.error


def test_the_fake_drops_the_oldest_messages_as_ollama_does_and_the_default_num_ctx_keeps_them(fake, tmp_path):
    fake.add(reply("", call("zoom", ZOOM_ARGS)), reply("", call("final_answer", {"answer": "6.5 bar"})))
    run(model(fake), tmp_path)
    for seen in fake.requests:
        assert seen.read["messages"] == seen.body["messages"]  # 32768 tokens: nothing dropped
    cut = fitted(fake.requests[1].body, 4096)
    assert cut["messages"][0]["role"] == "system" and not any(
        m.get("images") and "read the gauge" in m["content"] for m in cut["messages"]
    )


@pytest.mark.parametrize(
    "unparsed",
    [
        reply(""),
        OllamaError(
            500,
            'error parsing tool call: raw=\'{"name": "zoom", "arguments": {"image": "img1",\', err=unexpected end of JSON input',
        ),
    ],
    ids=["empty-message", "http-500"],
)
def test_an_unparsed_tool_call_is_nudged_and_the_run_recovers(fake, tmp_path, unparsed):
    clock, said = Clock(), []
    fake.add(unparsed, reply("", call("final_answer", {"answer": "6.5 bar"})))
    result = run(model(fake, clock, said), tmp_path)
    assert (result.status, result.answer) == ("done", "6.5 bar")
    assert len(fake.requests) == 2 and clock.sleeps == [] and said == []
    assert "malformed" in fake.requests[1].body["messages"][-1]["content"]


def test_usage_counts_the_whole_prompt_and_the_cached_part(fake):
    fake.add({**reply("hi", eval_count=30), "prompt_eval_count": 9000, "prompt_eval_cached_count": 8000})
    got = model(fake).complete(ModelRequest("s", [Message("user", [Text("hello")])], []))
    assert got.usage == Usage(input_tokens=9000, cached_tokens=8000, output_tokens=30)


def test_a_500_that_is_not_a_parse_error_is_retried_and_announced(fake):
    clock, said = Clock(), []
    fake.add(OllamaError(500, "llama runner process has terminated"), reply("hi"))
    got = model(fake, clock, said).complete(ModelRequest("s", [Message("user", [Text("hello")])], []))
    assert got.parts == [Text("hi")] and clock.sleeps == [0.75]
    assert said == [
        f"agent: ollama:qwen2.5vl:7b@{fake.url} request failed: 500 Internal Server Error: llama runner process has terminated; retrying in 0.8s (attempt 2 of 4)"
    ]


def test_content_is_always_a_string_the_real_server_refuses_lists(fake):
    """The OpenAI list form is a 400 from Ollama's JSON decoder; the adapter never sends it."""
    messages = to_messages(
        "sys",
        [
            Message("user", [Text("a"), Text("b")]),
            Message("model", [ToolCall("c", "zoom", {})]),
            Message("tool", [ToolResult("c", "zoom", "done")]),
        ],
        None,
    )
    assert all(isinstance(m["content"], str) for m in messages)
    bad = httpx2.post(
        f"{fake.url}/api/chat",
        json={"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}]},
    )
    assert bad.status_code == 400 and "cannot unmarshal array" in bad.json()["error"]


def test_specs_hosts_and_refusals(fake, monkeypatch):
    assert load_model("ollama:qwen2.5vl:7b").base_url == "http://localhost:11434"
    m = load_model("ollama:qwen2.5vl:7b@http://gpu-box:11434/")
    assert (m.model_id, m.base_url, m.name) == (
        "qwen2.5vl:7b",
        "http://gpu-box:11434",
        "ollama:qwen2.5vl:7b@http://gpu-box:11434",
    )
    monkeypatch.setenv("OLLAMA_HOST", "0.0.0.0")
    assert load_model("ollama:llava").base_url == "http://0.0.0.0:11434"
    with pytest.raises(ModelSpecError, match="not its /v1 endpoint"):
        load_model("ollama:llava@http://localhost:11434/v1")
    with pytest.raises(ModelSpecError, match="needs a gemini: model"):
        load_model("ollama:llava", code_execution=True)


def cli(*args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("OLLAMA_HOST", "AGENT_MODEL", "OPENAI_BASE_URL")}
    full.update(PYTHONPATH=str(ROOT), AGENT_RETRY_BASE_DELAY="0.01", AGENT_CONFIG_DIR=str(cwd / "config"), **env)
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=180
    )


def test_cli_runs_on_ollama_records_and_replays(fake, tmp_path):
    fake.add(
        reply("", call("zoom", ZOOM_ARGS)), reply("", call("final_answer", {"answer": "6.5 bar", "evidence": ["img2"]}))
    )
    spec = f"ollama:qwen2.5vl:7b@{fake.url}"
    live = cli(
        "run",
        f"read the gauge in {GAUGE}",
        "--model",
        spec,
        "--record",
        "c.jsonl",
        "--run-dir",
        "live",
        cwd=tmp_path,
        env={},
    )
    assert live.returncode == 0, live.stderr
    assert live.stdout.strip() == "6.5 bar" and f"model {spec}" in live.stderr
    replay = cli(
        "run", f"read the gauge in {GAUGE}", "--model", "replay:c.jsonl", "--run-dir", "replay", cwd=tmp_path, env={}
    )
    assert replay.returncode == 0 and replay.stdout == live.stdout and len(fake.requests) == 2
    assert json.loads((tmp_path / "c.jsonl").read_text().splitlines()[0])["model"] == spec


@pytest.mark.parametrize("scheme, url", [("ollama", "http://127.0.0.1:9"), ("openai", "http://127.0.0.1:9/v1")])
def test_cli_a_server_that_is_not_running_fails_at_once_with_one_line_and_exit_3(tmp_path, scheme, url):
    started = time.monotonic()
    proc = cli(
        "run", f"read the gauge in {GAUGE}", "--model", f"{scheme}:llava@{url}", "--run-dir", "r", cwd=tmp_path, env={}
    )
    assert proc.returncode == 3, proc.stderr
    assert time.monotonic() - started < 20 and "retrying" not in proc.stderr
    path = "/api/chat" if scheme == "ollama" else "/chat/completions"
    assert (
        proc.stderr.strip().splitlines()[-1]
        == f"agent: model_error: cannot connect to {url}{path}: connection refused; is the server running?"
    )
    assert json.loads((tmp_path / "r" / "answer.json").read_text())["status"] == "model_error"
