"""Finding and checking the user's input files before a run starts."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from agent.errors import UsageError
from sandbox.files import file_problem
from tools.images import ImageInputError, check_image_header, open_image_checked

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
DOCUMENT_EXTENSIONS = {
    ".pdf",
    ".docx",
    ".pptx",
    ".xlsx",
    ".odt",
    ".odp",
    ".ods",
    ".doc",
    ".ppt",
    ".xls",
    ".csv",
    ".txt",
}

_MENTION = re.compile(
    r"(?<![\w/.~-])((?:~|\.{1,2})?[\w./~-]*\.(?:%s))(?![\w])"
    % "|".join(sorted(e[1:] for e in IMAGE_EXTENSIONS | DOCUMENT_EXTENSIONS)),
    re.IGNORECASE,
)


def mentioned_files(task: str) -> list[str]:
    """Paths the task text mentions ("read the gauge in img.jpg" → ["img.jpg"]), in order, once each."""
    seen: list[str] = []
    for match in _MENTION.finditer(task):
        name = match.group(1).rstrip(".")
        if name not in seen:
            seen.append(name)
    return seen


@dataclass
class InputFile:
    path: Path
    image: Image.Image | None = None  # decoded once while checking, reused by the image store
    origin: Path | None = None  # where the file came from when `path` is a copy (a Ray worker's)


def collect_inputs(task: str, files: list[str | os.PathLike], cwd: Path | None = None) -> list[InputFile]:
    """The files a run works on: those named explicitly plus those mentioned in the task, checked
    (and each image decoded, once). Names are looked up in `cwd` (default: the current directory).

    A mentioned or named file that does not exist is an error, never a silent omission.
    """
    return open_inputs(input_paths(task, files, cwd))


def input_paths(task: str, files: list[str | os.PathLike], cwd: Path | None = None) -> list[Path]:
    """The checked paths `collect_inputs` opens, in order, once each, without decoding anything."""
    cwd = Path(cwd or os.getcwd())
    paths: list[Path] = []
    for raw in [*map(str, files), *mentioned_files(task)]:
        path = (cwd / Path(raw).expanduser()).resolve()
        problem = file_problem(path, raw)
        if problem:
            raise UsageError(
                f"{problem} (name an existing file in the task or with --file)"
                if problem.startswith("file not found")
                else problem
            )
        if path not in paths:
            paths.append(path)
    return paths


def open_inputs(paths: list[Path]) -> list[InputFile]:
    """Each path as an input, its image decoded and checked."""
    inputs = []
    for path in paths:
        image = None
        if is_image(path):
            try:
                image = open_image_checked(path)
            except ImageInputError as exc:
                raise UsageError(str(exc)) from None
        inputs.append(InputFile(path, image))
    return inputs


def input_problem(path: Path, shown: str) -> str | None:
    """What collect_inputs would refuse about one file, checked without decoding an image (for
    jobs validated long before they run): None when it looks usable."""
    problem = file_problem(path, shown)
    if problem is None and is_image(path):
        try:
            check_image_header(path, name=shown)
        except ImageInputError as exc:
            problem = str(exc)
    return problem


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS
