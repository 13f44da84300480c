"""The Gemini adapter with the real google-genai client against a local fake of the REST API.

Each test asserts on what the SDK actually put on the wire, or on how a reply in the API's
own JSON shape comes back into the transcript.
"""

from __future__ import annotations

import base64
import io

import pytest
from google.genai import types
from PIL import Image as PILImage

from agent.models.base import ModelError, ModelRequest, ModelSpecError, ToolSpec, Usage
from agent.models.gemini import _FINISH, CODE_EXECUTION, EMPTY_REPLY_NUDGE, GeminiModel
from agent.models.retry import RetryPolicy
from agent.ratelimit import RateGate
from agent.transcript import Image, Message, Text, Thought, ToolCall, ToolResult, dumps_message
from tests.fake_gemini import FakeGemini, HttpError, b64, function_call, parts_of, reply, text, thought, unb64, usage

ZOOM = ToolSpec(
    "zoom",
    "Crop a region of an image and enlarge it.",
    {
        "type": "object",
        "properties": {
            "image": {"type": "string"},
            "x_min": {"type": "integer", "minimum": 0, "maximum": 1000},
            "y_min": {"type": "integer", "minimum": 0, "maximum": 1000},
            "x_max": {"type": "integer", "minimum": 0, "maximum": 1000},
            "y_max": {"type": "integer", "minimum": 0, "maximum": 1000},
        },
        "required": ["image", "x_min", "y_min", "x_max", "y_max"],
        "additionalProperties": False,
    },
)
# bytes whose standard base64 has '+' and '/', so an alphabet mix-up would show
SIG_A = b64(b"\x00\x01signature-A\xff\xfe\xfb\xef" * 3)
SIG_B = b64(b"\x10sig-B\x80\xfb\xff")


def png(color=(200, 30, 30), size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def jpeg(size=(50, 20)) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", size, (10, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


IMAGES = {"img1": (jpeg(), "image/jpeg"), "img2": (png(), "image/png"), "img3": (png((0, 200, 0)), "image/png")}


def load_image(image_id: str, detail: str) -> tuple[bytes, str]:
    return IMAGES[image_id]


@pytest.fixture
def fake(monkeypatch):
    with FakeGemini() as server:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
        monkeypatch.setenv("GEMINI_API_KEY", "test-key-not-secret")
        monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
        monkeypatch.delenv("GOOGLE_GENAI_USE_VERTEXAI", raising=False)
        monkeypatch.setenv("AGENT_CONFIG_DIR", "/nonexistent-config-dir")
        yield server


def model(model_id: str = "gemini-3.8-flash", **options) -> GeminiModel:
    policy = RetryPolicy(max_attempts=3, sleep=lambda s: None, gate=RateGate(sleep=lambda s: None))
    return GeminiModel(model_id, retry=policy, **options)


def first_turn() -> list[Message]:
    return [
        Message(
            "user", [Text("read the gauge"), Text("[img1: 50x20 px, input gauge.jpg]"), Image("img1", detail="low")]
        )
    ]


def ask(m: GeminiModel, messages: list[Message], tools=(ZOOM,), system: str = "You look closely."):
    return m.complete(ModelRequest(system=system, messages=messages, tools=list(tools), load_image=load_image))


def test_tools_are_declared_with_our_schemas_and_the_system_prompt_and_thoughts_are_sent(fake):
    fake.add(reply(text("It reads 42.")))
    ask(model(), first_turn())
    body = fake.requests[0].api
    declarations = [d for t in body["tools"] for d in t.get("functionDeclarations", [])]
    assert declarations == [{"name": "zoom", "description": ZOOM.description, "parametersJsonSchema": ZOOM.parameters}]
    assert body["systemInstruction"]["parts"] == [{"text": "You look closely."}]
    assert body["generationConfig"]["thinkingConfig"] == {"includeThoughts": True}
    assert fake.requests[0].model == "gemini-3.8-flash"
    assert fake.requests[0].headers.get("x-goog-api-key") == "test-key-not-secret"


def test_the_users_image_goes_inline_with_its_mime_type_at_a_modest_media_resolution(fake):
    fake.add(reply(text("ok")))
    ask(model(), first_turn())
    (image,) = parts_of(fake.requests[0].api, "inlineData")
    assert image["inlineData"]["mimeType"] == "image/jpeg" and unb64(image["inlineData"]["data"]) == IMAGES["img1"][0]
    assert image["mediaResolution"] == {"level": "MEDIA_RESOLUTION_MEDIUM"}


def test_parallel_calls_come_back_with_ids_and_signatures_and_are_answered_together_in_order(fake):
    fake.add(
        reply(
            thought("I should zoom on the dial and the label.", signature=None),
            function_call(
                "zoom", {"image": "img1", "x_min": 100, "y_min": 100, "x_max": 600, "y_max": 600}, "call-dial", SIG_A
            ),
            function_call(
                "zoom", {"image": "img1", "x_min": 0, "y_min": 800, "x_max": 1000, "y_max": 1000}, "call-label"
            ),
            usage=usage(1500, 80, thoughts=40, cached=1000),
        ),
        reply(text("It reads 42 psi.", signature=SIG_B)),
    )
    m = model()
    history = first_turn()
    got = ask(m, history)
    assert got.finish_reason == "tool_calls"
    assert isinstance(got.parts[0], Thought) and got.parts[0].text.startswith("I should zoom")
    calls = [p for p in got.parts if isinstance(p, ToolCall)]
    assert [(c.id, c.name, c.args["y_min"]) for c in calls] == [("call-dial", "zoom", 100), ("call-label", "zoom", 800)]
    assert calls[0].meta["thought_signature"] == SIG_A and "thought_signature" not in calls[1].meta
    assert got.usage == Usage(input_tokens=1500, cached_tokens=1000, output_tokens=80, thinking_tokens=40)

    # the transcript goes through JSON (run record, cassette) before it is sent again
    model_message = Message.from_dict(Message("model", got.parts).to_dict())
    results = Message(
        "tool",
        [  # answered out of order on purpose: the adapter restores the call order
            ToolResult("call-label", "zoom", "[img3: label]", ["img3"]),
            ToolResult("call-dial", "zoom", "[img2: dial]", ["img2"]),
        ],
    )
    ask(m, history + [model_message, results])
    body = fake.requests[1].api
    sent_calls = parts_of(body, "functionCall")
    assert [p["functionCall"]["id"] for p in sent_calls] == ["call-dial", "call-label"]
    assert (
        unb64(sent_calls[0]["thoughtSignature"]) == base64.b64decode(SIG_A) and "thoughtSignature" not in sent_calls[1]
    )
    responses = [p["functionResponse"] for p in parts_of(body, "functionResponse")]
    assert [(r["id"], r["name"]) for r in responses] == [("call-dial", "zoom"), ("call-label", "zoom")]
    # both answers in one user content, right after the model's turn
    contents = body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert len(contents[2]["parts"]) == 2


def test_images_from_tools_go_inside_the_function_response_on_gemini_3_at_high_resolution(fake):
    fake.add(
        reply(
            function_call("zoom", {"image": "img1", "x_min": 0, "y_min": 0, "x_max": 500, "y_max": 500}, "c1", SIG_A)
        ),
        reply(text("42")),
    )
    m = model("gemini-3.8-flash")
    got = ask(m, first_turn())
    ask(
        m,
        first_turn()
        + [
            Message("model", got.parts),
            Message("tool", [ToolResult("c1", "zoom", "zoomed [img2: 40x30 px]", ["img2"])]),
        ],
    )
    (fr,) = [p["functionResponse"] for p in parts_of(fake.requests[1].api, "functionResponse")]
    assert fr["response"] == {"output": "zoomed [img2: 40x30 px]"}
    (image,) = fr["parts"]
    assert image["inlineData"]["mimeType"] == "image/png" and unb64(image["inlineData"]["data"]) == IMAGES["img2"][0]
    assert image["mediaResolution"] == {"level": "MEDIA_RESOLUTION_HIGH"}
    assert len(parts_of(fake.requests[1].api, "inlineData")) == 1  # only the user's original is a top-level image


def test_older_models_get_tool_images_as_image_parts_in_the_same_user_turn(fake):
    fake.add(
        reply(function_call("zoom", {"image": "img1", "x_min": 0, "y_min": 0, "x_max": 500, "y_max": 500})),
        reply(text("42")),
    )
    m = model("gemini-2.5-flash")
    got = ask(m, first_turn())
    call = got.parts[0]
    assert call.meta.get("local_id") and call.id  # 2.5 sent no id: we made one, and never send it
    ask(
        m,
        first_turn()
        + [
            Message("model", got.parts),
            Message("tool", [ToolResult(call.id, "zoom", "zoomed", ["img2"], is_error=False)]),
        ],
    )
    body = fake.requests[1].api
    assert "id" not in parts_of(body, "functionCall")[0]["functionCall"]
    last = body["contents"][-1]
    assert last["role"] == "user"
    assert "parts" not in last["parts"][0]["functionResponse"] and "id" not in last["parts"][0]["functionResponse"]
    assert last["parts"][1] == {"text": "[img2, returned by zoom]"}
    assert (
        set(last["parts"][2]) == {"inlineData"} and unb64(last["parts"][2]["inlineData"]["data"]) == IMAGES["img2"][0]
    )
    assert "mediaResolution" not in parts_of(body, "inlineData")[0]  # 2.5 has no per-part resolution
    assert "thinkingLevel" not in body["generationConfig"]["thinkingConfig"]


def test_a_tool_error_goes_back_as_an_error_response(fake):
    fake.add(reply(function_call("zoom", {"image": "img9"}, "c1", SIG_A)), reply(text("sorry")))
    m = model()
    got = ask(m, first_turn())
    ask(
        m,
        first_turn()
        + [
            Message("model", got.parts),
            Message("tool", [ToolResult("c1", "zoom", "unknown image id 'img9'", [], is_error=True)]),
        ],
    )
    (fr,) = parts_of(fake.requests[1].api, "functionResponse")
    assert fr["functionResponse"]["response"] == {"error": "unknown image id 'img9'"}


def test_media_resolution_is_configurable(fake, monkeypatch):
    monkeypatch.setenv("AGENT_GEMINI_MEDIA_RESOLUTION", "low=LOW")
    fake.add(reply(text("ok")))
    ask(model(media_resolution={"high": "MEDIA_RESOLUTION_ULTRA_HIGH"}), first_turn())
    assert parts_of(fake.requests[0].api, "inlineData")[0]["mediaResolution"] == {"level": "MEDIA_RESOLUTION_LOW"}


def test_thinking_level_is_sent_and_refused_on_models_without_levels(fake):
    fake.add(reply(thought("hmm"), text("ok")))
    ask(model(thinking="low"), first_turn())
    assert fake.requests[0].api["generationConfig"]["thinkingConfig"] == {
        "includeThoughts": True,
        "thinkingLevel": "LOW",
    }
    with pytest.raises(ModelSpecError, match="thinking level"):
        model("gemini-2.5-pro", thinking="high")
    with pytest.raises(ModelSpecError, match="minimal, low, medium, high"):
        model(thinking="extreme")


def test_signatures_on_text_parts_survive_json_and_are_echoed_exactly(fake):
    fake.add(reply(thought("so the needle is at 42", SIG_B), text("", SIG_A), text("42 psi")), reply(text("done")))
    m = model()
    got = ask(m, first_turn())
    assert got.finish_reason == "stop"
    assert isinstance(got.parts[0], Thought) and got.parts[0].signature == SIG_B
    roundtrip = Message.from_dict(__import__("json").loads(dumps_message(Message("model", got.parts))))
    ask(m, first_turn() + [roundtrip, Message("user", [Text("thanks")])])
    sent = fake.requests[1].api["contents"][1]["parts"]
    signatures = [unb64(p.pop("thoughtSignature")) if "thoughtSignature" in p else None for p in sent]
    assert signatures == [base64.b64decode(SIG_B), base64.b64decode(SIG_A), None]
    assert sent == [{"text": "so the needle is at 42", "thought": True}, {"text": ""}, {"text": "42 psi"}]


def test_code_execution_parts_round_trip_and_the_tool_is_declared(fake):
    plot = png((0, 0, 255), (64, 48))
    fake.add(
        reply(
            {"executableCode": {"language": "PYTHON", "code": "print(6*7)"}},
            {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "42\n"}},
            {"inlineData": {"mimeType": "image/png", "data": b64(plot)}},
            text("The answer is 42."),
        ),
        reply(text("ok")),
    )
    m = model(code_execution=True)
    got = ask(m, first_turn())
    assert {"codeExecution": {}} in fake.requests[0].api["tools"]
    # next to the agent's functions, a built-in tool needs the API to circulate server-side calls
    assert fake.requests[0].api["toolConfig"] == {"includeServerSideToolInvocations": True}
    code, result, image, answer = got.parts
    assert (
        isinstance(code, ToolCall)
        and code.name == CODE_EXECUTION
        and code.args == {"code": "print(6*7)", "language": "PYTHON"}
    )
    assert (
        code.meta["server_side"]
        and isinstance(result, ToolResult)
        and result.call_id == code.id
        and result.text == "42\n"
    )
    assert isinstance(image, Image) and image.image_id == "" and base64.b64decode(image.meta["data_b64"]) == plot
    assert got.finish_reason == "stop" and isinstance(answer, Text)
    ask(m, first_turn() + [Message("model", got.parts), Message("user", [Text("and?")])])
    sent = fake.requests[1].api["contents"][1]["parts"]
    assert sent[0] == {"executableCode": {"language": "PYTHON", "code": "print(6*7)"}}
    assert sent[1] == {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "42\n"}}
    assert sent[2]["inlineData"]["mimeType"] == "image/png" and unb64(sent[2]["inlineData"]["data"]) == plot


@pytest.mark.parametrize(
    "body, finish, fragment",
    [
        (reply(finish="SAFETY"), "safety", "safety filters (SAFETY)"),
        (
            {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}},
            "safety",
            "prompt was blocked (PROHIBITED_CONTENT)",
        ),
        (reply(text("Four score and seven"), finish="RECITATION"), "recitation", "recite"),
        (reply(text("The needle is at"), finish="MAX_TOKENS"), "max_tokens", "output token limit"),
        # (the SDK drops finishMessage on the Gemini Developer API, so the message is ours)
        (
            reply(finish="MALFORMED_FUNCTION_CALL", finish_message="Malformed function call: zoom(x_min=1"),
            "malformed_call",
            "could not be parsed",
        ),
        ({"candidates": []}, "empty", "no candidates"),
        (reply(text("?"), finish="OTHER"), "other", "OTHER"),
        (reply(text("Au revoir"), finish="LANGUAGE"), "blocked", "unsupported language"),
        (
            reply(text("partial"), finish="TOO_MANY_TOOL_CALLS"),
            "too_many_tool_calls",
            "too many server-side tool calls",
        ),
        (reply(text("so far"), finish="CONTINUATION"), "max_tokens", "output token limit (CONTINUATION)"),
    ],
)
def test_every_finish_reason_has_a_status_and_a_readable_message(fake, body, finish, fragment):
    fake.add(body)
    got = ask(model(), first_turn())
    assert got.finish_reason == finish
    assert fragment in got.meta["message"]


@pytest.mark.parametrize("reason", [r.value for r in types.FinishReason])
def test_no_finish_reason_but_stop_can_end_in_an_answer(fake, reason):
    """Every value of google-genai's FinishReason has an explicit outcome; stray text under
    any reason but STOP is never returned as a plain "stop" (the loop's answer)."""
    assert reason in _FINISH
    fake.add(
        reply(text("stray words"), finish=reason),
        reply(text("stray words"), finish=reason),
        reply(text("after a retry")),
    )
    m = model()
    if reason == "MISSING_THOUGHT_SIGNATURE":
        with pytest.raises(ModelError, match="thought signature is missing"):
            ask(m, first_turn())
        return
    got = ask(m, first_turn())
    if reason == "STOP":
        assert (got.finish_reason, got.parts[-1].text) == ("stop", "stray words")
    elif reason == "MALFORMED_RESPONSE":  # retried as a transient failure, until a good reply
        assert (got.finish_reason, got.parts[-1].text, len(fake.requests)) == ("stop", "after a retry", 3)
    else:
        assert got.finish_reason not in ("stop", "tool_calls") and got.meta["message"]


def test_a_stop_with_no_parts_is_asked_again_once_with_a_nudge(fake, capsys):
    empty = {"candidates": [{"content": {"role": "model"}, "finishReason": "STOP"}], "usageMetadata": usage(900, 0)}
    fake.add(empty, reply(text("It reads 42."), usage=usage(950, 10)))
    got = ask(model(), first_turn())
    assert (
        capsys.readouterr().err
        == "agent: gemini:gemini-3.8-flash returned an empty reply (STOP with no parts); asking once more, with a nudge\n"
    )
    assert (got.finish_reason, got.parts[-1].text) == ("stop", "It reads 42.")
    assert got.usage == Usage(input_tokens=1850, output_tokens=10)  # both requests were billed
    first, second = fake.requests[0].api["contents"], fake.requests[1].api["contents"]
    assert second[:-1] == first and second[-1] == {"role": "user", "parts": [{"text": EMPTY_REPLY_NUDGE}]}


def test_a_second_empty_stop_is_empty(fake):
    empty = {"candidates": [{"content": {"role": "model"}, "finishReason": "STOP"}]}
    fake.add(empty, empty)
    got = ask(model(), first_turn())
    assert got.finish_reason == "empty" and "no content" in got.meta["message"] and len(fake.requests) == 2


def test_an_empty_reply_is_not_sent_back_as_an_empty_content(fake):
    fake.add(reply(finish="MALFORMED_FUNCTION_CALL", finish_message="bad"), reply(text("ok")))
    m = model()
    got = ask(m, first_turn())
    ask(
        m, first_turn() + [Message("model", got.parts), Message("user", [Text("Call the tool again with valid JSON.")])]
    )
    assert [c["role"] for c in fake.requests[1].api["contents"]] == ["user", "user"]


def test_without_the_flag_the_api_refuses_built_in_tools_next_to_functions(fake):
    """What the flag prevents, shown on the fake: the real API's 400, not retried."""
    m = model(code_execution=True)
    m._tool_config = lambda specs: None  # as the adapter was before it set the flag
    with pytest.raises(ModelError, match="Please enable tool_config.include_server_side_tool_invocations"):
        ask(m, first_turn())
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    "model_id, fragment",
    [
        ("gemini-2.5-flash", "Gemini 2.x cannot combine a built-in tool with the agent's own functions"),
        ("gemini-flash-latest", "is an alias"),
        ("gemma-3-27b-it", "not in the adapter's model table"),
    ],
)
def test_code_execution_is_refused_before_any_request_where_it_cannot_work(fake, model_id, fragment):
    with pytest.raises(ModelSpecError, match=fragment):
        model(model_id, code_execution=True)
    assert fake.requests == []


def test_code_execution_is_refused_on_vertex_where_the_flag_does_not_exist():
    class VertexClient:
        vertexai = True

    with pytest.raises(ModelSpecError, match="Vertex AI"):
        GeminiModel("gemini-3.8-flash", code_execution=True, client=VertexClient(), prices={})


def test_a_lost_thought_signature_is_refused_by_the_api_and_not_retried(fake):
    fake.add(
        reply(function_call("zoom", {"image": "img1", "x_min": 0, "y_min": 0, "x_max": 500, "y_max": 500}, "c1", SIG_A))
    )
    m = model()
    got = ask(m, first_turn())
    call = got.parts[0]
    call.meta.pop("thought_signature")  # a transcript that lost it
    with pytest.raises(ModelError, match="missing a thought_signature"):
        ask(m, first_turn() + [Message("model", [call]), Message("tool", [ToolResult("c1", "zoom", "zoomed", [])])])
    assert len(fake.requests) == 2


def test_408_and_502_are_retried_and_each_retry_is_announced(fake):
    said: list[str] = []
    policy = RetryPolicy(
        max_attempts=3,
        sleep=lambda s: None,
        gate=RateGate(sleep=lambda s: None),
        random=lambda: 0.5,
        announce=said.append,
    )
    fake.add(HttpError(408), HttpError(502), reply(text("ok")))
    got = GeminiModel("gemini-3.8-flash", retry=policy, prices={}).complete(
        ModelRequest("s", [Message("user", [Text("hi")])], [])
    )
    assert got.parts[0].text == "ok" and len(fake.requests) == 3
    assert said == [
        "agent: gemini:gemini-3.8-flash request failed: 408 UNKNOWN: fake UNKNOWN; retrying in 0.8s (attempt 2 of 3)",
        "agent: gemini:gemini-3.8-flash request failed: 502 UNKNOWN: fake UNKNOWN; retrying in 1.5s (attempt 3 of 3)",
    ]


def test_max_output_tokens_is_sent_when_set(fake, monkeypatch):
    monkeypatch.setenv("AGENT_MAX_OUTPUT_TOKENS", "2048")
    fake.add(reply(text("ok")))
    ask(model(), first_turn())
    assert fake.requests[0].api["generationConfig"]["maxOutputTokens"] == 2048
