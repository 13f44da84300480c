"""A model whose replies are given in code: a list of replies, or a function of the request.

Used by tests and to produce hand-written cassettes (wrap it in a RecordingModel).
"""

from __future__ import annotations

from typing import Callable, Iterable, Union

from agent.models.base import ModelError, ModelReply, ModelRequest, Usage
from agent.transcript import Text, Thought, ToolCall

ReplyOrFunction = Union[ModelReply, Callable[[ModelRequest], ModelReply]]


class ScriptedModel:
    recording_source = "hand-written"  # what a RecordingModel wrapping it writes in the cassette's header

    def __init__(
        self, replies: Iterable[ReplyOrFunction] | Callable[[ModelRequest], ModelReply], name: str = "scripted"
    ):
        self.name = name
        self.turn = 0
        if callable(replies):
            self._function, self._replies = replies, None
        else:
            self._function, self._replies = None, list(replies)

    def complete(self, request: ModelRequest) -> ModelReply:
        self.turn += 1
        if self._function is not None:
            return self._function(request)
        if self.turn > len(self._replies):
            raise ModelError(f"scripted model has {len(self._replies)} replies; turn {self.turn} asked for another")
        reply = self._replies[self.turn - 1]
        return reply(request) if callable(reply) else reply

    def cost_usd(self, usage: Usage) -> float | None:
        return None  # a scripted model costs nothing known; tests that need a price override this


def say(text: str, thought: str | None = None, usage: Usage | None = None) -> ModelReply:
    """A reply with plain text and no tool call: a final answer."""
    parts = ([Thought(thought)] if thought else []) + [Text(text)]
    return ModelReply(parts, usage or Usage(), "stop")


def call(tool_name: str, /, thought: str | None = None, call_id: str | None = None, **args) -> ModelReply:
    """A reply with one tool call, optionally preceded by a thought."""
    parts = ([Thought(thought)] if thought else []) + [ToolCall(call_id or f"call-{tool_name}", tool_name, args)]
    return ModelReply(parts, Usage(), "tool_calls")
