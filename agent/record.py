"""The run directory: task.json, transcript.jsonl, steps.jsonl, images/, home/, answer.json, report.html."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.transcript import Message, dumps_message
from sandbox.files import atomic_write_text


def slugify(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "run"


class RunRecord:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.images_dir = self.path / "images"
        self.home_dir = self.path / "home"
        self.transcript_path = self.path / "transcript.jsonl"

    @classmethod
    def create(cls, runs_dir: Path, task: str, run_dir: Path | None = None) -> "RunRecord":
        if run_dir is None:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            base = Path(runs_dir) / f"{stamp}-{slugify(task)}"
            run_dir, n = base, 1
            while run_dir.exists():
                n += 1
                run_dir = base.with_name(f"{base.name}-{n}")
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=False)
        record = cls(run_dir)
        record.images_dir.mkdir()
        record.transcript_path.touch()
        return record

    def write_json(self, name: str, data: Any) -> None:
        atomic_write_text(self.path / name, json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    @property
    def steps_path(self) -> Path:
        return self.path / "steps.jsonl"

    def append_step(self, entry: dict[str, Any]) -> None:
        """One line of steps.jsonl: a model request or a tool call, with how long it took, its
        tokens and (for a tool) its structured result; the report reads it."""
        with open(self.steps_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False, sort_keys=True, default=str) + "\n")
            fh.flush()

    def append_message(self, message: Message) -> None:
        # Appended and flushed message by message, so a crash loses nothing already said.
        with open(self.transcript_path, "a", encoding="utf-8") as fh:
            fh.write(dumps_message(message) + "\n")
            fh.flush()
