"""The live check without the network: which models it picks up, its skip path, and its whole
run and table against the local fakes of the Gemini and OpenAI-compatible APIs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.models.base import Usage
from tests.fake_gemini import FakeGemini, b64, function_call
from tests.fake_gemini import reply as gemini_reply
from tests.fake_openai import FakeOpenAI, call
from tests.fake_openai import reply as openai_reply
from tests.fake_openai import usage as openai_usage
from tests.live_check import Row, format_table, live_specs, run_check

ROOT = Path(__file__).resolve().parents[1]
SIG = b64(b"live-check-signature")


def test_models_come_from_the_credentials_in_the_environment():
    assert live_specs({}) == []
    assert live_specs({"GEMINI_API_KEY": "k"}) == ["gemini:gemini-3.8-flash"]
    assert live_specs({"GOOGLE_API_KEY": "k", "AGENT_LIVE_GEMINI_MODEL": "gemini-3.1-pro-preview"}) == [
        "gemini:gemini-3.1-pro-preview"
    ]
    env = {
        "AGENT_LIVE_OPENAI_URL": "http://gpu:8000/v1",
        "AGENT_LIVE_OPENAI_MODEL": "Qwen/Qwen3-VL-8B",
        "AGENT_LIVE_OLLAMA_URL": "http://h:11434",
        "AGENT_LIVE_OLLAMA_MODEL": "qwen2.5vl:7b",
    }
    assert live_specs(env) == ["openai:Qwen/Qwen3-VL-8B@http://gpu:8000/v1", "ollama:qwen2.5vl:7b@http://h:11434"]
    with pytest.raises(ValueError, match="set AGENT_LIVE_OPENAI_MODEL"):
        live_specs({"AGENT_LIVE_OPENAI_URL": "http://gpu:8000/v1"})


def test_without_credentials_pytest_m_live_skips_and_make_test_does_not_select_it(tmp_path):
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "AGENT_LIVE_OPENAI_URL", "AGENT_LIVE_OLLAMA_URL")
    }
    live = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "live", "-rs", "-p", "no:cacheprovider", "tests/test_live.py"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert live.returncode == 0, live.stdout
    assert "1 skipped" in live.stdout and "nothing to check live" in live.stdout
    default = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/test_live.py"],
        cwd=ROOT,
        env={**clean, "GEMINI_API_KEY": "would-cost-money"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "1 deselected" in default.stdout  # a key in the shell is not enough to spend money


def test_the_check_runs_the_three_tasks_on_each_model_records_them_and_prints_the_table(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENT_CONFIG_DIR", str(tmp_path / "config"))
    with FakeGemini() as gemini, FakeOpenAI() as server:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", gemini.url)
        monkeypatch.setenv("GEMINI_API_KEY", "test-key-not-secret")
        # each run answers at once: the gauge, the deck fix, then five batch jobs
        gemini.add(*[gemini_reply(function_call("final_answer", {"answer": "6.4 bar"}, "c1", SIG)) for _ in range(7)])
        server.add(
            *[
                openai_reply(None, call("final_answer", {"answer": "4"}, "c1"), usage=openai_usage(1000, 20))
                for _ in range(7)
            ]
        )
        specs = live_specs(
            {"GEMINI_API_KEY": "k", "AGENT_LIVE_OPENAI_URL": server.url, "AGENT_LIVE_OPENAI_MODEL": "fake-vlm"}
        )
        rows = run_check(specs, tmp_path / "out")
    assert [(r.task, r.model.split("@")[0], r.status, r.steps) for r in rows] == [
        ("gauge", "gemini:gemini-3.8-flash", "done", 1),
        ("deck fix", "gemini:gemini-3.8-flash", "done", 1),
        ("batch of 5", "gemini:gemini-3.8-flash", "5/5 ok, 0 correct", 5),
        ("gauge", "openai:fake-vlm", "done", 1),
        ("deck fix", "openai:fake-vlm", "done", 1),
        ("batch of 5", "openai:fake-vlm", "5/5 ok, 1 correct", 5),  # "4" is the squares job's answer
    ]
    assert not any(r.broke for r in rows) and len(gemini.requests) == len(server.requests) == 7
    assert rows[0].cost_usd is not None and rows[3].cost_usd is None  # Gemini is priced; the fake server's model is not
    out = tmp_path / "out"
    cassettes = sorted(p.name for p in out.glob("*.cassette.jsonl"))
    assert cassettes == [
        "deck-fix--gemini-gemini-3.8-flash.cassette.jsonl",
        "deck-fix--openai-fake-vlm.cassette.jsonl",
        "gauge--gemini-gemini-3.8-flash.cassette.jsonl",
        "gauge--openai-fake-vlm.cassette.jsonl",
    ]
    assert len(list((out / "batch--openai-fake-vlm.cassettes").glob("*.cassette.jsonl"))) == 5
    header = json.loads((out / "gauge--gemini-gemini-3.8-flash.cassette.jsonl").read_text().splitlines()[0])
    assert header["source"] == "live" and header["model"] == "gemini:gemini-3.8-flash"
    assert "test-key-not-secret" not in "".join(p.read_text() for p in out.rglob("*.jsonl"))


def test_the_table_has_a_line_per_run_with_tokens_cost_and_seconds():
    rows = [
        Row("gauge", "gemini:gemini-3.8-flash", "done", 3, Usage(12_000, 8_000, 150, 400), 0.0123, 21.04),
        Row("batch of 5", "openai:qwen@http://h/v1", "4/5 ok, 3 correct", 14, Usage(50_000, 0, 900), None, 95.5),
    ]
    assert format_table(rows).splitlines() == [
        "task        model                    status             steps  tokens in / out  cost     seconds",
        "gauge       gemini:gemini-3.8-flash  done               3      12,000 / 550     $0.0123  21.0",
        "batch of 5  openai:qwen@http://h/v1  4/5 ok, 3 correct  14     50,000 / 900     unknown  95.5",
    ]
