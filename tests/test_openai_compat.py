"""The openai: adapter against a local fake Chat Completions server: the real loop, the real
tools and the real HTTP client; only the server is a fake.

What goes on the wire (tools, images as data URIs, tool results and their images), what comes
back (text, calls, reasoning, finish reasons, usage), faults and retries, and whole CLI runs
with recording and replay.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image as PILImage

from agent.loop import Agent
from agent.models import load_model
from agent.models.base import ModelError, ModelRequest, ModelSpecError, ToolSpec, Usage
from agent.models.openai_compat import OpenAICompatibleModel, to_messages
from agent.models.retry import RetryPolicy
from agent.ratelimit import RateGate
from agent.transcript import Message, Text, Thought, ToolCall, ToolResult, load_transcript
from tests.fake_clock import Clock
from tests.fake_openai import (
    FakeOpenAI,
    HttpError,
    call,
    image_urls,
    llamacpp_unparsed,
    ollama_unparsed,
    reply,
    usage,
    vllm_unparsed,
)
from tests.fake_server import Delay, RawBody

ROOT = Path(__file__).resolve().parents[1]
GAUGE = ROOT / "examples" / "gauge" / "gauge.png"
KEY = "sk-test-0123456789-never-logged"
ZOOM_ARGS = {"image": "img1", "x_min": 470, "y_min": 133, "x_max": 870, "y_max": 667}


def policy(clock: Clock, attempts: int = 4, announce=lambda line: None) -> RetryPolicy:
    gate = RateGate(clock=clock, sleep=clock.sleep)
    return RetryPolicy(
        max_attempts=attempts, max_total_wait=120.0, gate=gate, sleep=clock.sleep, random=lambda: 0.5, announce=announce
    )


@pytest.fixture
def fake(monkeypatch, tmp_path):
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AGENT_MODEL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AGENT_CONFIG_DIR", str(tmp_path / "config"))  # no user price file
    with FakeOpenAI() as server:
        yield server


def model(
    fake: FakeOpenAI, clock: Clock | None = None, announce: list | None = None, **kwargs
) -> OpenAICompatibleModel:
    said = announce if announce is not None else []
    return OpenAICompatibleModel(f"fake-vlm@{fake.url}", retry=policy(clock or Clock(), announce=said.append), **kwargs)


def ask(m: OpenAICompatibleModel, tools: list[ToolSpec] = ()):
    return m.complete(ModelRequest(system="be brief", messages=[Message("user", [Text("hello")])], tools=list(tools)))


def decode_data_uri(url: str) -> tuple[str, bytes]:
    head, _, data = url.partition(",")
    assert head.startswith("data:") and head.endswith(";base64"), head
    return head[len("data:") : -len(";base64")], base64.b64decode(data)


def zoom_then_answer() -> list:
    return [
        reply("Let me look closer at the dial.", call("zoom", ZOOM_ARGS, "call_zoom"), usage=usage(1500, 40)),
        reply(
            None,
            call("final_answer", {"answer": "6.5 bar", "evidence": ["img2"]}, "call_answer"),
            usage=usage(2600, 30, cached=1400),
        ),
    ]


# -- what goes on the wire --------------------------------------------------------------------


def test_a_gauge_run_declares_our_tools_sends_images_as_data_uris_and_answers_each_call_by_id(fake, tmp_path):
    fake.add(*zoom_then_answer())
    agent = Agent(model(fake), runs_dir=tmp_path)
    result = agent.run(f"read the gauge in {GAUGE}", run_dir=tmp_path / "run")
    assert (result.status, result.answer, result.evidence) == ("done", "6.5 bar", ["img2"])

    first, second = (r.body for r in fake.requests)
    assert first["model"] == "fake-vlm" and first["tool_choice"] == "auto" and first["stream"] is False
    assert first["tools"] == [
        {
            "type": "function",
            "function": {"name": s["name"], "description": s["description"], "parameters": s["parameters"]},
        }
        for s in agent.toolbox.specs()
    ]
    system, user = first["messages"]
    assert system["role"] == "system" and "final_answer" in system["content"]
    (original,) = image_urls(user)
    mime, data = decode_data_uri(original["url"])
    with PILImage.open(io.BytesIO(data)) as im:
        assert (mime, im.format, original["detail"]) == (
            "image/png",
            "PNG",
            "low",
        )  # the user's original, at modest resolution
        assert max(im.size) == 768
    assert user["content"][0] == {"type": "text", "text": f"read the gauge in {GAUGE}"}

    assistant, tool, images = second["messages"][2:]
    assert assistant["role"] == "assistant" and assistant["content"] == "Let me look closer at the dial."
    (sent_call,) = assistant["tool_calls"]
    assert sent_call["id"] == "call_zoom" and sent_call["function"]["name"] == "zoom"
    assert json.loads(sent_call["function"]["arguments"]) == ZOOM_ARGS
    assert tool["role"] == "tool" and tool["tool_call_id"] == "call_zoom" and tool["content"].startswith("zoomed img1")
    assert images["role"] == "user" and images["content"][0] == {"type": "text", "text": "[img2, returned by zoom]"}
    (zoomed,) = image_urls(images)
    index = json.loads((tmp_path / "run" / "images" / "index.json").read_text())
    mime, data = decode_data_uri(zoomed["url"])
    assert zoomed["detail"] == "high"
    assert data == (tmp_path / "run" / "images" / index["img2"]["file"]).read_bytes()  # the very image the tool made
    assert mime == {".png": "image/png", ".jpg": "image/jpeg"}[Path(index["img2"]["file"]).suffix]

    answer = json.loads((tmp_path / "run" / "answer.json").read_text())
    assert answer["usage"] == {"input_tokens": 4100, "cached_tokens": 1400, "output_tokens": 70, "thinking_tokens": 0}
    assert answer["cost_usd"] is None  # no price is known for this model, none is guessed
    assert answer["model"] == f"openai:fake-vlm@{fake.url}"


def test_a_jpeg_input_is_sent_with_its_own_mime_type(fake, tmp_path):
    photo = tmp_path / "photo.jpg"
    PILImage.new("RGB", (300, 200), (200, 30, 30)).save(photo, "JPEG")
    fake.add(reply("A red rectangle."))
    result = Agent(model(fake), runs_dir=tmp_path).run(f"what is in {photo}?", run_dir=tmp_path / "run")
    assert result.answer == "A red rectangle."
    (image,) = image_urls(fake.requests[0].body["messages"][1])
    mime, data = decode_data_uri(image["url"])
    assert mime == "image/jpeg" and data[:3] == b"\xff\xd8\xff"


def test_several_calls_in_a_turn_are_answered_in_call_order_with_their_images_after_them(tmp_path):
    images = {"img2": (b"\x89PNG-two", "image/png"), "img3": (b"\xff\xd8\xff-three", "image/jpeg")}
    calls = [ToolCall("c-b", "zoom", {"image": "img1"}), ToolCall("c-a", "enhance", {"image": "img1"})]
    results = [  # out of order, as a tool runner might finish them
        ToolResult("c-a", "enhance", "enhanced img1 into img3", ["img3"]),
        ToolResult("c-b", "zoom", "zoomed img1 into img2", ["img2"]),
    ]
    sent = to_messages(
        "sys",
        [Message("user", [Text("go")]), Message("model", calls), Message("tool", results)],
        lambda i, d: images[i],
    )
    assistant, first, second, trailing = sent[2:]
    assert [c["id"] for c in assistant["tool_calls"]] == ["c-b", "c-a"] and assistant["content"] is None
    assert (first["role"], first["tool_call_id"], first["content"]) == ("tool", "c-b", "zoomed img1 into img2")
    assert (second["role"], second["tool_call_id"]) == ("tool", "c-a")
    assert trailing["role"] == "user"
    labels = [c["text"] for c in trailing["content"] if c["type"] == "text"]
    assert labels == ["[img2, returned by zoom]", "[img3, returned by enhance]"]
    assert [decode_data_uri(u["url"]) for u in image_urls(trailing)] == [
        ("image/png", b"\x89PNG-two"),
        ("image/jpeg", b"\xff\xd8\xff-three"),
    ]


def test_tool_results_without_images_add_no_user_message_and_reasoning_goes_back_in_its_own_field():
    history = [
        Message("user", [Text("count the dots")]),
        Message(
            "model",
            [
                Thought("two rows of three", meta={"field": "reasoning_content"}),
                ToolCall("c1", "count_blobs", {"image": "img1"}),
            ],
        ),
        Message("tool", [ToolResult("c1", "count_blobs", "error: no image img1", is_error=True)]),
        Message("model", [Thought("a Gemini thought", signature="c2ln"), Text("I cannot see it.")]),
    ]
    sent = to_messages("sys", history, None)
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "assistant"]
    assert sent[1]["content"] == "count the dots"  # text-only content as a plain string
    assert sent[2]["reasoning_content"] == "two rows of three" and sent[2]["content"] is None
    assert sent[3]["content"] == "error: no image img1"
    assert sent[4] == {
        "role": "assistant",
        "content": "I cannot see it.",
    }  # no field to carry another provider's thought


# -- what comes back ------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_fields_become_thoughts_and_usage_keeps_reasoning_apart(fake, field):
    fake.add(
        reply(
            "42 psi",
            reasoning="The needle is two ticks past 40.",
            reasoning_field=field,
            usage=usage(900, 150, cached=512, reasoning=100),
        )
    )
    got = ask(model(fake))
    assert got.parts == [Thought("The needle is two ticks past 40.", meta={"field": field}), Text("42 psi")]
    assert got.finish_reason == "stop"
    # completion_tokens counts the reasoning too; the transcript keeps them apart, as for Gemini
    assert got.usage == Usage(input_tokens=900, cached_tokens=512, output_tokens=50, thinking_tokens=100)


def test_reasoning_is_echoed_back_on_the_next_request_under_the_field_it_came_in(fake, tmp_path):
    fake.add(
        reply(
            None, call("zoom", ZOOM_ARGS, "call_zoom"), reasoning="", reasoning_field="reasoning"
        ),  # empty, on a tool-call turn
        reply(
            None,
            call("final_answer", {"answer": "6.5 bar"}, "call_answer"),
            reasoning="The needle is past 6.",
            reasoning_field="reasoning",
        ),
    )
    result = Agent(model(fake), runs_dir=tmp_path).run(f"read the gauge in {GAUGE}", run_dir=tmp_path / "run")
    assert result.answer == "6.5 bar"
    assistant = fake.requests[1].body["messages"][2]
    assert assistant["role"] == "assistant" and assistant["reasoning"] == "" and "reasoning_content" not in assistant


@pytest.mark.parametrize(
    "body, finish, message",
    [
        (reply("cut", finish="length"), "max_tokens", "output token limit"),
        (reply(None, finish="content_filter"), "safety", "content filter (content_filter)"),
        ({"id": "x", "object": "chat.completion", "choices": []}, "empty", "no choices"),
        (reply(None, finish="stop"), "empty", "no content"),  # no tools offered: nothing to have failed to parse
        (reply("hm", finish="eos_token"), "other", "eos_token"),
        (reply("sure", call("zoom", {"image": "img1"}, "c1"), finish="stop"), "tool_calls", None),  # llama.cpp-style
    ],
)
def test_finish_reasons_map_to_the_transcripts_with_a_readable_message(fake, body, finish, message):
    fake.add(body)
    got = ask(model(fake))
    assert got.finish_reason == finish
    if message:
        assert message in got.meta["message"]
    else:
        assert "message" not in got.meta


def test_a_call_whose_arguments_are_not_json_goes_back_as_malformed_and_the_run_recovers(fake, tmp_path):
    fake.add(
        reply("zooming", call("zoom", '{"image": "img1", "x_min": 470,', "call_bad")),
        reply(None, call("final_answer", {"answer": "6.5 bar"}, "call_ok")),
    )
    result = Agent(model(fake), runs_dir=tmp_path).run(f"read the gauge in {GAUGE}", run_dir=tmp_path / "run")
    assert (result.status, result.answer) == ("done", "6.5 bar")
    retry_messages = fake.requests[1].body["messages"]
    assert not any(m.get("tool_calls") for m in retry_messages)  # the unparseable call is not echoed back
    assert "malformed" in retry_messages[-1]["content"] and retry_messages[-1]["role"] == "user"
    first_turn = next(m for m in load_transcript(tmp_path / "run" / "transcript.jsonl") if m.role == "model")
    assert first_turn.meta["finish_reason"] == "malformed_call"


def test_arguments_that_are_not_an_object_or_a_call_without_a_name_are_malformed_too(fake):
    fake.add(
        reply(None, call("zoom", "[1, 2]", "c1")),
        reply(None, {"id": "c2", "type": "function", "function": {"arguments": "{}"}}),
    )
    m = model(fake)
    first, second = ask(m), ask(m)
    assert (first.finish_reason, second.finish_reason) == ("malformed_call", "malformed_call")
    assert "zoom: arguments must be a JSON object, not list" in first.meta["message"]
    assert "no function name" in second.meta["message"]


def test_a_call_without_an_id_gets_one_and_object_arguments_are_accepted(fake):
    fake.add(reply(None, {"type": "function", "function": {"name": "zoom", "arguments": {"image": "img1"}}}))
    got = ask(model(fake))
    (c,) = got.parts
    assert c.id and c.args == {"image": "img1"}  # Ollama's object-valued arguments are taken as they are


# -- tool calls the server could not parse -------------------------------------------------------


@pytest.mark.parametrize(
    "unparsed, fragment",
    [
        (vllm_unparsed("zoom", ZOOM_ARGS), "as text, unparsed"),
        (ollama_unparsed(), "empty message"),
        (llamacpp_unparsed(), "Failed to parse input at pos 212"),
    ],
    ids=["vllm-raw-text", "ollama-empty", "llamacpp-500"],
)
def test_each_servers_unparsed_tool_call_is_nudged_once_and_the_run_recovers(fake, tmp_path, unparsed, fragment):
    clock, said = Clock(), []
    fake.add(unparsed, reply(None, call("final_answer", {"answer": "6.5 bar"}, "call_ok")))
    result = Agent(model(fake, clock, announce=said), runs_dir=tmp_path).run(
        f"read the gauge in {GAUGE}", run_dir=tmp_path / "run"
    )
    assert (result.status, result.answer) == ("done", "6.5 bar")  # not a "done" on the raw text, not a stop
    assert len(fake.requests) == 2 and clock.sleeps == [] and said == []  # no retry of the 500
    nudge = fake.requests[1].body["messages"][-1]
    assert nudge["role"] == "user" and "malformed" in nudge["content"]
    first = next(m for m in load_transcript(tmp_path / "run" / "transcript.jsonl") if m.role == "model")
    assert first.meta["finish_reason"] == "malformed_call"


def test_the_unparsed_reasons_say_what_the_server_did(fake):
    fake.add(vllm_unparsed("zoom", ZOOM_ARGS), ollama_unparsed(), llamacpp_unparsed())
    m = model(fake)
    got = [ask(m, tools=[ToolSpec("zoom", "zoom", {"type": "object"})]) for _ in range(3)]
    assert [g.finish_reason for g in got] == ["malformed_call"] * 3
    assert "vLLM does this" in got[0].meta["message"] and got[0].parts[0].text.startswith("<tool_call>")
    assert "Ollama does this" in got[1].meta["message"]
    assert "500 Internal Server Error: Failed to parse input at pos 212: <tool_call>" in got[2].meta["message"]


# -- reasoning both ways, token cap ----------------------------------------------------------------


def test_when_a_server_sends_both_reasoning_fields_reasoning_wins_and_goes_back(fake, tmp_path):
    """vLLM renamed reasoning_content to reasoning and, for a while, sent both; it reads back `reasoning`."""
    both = reply(
        None,
        call("zoom", ZOOM_ARGS, "call_zoom"),
        reasoning="The dial is right of centre.",
        reasoning_field="reasoning",
    )
    both["choices"][0]["message"]["reasoning_content"] = "The dial is right of centre."
    fake.add(both, reply(None, call("final_answer", {"answer": "6.5 bar"}, "call_answer")))
    Agent(model(fake), runs_dir=tmp_path).run(f"read the gauge in {GAUGE}", run_dir=tmp_path / "run")
    assistant = fake.requests[1].body["messages"][2]
    assert assistant["reasoning"] == "The dial is right of centre." and "reasoning_content" not in assistant


def test_deepseeks_null_reasoning_on_a_tool_call_turn_goes_back_as_empty(fake, tmp_path):
    """DeepSeek's thinking mode refuses a tool-call turn sent back without reasoning_content."""
    null_reasoning = reply(None, call("zoom", ZOOM_ARGS, "call_zoom"))
    null_reasoning["choices"][0]["message"]["reasoning_content"] = None
    fake.add(null_reasoning, reply(None, call("final_answer", {"answer": "6.5 bar"}, "call_answer")))
    Agent(model(fake), runs_dir=tmp_path).run(f"read the gauge in {GAUGE}", run_dir=tmp_path / "run")
    assistant = fake.requests[1].body["messages"][2]
    assert assistant["reasoning_content"] == "" and assistant["tool_calls"][0]["id"] == "call_zoom"


def test_the_output_cap_goes_as_max_completion_tokens(fake, monkeypatch):
    monkeypatch.setenv("AGENT_MAX_OUTPUT_TOKENS", "4096")
    fake.add(reply("hi"))
    ask(model(fake))
    body = fake.requests[0].body
    assert body["max_completion_tokens"] == 4096 and "max_tokens" not in body


# -- Ollama's /v1 endpoint cuts long prompts --------------------------------------------------------


def test_a_prompt_ollama_v1_cut_short_ends_the_run_with_one_line_naming_the_fix(tmp_path):
    with FakeOpenAI(ollama_context=4096) as ollama_v1:
        ollama_v1.add(reply("The gauge reads 3 bar."))  # a confident answer to a prompt it did not read whole
        result = Agent(model(ollama_v1), runs_dir=tmp_path).run(f"read the gauge in {GAUGE}", run_dir=tmp_path / "run")
    assert (result.status, result.answer) == ("model_error", None)
    assert result.error.startswith("Ollama read only 4096 tokens of a prompt of at least ")
    assert "Use the ollama: scheme" in result.error and "\n" not in result.error


def test_ollama_v1_with_a_large_enough_context_is_used_as_it_is(tmp_path):
    with FakeOpenAI(ollama_context=131072) as ollama_v1:
        ollama_v1.add(reply("6.5 bar"))
        result = Agent(model(ollama_v1), runs_dir=tmp_path).run(f"read the gauge in {GAUGE}", run_dir=tmp_path / "run")
    assert (result.status, result.answer) == ("done", "6.5 bar")


# -- faults and retries ---------------------------------------------------------------------


def test_429_with_retry_after_waits_that_long_in_the_shared_gate_then_succeeds(fake):
    clock = Clock()
    fake.add(HttpError(429, "Rate limit reached", {"Retry-After": "20"}), reply("hi"))
    got = ask(model(fake, clock))
    assert got.parts == [Text("hi")] and len(fake.requests) == 2
    assert sum(clock.sleeps) >= 20


def test_500_then_success_backs_off(fake):
    clock = Clock()
    fake.add(HttpError(500, "upstream crashed"), HttpError(503, "loading model"), reply("hi"))
    got = ask(model(fake, clock))
    assert got.parts == [Text("hi")] and len(fake.requests) == 3
    assert clock.sleeps == [0.75, 1.5]


def test_a_timeout_and_a_garbled_body_are_retried(fake):
    fake.add(Delay(2.0), RawBody(b"<html>502 Bad Gateway</html>"), {"object": "chat.completion"}, reply("on time"))
    got = ask(model(fake, timeout=0.5))
    assert got.parts == [Text("on time")] and len(fake.requests) == 4


def test_a_400_is_not_retried_and_says_the_servers_message(fake):
    fake.add(HttpError(400, "model 'llava' does not support tools"))
    with pytest.raises(ModelError) as info:
        ask(model(fake))
    assert str(info.value) == "OpenAI-compatible API error 400 Bad Request: model 'llava' does not support tools"
    assert len(fake.requests) == 1


def test_retries_run_out_as_a_model_error_with_the_last_error(fake):
    fake.add(HttpError(503, "overloaded"), HttpError(503, "still overloaded"))
    with pytest.raises(ModelError, match="failed after 2 attempts: 503 Service Unavailable: still overloaded"):
        ask(OpenAICompatibleModel("m", fake.url, retry=policy(Clock(), attempts=2)))


def test_nothing_listening_fails_at_once_naming_the_server(fake):
    clock, said = Clock(), []
    m = OpenAICompatibleModel("m@http://127.0.0.1:9/v1", retry=policy(clock, attempts=6, announce=said.append))
    with pytest.raises(ModelError) as info:
        ask(m)
    assert (
        str(info.value)
        == "cannot connect to http://127.0.0.1:9/v1/chat/completions: connection refused; is the server running?"
    )
    assert clock.sleeps == [] and said == []  # not six attempts over half a minute


def test_408_and_502_are_retried_and_announced(fake):
    clock, said = Clock(), []
    fake.add(HttpError(408, "request timeout"), HttpError(502, "bad gateway"), reply("hi"))
    got = ask(model(fake, clock, announce=said))
    assert got.parts == [Text("hi")] and len(fake.requests) == 3
    assert said == [
        f"agent: openai:fake-vlm@{fake.url} request failed: 408 Request Timeout: request timeout; retrying in 0.8s (attempt 2 of 4)",
        f"agent: openai:fake-vlm@{fake.url} request failed: 502 Bad Gateway: bad gateway; retrying in 1.5s (attempt 3 of 4)",
    ]


# -- specs, keys, prices -------------------------------------------------------------------------


def test_the_spec_carries_the_base_url_and_ollama_style_tags(fake, monkeypatch):
    m = load_model("openai:qwen2.5vl:7b@http://localhost:11434/v1/")
    assert (m.model_id, m.base_url, m.name) == (
        "qwen2.5vl:7b",
        "http://localhost:11434/v1",
        "openai:qwen2.5vl:7b@http://localhost:11434/v1",
    )
    assert load_model("openai:claude-3@20240620@http://h:8000/v1").model_id == "claude-3@20240620"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://gpu-box:8000/v1")
    assert load_model("openai:Qwen/Qwen2.5-VL-7B-Instruct").base_url == "http://gpu-box:8000/v1"
    with pytest.raises(ModelSpecError, match="must not hold credentials"):
        load_model("openai:m@http://user:secret@h/v1")
    with pytest.raises(ModelSpecError, match="needs a gemini: model"):
        load_model(f"openai:m@{fake.url}", code_execution=True)


def test_the_key_is_sent_as_a_bearer_token(fake, monkeypatch):
    fake.api_key = KEY
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    fake.add(reply("hi"))
    assert ask(model(fake)).parts == [Text("hi")]
    assert fake.requests[0].headers["Authorization"] == f"Bearer {KEY}"


def test_a_local_server_needs_no_key_and_gets_no_authorization_header(fake):
    fake.add(reply("hi"))
    ask(model(fake))
    assert "Authorization" not in fake.requests[0].headers


def test_thinking_is_sent_as_reasoning_effort(fake):
    fake.add(reply("hi"))
    ask(model(fake, thinking="low"))
    assert fake.requests[0].body["reasoning_effort"] == "low"
    assert (
        "tools" not in fake.requests[0].body and "tool_choice" not in fake.requests[0].body
    )  # no tools, no tool_choice


def test_cost_is_known_only_when_the_price_table_has_the_model(fake, tmp_path):
    prices = {"fake-vlm": [{"from": None, "input": 1.0, "cached_input": 0.5, "output": 10.0}]}
    priced = OpenAICompatibleModel(f"fake-vlm@{fake.url}", prices=prices)
    # (1000 - 200) * 1.0 + 200 * 0.5 + (50 + 100) * 10.0 = 2400 per million
    assert priced.cost_usd(Usage(1000, 200, 50, 100)) == pytest.approx(0.0024)
    assert OpenAICompatibleModel(f"other@{fake.url}", prices=prices).cost_usd(Usage(1000, 0, 50)) is None


# -- whole runs through the CLI ------------------------------------------------------------------


def cli(*args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AGENT_MODEL")}
    full.update(PYTHONPATH=str(ROOT), AGENT_RETRY_BASE_DELAY="0.01", AGENT_CONFIG_DIR=str(cwd / "config"), **env)
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=180
    )


def test_cli_runs_the_gauge_on_a_local_server_records_it_and_the_recording_replays_offline(fake, tmp_path):
    fake.api_key = KEY
    fake.add(*zoom_then_answer())
    spec = f"openai:fake-vlm@{fake.url}"
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
        env={"OPENAI_API_KEY": KEY},
    )
    assert live.returncode == 0, live.stderr
    assert live.stdout.strip() == "6.5 bar"
    assert "→ zoom(" in live.stderr and "Let me look closer at the dial." in live.stderr
    assert "tokens in 4100 (cached 1400) out 70" in live.stderr and "cost unknown" in live.stderr
    assert len(fake.requests) == 2
    for path in ("c.jsonl", "live/transcript.jsonl", "live/answer.json", "live/report.html"):
        assert KEY not in (tmp_path / path).read_text()
    header = json.loads((tmp_path / "c.jsonl").read_text().splitlines()[0])
    assert header["model"] == spec and header["source"] == "live"

    replay = cli(
        "run",
        f"read the gauge in {GAUGE}",
        "--model",
        "replay:c.jsonl",
        "--run-dir",
        "replay",
        cwd=tmp_path,
        env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"},
    )
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout == live.stdout and len(fake.requests) == 2  # nothing more reached the server

    def calls(run: str):
        return [
            (p.id, p.name, p.args)
            for m in load_transcript(tmp_path / run / "transcript.jsonl")
            for p in m.parts
            if isinstance(p, ToolCall)
        ]

    assert (
        calls("replay")
        == calls("live")
        == [
            ("call_zoom", "zoom", ZOOM_ARGS),
            ("call_answer", "final_answer", {"answer": "6.5 bar", "evidence": ["img2"]}),
        ]
    )


def test_cli_a_400_exits_3_with_the_servers_message_on_one_line(fake, tmp_path):
    fake.add(HttpError(400, "Invalid image: unsupported\nformat"))
    proc = cli(
        "run",
        f"read the gauge in {GAUGE}",
        "--model",
        f"openai:fake-vlm@{fake.url}",
        "--run-dir",
        "r",
        cwd=tmp_path,
        env={},
    )
    assert proc.returncode == 3, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last == "agent: model_error: OpenAI-compatible API error 400 Bad Request: Invalid image: unsupported format"
    assert "Traceback" not in proc.stderr and len(fake.requests) == 1
    assert json.loads((tmp_path / "r" / "answer.json").read_text())["status"] == "model_error"


def test_cli_without_a_key_for_api_openai_com_exits_2_naming_the_variable(tmp_path):
    proc = cli("run", f"read the gauge in {GAUGE}", "--model", "openai:gpt-4o", cwd=tmp_path, env={})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "OPENAI_API_KEY" in lines[0]
    assert not (tmp_path / "runs").exists()  # stopped before any run was set up
