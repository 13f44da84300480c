"""What a run works in: its record directory, the sandboxed home holding copies of the user's
files, the image store, and the context every tool call gets. `agent run` and `agent call` both
start here, so a tool behaves the same under a model and from the shell."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.files import InputFile
from agent.record import RunRecord
from sandbox.home import create_home
from tools.images import ImageRecord, ImageStore
from tools.registry import ToolContext


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
        isolation: str,
        settings: dict[str, Any] | None = None,
        run_dir: Path | None = None,
    ) -> "Workspace":
        record = RunRecord.create(runs_dir, task, run_dir)
        copies = create_home(record.home_dir, [i.path for i in inputs])
        images = ImageStore(record.images_dir)
        ctx = ToolContext(images=images, home=record.home_dir, settings={"isolation": isolation, **(settings or {})})
        return cls(record, ctx, inputs, copies)

    @property
    def images(self) -> ImageStore:
        return self.ctx.images

    @property
    def home(self) -> Path:
        return self.record.home_dir

    def add_input_images(self, only: set[Path] | None = None) -> list[tuple[InputFile, Path, ImageRecord | None]]:
        """Register the image inputs in the store (img1, img2, … in input order); each input with
        its copy and its image record (None for documents, and for images not in `only`)."""
        out = []
        for original, copy in zip(self.inputs, self.copies):
            rec = None
            if original.image is not None and (only is None or original.path in only):
                rec = self.images.add_input(copy, label=copy.relative_to(self.home).as_posix(), image=original.image)
            out.append((original, copy, rec))
        return out
