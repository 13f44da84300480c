"""The one interface every model adapter implements, and the types that cross it."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Protocol

from agent.transcript import Message, Part

# (image_id, detail) -> (encoded bytes, mime type). Given by the loop, so adapters never
# touch the image store or the disk.
ImageLoader = Callable[[str, str], tuple[bytes, str]]


@dataclass
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments object


@dataclass
class Usage:
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(**{k: getattr(self, k) + getattr(other, k) for k in asdict(self)})

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class ModelRequest:
    system: str
    messages: list[Message]
    tools: list[ToolSpec]
    load_image: ImageLoader | None = None

    def digest_parts(self) -> dict[str, Any]:
        """Stable digests of the request, so a recorded reply can be matched to it."""
        system = _sha(self.system)
        tools = _sha(json.dumps([asdict(t) for t in self.tools], sort_keys=True))
        messages = [_sha(json.dumps(m.to_dict(), sort_keys=True, ensure_ascii=False)) for m in self.messages]
        whole = _sha(json.dumps([system, tools, messages]))
        return {"digest": whole, "system": system, "tools": tools, "messages": messages}


@dataclass
class ModelReply:
    parts: list[Part]
    usage: Usage = field(default_factory=Usage)
    # "stop", "tool_calls", "max_tokens", "safety", "recitation", "malformed_call", "empty", "other"
    finish_reason: str = "stop"
    meta: dict[str, Any] = field(default_factory=dict)


class Model(Protocol):
    name: str

    def complete(self, request: ModelRequest) -> ModelReply: ...

    def cost_usd(self, usage: Usage) -> float | None:
        """What `usage` costs on this model in US dollars; None when no price is known."""
        ...


class ModelError(Exception):
    """The model or its API failed in a way retries could not fix (exit code 3)."""


class ModelSpecError(ValueError):
    """A model spec string that names no usable model (exit code 2)."""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def max_output_tokens_from_env() -> int | None:
    """AGENT_MAX_OUTPUT_TOKENS: a cap on each reply's output tokens, for every adapter (unset: the server's own)."""
    raw = os.environ.get("AGENT_MAX_OUTPUT_TOKENS", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ModelSpecError(f"AGENT_MAX_OUTPUT_TOKENS={raw!r} must be a whole number of tokens, at least 1")
    return int(raw)
