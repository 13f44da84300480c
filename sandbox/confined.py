"""Host-side access to a directory that jailed code can write to, without following its links.

The home (and a document worker's scratch folder) is written by code we do not trust. A path
the host builds there, `outputs/report.docx` or `tmp/renders/x`, may have been replaced by a
symbolic link to `/etc` or by a FIFO between two tool calls. So every open, create, rename and
walk below starts from the directory's own file descriptor and goes one component at a time
with O_NOFOLLOW: a link anywhere on the way is refused, never followed, and only regular files
are read. The root itself is the host's (it created it), so it is opened by path once per call.

`usage()` counts what the directory holds the way a quota would: apparent bytes (a sparse file
counts at its full size) and inodes (directories and links included). It is what the caps on
the home are checked against, while jailed code runs and after every tool call. It is counted
by GNU find, which walks trees of any depth without following links; the walks here hold one
descriptor per level and stop at MAX_DEPTH (what lies deeper is counted, never listed or copied).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

MAX_DEPTH = 256  # walks list nothing deeper (one descriptor per level); usage() still counts it
COPY_CHUNK = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # O_NONBLOCK: a FIFO never blocks the open


class ConfinedPathError(ValueError):
    """A path that is not a plain relative path to a regular file (or folder) inside the directory."""


class QuotaExceeded(ValueError):
    """A host-side write that would take the directory past its byte or inode cap."""


@dataclass(frozen=True)
class Usage:
    bytes: int  # apparent size of every regular file
    inodes: int  # files, directories, links and anything else

    def over(self, max_bytes: int | None, max_inodes: int | None) -> str | None:
        """Why this usage is past the caps, or None."""
        if max_bytes is not None and self.bytes > max_bytes:
            return f"{self.bytes:,} bytes, above the cap of {max_bytes:,}"
        if max_inodes is not None and self.inodes > max_inodes:
            return f"{self.inodes:,} files and folders, above the cap of {max_inodes:,}"
        return None


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the root, with forward slashes
    stat: os.stat_result  # lstat: a link is described, never followed
    name: str  # the last component
    dir_fd: int  # the open folder holding it; valid only until the walk moves on


def split_relative(rel: str) -> list[str]:
    """The components of a plain relative path; refuses absolute paths, `..`, `~` and NUL bytes."""
    shown = repr(rel)
    if not isinstance(rel, str):
        raise ConfinedPathError(f"path {shown} must be a string relative to the home")
    if "\x00" in rel:
        raise ConfinedPathError(f"path {shown} contains a NUL byte")
    if not rel.strip():
        raise ConfinedPathError("empty path: name a file relative to the home, e.g. outputs/result.png")
    if rel.startswith(("/", "~")):
        raise ConfinedPathError(f"path {shown} is absolute; use a path relative to the home, e.g. outputs/result.png")
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ConfinedPathError(f"path {shown} climbs out with '..'; only files inside the home can be used")
    if not parts:
        raise ConfinedPathError(f"path {shown} names the home itself, not a file in it")
    return parts


class ConfinedDir:
    """A directory whose contents are untrusted. Paths are relative, '/'-separated strings."""

    def __init__(self, root: Path, max_bytes: int | None = None, max_inodes: int | None = None):
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.max_inodes = max_inodes

    # -- opening ------------------------------------------------------------------------------
    @contextmanager
    def _root_fd(self) -> Iterator[int]:
        fd = os.open(self.root, _DIR_FLAGS)
        try:
            yield fd
        finally:
            os.close(fd)

    @contextmanager
    def dir_fd(self, parts: list[str], create: bool = False, shown: str | None = None) -> Iterator[int]:
        """An fd of the folder `parts` (relative to the root), made on the way when `create`."""
        shown = shown or "/".join(parts)
        with self._root_fd() as root:
            fd = os.dup(root)
        try:
            for i, name in enumerate(parts):
                try:
                    nxt = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise ConfinedPathError(f"no folder {'/'.join(parts[: i + 1])!r} in the home") from None
                    try:
                        os.mkdir(name, 0o755, dir_fd=fd)
                    except FileExistsError:
                        pass
                    nxt = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    raise self._refusal(shown, parts[: i + 1], exc) from None
                os.close(fd)
                fd = nxt
            yield fd
        finally:
            os.close(fd)

    def _refusal(self, shown: str, parts: list[str], exc: OSError) -> ConfinedPathError:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            where = "/".join(parts)
            return ConfinedPathError(
                f"path {shown!r}: {where!r} is a symlink or not a folder; tools do not follow links in the home"
            )
        return ConfinedPathError(f"path {shown!r}: {exc.strerror or exc}")

    @contextmanager
    def open_file(self, rel: str) -> Iterator[int]:
        """A read-only fd of the regular file `rel`; refuses links, folders, FIFOs and devices."""
        parts = split_relative(rel)
        with self.dir_fd(parts[:-1], shown=rel) as parent:
            try:
                fd = os.open(parts[-1], _READ_FLAGS, dir_fd=parent)
            except FileNotFoundError:
                raise ConfinedPathError(
                    f"no file {rel!r} in the home; list inputs/ or outputs/ to see what exists"
                ) from None
            except OSError as exc:
                raise self._refusal(rel, parts, exc) from None
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                raise ConfinedPathError(f"{rel!r} is a folder, not a file")
            if not stat.S_ISREG(mode):
                raise ConfinedPathError(f"{rel!r} is not a regular file")
            os.set_blocking(fd, True)
            yield fd
        finally:
            os.close(fd)

    def lstat(self, rel: str) -> os.stat_result | None:
        """The entry's own status (a link is not followed), or None when it does not exist."""
        parts = split_relative(rel)
        try:
            with self.dir_fd(parts[:-1], shown=rel) as parent:
                return os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
        except (ConfinedPathError, FileNotFoundError):
            return None

    def is_file(self, rel: str) -> bool:
        st = self.lstat(rel)
        return st is not None and stat.S_ISREG(st.st_mode)

    # -- reading --------------------------------------------------------------------------------
    def read_bytes(self, rel: str, limit: int) -> bytes:
        with self.open_file(rel) as fd:
            size = os.fstat(fd).st_size
            if size > limit:
                raise ConfinedPathError(f"{rel!r} is {size:,} bytes, above the {limit:,}-byte limit")
            with os.fdopen(os.dup(fd), "rb") as fh:
                data = fh.read(limit + 1)
        if len(data) > limit:
            raise ConfinedPathError(f"{rel!r} grew past the {limit:,}-byte limit while being read")
        return data

    def copy_out(self, rel: str, dest: Path, limit: int | None = None) -> int:
        """Copy the regular file `rel` to `dest` (a path the host owns); returns the bytes copied."""
        copied = 0
        with self.open_file(rel) as fd:
            with os.fdopen(os.dup(fd), "rb") as src, open(dest, "wb") as out:
                while block := src.read(COPY_CHUNK):
                    copied += len(block)
                    if limit is not None and copied > limit:
                        raise ConfinedPathError(f"{rel!r} is larger than the {limit:,}-byte limit")
                    out.write(block)
        return copied

    # -- writing --------------------------------------------------------------------------------
    def write_file(self, rel: str, src: Path, mode: int = 0o644) -> None:
        """Place a copy of the host file `src` at `rel`, atomically: a temporary name in the same
        folder, then a rename that replaces whatever entry `rel` was (a planted link included)
        without following it. Folders on the way are made; a link on the way is refused."""
        size = Path(src).stat().st_size
        self.check_room(size, 1)
        parts = split_relative(rel)
        with self.dir_fd(parts[:-1], create=True, shown=rel) as parent:
            existing = _lstat_at(parent, parts[-1])
            if existing is not None and stat.S_ISDIR(existing.st_mode):
                raise ConfinedPathError(f"{rel!r} is a folder; choose a file name")
            tmp = _create_temp(parent, parts[-1], mode)
            try:
                with (
                    open(src, "rb") as fh_in,
                    os.fdopen(os.open(tmp, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent), "wb") as out,
                ):
                    while block := fh_in.read(COPY_CHUNK):
                        out.write(block)
                    out.flush()
                    os.fsync(out.fileno())
                os.rename(tmp, parts[-1], src_dir_fd=parent, dst_dir_fd=parent)
            except BaseException:
                try:
                    os.unlink(tmp, dir_fd=parent)
                except OSError:
                    pass
                raise

    def write_bytes(self, rel: str, data: bytes, mode: int = 0o644) -> None:
        import tempfile

        with tempfile.NamedTemporaryFile(prefix="confined-") as tmp:
            tmp.write(data)
            tmp.flush()
            self.write_file(rel, Path(tmp.name), mode)

    def check_room(self, new_bytes: int, new_inodes: int) -> None:
        """Refuse a write of `new_bytes` that would take the directory past its caps."""
        if self.max_bytes is None and self.max_inodes is None:
            return
        now = self.usage()
        after = Usage(now.bytes + new_bytes, now.inodes + new_inodes)
        why = after.over(self.max_bytes, self.max_inodes)
        if why:
            raise QuotaExceeded(
                f"writing {new_bytes:,} bytes would leave the home with {why}; delete files in outputs/ or tmp/ first"
            )

    # -- walking --------------------------------------------------------------------------------
    def walk(self, rel: str | None = None) -> Iterator[Entry]:
        """Every entry under `rel` (default: the whole directory), depth first, described by lstat.

        Iterative, one descriptor per level; links are reported, never entered; a folder
        replaced while it is walked is skipped; nothing deeper than MAX_DEPTH is visited.
        Act on an entry through `entry.dir_fd` and `entry.name` (never by path) before moving on."""
        parts = split_relative(rel) if rel else []
        try:
            with self.dir_fd(parts, shown=rel or ".") as top:
                first = os.dup(top)
        except ConfinedPathError:
            return
        stack: list[tuple[int, str, Iterator[os.DirEntry]]] = []
        try:
            stack.append((first, "/".join(parts), iter(list(os.scandir(first)))))
            while stack:
                fd, where, entries = stack[-1]
                entry = next(entries, None)
                if entry is None:
                    os.close(fd)
                    stack.pop()
                    continue
                try:
                    st = os.stat(entry.name, dir_fd=fd, follow_symlinks=False)
                except OSError:
                    continue
                path = f"{where}/{entry.name}" if where else entry.name
                yield Entry(path, st, entry.name, fd)
                if not stat.S_ISDIR(st.st_mode) or len(stack) >= MAX_DEPTH:
                    continue
                try:
                    child = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
                except OSError:
                    continue
                try:
                    listing = list(os.scandir(child))
                except OSError:
                    os.close(child)
                    continue
                stack.append((child, path, iter(listing)))
        finally:
            for fd, _, _ in stack:
                os.close(fd)

    def regular_files(self, rel: str | None = None) -> Iterator[Entry]:
        for entry in self.walk(rel):
            if stat.S_ISREG(entry.stat.st_mode):
                yield entry

    def usage(self) -> Usage:
        """Apparent bytes and inodes of everything under the root, at any depth. Counting
        stops early once a cap is passed (the figures are then a lower bound over the cap)."""
        return tree_usage(self.root, self.max_bytes, self.max_inodes)


def tree_usage(root: Path, max_bytes: int | None = None, max_inodes: int | None = None) -> Usage:
    """What `root` holds, counted by `find -P` (no link followed, any depth)."""
    find = shutil.which("find")
    if find is None:
        return _walk_usage(root)
    proc = subprocess.Popen(
        [find, "-P", str(root), "-mindepth", "1", "-printf", "%y %s\n"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    total = inodes = 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            inodes += 1
            if line.startswith(b"f "):
                total += int(line[2:])
            if (max_bytes is not None and total > max_bytes) or (max_inodes is not None and inodes > max_inodes):
                break
    finally:
        proc.kill()
        proc.wait()
    return Usage(total, inodes)


def _walk_usage(root: Path) -> Usage:
    total = inodes = 0
    for entry in ConfinedDir(root).walk():
        inodes += 1
        if stat.S_ISREG(entry.stat.st_mode):
            total += entry.stat.st_size
    return Usage(total, inodes)


def _lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _create_temp(dir_fd: int, name: str, mode: int) -> str:
    for attempt in range(100):
        tmp = f".{name[:200]}.{os.getpid()}.{attempt}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise ConfinedPathError(f"cannot create a temporary file beside {name!r}")
