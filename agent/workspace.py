"""What a run works in: its record directory, the sandboxed home holding copies of the user's
files, the image store, and the context every tool call gets. It writes the run's files
(task.json, the transcript, answer.json, report.html). `agent run` and `agent call` both start
here, so a tool behaves the same under a model and from the shell. The isolation level is
decided by the caller (or here, once, when it gave none): tools read it from the context."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agent.files import InputFile
from agent.record import RunRecord
from agent.report import write_report
from agent.transcript import Image, Message, Text
from sandbox.home import create_home
from sandbox.jail import choose_isolation, weakness_note
from tools.images import ImageRecord, ImageStore
from tools.registry import ToolContext, ToolSettings


@dataclass
class Workspace:
    record: RunRecord
    ctx: ToolContext
    inputs: list[InputFile]
    copies: list[Path]  # each input's copy in home/inputs/, in order

    @classmethod
    def create(
        cls,
        runs_dir: Path,
        task: str,
        inputs: list[InputFile],
        settings: ToolSettings | None = None,
        run_dir: Path | None = None,
    ) -> "Workspace":
        settings = settings or ToolSettings()
        if settings.isolation is None:
            settings = settings.model_copy(update={"isolation": choose_isolation(None)})
        record = RunRecord.create(Path(runs_dir), task, Path(run_dir) if run_dir else None)
        copies = create_home(record.home_dir, [i.path for i in inputs])
        ctx = ToolContext(images=ImageStore(record.images_dir), home=record.home_dir, settings=settings)
        return cls(record, ctx, list(inputs), copies)

    @property
    def images(self) -> ImageStore:
        return self.ctx.images

    @property
    def home(self) -> Path:
        return self.record.home_dir

    @property
    def isolation(self) -> str:
        return self.ctx.settings.isolation

    def add_input_images(self, only: set[Path] | None = None) -> list[tuple[InputFile, Path, ImageRecord | None]]:
        """Register the image inputs in the store (img1, img2, … in input order); each input with
        its copy and its image record (None for documents, and for images not in `only`)."""
        out = []
        for original, copy in zip(self.inputs, self.copies):
            rec = None
            if original.image is not None and (only is None or original.path in only):
                # linked, not copied: the copy was just made by the host and the jail sees inputs/ read-only
                rec = self.images.add_input(
                    copy, label=copy.relative_to(self.home).as_posix(), image=original.image, link=True
                )
            out.append((original, copy, rec))
        return out

    def first_message(self, task: str) -> Message:
        """The task, then each input: an image by its id and size, a document by its name."""
        parts: list = [Text(task)]
        for original, copy, rec in self.add_input_images():
            rel = copy.relative_to(self.home).as_posix()
            if rec is not None:
                parts += [Text(f"[{rec.id}: {rec.width}x{rec.height} px, the file {rel}]"), Image(rec.id)]
            else:
                kind = original.path.suffix.lstrip(".").upper() or "no extension"
                parts.append(Text(f"[file {rel} ({kind}, {original.path.stat().st_size:,} bytes)]"))
        return Message("user", parts)

    def write_task(self, **fields: Any) -> None:
        self.record.write_json(
            "task.json",
            {
                "started_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),  # unless a caller says
                **fields,
                "files": [str(i.origin or i.path) for i in self.inputs],
                "inputs": [
                    copy.relative_to(self.home).as_posix() for copy in self.copies
                ],  # what `agent replay` reuses
                "isolation": self.isolation,
            },
        )

    def finish(self, outcome: dict[str, Any]) -> None:
        """answer.json (the outcome, the isolation in force, every image) and then report.html."""
        self.record.write_json(
            "answer.json",
            {
                **outcome,
                "isolation": self.isolation,
                "isolation_note": weakness_note(self.isolation),
                "images": {i: r.describe() for i, r in self.images.records.items()},
            },
        )
        write_report(self.record.path)
