"""The Gemini model table decides what each model is sent, checked against the fake API, which
refuses what the real one refuses: thinking levels, aliases, Gemma, ids the table does not know."""

from __future__ import annotations

import json

import pytest

from agent.models.base import ModelError, ModelRequest, ModelSpecError, Usage
from agent.models.gemini import GeminiModel
from agent.models.gemini_models import MODELS, model_info
from agent.models.retry import RetryPolicy
from agent.ratelimit import RateGate
from agent.transcript import Message, ToolResult
from tests.fake_gemini import FakeGemini, function_call, parts_of, reply, text, usage
from tests.test_gemini_adapter import SIG_A, ZOOM, first_turn, load_image


@pytest.fixture
def fake(monkeypatch, tmp_path):
    with FakeGemini() as server:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
        monkeypatch.setenv("GEMINI_API_KEY", "test-key-not-secret")
        monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
        monkeypatch.setenv("AGENT_CONFIG_DIR", str(tmp_path / "config"))
        yield server


def model(model_id: str, **options) -> GeminiModel:
    policy = RetryPolicy(
        max_attempts=2, sleep=lambda s: None, gate=RateGate(sleep=lambda s: None), announce=lambda line: None
    )
    return GeminiModel(model_id, retry=policy, **options)


def ask(m: GeminiModel, messages: list[Message]):
    return m.complete(ModelRequest(system="s", messages=messages, tools=[ZOOM], load_image=load_image))


def zoom_round(m: GeminiModel, fake: FakeGemini) -> dict:
    """A zoom call, its result with an image, and the request that carries them back."""
    fake.add(
        reply(
            function_call("zoom", {"image": "img1", "x_min": 0, "y_min": 0, "x_max": 500, "y_max": 500}, "c1", SIG_A)
        ),
        reply(text("42")),
    )
    got = ask(m, first_turn())
    ask(
        m,
        first_turn()
        + [
            Message("model", got.parts),
            Message("tool", [ToolResult(got.parts[0].id, "zoom", "zoomed [img2]", ["img2"])]),
        ],
    )
    return fake.requests[-1].api


# -- thinking levels -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model_id, level, accepted",
    [
        ("gemini-3.8-flash", "minimal", "low, medium, high"),
        ("gemini-3.7-flash", "minimal", "low, medium, high"),
        ("gemini-3.1-pro-preview", "minimal", "low, medium, high"),
        ("gemini-3.8-flash", "xhigh", "low, medium, high"),
    ],
)
def test_a_level_the_model_does_not_take_is_refused_naming_what_it_takes(fake, model_id, level, accepted):
    with pytest.raises(
        ModelSpecError, match=f"--thinking {level} is not accepted by {model_id}; it accepts {accepted}"
    ):
        model(model_id, thinking=level)
    assert fake.requests == []


def test_a_level_the_model_takes_is_sent_and_the_api_accepts_it(fake):
    fake.add(reply(text("ok")), reply(text("ok")))
    ask(model("gemini-3.6-flash", thinking="minimal"), first_turn())
    ask(model("gemini-3.8-flash", thinking="medium"), first_turn())
    levels = [r.api["generationConfig"]["thinkingConfig"]["thinkingLevel"] for r in fake.requests]
    assert levels == ["MINIMAL", "MEDIUM"] and fake.refused == []


def test_the_fake_api_refuses_a_level_the_model_does_not_take(fake):
    """What the check before the call prevents, shown on the fake: the API's own 400."""
    m = model("gemini-3.8-flash")
    m.thinking = "minimal"  # past the adapter's check
    with pytest.raises(
        ModelError, match="400 INVALID_ARGUMENT: Thinking level MINIMAL is not supported for this model"
    ):
        ask(m, first_turn())


@pytest.mark.parametrize(
    "model_id, fragment",
    [
        ("gemini-2.5-pro", "takes a thinking budget instead"),
        ("gemini-flash-latest", "is an alias"),
        ("gemma-3-27b-it", "not in the adapter's model table"),
        ("gemini-4-flash", "not in the adapter's model table"),
    ],
)
def test_thinking_on_a_model_whose_levels_are_unknown_is_refused(fake, model_id, fragment):
    with pytest.raises(ModelSpecError, match=fragment):
        model(model_id, thinking="low")


# -- what each kind of id is sent ----------------------------------------------------------------


def test_gemini_3_gets_images_inside_function_responses_and_per_part_resolution(fake):
    body = zoom_round(model("gemini-3.8-flash"), fake)
    (fr,) = parts_of(body, "functionResponse")
    assert fr["functionResponse"]["parts"][0]["mediaResolution"] == {"level": "MEDIA_RESOLUTION_HIGH"}
    assert fake.refused == []


@pytest.mark.parametrize(
    "model_id", ["gemini-flash-lite-latest", "gemini-flash-latest", "gemma-3-27b-it", "gemini-2.5-flash"]
)
def test_aliases_gemma_and_2_5_get_no_gemini_3_only_field(fake, model_id):
    """The fake serves gemini-flash-lite-latest with a 2.5 model, as Google did in 2026: a
    Gemini-3-only field would be a 400 there."""
    body = zoom_round(model(model_id), fake)
    assert fake.refused == []
    assert not any("mediaResolution" in p for c in body["contents"] for p in c["parts"])
    (fr,) = parts_of(body, "functionResponse")
    assert "parts" not in fr["functionResponse"]
    last = body["contents"][-1]["parts"]
    assert last[1] == {"text": "[img2, returned by zoom]"} and set(last[2]) == {"inlineData"}


def test_gemma_and_unknown_ids_are_sent_no_thinking_settings_aliases_keep_thought_summaries(fake):
    fake.add(reply(text("ok")), reply(text("ok")), reply(text("ok")))
    for model_id in ("gemma-3-27b-it", "gemini-4-flash", "gemini-flash-latest"):
        ask(model(model_id), first_turn())
    configs = [r.api.get("generationConfig", {}).get("thinkingConfig") for r in fake.requests]
    assert configs == [None, None, {"includeThoughts": True}]


def test_an_alias_is_priced_as_the_model_that_answered(fake):
    fake.add(reply(text("ok"), usage=usage(10_000, 100, cached=4_000)))
    m = model(
        "gemini-flash-lite-latest",
        prices={"gemini-2.5-flash-lite": [{"from": None, "input": 0.10, "cached_input": 0.01, "output": 0.40}]},
    )
    got = ask(m, first_turn())
    assert got.meta["model_version"] == "gemini-2.5-flash-lite"
    # 6000 * 0.10 + 4000 * 0.01 + 100 * 0.40 = 680 per million
    assert m.cost_usd(got.usage) == pytest.approx(0.00068)


def test_a_users_model_file_adds_a_model_like_a_known_one(fake, tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "gemini-models.json").write_text(
        json.dumps({"gemini-3.9-flash": {"like": "gemini-3.8-flash", "thinking_levels": ["low", "high"]}})
    )
    info = model_info("gemini-3.9-flash")
    assert info.generation == 3 and info.thinking_levels == ("low", "high") and info.prices == ()
    with pytest.raises(ModelSpecError, match="it accepts low, high"):
        model("gemini-3.9-flash", thinking="medium")
    (tmp_path / "config" / "gemini-models.json").write_text(json.dumps({"gemini-3.9-flash": {"like": "gpt-9"}}))
    with pytest.raises(ModelSpecError, match="must look like"):
        model_info("gemini-3.9-flash")


def test_every_model_in_the_table_has_a_cached_rate_in_every_price_period():
    priced = {m: info for m, info in MODELS.items() if not info.alias}
    assert priced and all(info.prices for info in priced.values())
    for model_id, info in priced.items():
        for period in info.prices:
            assert {"input", "cached_input", "output"} <= period.keys(), model_id
            assert period["cached_input"] < period["input"], model_id


def test_an_implicit_cache_hit_on_gemini_3_5_flash_has_a_cost(fake):
    fake.add(reply(text("ok"), usage=usage(12_000, 200, cached=8_000)))
    m = model("gemini-3.5-flash")
    got = ask(m, first_turn())
    # 4000 * 1.50 + 8000 * 0.15 + 200 * 9.00 = 9000 per million
    assert m.cost_usd(got.usage) == pytest.approx(0.009)
    assert Usage(input_tokens=12_000, cached_tokens=8_000, output_tokens=200) == got.usage
