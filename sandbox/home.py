"""The run's home directory: skills guides, share/ scripts, the user's files, outputs, scratch.

```
home/
  skills/<name>/skill.md   guides the model reads on demand (front matter: name, description)
  share/                   command-line scripts over the project's own code
  inputs/                  copies of the user's files; the originals are never written
  outputs/                 what the run produces
  tmp/                     scratch
```
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Sequence

from sandbox.confined import ConfinedDir, ConfinedPathError
from sandbox.files import atomic_copy, atomic_output, file_problem

HOME_TEMPLATE = Path(__file__).parent / "home_template"
WORK_DIRS = ("inputs", "outputs", "tmp")


class HomeError(ValueError):
    """A user's file that cannot be copied into the home (missing, unreadable, not a file)."""


def create_home(home: Path, files: Sequence[Path]) -> list[Path]:
    """Lay out `home` from the template and copy `files` into home/inputs/, in order.

    Same-named files do not overwrite each other: the second `a.png` becomes `a-2.png`.
    Returns the copies' paths inside the home. Every file is checked before anything is copied.
    """
    home = Path(home)
    sources = [Path(f) for f in files]
    for src in sources:
        _check_readable(src)
    home.mkdir(parents=True, exist_ok=True)
    shutil.copytree(HOME_TEMPLATE, home, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in WORK_DIRS:
        (home / name).mkdir(exist_ok=True)
        # the jail's user (nobody, when run as root) must reach them whatever the umask is;
        # nothing has run in the fresh home yet, so the path is the host's own
        os.chmod(home / name, 0o755)
    copies: list[Path] = []
    taken = {p.name for p in (home / "inputs").iterdir()}
    for src in sources:
        name = free_name(src.name, taken)
        taken.add(name)
        dest = home / "inputs" / name
        _copy_atomic(src, dest)
        copies.append(dest)
    return copies


def export_outputs(home: Path, dest: Path, max_bytes: int | None = None) -> list[Path]:
    """Copy the run's results (regular files under outputs/) into `dest`, never overwriting a
    file already there (`deck.pptx` → `deck-2.pptx`). Jailed code may have replaced anything in
    the home with a link, a FIFO or a device: only regular files reached without following a
    link are copied, through descriptors (sandbox.confined). Nothing is copied when they come to
    more than `max_bytes` (default: the home's cap): sparse files jailed code left would
    otherwise be written out in full."""
    from sandbox.jail import Limits

    limit = Limits().home_bytes if max_bytes is None else max_bytes
    files = ConfinedDir(home)
    entries = list(files.regular_files("outputs"))
    total = sum(entry.stat.st_size for entry in entries)
    if total > limit:
        raise HomeError(f"outputs/ holds {total:,} bytes, more than the home may hold ({limit:,}); nothing was copied")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for entry in entries:
        relative = Path(entry.path).relative_to("outputs")
        target_dir = dest / relative.parent
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / free_name(relative.name, {p.name for p in target_dir.iterdir()})
        try:
            with atomic_output(target) as tmp:
                files.copy_out(entry.path, tmp)
        except ConfinedPathError:
            continue  # replaced by something else since it was listed
        copied.append(target)
    return copied


MAX_SKILL_BYTES = 1 << 20


def skill_index(home: Path) -> list[tuple[str, str]]:
    """(name, one-line purpose) of every guide in home/skills/, sorted by name."""
    index = []
    for name in skill_names(home):
        meta, _ = parse_skill(read_skill(home, name))
        index.append((meta.get("name", name), meta.get("description", "")))
    return index


def skill_names(home: Path) -> list[str]:
    """The guides in home/skills/: folders holding a regular skill.md, none reached through a link."""
    files = ConfinedDir(home)
    return sorted(
        entry.path.split("/")[1]
        for entry in files.regular_files("skills")
        if entry.path.count("/") == 2 and entry.path.endswith("/skill.md")
    )


def read_skill(home: Path, name: str) -> str:
    """The full text of skills/<name>/skill.md. Raises KeyError naming the guides that exist."""
    names = skill_names(home)
    if name not in names:
        raise KeyError(f"no skill named {name!r}; available: {', '.join(names) or 'none'}")
    try:
        return ConfinedDir(home).read_bytes(f"skills/{name}/skill.md", MAX_SKILL_BYTES).decode("utf-8", "replace")
    except ConfinedPathError as exc:
        raise KeyError(str(exc)) from None


def parse_skill(text: str) -> tuple[dict[str, str], str]:
    """Split a guide into its front matter (`key: value` lines between `---` lines) and body."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text
    meta: dict[str, str] = {}
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return meta, "\n".join(lines[i + 1 :]).lstrip("\n")
        key, sep, value = line.partition(":")
        if sep:
            meta[key.strip()] = value.strip()
    return {}, text


def _check_readable(src: Path) -> None:
    problem = file_problem(src)
    if problem:
        raise HomeError(f"input {problem}")


def free_name(name: str, taken: set[str]) -> str:
    """`name`, or `stem-2.ext`, `stem-3.ext`, … : the first not in `taken`."""
    if name not in taken:
        return name
    stem, suffix = Path(name).stem, Path(name).suffix
    n = 2
    while f"{stem}-{n}{suffix}" in taken:
        n += 1
    return f"{stem}-{n}{suffix}"


def _copy_atomic(src: Path, dest: Path) -> None:
    try:
        atomic_copy(src, dest)  # follows a symlinked original: the copy holds the bytes, not a link
        os.chmod(dest, 0o644)
    except OSError as exc:
        raise HomeError(f"cannot copy input {src}: {exc.strerror or exc}") from None
