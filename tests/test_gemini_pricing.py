"""Cost from the price table: dated prices, the user's overrides, and unknown means unknown."""

from __future__ import annotations

import json
from datetime import date

import pytest

from agent.models.base import Usage
from agent.pricing import BUILTIN_PRICES, CostMeter, PriceTableError, cost_usd, load_prices

USAGE = Usage(input_tokens=10_000, cached_tokens=4_000, output_tokens=500, thinking_tokens=1_500)


def test_cached_input_and_thinking_are_priced_at_their_own_rates():
    prices = {"m": [{"from": None, "input": 2.0, "cached_input": 0.5, "output": 10.0}]}
    # 6000 fresh * 2 + 4000 cached * 0.5 + (500 + 1500) * 10 = 34000 per million
    assert cost_usd("m", USAGE, prices) == pytest.approx(0.034)
    assert cost_usd("models/m", USAGE, prices) == pytest.approx(0.034)


def test_a_price_change_on_a_date_applies_from_that_date():
    prices = {"m": [{"from": None, "input": 1.0, "output": 1.0}, {"from": "2027-01-01", "input": 2.0, "output": 2.0}]}
    usage = Usage(input_tokens=1_000_000)
    assert cost_usd("m", usage, prices, today=date(2026, 12, 31)) == 1.0
    assert cost_usd("m", usage, prices, today=date(2027, 1, 1)) == 2.0


def test_unknown_model_or_unknown_cached_rate_is_unknown_not_guessed():
    assert cost_usd("gemini-99-ultra", USAGE, BUILTIN_PRICES) is None
    no_cached_rate = {"m": [{"from": None, "input": 1.0, "output": 1.0}]}
    assert cost_usd("m", USAGE, no_cached_rate) is None
    assert cost_usd("m", Usage(input_tokens=100, output_tokens=10), no_cached_rate) == pytest.approx(0.00011)


def test_the_users_file_overrides_and_adds_models(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENT_CONFIG_DIR", str(tmp_path))
    (tmp_path / "prices.json").write_text(
        json.dumps({"gemini-3.8-flash": {"input": 9, "output": 9}, "my-tuned-model": {"input": 1, "output": 2}})
    )
    table = load_prices()
    assert table["gemini-3.8-flash"] == [{"from": None, "input": 9.0, "output": 9.0}]
    assert table["my-tuned-model"][0]["output"] == 2.0
    assert table["gemini-2.5-flash"] == BUILTIN_PRICES["gemini-2.5-flash"]


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("{not json", "not readable JSON"),
        ('{"m": {"input": 1}}', 'needs at least "input" and "output"'),
        ('{"m": {"input": -1, "output": 1}}', "non-negative"),
    ],
)
def test_a_broken_price_file_is_a_clear_error(tmp_path, content, fragment):
    path = tmp_path / "prices.json"
    path.write_text(content)
    with pytest.raises(PriceTableError, match=fragment):
        load_prices(path)


def test_each_request_is_priced_by_its_own_date_across_a_price_change():
    """gemini-3.8-flash doubles on 2027-01-01: a run that crosses midnight pays both rates."""
    days = iter([date(2026, 12, 31), date(2027, 1, 1)])
    meter = CostMeter(BUILTIN_PRICES, today=lambda: next(days))
    first = Usage(input_tokens=1_000_000)
    second = Usage(input_tokens=1_000_000, cached_tokens=1_000_000)
    meter.record("gemini-3.8-flash", first)
    meter.record("gemini-3.8-flash", second)
    # 1M at $0.75 on the last intro day, then 1M cached at $0.15 on the first day of the new price
    assert meter.cost("gemini-3.8-flash", first + second) == pytest.approx(0.90)


def test_a_usage_the_meter_did_not_serve_is_priced_at_todays_rate():
    meter = CostMeter(BUILTIN_PRICES, today=lambda: date(2027, 3, 1))
    assert meter.cost("gemini-3.8-flash", Usage(input_tokens=1_000_000)) == pytest.approx(1.50)
    assert CostMeter(BUILTIN_PRICES, today=lambda: date(2026, 12, 2)).cost(
        "gemini-3.8-flash", Usage(input_tokens=1_000_000)
    ) == pytest.approx(0.75)
