"""Finding and checking the user's input files before a run starts."""

from __future__ import annotations

import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from agent.errors import UsageError
from sandbox.files import atomic_output, file_problem

if TYPE_CHECKING:
    from PIL import Image

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


def collect_inputs(
    task: str,
    files: list[str | os.PathLike],
    cwd: Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[InputFile]:
    """The files a run works on: those named explicitly plus those mentioned in the task that
    exist, checked (and each image decoded, once). Names are looked up in `cwd` (default: the
    current directory).

    A named file (`files`) that does not exist is an error. A mentioned name that does not exist
    is a file the task asks to produce ("save it as fixed.pptx"): `warn` is told, and the run
    goes on without it.
    """
    return open_inputs(input_paths(task, files, cwd, warn))


def input_paths(
    task: str,
    files: list[str | os.PathLike],
    cwd: Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[Path]:
    """The checked paths `collect_inputs` opens, in order, once each, without decoding anything."""
    cwd = Path(cwd or os.getcwd())
    paths: list[Path] = []
    named = list(map(str, files))
    for raw in named:
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
    for raw in mentioned_files(task):
        path = (cwd / Path(raw).expanduser()).resolve()
        if not os.path.exists(path):
            if warn and path not in paths:
                warn(missing_mention_note(raw))
            continue
        problem = file_problem(path, raw)
        if problem:
            raise UsageError(problem)
        if path not in paths:
            paths.append(path)
    return paths


def open_inputs(paths: list[Path]) -> list[InputFile]:
    """Each path as an input, its image decoded and checked."""
    # the image stack is imported here, not at the top: `agent render` uses check_out_dir and needs none of it
    from tools.images import ImageInputError, open_image_checked

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


def warn(message: str) -> None:
    """A warning on stderr, the CLI's way: one line, said before the run starts."""
    print(f"agent: warning: {message}", file=sys.stderr, flush=True)


def check_out_dir(raw: str | os.PathLike, flag: str) -> Path:
    """A folder the command will write into (`--out`, `--runs-dir`), checked before anything
    runs: it is a folder that can be written, or one that can be made. UsageError says why not."""
    path = Path(raw).expanduser()
    existing = path
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if not os.path.isdir(existing):
        if existing == path:
            raise UsageError(f"{flag} {raw}: a file is there; name a folder (it is made if missing)")
        raise UsageError(f"{flag} {raw}: {existing} is a file, so no folder can be made under it")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "folder" if existing == path else f"folder {existing}, where it would be made,"
        raise UsageError(f"{flag} {raw}: the {what} is not writable")
    return path


def missing_mention_note(name: str) -> str:
    return f"{name} is mentioned in the task but does not exist; it is not an input (use --file for an input)"


def input_problem(path: Path, shown: str) -> str | None:
    """What collect_inputs would refuse about one file, checked without decoding an image (for
    jobs validated long before they run): None when it looks usable."""
    from tools.images import ImageInputError, check_image_header

    problem = file_problem(path, shown)
    if problem is None and is_image(path):
        try:
            check_image_header(path, name=shown)
        except ImageInputError as exc:
            problem = str(exc)
    return problem


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


class RootFileError(ValueError):
    """A file asked for by path that may not be taken from the allowed folder."""


MAX_ROOT_FILE_BYTES = 200 << 20


def copy_from_root(root: Path, raw: str, dest: Path, max_bytes: int = MAX_ROOT_FILE_BYTES) -> Path:
    """Copy the user's file `raw` (relative to `root`, or absolute inside it) to the host path
    `dest`; return its real path. This is how a client that names files by path (agent mcp)
    brings one in, so anything outside `root` is refused: a path whose real path, every link
    resolved, lies outside it, and whatever is not a regular file (a FIFO, a device, a folder).

    The file is opened once without reading (O_PATH: opening a device or FIFO has no effect), and
    the checks are made on that descriptor, where the kernel says what was really opened: a link
    swapped in between the check of the name and the open is caught, not followed out."""
    if not isinstance(raw, str) or not raw.strip():
        raise RootFileError("name a file by its path in the allowed folder")
    if "\x00" in raw:
        raise RootFileError(f"path {raw!r} contains a NUL byte")
    root_real = os.path.realpath(root)
    full = os.path.join(root_real, os.path.expanduser(raw))  # an absolute `raw` replaces the root
    outside = RootFileError(f"{raw}: outside the allowed folder {root_real}; only files under it can be added")
    if not _inside(os.path.realpath(full), root_real):
        raise outside
    try:
        handle = os.open(full, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        raise RootFileError(f"file not found: {raw} (paths are relative to {root_real})") from None
    except OSError as exc:
        raise RootFileError(f"{raw}: {exc.strerror or exc}") from None
    try:
        opened = os.readlink(f"/proc/self/fd/{handle}")
        if not _inside(opened, root_real):
            raise outside
        st = os.fstat(handle)
        if stat.S_ISDIR(st.st_mode):
            raise RootFileError(f"{raw} is a folder; name a file in it")
        if not stat.S_ISREG(st.st_mode):
            raise RootFileError(f"{raw} is not a regular file")
        if st.st_size > max_bytes:
            raise RootFileError(f"{raw} is {st.st_size:,} bytes, above the {max_bytes:,}-byte limit")
        try:
            src = os.open(f"/proc/self/fd/{handle}", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise RootFileError(f"{raw}: {exc.strerror or exc}") from None
        with os.fdopen(src, "rb") as fh, atomic_output(Path(dest)) as tmp, open(tmp, "wb") as out:
            copied = 0
            while block := fh.read(1 << 20):
                copied += len(block)
                if copied > max_bytes:
                    raise RootFileError(f"{raw} grew past the {max_bytes:,}-byte limit while being read")
                out.write(block)
    finally:
        os.close(handle)
    return Path(opened)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")
