"""Which fonts a document asks for, and which of them this machine lacks (so the render substitutes).

LibreOffice falls back through fontconfig when a font is missing; `fc-match` tells which family
it would get. A requested family that fc-match does not return itself is reported as substituted.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

_PATTERNS = {
    # DOCX: run/style fonts and the theme's major/minor Latin fonts
    "docx": [rb'w:(?:ascii|hAnsi)="([^"]+)"', rb'<a:(?:majorFont|minorFont)>\s*<a:latin typeface="([^"]+)"'],
    # PPTX: every explicit Latin typeface (theme references start with "+")
    "pptx": [rb'<a:latin typeface="([^"]+)"'],
    "xlsx": [rb'<name val="([^"]+)"'],
    "odt": [rb'svg:font-family="([^"]+)"'],
}
_PATTERNS["odp"] = _PATTERNS["ods"] = _PATTERNS["odt"]
_PARTS = re.compile(
    r"^(word|ppt|xl)/(document|styles|theme/theme\d+|slides/slide\d+|slideLayouts/slideLayout\d+|slideMasters/slideMaster\d+|styles)\.xml$|^(content|styles)\.xml$"
)
MAX_PART_BYTES = 30_000_000
MAX_FAMILIES = 64  # fc-match runs once per family; a document naming thousands gets the first ones checked


def requested_fonts(path: Path, fmt: str) -> list[str]:
    """Font families named in the document's text, style and theme parts (OOXML and ODF)."""
    patterns = _PATTERNS.get(fmt)
    if not patterns:
        return []
    found: set[str] = set()
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not _PARTS.match(info.filename) or info.file_size > MAX_PART_BYTES:
                    continue
                data = zf.read(info)
                for pattern in patterns:
                    for m in re.finditer(pattern, data, re.S):
                        name = m.group(1).decode("utf-8", "replace").strip().strip("'")
                        if name and not name.startswith("+"):
                            found.add(name)
    except (zipfile.BadZipFile, OSError):
        return []
    return sorted(found)


@functools.lru_cache(maxsize=512)
def fc_match(family: str) -> str | None:
    """The family fontconfig picks for `family`, or None when fc-match is not installed."""
    if shutil.which("fc-match") is None:
        return None
    try:
        out = subprocess.run(["fc-match", "-f", "%{family}", family], capture_output=True, text=True, timeout=10)
    except (subprocess.TimeoutExpired, OSError):
        return None
    return out.stdout.strip() or None


def substituted_fonts(path: Path, fmt: str) -> list[dict[str, str]] | None:
    """[{"requested": family, "used": family}] for fonts this machine does not have; None if unknown."""
    if shutil.which("fc-match") is None:
        return None
    missing = []
    for family in requested_fonts(path, fmt)[:MAX_FAMILIES]:
        used = fc_match(family) or ""
        if family.lower() not in [f.strip().lower() for f in used.split(",")]:
            missing.append({"requested": family, "used": used.split(",")[0] or "unknown"})
    return missing
