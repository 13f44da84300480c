"""Model specs are strings: `gemini:<model-id>`, `openai:<model>[@<base-url>]`,
`ollama:<model>[@<url>]`, `replay:<cassette>`."""

from __future__ import annotations

import os

from agent.models.base import Model, ModelSpecError

DEFAULT_MODEL = "gemini:gemini-3.8-flash"
SCHEMES = "gemini:<model-id>, openai:<model>[@<base-url>], ollama:<model>[@<url>] or replay:<cassette>"


def default_model_spec() -> str:
    return os.environ.get("AGENT_MODEL") or DEFAULT_MODEL


def load_model(spec: str | None = None, **options) -> Model:
    """The model `spec` names; None: $AGENT_MODEL or the default. A spec that names no usable
    model raises ModelSpecError, saying so when the spec came from AGENT_MODEL."""
    if spec is None and os.environ.get("AGENT_MODEL"):
        try:
            return _load(os.environ["AGENT_MODEL"], **options)
        except ModelSpecError as exc:
            raise ModelSpecError(f"AGENT_MODEL={os.environ['AGENT_MODEL']!r}: {exc}") from None
    return _load(spec or DEFAULT_MODEL, **options)


def _load(spec: str, **options) -> Model:
    scheme, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise ModelSpecError(f"model spec {spec!r} must look like {SCHEMES}")
    if scheme == "replay":
        from agent.models.cassette import ReplayModel

        return ReplayModel(rest)
    if scheme == "gemini":
        from agent.models.gemini import GeminiModel

        return GeminiModel(rest, **options)
    if scheme == "openai":
        from agent.models.openai_compat import OpenAICompatibleModel

        return OpenAICompatibleModel(rest, **options)
    if scheme == "ollama":
        from agent.models.ollama import OllamaModel

        return OllamaModel(rest, **options)
    raise ModelSpecError(f"unknown model scheme {scheme!r} in {spec!r}; use {SCHEMES}")
