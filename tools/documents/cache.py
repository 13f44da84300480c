"""The render cache on disk: where it is, how big it may grow, and what crosses into and out of a worker.

```
<cache>/renders/<sha256>/document.pdf, pages.json, fonts.json, dpi-N/page-NNN.png, dpi-N/sheet-*.png
<cache>/converted/<sha256>.<docx|pptx|xlsx>     LibreOffice conversions used for reading structure
<cache>/lo-profile-template/                     a LibreOffice profile made once from a file of our own
<cache>/made-by                                  a digest of the code that made the rest
```

The agent's cache (`AGENT_CACHE_DIR`, default ~/.cache/lookclosely) is never shown to a worker.
Before a worker runs, what the agent already has for the worker's documents is copied into the
worker's own cache (`seed`); afterwards, what the worker made for them is copied back
(`harvest`), only under the content digests the agent computed itself, only files with the
names and shapes the cache uses (PNG pages within the pixel limit, small JSON), never through a
link. So a hostile document can poison nothing but its own renders.

The cache is capped (`AGENT_CACHE_MAX`, bytes or with K/M/G, default 2G); past the cap, whole
entries are removed least recently used first.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import struct
import tempfile
import time
from pathlib import Path

from sandbox.confined import ConfinedDir, ConfinedPathError
from sandbox.files import atomic_write_text
from tools.documents.formats import DocumentError

DEFAULT_CACHE_MAX = 2 << 30
MAX_CACHED_FILE = 512 << 20
MAX_JSON = 8 << 20
MAX_PAGE_PNG_PIXELS = 40_000_000
MAX_SHEET_PNG_PIXELS = 60_000_000
PROFILE_TEMPLATE = "lo-profile-template"
MAX_PROFILE_BYTES = 50 << 20
_RENDER_FILES = re.compile(
    r"^(document\.pdf|pages\.json|fonts\.json|dpi-\d{1,3}/(page-\d{3,6}\.png|sheet-[0-9a-f]{16}\.png|warnings\.json))$"
)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def cache_root() -> Path:
    """Where rendered pages, converted documents and the LibreOffice profile template are kept.
    What other code made there is dropped the first time a process asks (see `_drop_if_made_by_other_code`)."""
    raw = os.environ.get("AGENT_CACHE_DIR")
    root = Path(raw) if raw else Path.home() / ".cache" / "lookclosely"
    if str(root) not in _stamped:
        _stamped.add(str(root))
        _drop_if_made_by_other_code(root)
    return root


_stamped: set[str] = set()
MADE_BY = "made-by"


def _code_stamp() -> str:
    """A digest of the code whose output the cache holds (the document modules and the contact
    sheet's layout). Entries are keyed on the document's bytes alone, so without this an upgrade
    (or a branch switch) would serve pages drawn by other code, and strict replays would differ."""
    here = Path(__file__).parent
    h = hashlib.sha256()
    for path in sorted([*here.glob("*.py"), here.parent / "montage.py"]):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def _drop_if_made_by_other_code(root: Path) -> None:
    stamp_path = root / MADE_BY
    stamp = _code_stamp()
    try:
        if stamp_path.read_text(encoding="ascii").strip() == stamp:
            return
    except (OSError, UnicodeDecodeError):
        pass
    try:
        root.mkdir(parents=True, exist_ok=True)
        for name in ("renders", "converted", PROFILE_TEMPLATE):
            target = root / name
            if target.is_symlink() or target.is_file():
                target.unlink()
            elif target.is_dir():
                shutil.rmtree(target, ignore_errors=True)
        atomic_write_text(stamp_path, stamp + "\n")
    except OSError:
        pass  # an unwritable cache is found out, with a clear message, where it is first written


def cache_max() -> int:
    """The cache's cap in bytes, from AGENT_CACHE_MAX."""
    return size_setting("AGENT_CACHE_MAX", DEFAULT_CACHE_MAX)


def size_setting(name: str, default: int) -> int:
    """A size from the environment variable `name`: bytes, or with K/M/G/T ("500M", "2G")."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)i?[bB]?", raw)
    if not match:
        raise DocumentError(f"{name}={raw!r} is not a size; write it like 500M or 2G")
    return int(float(match.group(1)) * 1024 ** ["", "k", "m", "g", "t"].index(match.group(2).lower()))


# -- crossing into and out of a worker ---------------------------------------------------------------


def seed(digest: str, worker_cache: Path, dpi: int | None = None) -> dict[str, tuple[int, int]]:
    """Copy what the agent's cache has for `digest` (the PDF, page data, and the pages at `dpi`)
    into a worker's cache folder, so the worker converts and draws only what is missing.
    Returns what was copied (name → size and mtime), so `harvest` can skip it unchanged."""
    entry = cache_root() / "renders" / digest
    dest = worker_cache / "renders" / digest
    names = ["document.pdf", "pages.json", "fonts.json"]
    if dpi is not None and (entry / f"dpi-{dpi}").is_dir():
        names += [
            f"dpi-{dpi}/{p.name}" for p in (entry / f"dpi-{dpi}").iterdir() if p.name.startswith(("page-", "warnings"))
        ]
    seeded = {}
    for name in names:
        if (entry / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(entry / name, dest / name)
            st = (dest / name).stat()
            seeded[name] = (st.st_size, st.st_mtime_ns)
    converted = cache_root() / "converted"
    for kind in ("docx", "pptx", "xlsx"):
        if (converted / f"{digest}.{kind}").is_file():
            (worker_cache / "converted").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(converted / f"{digest}.{kind}", worker_cache / "converted" / f"{digest}.{kind}")
    return seeded


def harvest(scratch: ConfinedDir, worker_cache: str, digest: str, seeded: dict[str, tuple[int, int]]) -> None:
    """Copy back what a worker made for `digest` (`worker_cache`: its cache folder, relative to
    the scratch), checking every file before it enters the agent's cache."""
    entry = cache_root() / "renders" / digest
    prefix = f"{worker_cache}/renders/{digest}"
    for found in scratch.regular_files(prefix):
        name = found.path[len(prefix) + 1 :]
        if not _RENDER_FILES.match(name) or seeded.get(name) == (found.stat.st_size, found.stat.st_mtime_ns):
            continue
        _admit(scratch, found.path, entry / name, _check_render_file)
    for kind in ("docx", "pptx", "xlsx"):
        rel = f"{worker_cache}/converted/{digest}.{kind}"
        dest = cache_root() / "converted" / f"{digest}.{kind}"
        if scratch.is_file(rel) and not dest.is_file():
            _admit(scratch, rel, dest, lambda path, name: None)


def _admit(scratch: ConfinedDir, rel: str, dest: Path, check) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".harvest-")
    os.close(fd)
    try:
        scratch.copy_out(rel, Path(tmp), limit=MAX_CACHED_FILE)
        check(Path(tmp), dest.name)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except (ConfinedPathError, ValueError, OSError):
        pass  # not admitted: the next render makes it again, or says why it cannot
    finally:
        Path(tmp).unlink(missing_ok=True)


def _check_render_file(path: Path, name: str) -> None:
    if name.endswith(".json"):
        if path.stat().st_size > MAX_JSON:
            raise ValueError("too large")
        data = json.loads(path.read_text(encoding="utf-8"))
        if name == "pages.json":
            if not (
                isinstance(data.get("page_count"), int)
                and isinstance(data.get("sizes"), list)
                and len(data["sizes"]) == data["page_count"]
                and isinstance(data.get("format"), str)
            ):
                raise ValueError("not a page list")
            for size in data["sizes"]:
                if not (
                    isinstance(size, list)
                    and len(size) == 2
                    and all(isinstance(v, (int, float)) and 0 < v < 1e6 for v in size)
                ):
                    raise ValueError("bad page size")
        elif name == "fonts.json":
            subs = data.get("substituted")
            if subs is not None and not all(isinstance(s, dict) and set(s) == {"requested", "used"} for s in subs):
                raise ValueError("not a font list")
        elif not (isinstance(data, list) and all(isinstance(w, str) for w in data)):
            raise ValueError("not a warning list")
    elif name.endswith(".png"):
        width, height = png_size(path)
        limit = MAX_SHEET_PNG_PIXELS if name.startswith("sheet-") else MAX_PAGE_PNG_PIXELS
        if width * height > limit:
            raise ValueError("too many pixels")
    elif name == "document.pdf":
        with open(path, "rb") as fh:
            if b"%PDF-" not in fh.read(1024):
                raise ValueError("not a PDF")


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's header, read without decoding it."""
    with open(path, "rb") as fh:
        head = fh.read(24)
    if len(head) < 24 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", head[16:24])
    if width == 0 or height == 0:
        raise ValueError("empty PNG")
    return width, height


# -- the LibreOffice profile template --------------------------------------------------------------


def profile_template() -> Path | None:
    path = cache_root() / PROFILE_TEMPLATE
    return path if (path / "user").is_dir() else None


def keep_profile_template(scratch: ConfinedDir, rel: str) -> None:
    """Keep the profile a worker made (from a file of our own, never a user's) as the template."""
    final = cache_root() / PROFILE_TEMPLATE
    if (final / "user").is_dir():
        return
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=".profile-"))
    try:
        total = 0
        for found in scratch.regular_files(rel):
            total += found.stat.st_size
            if total > MAX_PROFILE_BYTES:
                return
            dest = staging / found.path[len(rel) + 1 :]
            dest.parent.mkdir(parents=True, exist_ok=True)
            scratch.copy_out(found.path, dest)
        if (staging / "user").is_dir():
            os.replace(staging, final)
    except (ConfinedPathError, OSError):
        return
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def seed_profiles(worker_cache: Path, count: int) -> None:
    template = profile_template()
    if template is None:
        return
    for slot in range(count):
        shutil.copytree(template, worker_cache / "lo-profiles" / f"p{slot}", dirs_exist_ok=True)


# -- the cap --------------------------------------------------------------------------------------


def prune(limit: int | None = None) -> int:
    """Remove whole entries, least recently used first, until the cache is under its cap. Returns bytes freed."""
    limit = cache_max() if limit is None else limit
    root = cache_root()
    entries = []
    for folder in (root / "renders", root / "converted"):
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if entry.name.startswith("."):
                if time.time() - entry.lstat().st_mtime > 3600:  # staging left by a killed process
                    entries.append((0.0, _size(entry), entry))
                continue
            st = entry.lstat()
            entries.append((st.st_mtime, _size(entry), entry))
    template = root / PROFILE_TEMPLATE
    total = sum(size for _, size, _ in entries) + (_size(template) if template.exists() else 0)
    freed = 0
    for _, size, entry in sorted(entries, key=lambda e: e[0]):
        if total - freed <= limit:
            break
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        freed += size
    return freed


def _size(path: Path) -> int:
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size
    total = 0
    for parent, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(parent, name))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total
