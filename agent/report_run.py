"""A finished (or interrupted) run read back from its directory, for the report: the task and
outcome, each step's model reply with its time and tokens, each tool call with its result, time
and structured data, and what the document tools did (pages rendered, checks, edits) in order.

Every value here came from a model or a document, so nothing is trusted: shapes are checked and
anything unexpected is dropped, never raised."""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.transcript import Message, ToolCall, ToolResult, load_transcript

IMAGE_ID = re.compile(r"img[0-9]{1,6}")
IMAGE_FILE = re.compile(r"img[0-9]{1,6}\.(png|jpg|jpeg|webp|gif|bmp|tif|tiff)", re.IGNORECASE)


@dataclass
class ToolUse:
    """One tool call and its result, `position` counting tool results in the order they came."""

    position: int
    step: int
    call: ToolCall | None
    result: ToolResult
    seconds: float | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Turn:
    """What the model request of one step took."""

    seconds: float | None = None
    usage: dict[str, int] = field(default_factory=dict)


@dataclass
class Finding:
    number: int
    rule: str
    severity: str
    message: str
    fix: str
    page: int | None
    box: tuple[int, int, int, int] | None  # 0-1000 of the rendered page


@dataclass
class Check:
    use: ToolUse
    file: str
    findings: list[Finding]
    counts: dict[str, int]


@dataclass
class Page:
    """A rendered page image: which file, which page, at what resolution, when."""

    image_id: str
    file: str
    page: int
    dpi: float
    position: int


@dataclass
class Edit:
    position: int
    source: str
    written: list[str]


@dataclass
class RunView:
    path: Path
    task: dict[str, Any]
    answer: dict[str, Any]
    images: dict[str, dict[str, Any]]
    messages: list[Message]
    turns: dict[int, Turn]
    uses: list[ToolUse]
    checks: list[Check]
    pages: list[Page]
    edits: list[Edit]

    def use_of(self, result: ToolResult) -> ToolUse | None:
        return next((u for u in self.uses if u.result is result), None)

    def check_of(self, use: ToolUse) -> Check | None:
        return next((c for c in self.checks if c.use is use), None)

    def page_for(self, file: str, page: int, position: int) -> Page | None:
        """A rendering of `file`'s page that shows it as it was at `position`: no edit wrote the
        file in between. The nearest one."""
        fit = [
            p
            for p in self.pages
            if p.file == file and p.page == page and not self._edited_between(file, p.position, position)
        ]
        return min(fit, key=lambda p: abs(p.position - position), default=None)

    def last_edit_of(self, file: str) -> int | None:
        return max((e.position for e in self.edits if file in e.written), default=None)

    def last_check_of(self, file: str, after: int = -1, before: int | None = None) -> Check | None:
        fit = [
            c
            for c in self.checks
            if c.file == file and c.use.position > after and (before is None or c.use.position < before)
        ]
        return max(fit, key=lambda c: c.use.position, default=None)

    def _edited_between(self, file: str, a: int, b: int) -> bool:
        lo, hi = min(a, b), max(a, b)
        return any(file in e.written and lo < e.position < hi for e in self.edits)

    def children(self, image_id: str) -> list[str]:
        return [i for i, rec in self.images.items() if rec.get("parent") == image_id]


def load_run(run_dir: Path) -> RunView:
    run_dir = Path(run_dir)
    images = {
        k: v
        for k, v in _load_json(run_dir / "images" / "index.json").items()
        if IMAGE_ID.fullmatch(str(k)) and isinstance(v, dict)
    }
    try:
        messages = load_transcript(run_dir / "transcript.jsonl")
    except (OSError, ValueError, TypeError, KeyError):
        messages = []
    turns, tool_entries = _load_steps(run_dir / "steps.jsonl")
    uses = _tool_uses(messages, tool_entries)
    for n, m in enumerate((m for m in messages if m.role == "model"), 1):
        usage = m.meta.get("usage") if isinstance(m.meta, dict) else None
        turn = turns.setdefault(n, Turn())
        if not turn.usage and isinstance(usage, dict):
            turn.usage = {k: v for k, v in usage.items() if isinstance(v, int)}
    view = RunView(
        run_dir,
        _load_json(run_dir / "task.json"),
        _load_json(run_dir / "answer.json"),
        images,
        messages,
        turns,
        uses,
        [],
        [],
        [],
    )
    _read_documents(view)
    return view


def normal_path(path: Any) -> str | None:
    """A home-relative path as the tools name it ('inputs/deck.pptx'), or None if it is not one."""
    if not isinstance(path, str) or not path or path.startswith("/"):
        return None
    norm = posixpath.normpath(path)
    if norm == "." or norm.startswith(".."):
        return None
    return norm


def _load_steps(path: Path) -> tuple[dict[int, Turn], dict[int, list[dict]]]:
    turns: dict[int, Turn] = {}
    tools: dict[int, list[dict]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return turns, tools
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("step"), int):
            continue
        seconds = entry.get("seconds") if isinstance(entry.get("seconds"), (int, float)) else None
        if entry.get("kind") == "model":
            usage = entry.get("usage") if isinstance(entry.get("usage"), dict) else {}
            turns[entry["step"]] = Turn(seconds, {k: v for k, v in usage.items() if isinstance(v, int)})
        elif entry.get("kind") == "tool":
            tools.setdefault(entry["step"], []).append({**entry, "seconds": seconds})
    return turns, tools


def _tool_uses(messages: list[Message], entries: dict[int, list[dict]]) -> list[ToolUse]:
    """Each tool result with its call (by call id, in order: ids may repeat) and its line in
    steps.jsonl (by call id and name, in order; a call not run has none)."""
    uses: list[ToolUse] = []
    step = 0
    calls: list[ToolCall] = []
    for m in messages:
        if m.role == "model":
            step += 1
            calls = [p for p in m.parts if isinstance(p, ToolCall)]
        for p in m.parts:
            if not isinstance(p, ToolResult):
                continue
            call = next((c for c in calls if c.id == p.call_id and c.name == p.name), None)
            if call is not None:
                calls.remove(call)
            left = entries.get(step, [])
            entry = next((e for e in left if e.get("call_id") == p.call_id and e.get("name") == p.name), None)
            if entry is not None:
                left.remove(entry)
            data = entry.get("data") if entry is not None and isinstance(entry.get("data"), dict) else {}
            uses.append(ToolUse(len(uses), step, call, p, entry["seconds"] if entry else None, data))
    return uses


def _read_documents(view: RunView) -> None:
    for use in view.uses:
        if use.result.is_error:
            continue
        if use.result.name == "render_document":
            for image_id in use.result.image_ids:
                rec = view.images.get(image_id, {})
                params = rec.get("params") if isinstance(rec.get("params"), dict) else {}
                file, page, dpi = normal_path(params.get("file")), params.get("page"), params.get("dpi")
                if rec.get("op") == "render" and file and isinstance(page, int):
                    dpi = dpi if isinstance(dpi, (int, float)) and dpi > 0 else 110
                    view.pages.append(Page(image_id, file, page, dpi, use.position))
        elif use.result.name == "check_document":
            file = normal_path(use.data.get("file")) or normal_path((use.call.args if use.call else {}).get("path"))
            findings = [f for n, raw in enumerate(use.data.get("findings") or [], 1) if (f := _finding(n, raw))]
            counts = use.data.get("counts") if isinstance(use.data.get("counts"), dict) else {}
            if file:
                view.checks.append(Check(use, file, findings, {k: v for k, v in counts.items() if isinstance(v, int)}))
        elif use.result.name.startswith("edit_"):
            written = use.data.get("written")
            written = [written] if isinstance(written, str) else written if isinstance(written, list) else []
            source = normal_path(use.data.get("source"))
            out = [w for w in (normal_path(x) for x in written) if w]
            if source and out:
                view.edits.append(Edit(use.position, source, out))


def _finding(number: int, raw: Any) -> Finding | None:
    if not isinstance(raw, dict):
        return None
    box = raw.get("box")
    coords = None
    if isinstance(box, dict):
        values = [box.get(k) for k in ("x_min", "y_min", "x_max", "y_max")]
        if all(isinstance(v, (int, float)) and 0 <= v <= 1000 for v in values) and values[0] <= values[2]:
            if values[1] <= values[3]:
                coords = tuple(int(v) for v in values)
    page = raw.get("page") if isinstance(raw.get("page"), int) else None
    return Finding(
        number,
        str(raw.get("rule", "?")),
        str(raw.get("severity", "?")),
        str(raw.get("message", "")),
        str(raw.get("fix", "")),
        page,
        coords,
    )


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
