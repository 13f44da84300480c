"""How a run's steps read on a terminal. The live display (`agent run`) and `agent show` print
the same lines, so a past run reads as it did while it ran.

What is shown comes from the model and from tools that ran model-written code: control
characters (terminal escape sequences among them) are replaced before anything is printed.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

from agent.transcript import Part, Text, Thought, ToolCall, ToolResult

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clip(text: str, limit: int) -> str:
    """One line of at most `limit` characters, with no control characters."""
    text = " ".join(_CONTROL.sub("?", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def printable(text: str) -> str:
    """`text` with its lines kept and every other control character replaced: an answer printed
    to a terminal cannot move the cursor, retitle the window or hide what follows."""
    return _CONTROL.sub("?", text.replace("\r\n", "\n"))


def header_line(run_dir: Any, model: str, isolation: str) -> str:
    return f"run {run_dir} · model {clip(model, 200)} · sandbox {clip(isolation, 40)}"


def reply_lines(step: int, parts: Iterable[Part]) -> list[str]:
    """What the model said in one turn: its thinking, its text, the tools it called."""
    lines = []
    for part in parts:
        if isinstance(part, Thought) and part.text:
            lines.append(f"[{step}] thinking: {clip(part.text, 300)}")
        elif isinstance(part, Text) and part.text.strip():
            lines.append(f"[{step}] {clip(part.text, 300)}")
        elif isinstance(part, ToolCall):
            lines.append(f"[{step}] → {clip(part.name, 80)}({clip(json.dumps(part.args, ensure_ascii=False), 300)})")
    return lines


def result_line(step: int, result: ToolResult, seconds: float | None = None) -> str:
    """One tool's result: its first line and the images it made (and how long it took, live)."""
    mark = "✗" if result.is_error else "←"
    ids = f" [{clip(', '.join(result.image_ids), 200)}]" if result.image_ids else ""
    took = f" ({seconds:.2f}s)" if seconds is not None else ""
    return f"[{step}]   {mark} {clip(result.text.splitlines()[0] if result.text else '', 200)}{ids}{took}"


def summary_line(status: str, steps: int, usage: dict, cost_usd: float | None, report: Any) -> str:
    """How the run ended, what it used and cost, and where its report is."""
    cost = f"${cost_usd:.4f}" if cost_usd is not None else "cost unknown"
    u = {k: usage.get(k, 0) for k in ("input_tokens", "cached_tokens", "output_tokens", "thinking_tokens")}
    return (
        f"{clip(status, 40)} after {steps} steps · tokens in {u['input_tokens']} (cached {u['cached_tokens']}) "
        f"out {u['output_tokens']} (thinking {u['thinking_tokens']}) · {cost} · {report}"
    )
