"""Recording a scripted run to a cassette and replaying it strictly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from agent.files import collect_inputs
from agent.loop import Agent
from agent.models import load_model
from agent.models.base import ModelSpecError
from agent.models.cassette import RecordingModel, ReplayModel
from agent.models.scripted import ScriptedModel, call, say
from tests.test_loop import ECHO
from tools.answer import FINAL_ANSWER


def record_run(tmp_path: Path, img: Path) -> Path:
    cassette = tmp_path / "run.cassette.jsonl"
    model = RecordingModel(
        ScriptedModel(
            [
                call("echo_image", image="img1", thought="look closer"),
                call("final_answer", answer="red", evidence=["img2"]),
            ]
        ),
        cassette,
        source="hand-written",
        note="scripted model, for tests",
    )
    Agent(model, tools=[ECHO, FINAL_ANSWER], runs_dir=tmp_path / "runs").run("colour?", collect_inputs("", [img]))
    return cassette


@pytest.fixture
def img(tmp_path):
    path = tmp_path / "red.png"
    Image.new("RGB", (40, 30), (255, 0, 0)).save(path)
    return path


def test_replay_reproduces_the_recorded_run(tmp_path, img):
    cassette = record_run(tmp_path, img)
    header = json.loads(cassette.read_text().splitlines()[0])
    assert header["source"] == "hand-written" and header["format"].startswith("lookclosely-cassette")
    result = Agent(load_model(f"replay:{cassette}"), tools=[ECHO, FINAL_ANSWER], runs_dir=tmp_path / "r2").run(
        "colour?", collect_inputs("", [img])
    )
    assert (result.status, result.answer, result.evidence, result.steps) == ("done", "red", ["img2"], 2)


def test_replay_names_the_turn_and_first_difference(tmp_path, img):
    cassette = record_run(tmp_path, img)
    result = Agent(ReplayModel(cassette), tools=[ECHO, FINAL_ANSWER], runs_dir=tmp_path / "r3").run(
        "which colour?", collect_inputs("", [img])
    )
    assert result.status == "model_error" and result.exit_code == 3
    assert "turn 1" in result.error and "message 1" in result.error and "which colour?" in result.error


def test_replay_detects_a_changed_tool_result(tmp_path, img):
    cassette = record_run(tmp_path, img)
    (tmp_path / "x").mkdir()
    renamed = tmp_path / "x" / "red.png"
    Image.new("RGB", (40, 31), (0, 0, 255)).save(renamed)
    result = Agent(ReplayModel(cassette), tools=[ECHO, FINAL_ANSWER], runs_dir=tmp_path / "r4").run(
        "colour?", collect_inputs("", [renamed])
    )
    assert result.status == "model_error"
    assert "turn 1" in result.error and "40x31" in result.error


def test_replay_past_the_end_is_an_error(tmp_path, img):
    cassette = record_run(tmp_path, img)
    lines = cassette.read_text().splitlines()
    short = tmp_path / "short.jsonl"
    short.write_text("\n".join(lines[:2]) + "\n")
    result = Agent(ReplayModel(short), tools=[ECHO, FINAL_ANSWER], runs_dir=tmp_path / "r5").run(
        "colour?", collect_inputs("", [img])
    )
    assert result.status == "model_error" and "turn 2" in result.error and "only 1" in result.error


@pytest.mark.parametrize(
    "content", ["", "not json\n", '{"format": "other"}\n', '{"format": "lookclosely-cassette/1"}\n']
)
def test_a_file_that_is_not_a_cassette_is_a_spec_error(tmp_path, content):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    with pytest.raises(ModelSpecError):
        load_model(f"replay:{bad}")


def test_unknown_scheme_is_a_spec_error():
    with pytest.raises(ModelSpecError, match="unknown model scheme"):
        load_model("nosuch:model")


def test_a_damaged_turn_is_refused_before_the_run_starts(tmp_path, img):
    cassette = record_run(tmp_path, img)
    header, first, second = cassette.read_text().splitlines()
    turn = json.loads(second)
    turn["reply"]["parts"] = [{"type": "tool_call", "id": "c", "name": "final_answer", "argz": {}}]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([header, first, json.dumps(turn)]) + "\n")
    with pytest.raises(ModelSpecError, match="turn line 2 has a reply that cannot be read"):
        load_model(f"replay:{bad}")


def test_a_secret_in_the_environment_never_reaches_a_cassette(tmp_path, img, monkeypatch):
    """Adapters keep keys out of requests and replies; if one came back anyway (a server echoing
    it in a message the model repeats), the cassette, the per-run one included, blanks it."""
    secret = "sk-live-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("AGENT_SHORT_TOKEN", "1")  # too short to be a secret: never blanked
    model = RecordingModel(ScriptedModel([say(f"the server said: bad key {secret}, 1 retry")]), tmp_path / "c.jsonl")
    result = Agent(model, tools=[FINAL_ANSWER], runs_dir=tmp_path / "runs").run("colour?", collect_inputs("", [img]))
    for cassette in (tmp_path / "c.jsonl", result.run_dir / "cassette.jsonl"):
        text = cassette.read_text()
        assert secret not in text and "bad key [OPENAI_API_KEY redacted], 1 retry" in text
