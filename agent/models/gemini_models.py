"""What each Gemini model accepts and what it costs: one table, looked up by exact id.

The adapter sends a field only to models this table says accept it. An id that is not in the
table (a model released after this was written, Gemma on the Gemini API) gets none of the
Gemini-3-only fields and no thinking settings, because a field a model does not accept is a
400 on every request. The `-latest` aliases are in the table as aliases: Google moves them
from model to model (in 2026 `gemini-flash-lite-latest` still pointed at a 2.5 model while
`gemini-flash-latest` pointed at a 3.x one), so they are treated like unknown ids except that
thought summaries, which every model they have pointed at accepts, stay on.

A user can add a model without waiting for a release, in `gemini-models.json` in the config
folder ($AGENT_CONFIG_DIR, else ~/.config/lookclosely):
    {"gemini-3.9-flash": {"like": "gemini-3.8-flash"}}
    {"gemini-3.9-flash": {"like": "gemini-3.8-flash", "thinking_levels": ["low", "high"]}}
Prices for such a model go in prices.json (agent/pricing.py).

Sources, checked on 2026-12-02 through stored copies of the pages (no live fetch):
- thinking levels: Google's thinking documentation and model guides (Gemini API and Vertex
  AI): 3.8 Flash and 3.7 Flash take low/medium/high (no `minimal`), 3.6 Flash, 3.5
  Flash, 3.5 Flash-Lite, 3.1 Flash-Lite and 3 Flash Preview take minimal/low/medium/high,
  3.1 Pro Preview low/medium/high. Gemini 2.5 takes a token budget, not a level. The SDK's
  ThinkingLevel enum also has XHIGH; no model in this table lists it.
- built-in tools with function calling: Gemini 3 only, with
  tool_config.include_server_side_tool_invocations (Google's "Combine built-in tools and
  function calling" guide); Gemini 2.5 answers 400 "Tool call context circulation is not
  enabled for models/gemini-2.5-flash".
- per-part media resolution and images inside function responses: Gemini 3 only (Google's
  media resolution and function calling guides; 2.x answers 400 "Per part media resolution
  is not supported for this Model").
- prices (USD per 1M tokens, paid tier, standard requests, prompts up to 200k tokens):
  https://ai.google.dev/gemini-api/docs/pricing through dated copies of that page: 2026-08-18
  (every model below but 3.8 Flash), 2026-09-04 and 2026-10-07 (3.8 Flash, whose every
  rate doubles on 2027-01-01, as the page states in each cell).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agent.models.base import ModelSpecError

THINKING_LEVELS = ("minimal", "low", "medium", "high", "xhigh")  # every level google-genai knows


@dataclass(frozen=True)
class GeminiModelInfo:
    generation: int | None = None  # 3 for Gemini 3.x, 2 for 2.5; None: an alias or an unknown id
    alias: bool = False
    thoughts: bool = False  # accepts ThinkingConfig.include_thoughts (thought summaries)
    thinking_levels: tuple[str, ...] = ()  # ThinkingConfig.thinking_level values it accepts
    multimodal_function_responses: bool = False  # images inside FunctionResponse.parts
    per_part_media_resolution: bool = False
    builtin_tools_with_functions: bool = False  # with tool_config.include_server_side_tool_invocations
    prices: tuple[dict[str, Any], ...] = ()  # periods, as in agent/pricing.py


_GEMINI_3 = dict(
    generation=3,
    thoughts=True,
    multimodal_function_responses=True,
    per_part_media_resolution=True,
    builtin_tools_with_functions=True,
)
_GEMINI_25 = dict(generation=2, thoughts=True)
_ALIAS = dict(alias=True, thoughts=True)
_LOW_TO_HIGH = ("low", "medium", "high")
_MINIMAL_TO_HIGH = ("minimal", "low", "medium", "high")


def _price(input: float, cached_input: float, output: float, since: str | None = None) -> dict[str, Any]:
    return {"from": since, "input": input, "cached_input": cached_input, "output": output}


# Introductory price through 2026-12-31, double from 2027-01-01 (the 3.6/3.7/3.8 Flash models).
_FLASH_INTRO = (_price(0.75, 0.075, 3.75), _price(1.50, 0.15, 7.50, since="2027-01-01"))

MODELS: dict[str, GeminiModelInfo] = {
    "gemini-3.8-flash": GeminiModelInfo(**_GEMINI_3, thinking_levels=_LOW_TO_HIGH, prices=_FLASH_INTRO),
    "gemini-3.7-flash": GeminiModelInfo(**_GEMINI_3, thinking_levels=_LOW_TO_HIGH, prices=_FLASH_INTRO),
    "gemini-3.6-flash": GeminiModelInfo(**_GEMINI_3, thinking_levels=_MINIMAL_TO_HIGH, prices=_FLASH_INTRO),
    # deprecated: Google forwards requests for it to 3.6 Flash (same level set)
    "gemini-3.5-flash": GeminiModelInfo(
        **_GEMINI_3, thinking_levels=_MINIMAL_TO_HIGH, prices=(_price(1.50, 0.15, 9.00),)
    ),
    "gemini-3.5-flash-lite": GeminiModelInfo(
        **_GEMINI_3, thinking_levels=_MINIMAL_TO_HIGH, prices=(_price(0.30, 0.03, 2.50),)
    ),
    "gemini-3.1-flash-lite": GeminiModelInfo(
        **_GEMINI_3, thinking_levels=_MINIMAL_TO_HIGH, prices=(_price(0.25, 0.025, 1.50),)
    ),
    "gemini-3.1-pro-preview": GeminiModelInfo(
        **_GEMINI_3, thinking_levels=_LOW_TO_HIGH, prices=(_price(2.00, 0.20, 12.00),)
    ),
    "gemini-3-flash-preview": GeminiModelInfo(
        **_GEMINI_3, thinking_levels=_MINIMAL_TO_HIGH, prices=(_price(0.50, 0.05, 3.00),)
    ),
    "gemini-2.5-pro": GeminiModelInfo(**_GEMINI_25, prices=(_price(1.25, 0.125, 10.00),)),
    "gemini-2.5-flash": GeminiModelInfo(**_GEMINI_25, prices=(_price(0.30, 0.03, 2.50),)),
    "gemini-2.5-flash-lite": GeminiModelInfo(**_GEMINI_25, prices=(_price(0.10, 0.01, 0.40),)),
    "gemini-flash-latest": GeminiModelInfo(**_ALIAS),
    "gemini-flash-lite-latest": GeminiModelInfo(**_ALIAS),
    "gemini-pro-latest": GeminiModelInfo(**_ALIAS),
}
UNKNOWN = GeminiModelInfo()

_USER_KEYS = {"like", "thinking_levels"}


def model_info(model_id: str, user_file: Path | None = None) -> GeminiModelInfo:
    """The table's entry for `model_id` (a "models/" prefix is ignored), the user's file first."""
    model_id = model_id.removeprefix("models/")
    user = _user_models(user_file)
    if model_id in user:
        return user[model_id]
    return MODELS.get(model_id, UNKNOWN)


def describe_unknown(model_id: str, info: GeminiModelInfo) -> str:
    """Why the adapter cannot promise a model-specific feature for this id, in a clause."""
    if info.alias:
        return f"{model_id} is an alias that Google moves from model to model, so what it accepts can change; name a model, e.g. gemini-3.8-flash"
    return (
        f"{model_id} is not in the adapter's model table (agent/models/gemini_models.py); add it to "
        f'gemini-models.json in the config folder, e.g. {{"{model_id}": {{"like": "gemini-3.8-flash"}}}}'
    )


def _user_models(path: Path | None) -> dict[str, GeminiModelInfo]:
    from agent.pricing import config_dir

    path = Path(path) if path else config_dir() / "gemini-models.json"
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelSpecError(f"model file {path} is not readable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ModelSpecError(f'model file {path} must be a JSON object: {{"model-id": {{"like": "gemini-3.8-flash"}}}}')
    out = {}
    for model_id, entry in data.items():
        if not isinstance(entry, dict) or entry.get("like") not in MODELS or not set(entry) <= _USER_KEYS:
            raise ModelSpecError(
                f'model file {path}: {model_id!r} must look like {{"like": "<a model in the table>"}} '
                f'(optionally with "thinking_levels"); known models: {", ".join(m for m in MODELS if not MODELS[m].alias)}'
            )
        like = MODELS[entry["like"]]
        info = replace(like, prices=())  # prices come from prices.json
        if "thinking_levels" in entry:
            levels = entry["thinking_levels"]
            if not isinstance(levels, list) or not set(levels) <= set(THINKING_LEVELS):
                raise ModelSpecError(
                    f"model file {path}: {model_id!r} thinking_levels must be a list of {', '.join(THINKING_LEVELS)}"
                )
            info = replace(info, thinking_levels=tuple(levels))
        out[model_id] = info
    return out
