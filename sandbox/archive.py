"""A directory jailed code wrote, sent to another machine as a tar and unpacked there safely.

A run directory holds the sandbox home, whose files model-written code made: links to /etc,
FIFOs, names chosen to climb out. The Ray runner sends each job's run directory from the
worker back to the driver as a tar in Ray's object store (agent/ray_runner.py).

- `pack_tree` reads through `ConfinedDir` (no link followed) and packs folders and regular
  files only: a link, FIFO, socket or device in the home is left out, never resolved.
- `unpack_tree` trusts nothing in the archive, as if a hostile worker had built it: every
  member must be a folder or a regular file with a plain relative name (no absolute path,
  no `..`, no NUL, no name twice); links, hard links, devices and sparse members refuse the
  whole archive; bytes and members are capped while reading, before anything is written.
  Files are created beside nothing the archive names: one component at a time from the
  destination's own descriptor, O_NOFOLLOW and O_EXCL, modes 0644/0755 whatever the archive
  says. The destination is filled under a temporary name and renamed into place at the end,
  so a refused archive leaves nothing behind.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import tarfile
from pathlib import Path

from sandbox.confined import COPY_CHUNK, ConfinedDir, ConfinedPathError, split_relative

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class ArchiveRefused(ValueError):
    """An archive that is not a plain tree of folders and regular files within the caps."""


def pack_tree(root: Path, max_bytes: int, max_files: int) -> bytes:
    """The folders and regular files under `root` as an uncompressed tar (PNGs and PDFs are
    already compressed); raises ArchiveRefused past `max_bytes` of file data or `max_files` entries."""
    buffer = io.BytesIO()
    total = count = 0
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in ConfinedDir(root).walk():
            mode = entry.stat.st_mode
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                continue
            count += 1
            if count > max_files:
                raise ArchiveRefused(f"{root.name} holds more than {max_files:,} files and folders")
            info = tarfile.TarInfo(entry.path)
            info.mtime = int(entry.stat.st_mtime)
            if stat.S_ISDIR(mode):
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
                continue
            try:
                fd = os.open(
                    entry.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=entry.dir_fd
                )
            except OSError:
                continue  # replaced since it was listed: left out like any other non-file
            with os.fdopen(fd, "rb") as fh:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    continue
                data = fh.read(max_bytes - total + 1)
            total += len(data)
            if total > max_bytes:
                raise ArchiveRefused(f"{root.name} holds more than {max_bytes:,} bytes")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def unpack_tree(data: bytes, dest: Path, max_bytes: int, max_files: int) -> None:
    """Unpack the tar `data` into the new folder `dest` (its parent must exist, it must not).
    Raises ArchiveRefused, leaving no `dest`, when the archive is anything but a plain tree."""
    dest = Path(dest)
    partial = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(mode=0o755)
    try:
        _unpack_into(data, partial, max_bytes, max_files)
        os.rename(partial, dest)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _unpack_into(data: bytes, root: Path, max_bytes: int, max_files: int) -> None:
    target = ConfinedDir(root)
    total = count = 0
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:")
    except tarfile.TarError as exc:
        raise ArchiveRefused(f"not a tar archive: {exc}") from None
    with tar:
        while True:
            try:
                member = tar.next()
            except tarfile.TarError as exc:
                raise ArchiveRefused(f"a damaged tar archive: {exc}") from None
            if member is None:
                return
            count += 1
            if count > max_files:
                raise ArchiveRefused(f"more than {max_files:,} members")
            name = member.name
            if not (member.isdir() or member.isreg()) or member.issparse():
                raise ArchiveRefused(f"{name!r} is a {_kind(member)}; only folders and regular files are accepted")
            if hasattr(tarfile, "data_filter"):  # the standard library's own rules (Python ≥ 3.11.4), then ours
                try:
                    tarfile.data_filter(member, str(root))
                except tarfile.FilterError as exc:
                    raise ArchiveRefused(f"{name!r}: {exc}") from None
            try:
                parts = split_relative(name)
            except ConfinedPathError as exc:
                raise ArchiveRefused(str(exc).replace("the home", "the run folder")) from None
            total += member.size if member.isreg() else 0
            if total > max_bytes:
                raise ArchiveRefused(f"more than {max_bytes:,} bytes of files")
            try:
                with target.dir_fd(parts if member.isdir() else parts[:-1], create=True, shown=name) as parent:
                    if member.isreg():
                        _write_member(tar, member, parent, parts[-1])
            except ConfinedPathError as exc:
                raise ArchiveRefused(str(exc)) from None


def _write_member(tar: tarfile.TarFile, member: tarfile.TarInfo, parent_fd: int, name: str) -> None:
    try:
        fd = os.open(name, _CREATE, 0o644, dir_fd=parent_fd)
    except FileExistsError:
        raise ArchiveRefused(f"{member.name!r} appears twice") from None
    except OSError as exc:
        raise ArchiveRefused(f"{member.name!r}: {exc.strerror or exc}") from None
    source = tar.extractfile(member)
    assert source is not None  # a regular member always has a body
    left = member.size
    with os.fdopen(fd, "wb") as out:
        while left > 0:
            try:
                block = source.read(min(COPY_CHUNK, left))
            except tarfile.TarError:
                block = b""
            if not block:
                raise ArchiveRefused(f"{member.name!r} is cut short")
            out.write(block)
            left -= len(block)


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return f"symbolic link to {member.linkname!r}"
    if member.islnk():
        return f"hard link to {member.linkname!r}"
    if member.issparse():
        return "sparse file"
    if member.ischr() or member.isblk():
        return "device"
    if member.isfifo():
        return "FIFO"
    return "special member"
