"""Provider-neutral transcript: messages made of parts, serialisable to JSON lines.

Adapters convert these to and from their wire format. Anything only one provider
understands (Gemini's thought signatures on function-call parts, say) lives in a
part's `meta` map and must be sent back unchanged.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Union

Role = Literal["user", "model", "tool"]


@dataclass
class Text:
    text: str
    meta: dict[str, Any] = field(default_factory=dict)
    type: Literal["text"] = "text"


@dataclass
class Image:
    """An image the model sees, by id. `detail` is a hint for the adapter ("low" or "high")."""

    image_id: str
    detail: str = "high"
    meta: dict[str, Any] = field(default_factory=dict)
    type: Literal["image"] = "image"


@dataclass
class ToolCall:
    id: str
    name: str
    args: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    type: Literal["tool_call"] = "tool_call"


@dataclass
class ToolResult:
    call_id: str
    name: str
    text: str = ""
    image_ids: list[str] = field(default_factory=list)
    is_error: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    type: Literal["tool_result"] = "tool_result"


@dataclass
class Thought:
    text: str = ""
    signature: str | None = None  # opaque, provider-issued; echoed back byte for byte
    meta: dict[str, Any] = field(default_factory=dict)
    type: Literal["thought"] = "thought"


Part = Union[Text, Image, ToolCall, ToolResult, Thought]
_PART_TYPES: dict[str, type] = {
    "text": Text,
    "image": Image,
    "tool_call": ToolCall,
    "tool_result": ToolResult,
    "thought": Thought,
}


@dataclass
class Message:
    role: Role
    parts: list[Part]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "parts": [part_to_dict(p) for p in self.parts], "meta": self.meta}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Message":
        return cls(role=data["role"], parts=[part_from_dict(p) for p in data["parts"]], meta=data.get("meta", {}))


def part_to_dict(part: Part) -> dict[str, Any]:
    data = asdict(part)
    if not data.get("meta"):
        data.pop("meta", None)
    return data


def part_from_dict(data: dict[str, Any]) -> Part:
    kind = data.get("type")
    if kind not in _PART_TYPES:
        raise ValueError(f"unknown part type {kind!r}")
    fields = {k: v for k, v in data.items() if k != "type"}
    return _PART_TYPES[kind](**fields)


def dumps_message(message: Message) -> str:
    return json.dumps(message.to_dict(), ensure_ascii=False, sort_keys=True)


def load_transcript(path) -> list[Message]:
    with open(path, encoding="utf-8") as fh:
        return [Message.from_dict(json.loads(line)) for line in fh if line.strip()]
