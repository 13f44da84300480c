"""Atomic writes (a reader sees the old file or the new one, never half of one), and the one check
of a user's file before it is taken in."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_output(dest: Path) -> Iterator[Path]:
    """A temporary path beside `dest` (same suffix, so writers that go by it pick the right
    format) that is renamed onto `dest` when the block succeeds and removed when it fails.
    The file gets the mode a plain `open()` would give it: mkstemp's 0600 would leave every
    report, image and copied output readable by its owner alone, whatever the umask says."""
    dest = Path(dest)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.stem}.", suffix=dest.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def current_umask() -> int:
    """The process's umask, read without changing it (Linux reports it in /proc/self/status);
    elsewhere it is set and restored at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(dest: Path, data: bytes) -> None:
    with atomic_output(dest) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def atomic_write_text(dest: Path, text: str) -> None:
    atomic_write_bytes(dest, text.encode("utf-8"))


def atomic_copy(src: Path, dest: Path) -> None:
    """Copy the bytes of `src` (following a symlink: the copy holds bytes, not a link)."""
    with atomic_output(dest) as tmp:
        shutil.copyfile(src, tmp)


def file_problem(path: Path, shown: str | None = None) -> str | None:
    """Why `path` cannot be taken as a user's file (missing, not a regular file, unreadable), named
    as `shown`; None when it can. The one check for files the user gives, wherever they come in."""
    shown = shown or str(path)
    if not os.path.exists(path):
        return f"file not found: {shown}"
    if not os.path.isfile(path):
        return f"not a regular file: {shown}"
    if not os.access(path, os.R_OK):
        return f"file is not readable: {shown}"
    return None
