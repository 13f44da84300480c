"""Path confinement: every path a tool takes is resolved inside the home, or refused.

A model names files relative to its home (`inputs/a.png`, `outputs/report.docx`). Anything that
would reach outside it is refused with an error naming the path: `..` that climbs out, absolute
paths, symlinks whose target lies outside, and NUL bytes (which the OS would silently truncate at).
"""
from __future__ import annotations

import os
from pathlib import Path


class PathOutsideHome(ValueError):
    """A tool path that does not stay inside the home directory."""


def resolve_in_home(home: Path, user_path: str) -> Path:
    """The real path of `user_path` (relative to `home`), guaranteed to lie inside `home`.

    Symlinks are followed as far as they exist, so a link planted in the home that points out is
    refused, while one that stays inside is allowed. The path need not exist yet (outputs).
    """
    shown = repr(user_path)
    if not isinstance(user_path, str):
        raise PathOutsideHome(f"path {shown} must be a string relative to the home")
    if "\x00" in user_path:
        raise PathOutsideHome(f"path {shown} contains a NUL byte")
    if not user_path.strip():
        raise PathOutsideHome("empty path: name a file relative to the home, e.g. outputs/result.png")
    if os.path.isabs(user_path) or user_path.startswith("~"):
        raise PathOutsideHome(f"path {shown} is absolute; use a path relative to the home, e.g. outputs/result.png")
    root = Path(home).resolve()
    resolved = (root / user_path).resolve()
    if resolved != root and not resolved.is_relative_to(root):
        why = "climbs out with '..'" if ".." in Path(user_path).parts else "leads outside through a symlink"
        raise PathOutsideHome(f"path {shown} {why} of the home; only files inside the home can be used")
    return resolved


def relative_to_home(home: Path, path: Path) -> str:
    """How a tool names a path back to the model: relative to the home, with forward slashes."""
    return Path(path).resolve().relative_to(Path(home).resolve()).as_posix()
