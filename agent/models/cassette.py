"""Cassettes: recorded model replies, replayed with no network while the tools run for real.

A cassette is JSON lines: a header, then one line per model turn with the reply, the usage
and the digests of the request that produced it. Every message of a recorded request is
stored once (keyed by digest), so a replay that drifts can say exactly what changed.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agent.models.base import Model, ModelError, ModelReply, ModelRequest, ModelSpecError, Usage
from agent.transcript import Message, part_from_dict, part_to_dict

FORMAT = "lookclosely-cassette/1"
SOURCES = ("live", "hand-written")


class CassetteMismatch(ModelError):
    """The run asked something the cassette did not record."""


class RecordingModel:
    """Wraps any model and writes every turn to a cassette as it happens."""

    def __init__(self, inner: Model, path: str | Path, source: str | None = None, note: str = ""):
        # A model says where its words come from (a replay: its cassette's source; a scripted
        # model: hand-written); any other model is live.
        source = source or getattr(inner, "recording_source", "live")
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}")
        self.inner = inner
        self.name = inner.name
        self.path = Path(path)
        self.turn = 0
        self._seen: set[str] = set()
        header = {
            "format": FORMAT,
            "model": getattr(inner, "recorded_model", inner.name),
            "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "source": source,
        }
        if note:
            header["note"] = note
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write(header, mode="w")

    def complete(self, request: ModelRequest) -> ModelReply:
        reply = self.inner.complete(request)
        self.turn += 1
        digests = request.digest_parts()
        new = {}
        for digest, message in zip(digests["messages"], request.messages):
            if digest not in self._seen:
                self._seen.add(digest)
                new[digest] = message.to_dict()
        self._write(
            {
                "turn": self.turn,
                "request": {**digests, "new_messages": new},
                "reply": {
                    "parts": [part_to_dict(p) for p in reply.parts],
                    "finish_reason": reply.finish_reason,
                    "meta": reply.meta,
                },
                "usage": reply.usage.to_dict(),
            }
        )
        return reply

    def cost_usd(self, usage: Usage) -> float | None:
        return self.inner.cost_usd(usage)

    def __getattr__(self, attr: str) -> Any:  # pass through the wrapped model's own settings
        return getattr(self.inner, attr)

    def _write(self, record: dict, mode: str = "a") -> None:
        line = redact_secrets(json.dumps(record, ensure_ascii=False, sort_keys=True))
        with open(self.path, mode, encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())


# Environment variables whose values are credentials. Adapters never put a key in a request or a
# reply, but every run records a cassette, so a key that came back anyway (a server echoing it in
# an error text the model then repeats) is blanked before the line is written.
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
MIN_SECRET_LENGTH = 8  # shorter values ("1", "true") would blank ordinary words


def redact_secrets(text: str) -> str:
    for name, value in os.environ.items():
        if _SECRET_NAME.search(name) and len(value) >= MIN_SECRET_LENGTH and value in text:
            text = text.replace(value, f"[{name} redacted]")
    return text


class ReplayModel:
    """Plays a cassette back. Strict: a request that differs from the recorded one stops the run."""

    def __init__(self, path: str | Path, shown: str | None = None):
        self.path = Path(path)
        self.shown = shown or str(path)  # how messages name the cassette
        self.header, self.turns = read_cassette(self.path, self.shown)
        self.recorded_model = str(self.header.get("model", "?"))
        self.recording_source = self.header["source"]
        self.name = f"replay:{self.recorded_model}"
        self.turn = 0
        self._messages: dict[str, dict] = {}
        for t in self.turns:
            self._messages.update(t["request"].get("new_messages", {}))

    def complete(self, request: ModelRequest) -> ModelReply:
        self.turn += 1
        if self.turn > len(self.turns):
            raise CassetteMismatch(
                f"{self.shown}: the run asked for turn {self.turn} but the cassette recorded only {len(self.turns)} turns"
            )
        recorded = self.turns[self.turn - 1]
        now = request.digest_parts()
        if now["digest"] != recorded["request"]["digest"]:
            raise CassetteMismatch(
                f"{self.shown}: turn {self.turn}: {self._first_difference(recorded['request'], now, request)}"
            )
        reply = recorded["reply"]
        return ModelReply(
            parts=[part_from_dict(p) for p in reply["parts"]],
            usage=Usage(**recorded.get("usage", {})),
            finish_reason=reply.get("finish_reason", "stop"),
            meta=reply.get("meta", {}),
        )

    def cost_usd(self, usage: Usage) -> float | None:
        return None  # a replay spends nothing; what the recording cost is not known here

    def _first_difference(self, rec: dict, now: dict, request: ModelRequest) -> str:
        if rec["system"] != now["system"]:
            return "the system prompt differs from the recorded one"
        if rec["tools"] != now["tools"]:
            return "the tool specs differ from the recorded ones (a tool was added, removed or changed)"
        for i, (a, b) in enumerate(zip(rec["messages"], now["messages"])):
            if a != b:
                recorded = self._messages.get(a)
                where = f"message {i + 1} ({request.messages[i].role})"
                if recorded is None:
                    return f"{where} differs from the recording"
                return f"{where}: {_diff_messages(Message.from_dict(recorded), request.messages[i])}"
        return f"the recording has {len(rec['messages'])} messages, the run sent {len(now['messages'])}"


def read_cassette(path: Path, shown: str | None = None) -> tuple[dict, list[dict]]:
    """Parse and validate a cassette file (named `shown` in messages); a file that is not one
    raises ModelSpecError. Every reply is checked here, so a damaged turn is refused before the
    run starts rather than in the middle of it."""
    shown = shown or str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ModelSpecError(f"cassette not found: {shown}") from None
    except IsADirectoryError:
        raise ModelSpecError(f"{shown} is a folder, not a cassette (a .jsonl file that --record writes)") from None
    except OSError as exc:
        raise ModelSpecError(f"cannot read cassette {shown}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelSpecError(
            f"{shown} is not a cassette: it is a binary file{_looks_like(data)}, and a cassette is the JSON-lines "
            "text file that --record writes"
        ) from None
    records = []
    for number, line in enumerate((line for line in text.splitlines() if line.strip()), start=1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ModelSpecError(f"{shown} is not a cassette (line {number} is not JSON: {exc.msg})") from None
        except RecursionError:
            raise ModelSpecError(f"{shown} is not a cassette (line {number} is nested too deeply)") from None
    if not records or not isinstance(records[0], dict) or records[0].get("format") != FORMAT:
        raise ModelSpecError(f"{shown} is not a cassette (its first line must be a header with format {FORMAT!r})")
    header, turns = records[0], records[1:]
    if header.get("source") not in SOURCES:
        raise ModelSpecError(f"{shown}: header must say source 'live' or 'hand-written'")
    for n, t in enumerate(turns, start=1):
        problem = _turn_problem(t)
        if problem:
            raise ModelSpecError(f"{shown}: turn line {n} {problem}")
    return header, turns


def _turn_problem(turn: Any) -> str | None:
    """What makes one recorded turn unusable, or None."""
    if (
        not isinstance(turn, dict)
        or not isinstance(turn.get("reply"), dict)
        or not isinstance(turn.get("request"), dict)
    ):
        return "has no reply/request"
    request, reply = turn["request"], turn["reply"]
    if not isinstance(request.get("digest"), str) or not isinstance(request.get("new_messages", {}), dict):
        return "has no request digest"
    if not isinstance(reply.get("parts"), list) or not isinstance(reply.get("meta", {}), dict):
        return "has a reply without a list of parts"
    try:
        for part in reply["parts"]:
            part_from_dict(part)
        Usage(**turn.get("usage", {}))
    except (TypeError, ValueError, AttributeError) as exc:
        return f"has a reply that cannot be read ({exc})"
    return None


_SIGNATURES = {b"\x89PNG": "PNG image", b"\xff\xd8\xff": "JPEG image", b"%PDF": "PDF", b"PK\x03\x04": "zip archive"}


def _looks_like(data: bytes) -> str:
    for magic, kind in _SIGNATURES.items():
        if data.startswith(magic):
            return f" (a {kind})"
    return ""


def _diff_messages(recorded: Message, now: Message) -> str:
    if recorded.role != now.role:
        return f"role was {recorded.role!r}, now {now.role!r}"
    for j, (p, q) in enumerate(zip(recorded.parts, now.parts)):
        a, b = part_to_dict(p), part_to_dict(q)
        if a != b:
            for key in sorted(set(a) | set(b)):
                if a.get(key) != b.get(key):
                    return f"part {j + 1} ({a.get('type')}) field {key!r}: recorded {_short(a.get(key))}, now {_short(b.get(key))}"
    return f"recorded {len(recorded.parts)} parts, now {len(now.parts)}"


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
