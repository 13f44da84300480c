"""What a run cost, in US dollars, from a price table the user can override.

Prices are per million tokens. Input tokens that the provider served from its cache are
billed at the cached rate; thinking tokens are billed as output. A model that is not in
the table has an unknown cost (None), never a guessed one; so does a run that used cached
tokens on a model whose cached rate is not known.

The built-in prices are those of the Gemini model table (agent/models/gemini_models.py,
which says where they come from); every model there has a cached-input rate, so runs that
hit Gemini's implicit cache still get a cost. A price can change on a date: each model has
a list of periods, the one in force is the last whose `from` date has passed, and each
request is priced by its own date (UTC), so a batch that runs across a price change is
billed as it happened (`CostMeter`). Users override or add models in `prices.json` in the
config folder ($AGENT_CONFIG_DIR, else ~/.config/lookclosely): {"model-id": {"input": 0.5,
"cached_input": 0.05, "output": 3.0}} or a list of such periods with "from": "YYYY-MM-DD".
"""

from __future__ import annotations

import json
import os
import threading
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

from agent.models.base import ModelSpecError, Usage
from agent.models.gemini_models import MODELS

PRICES_SOURCE = "https://ai.google.dev/gemini-api/docs/pricing"
PRICES_CHECKED = "2026-12-02"

# USD per 1M tokens, from the Gemini model table.
BUILTIN_PRICES: dict[str, list[dict[str, Any]]] = {
    model: [dict(p) for p in info.prices] for model, info in MODELS.items() if info.prices
}

_RATE_KEYS = ("input", "cached_input", "output")


class PriceTableError(ModelSpecError):
    """The user's price file cannot be used (exit code 2)."""


def config_dir() -> Path:
    return Path(os.environ.get("AGENT_CONFIG_DIR") or Path.home() / ".config" / "lookclosely")


def load_prices(path: Path | None = None) -> dict[str, list[dict[str, Any]]]:
    """The built-in table with the user's file laid over it (a model in the file replaces ours)."""
    table = {k: list(v) for k, v in BUILTIN_PRICES.items()}
    path = Path(path) if path else config_dir() / "prices.json"
    if not path.exists():
        return table
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PriceTableError(f"price file {path} is not readable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PriceTableError(f"price file {path} must be a JSON object of model id -> prices")
    for model, entry in data.items():
        periods = entry if isinstance(entry, list) else [entry]
        table[_normalise(model)] = [_checked_period(path, model, p) for p in periods]
    return table


def price_for(
    model_id: str, prices: dict[str, list[dict[str, Any]]], today: date | None = None
) -> dict[str, Any] | None:
    periods = prices.get(_normalise(model_id))
    if not periods:
        return None
    today = today or utc_today()
    current = None
    for period in sorted(periods, key=lambda p: p.get("from") or ""):
        if not period.get("from") or date.fromisoformat(period["from"]) <= today:
            current = period
    return current


def cost_usd(
    model_id: str, usage: Usage, prices: dict[str, list[dict[str, Any]]], today: date | None = None
) -> float | None:
    rate = price_for(model_id, prices, today)
    if rate is None:
        return None
    cached = min(usage.cached_tokens, usage.input_tokens)
    if cached and rate.get("cached_input") is None:
        return None
    total = (
        (usage.input_tokens - cached) * rate["input"]
        + cached * rate.get("cached_input", 0.0)
        + (usage.output_tokens + usage.thinking_tokens) * rate["output"]
    )
    return round(total / 1_000_000, 6)


def utc_today() -> date:
    return datetime.now(timezone.utc).date()


class CostMeter:
    """What a model adapter has served, each request priced at the rate in force on its own date.

    `record` is called once per reply. `cost(usage)` of exactly the usage served (what the loop
    asks at the end of a run) sums the requests at their own dates; any other usage (a price
    probe) is priced at today's rate."""

    def __init__(self, prices: dict[str, list[dict[str, Any]]], today: Callable[[], date] = utc_today):
        self.prices = prices
        self.today = today
        self._served: list[tuple[date, str, Usage]] = []
        self._lock = threading.Lock()

    def record(self, model_id: str, usage: Usage) -> None:
        with self._lock:
            self._served.append((self.today(), model_id, usage))

    def cost(self, model_id: str, usage: Usage) -> float | None:
        with self._lock:
            served = list(self._served)
        if served and sum((u for _, _, u in served), Usage()) == usage:
            costs = [cost_usd(m, u, self.prices, day) for day, m, u in served]
            return None if None in costs else round(sum(costs), 6)
        return cost_usd(model_id, usage, self.prices, self.today())


def _normalise(model_id: str) -> str:
    return model_id.removeprefix("models/")


def _checked_period(path: Path, model: str, period: Any) -> dict[str, Any]:
    if not isinstance(period, dict) or not {"input", "output"} <= period.keys():
        raise PriceTableError(f'price file {path}: {model!r} needs at least "input" and "output" (USD per 1M tokens)')
    for key in _RATE_KEYS:
        if key in period and (not isinstance(period[key], (int, float)) or period[key] < 0):
            raise PriceTableError(f"price file {path}: {model!r} {key} must be a non-negative number")
    if period.get("from"):
        try:
            date.fromisoformat(period["from"])
        except (TypeError, ValueError):
            raise PriceTableError(f'price file {path}: {model!r} "from" must be a date like 2027-01-01') from None
    return {"from": period.get("from"), **{k: float(period[k]) for k in _RATE_KEYS if k in period}}
