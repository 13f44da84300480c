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

from sandbox.files import atomic_copy

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
    shutil.copytree(HOME_TEMPLATE, home, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in WORK_DIRS:
        (home / name).mkdir(exist_ok=True)
    copies: list[Path] = []
    taken = {p.name for p in (home / "inputs").iterdir()}
    for src in sources:
        name = _free_name(src.name, taken)
        taken.add(name)
        dest = home / "inputs" / name
        _copy_atomic(src, dest)
        copies.append(dest)
    return copies


def export_outputs(home: Path, dest: Path) -> list[Path]:
    """Copy the run's results (regular files under outputs/) into `dest`, never overwriting a
    file already there (`deck.pptx` → `deck-2.pptx`). Links the model's code planted are skipped."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    outputs = Path(home) / "outputs"
    for folder, _dirs, names in os.walk(outputs):  # os.walk does not descend into linked folders
        for name in sorted(names):
            src = Path(folder) / name
            if src.is_symlink() or not src.is_file():
                continue
            target_dir = dest / src.parent.relative_to(outputs)
            target_dir.mkdir(parents=True, exist_ok=True)
            target = target_dir / _free_name(name, {p.name for p in target_dir.iterdir()})
            atomic_copy(src, target)
            copied.append(target)
    return copied


def skill_index(home: Path) -> list[tuple[str, str]]:
    """(name, one-line purpose) of every guide in home/skills/, sorted by name."""
    index = []
    for guide in sorted(Path(home, "skills").glob("*/skill.md")):
        meta, _ = parse_skill(guide.read_text(encoding="utf-8"))
        index.append((meta.get("name", guide.parent.name), meta.get("description", "")))
    return index


def skill_names(home: Path) -> list[str]:
    return [p.parent.name for p in sorted(Path(home, "skills").glob("*/skill.md"))]


def read_skill(home: Path, name: str) -> str:
    """The full text of skills/<name>/skill.md. Raises KeyError naming the guides that exist."""
    names = skill_names(home)
    if name not in names:
        raise KeyError(f"no skill named {name!r}; available: {', '.join(names) or 'none'}")
    return Path(home, "skills", name, "skill.md").read_text(encoding="utf-8")


def parse_skill(text: str) -> tuple[dict[str, str], str]:
    """Split a guide into its front matter (`key: value` lines between `---` lines) and body."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text
    meta: dict[str, str] = {}
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return meta, "\n".join(lines[i + 1:]).lstrip("\n")
        key, sep, value = line.partition(":")
        if sep:
            meta[key.strip()] = value.strip()
    return {}, text


def _check_readable(src: Path) -> None:
    if not src.exists():
        raise HomeError(f"input file not found: {src}")
    if not src.is_file():
        raise HomeError(f"input is not a regular file: {src}")
    if not os.access(src, os.R_OK):
        raise HomeError(f"input file is not readable: {src}")


def _free_name(name: str, taken: set[str]) -> str:
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