"""The loop driven by scripted models: tool errors go back, step limit, final answers, records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from agent.budget import Budget
from agent.context import ContextPolicy
from agent.errors import UsageError
from agent.files import collect_inputs, missing_mention_note
from agent.loop import Agent
from agent.models.base import ModelReply, ModelRequest, Usage
from agent.models.scripted import ScriptedModel, call, say
from agent.transcript import Image as ImagePart
from agent.transcript import Text, ToolCall, ToolResult, load_transcript
from tools.images import ImageStore
from tools.registry import ToolContext, ToolOutput, tool


def make_image(path: Path, size=(64, 48), colour=(200, 30, 30)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


def echo_image(ctx: ToolContext, image: str) -> ToolOutput:
    """Copy an image (a stand-in observation tool for loop tests)."""
    rec = ctx.images.add(ctx.images.get(image).copy(), parent=image, op="copy")
    return ToolOutput(f"copied {image} to {rec.id}", [rec.id])


ECHO = tool(echo_image)


@pytest.fixture
def agent_factory(tmp_path):
    def make(model, **kw):
        from tools.answer import FINAL_ANSWER

        kw.setdefault("tools", [ECHO, FINAL_ANSWER])
        return Agent(model, runs_dir=tmp_path / "runs", **kw)

    return make


def test_plain_text_reply_is_the_answer_and_the_run_is_recorded(tmp_path, agent_factory):
    img = make_image(tmp_path / "red.png")
    model = ScriptedModel([say("It is red.", thought="one colour only")])
    result = agent_factory(model).run("what colour is this?", collect_inputs("", [img]))
    assert result.status == "done" and result.answer == "It is red." and result.exit_code == 0
    run = result.run_dir
    for name in (
        "task.json",
        "transcript.jsonl",
        "answer.json",
        "report.html",
        "images/img1.png",
        "home/inputs/red.png",
    ):
        assert (run / name).exists(), name
    answer = json.loads((run / "answer.json").read_text())
    assert answer["status"] == "done" and answer["steps"] == 1 and answer["isolation"] in ("bwrap", "process")
    first = load_transcript(run / "transcript.jsonl")[0]
    assert any(isinstance(p, ImagePart) and p.image_id == "img1" for p in first.parts)
    assert any(isinstance(p, Text) and "img1: 64x48 px" in p.text for p in first.parts)
    html = (run / "report.html").read_text()
    assert "It is red." in html and "data:image/png;base64," in html


def test_tool_errors_go_back_to_the_model_and_the_run_goes_on(tmp_path, agent_factory):
    img = make_image(tmp_path / "a.png")
    seen: list[ToolResult] = []

    def third(request: ModelRequest) -> ModelReply:
        seen.extend(p for p in request.messages[-1].parts if isinstance(p, ToolResult))
        return say("ok")

    model = ScriptedModel(
        [
            ModelReply(
                [ToolCall("c1", "no_such_tool", {}), ToolCall("c2", "echo_image", {"image": 5})], Usage(), "tool_calls"
            ),
            call("echo_image", image="img99"),
            third,
        ]
    )
    result = agent_factory(model).run("look", collect_inputs("", [img]))
    assert result.status == "done"
    transcript = load_transcript(result.run_dir / "transcript.jsonl")
    first_results = [p for p in transcript[2].parts if isinstance(p, ToolResult)]
    assert [r.call_id for r in first_results] == ["c1", "c2"]
    assert first_results[0].is_error and "unknown tool 'no_such_tool'" in first_results[0].text
    assert first_results[1].is_error and "image" in first_results[1].text
    assert seen and seen[0].is_error and "img99" in seen[0].text


def test_step_limit_stops_with_exit_code_1(tmp_path, agent_factory):
    img = make_image(tmp_path / "a.png")
    model = ScriptedModel(lambda req: call("echo_image", image="img1"))
    result = agent_factory(model, budget=Budget(max_steps=3)).run("loop forever", collect_inputs("", [img]))
    assert result.status == "step_limit" and result.steps == 3 and result.exit_code == 1 and result.answer is None
    assert json.loads((result.run_dir / "answer.json").read_text())["status"] == "step_limit"


def test_final_answer_tool_carries_evidence(tmp_path, agent_factory):
    img = make_image(tmp_path / "a.png")
    model = ScriptedModel(
        [call("echo_image", image="img1"), call("final_answer", answer="red square", evidence=["img2"])]
    )
    result = agent_factory(model).run("find it", collect_inputs("", [img]))
    assert (result.status, result.answer, result.evidence) == ("done", "red square", ["img2"])


def test_final_answer_with_unknown_evidence_is_a_tool_error_not_an_answer(tmp_path, agent_factory):
    img = make_image(tmp_path / "a.png")
    model = ScriptedModel([call("final_answer", answer="x", evidence=["img7"]), say("fine: x")])
    result = agent_factory(model).run("find it", collect_inputs("", [img]))
    assert result.answer == "fine: x" and result.steps == 2


def test_a_mentioned_file_that_does_not_exist_is_one_to_produce_not_an_input(tmp_path, agent_factory, monkeypatch):
    make_image(tmp_path / "gauge.jpg")
    monkeypatch.chdir(tmp_path)
    warnings = []
    inputs = collect_inputs("read gauge.jpg and write the reading to reading.txt", [], warn=warnings.append)
    assert [i.path.name for i in inputs] == ["gauge.jpg"]
    assert warnings == [missing_mention_note("reading.txt")]
    result = agent_factory(ScriptedModel([say("x")])).run("write the reading to reading.txt")
    assert result.status == "done" and not any((result.run_dir / "home" / "inputs").iterdir())


def test_a_named_file_that_does_not_exist_is_a_usage_error(tmp_path, agent_factory, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="file not found: nothere.jpg"):
        collect_inputs("read the gauge", ["nothere.jpg"])


def test_mentioned_file_is_picked_up(tmp_path, agent_factory, monkeypatch):
    make_image(tmp_path / "gauge.jpg")
    monkeypatch.chdir(tmp_path)
    result = agent_factory(ScriptedModel([say("ok")])).run("read the gauge in gauge.jpg")
    assert (result.run_dir / "home" / "inputs" / "gauge.jpg").exists()
    assert "img1" in ImageStore.load(result.run_dir / "images").records


def test_events_are_emitted_in_order(tmp_path, agent_factory):
    img = make_image(tmp_path / "a.png")
    kinds = []
    agent_factory(ScriptedModel([call("echo_image", image="img1"), say("done")])).run(
        "x", collect_inputs("", [img]), on_event=lambda e: kinds.append(e.kind)
    )
    assert kinds == ["run_started", "model_reply", "tool_result", "model_reply", "finished"]


def test_context_policy_stubs_old_images_in_chunks():
    from agent.transcript import Message

    policy = ContextPolicy(keep_recent=2, chunk=3)
    msgs = [Message("user", [Text("t"), ImagePart("img1")])]
    for n in range(2, 8):
        msgs.append(Message("tool", [ToolResult(f"c{n}", "zoom", f"made img{n}", [f"img{n}"])]))

    def shown(messages):
        return [i for m in messages for p in m.parts if isinstance(p, ToolResult) for i in p.image_ids]

    # 6 observations, keep 2 → 4 excess → one chunk of 3 hidden
    out = policy.apply(msgs)
    assert shown(out) == ["img5", "img6", "img7"]
    assert "call view(image='img2')" in out[1].parts[0].text
    assert out[0].parts[1].detail == "low"
    # one more observation: still one chunk (5 excess) → prefix unchanged
    out2 = policy.apply(msgs + [Message("tool", [ToolResult("c8", "zoom", "img8", ["img8"])])])
    assert out2[:4] == out[:4]
    assert shown(ContextPolicy(enabled=False).apply(msgs)) == [f"img{n}" for n in range(2, 8)]


def test_a_crashing_model_still_leaves_a_complete_run_record(tmp_path, agent_factory):
    img = make_image(tmp_path / "a.png")

    def broken(request):
        raise RuntimeError("adapter bug")

    with pytest.raises(RuntimeError, match="adapter bug"):
        agent_factory(ScriptedModel(broken)).run("x", collect_inputs("", [img]))
    run = next((tmp_path / "runs").iterdir())
    answer = json.loads((run / "answer.json").read_text())
    assert answer["status"] == "crashed" and "adapter bug" in answer["error"]
    assert (run / "report.html").exists()


# -- the bugs a review found, and the seams ----------------------------------------------------------


def test_view_brings_back_an_image_the_context_policy_hid(tmp_path, agent_factory):
    from tools.vision import TOOLS as VISION

    view = next(t for t in VISION if t.name == "view")
    img = make_image(tmp_path / "a.png")
    sent: list[list] = []

    def remember(reply):
        def reply_fn(request: ModelRequest) -> ModelReply:
            sent.append(request.messages)
            return reply

        return reply_fn

    model = ScriptedModel(
        [
            remember(call("echo_image", image="img1")),
            remember(call("echo_image", image="img1")),
            remember(call("view", image="img2")),
            remember(say("seen")),
        ]
    )
    policy = ContextPolicy(keep_recent=1, chunk=1)
    result = agent_factory(model, tools=[ECHO, view], context=policy).run("look", collect_inputs("", [img]))
    assert result.status == "done"
    # the third request hid img2 (two observations, one kept) and told the model to call view
    hidden = sent[2][2].parts[0]
    assert hidden.image_ids == [] and "call view(image='img2')" in hidden.text
    # the fourth request shows img2 again where view returned it; its old occurrence stays a stub
    last = sent[3]
    assert [p.image_ids for p in last[-1].parts] == [["img2"]]
    assert [p.image_ids for p in last[2].parts] == [[]]
    assert sent[3][:4] == sent[2][:4]  # the prefix the provider cached is unchanged


def test_calls_after_final_answer_in_the_same_turn_are_not_run(tmp_path, agent_factory):
    img = make_image(tmp_path / "a.png")
    turn = ModelReply(
        [
            ToolCall("c1", "echo_image", {"image": "img1"}),
            ToolCall("c2", "final_answer", {"answer": "red", "evidence": ["img2"]}),
            ToolCall("c3", "echo_image", {"image": "img1"}),
        ],
        Usage(),
        "tool_calls",
    )
    result = agent_factory(ScriptedModel([turn])).run("x", collect_inputs("", [img]))
    assert (result.status, result.answer, result.evidence, result.steps) == ("done", "red", ["img2"], 1)
    results = load_transcript(result.run_dir / "transcript.jsonl")[-1].parts
    assert [r.call_id for r in results] == ["c1", "c2", "c3"]
    assert not results[0].is_error and results[0].image_ids == ["img2"]  # before the answer: it ran
    assert results[2].is_error and results[2].text.startswith("not run")
    assert sorted(ImageStore.load(result.run_dir / "images").records) == ["img1", "img2"]  # c3 made nothing


class Priced(ScriptedModel):
    """$0.01 per 1,000 input tokens."""

    def cost_usd(self, usage: Usage) -> float:
        return usage.input_tokens * 1e-5


def spend(tokens: int):
    return lambda request: ModelReply(
        [ToolCall("c", "echo_image", {"image": "img1"})], Usage(input_tokens=tokens), "tool_calls"
    )


@pytest.mark.parametrize(
    "budget, words",
    [
        (Budget(max_tokens=250), "token budget reached: 300 tokens used of 250, after 3 step(s)"),
        (Budget(max_cost_usd=0.0025), "cost budget reached: $0.0030 spent of $0.0025, after 3 step(s)"),
    ],
)
def test_a_budget_stops_the_run_before_the_next_request_with_a_complete_record(tmp_path, agent_factory, budget, words):
    img = make_image(tmp_path / "a.png")
    model = Priced(spend(100))
    result = agent_factory(model, budget=budget).run("x", collect_inputs("", [img]))
    assert (result.status, result.exit_code, result.steps, model.turn) == ("budget", 1, 3, 3)
    assert result.error == words
    answer = json.loads((result.run_dir / "answer.json").read_text())
    assert answer["status"] == "budget" and answer["error"] == words and answer["usage"]["input_tokens"] == 300
    assert answer["cost_usd"] == pytest.approx(0.003) and answer["budget"]["max_steps"] == 20
    roles = [m.role for m in load_transcript(result.run_dir / "transcript.jsonl")]
    assert roles == ["user"] + ["model", "tool"] * 3  # every turn taken is recorded whole
    assert "budget" in (result.run_dir / "report.html").read_text()


def test_the_time_budget_is_checked_before_each_request(tmp_path, agent_factory):
    import time

    img = make_image(tmp_path / "a.png")

    def slow(request):
        time.sleep(0.3)
        return call("echo_image", image="img1")

    model = ScriptedModel(slow)
    result = agent_factory(model, budget=Budget(max_steps=50, timeout_s=0.5)).run("x", collect_inputs("", [img]))
    assert result.status == "budget" and "time budget reached" in result.error
    assert (
        1 <= result.steps <= 2 and model.turn == result.steps
    )  # stopped before asking again, however slow the machine


def test_a_cost_budget_with_no_price_known_cannot_stop_the_run(tmp_path, agent_factory):
    img = make_image(tmp_path / "a.png")
    model = ScriptedModel([spend(10**6), spend(10**6), say("done")])
    result = agent_factory(model, budget=Budget(max_cost_usd=0.01)).run("x", collect_inputs("", [img]))
    assert result.status == "done" and result.cost_usd is None


def test_a_model_spec_error_mid_run_still_writes_the_record_then_surfaces(tmp_path, agent_factory):
    from agent.models.base import ModelSpecError

    img = make_image(tmp_path / "a.png")

    def no_key(request):
        raise ModelSpecError("GEMINI_API_KEY is not set")

    with pytest.raises(ModelSpecError, match="GEMINI_API_KEY"):
        agent_factory(ScriptedModel(no_key)).run("x", collect_inputs("", [img]))
    run = next((tmp_path / "runs").iterdir())
    answer = json.loads((run / "answer.json").read_text())
    assert answer["status"] == "usage_error" and "GEMINI_API_KEY" in answer["error"]
    assert (run / "report.html").exists()


def test_a_caller_can_drive_the_steps_and_override_act(tmp_path):
    from tools.answer import FINAL_ANSWER

    seen = []

    class Watching(Agent):
        def act(self, run, tool_call):
            seen.append((run.steps, tool_call.name))
            return super().act(run, tool_call)

    img = make_image(tmp_path / "a.png")
    agent = Watching(
        ScriptedModel([call("echo_image", image="img1"), call("final_answer", answer="red")]),
        tools=[ECHO, FINAL_ANSWER],
        runs_dir=tmp_path / "runs",
    )
    run = agent.start("colour?", collect_inputs("", [img]))
    agent.step(run)
    assert run.status is None and run.steps == 1 and [m.role for m in run.messages] == ["user", "model", "tool"]
    while run.status is None:
        agent.step(run)
    result = agent.finish(run)
    assert (result.status, result.answer, seen) == ("done", "red", [(1, "echo_image"), (2, "final_answer")])
    assert json.loads((result.run_dir / "answer.json").read_text())["answer"] == "red"
