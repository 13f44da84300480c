"""The tools' specs (name, description, JSON schema) for `agent tools`, without importing every tool.

Building the specs imports every tool module (the image stack, OpenCV, OCR, the document
toolkit) and takes most of a second, while the specs change only when the source does. So
`agent tools` keeps them in the cache folder (AGENT_CACHE_DIR, default ~/.cache/lookclosely)
under a key made from the path, size and modification time of every source file of the
`tools` and `sandbox` packages and the Python and pydantic versions: an edit, an upgrade or a
checkout makes a new key. A cache file that cannot be read is built again, never trusted.
A run never reads this cache: the model's specs are always built from the tools themselves.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

MAX_CACHE_BYTES = 4 << 20


def tool_specs() -> list[dict]:
    """Every tool's spec, as `Toolbox(default_tools()).specs()` gives it."""
    key = _source_key()
    folder = _cache_folder()
    cached = _read(folder / f"{key}.json")
    if cached is not None:
        return cached
    from tools import default_tools
    from tools.registry import Toolbox

    specs = Toolbox(default_tools()).specs()
    _write(folder, key, specs)
    return specs


def _cache_folder() -> Path:
    from tools.documents.cache import cache_root

    return cache_root() / "tool-specs"


def _source_key() -> str:
    import importlib.util

    import sandbox
    import tools

    digest = hashlib.sha256(sys.version.encode())
    roots = [Path(tools.__file__).parent, Path(sandbox.__file__).parent]
    pydantic = importlib.util.find_spec("pydantic")
    files = [Path(pydantic.origin).parent / "version.py"] if pydantic and pydantic.origin else []
    for root in roots:
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            files += [Path(folder) / n for n in sorted(names) if n.endswith(".py")]
    for path in files:
        try:
            st = path.stat()
        except OSError:
            continue
        digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


def _read(path: Path) -> list[dict] | None:
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read(MAX_CACHE_BYTES + 1))
    except (OSError, ValueError, RecursionError):
        return None
    ok = isinstance(data, list) and all(
        isinstance(s, dict)
        and isinstance(s.get("name"), str)
        and isinstance(s.get("description"), str)
        and isinstance(s.get("parameters"), dict)
        for s in data
    )
    return data if ok and data else None


def _write(folder: Path, key: str, specs: list[dict]) -> None:
    """Keep the specs under `key` and drop the entries of older sources; a cache that cannot be
    written is simply not kept."""
    from sandbox.files import atomic_write_text

    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / f"{key}.json", json.dumps(specs))
        for old in folder.glob("*.json"):
            if old.name != f"{key}.json":
                old.unlink(missing_ok=True)
    except OSError:
        pass
