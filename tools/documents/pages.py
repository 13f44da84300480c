"""Pages in the render cache, and everything about them the agent process may do itself.

The render cache holds, per document content (sha256) and DPI, the PDF, one PNG per page, the
page sizes and the fonts LibreOffice had to substitute. The jailed document worker fills it
(tools.documents.render, which parses and draws); this module only reads it: page selections,
whether a render is already there, and copying a cached render out. It imports no document
parser, so the agent can answer a cached render without starting the worker.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.files import atomic_copy, atomic_write_text
from tools.documents.cache import cache_root
from tools.documents.formats import DocumentError

DEFAULT_DPI = 110
MIN_DPI, MAX_DPI = 20, 600
MAX_PAGE_PIXELS = 40_000_000  # a page bigger than this at the asked DPI is drawn at a lower one
DEFAULT_MAX_PAGES = 300  # pages rendered when none are named
MAX_RANGE = 10_000  # pages one range may name when the page count is not known yet


@dataclass
class RenderResult:
    source: Path
    format: str
    pdf: Path
    pages: list[Path]  # one PNG per rendered page, named page-NNN.png (1-based page number)
    page_numbers: list[int]  # the 1-based page number of each entry in `pages`
    page_count: int  # pages in the whole document
    page_sizes_pt: list[tuple[float, float]]  # (width, height) in points of each rendered page, as displayed
    contact_sheet: Path
    dpi: int
    fonts_substituted: list[dict[str, str]] | None = None  # None: could not tell (no fc-match, or a PDF)
    warnings: list[str] = field(default_factory=list)
    cached: bool = False

    def to_json(self) -> dict:
        return {
            "source": str(self.source),
            "format": self.format,
            "pdf": str(self.pdf),
            "dpi": self.dpi,
            "page_count": self.page_count,
            "pages": [
                {"page": n, "png": str(p), "width_pt": round(w, 2), "height_pt": round(h, 2)}
                for n, p, (w, h) in zip(self.page_numbers, self.pages, self.page_sizes_pt)
            ],
            "contact_sheet": str(self.contact_sheet),
            "fonts_substituted": self.fonts_substituted,
            "warnings": self.warnings,
            "cached": self.cached,
        }


def parse_page_spec(spec: str | list[int] | None, count: int | None = None) -> list[int] | None:
    """ "1-3,7" → [1, 2, 3, 7] (1-based, sorted, once each); None, "" → None (all pages).
    With the page count known, "all" and open ranges ("4-") are allowed and every page is
    checked against it; bounds are checked before a range is expanded, so "1-200000000" costs nothing."""
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return None
    if isinstance(spec, list):
        numbers = sorted({int(p) for p in spec})
        if numbers:
            _check_bounds(numbers[0], numbers[-1], spec, count)
        return numbers
    if spec.strip().lower() == "all":
        if count is None:
            return None
        return list(range(1, count + 1))
    numbers: set[int] = set()
    for part in spec.replace(" ", "").split(","):
        if not part:
            continue
        try:
            if "-" in part:
                lo_text, hi_text = part.split("-", 1)
                lo = int(lo_text)
                hi = int(hi_text) if hi_text else (count if count is not None else None)
                if hi is None:
                    raise DocumentError(f"page range {part!r} has no end; write it like 4-9")
            else:
                lo = hi = int(part)
        except ValueError:
            raise DocumentError(f"bad page list {spec!r}: use numbers and ranges like 1-3,7") from None
        if lo > hi:
            raise DocumentError(f"page range {part!r} runs backwards")
        _check_bounds(lo, hi, spec, count)
        numbers.update(range(lo, hi + 1))
    if not numbers:
        raise DocumentError(f"bad page list {spec!r}: use numbers and ranges like 1-3,7")
    return sorted(numbers)


def _check_bounds(lo: int, hi: int, spec, count: int | None) -> None:
    if lo < 1:
        raise DocumentError(f"bad page list {spec!r}: pages are numbered from 1")
    if count is not None and hi > count:
        raise DocumentError(
            f"page {hi} does not exist: the document has {count} page{'s' if count != 1 else ''}, numbered from 1"
        )
    if count is None and hi - lo >= MAX_RANGE:
        raise DocumentError(f"page range {lo}-{hi} is too long; name at most {MAX_RANGE:,} pages")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_dpi(dpi: int) -> int:
    if not MIN_DPI <= int(dpi) <= MAX_DPI:
        raise DocumentError(f"dpi {dpi} is out of range {MIN_DPI}-{MAX_DPI}")
    return int(dpi)


def render_is_cached(
    digest: str, dpi: int, pages: list[int] | str | None = None, max_pages: int = DEFAULT_MAX_PAGES
) -> bool:
    """Whether `result_from_cache` can answer without converting or drawing anything."""
    entry = cache_root() / "renders" / digest
    meta = read_pages_meta(entry)
    if meta is None or not (entry / "document.pdf").is_file():
        return False
    if meta.get("format") != "pdf" and read_json(entry / "fonts.json") is None:
        return False
    try:
        wanted, _ = plan_pages(meta, pages, max_pages, "")
    except DocumentError:
        return True  # the answer is an error about the pages asked for: no render changes it
    page_dir = entry / f"dpi-{dpi}"
    return sheet_path(page_dir, wanted).is_file() and all((page_dir / f"page-{p:03d}.png").is_file() for p in wanted)


def sheet_path(page_dir: Path, wanted: list[int], columns: int = 4) -> Path:
    """Where the contact sheet of these pages is cached (the worker makes it with the pages)."""
    key = hashlib.sha256(f"{wanted}-{columns}".encode()).hexdigest()[:16]
    return page_dir / f"sheet-{key}.png"


def plan_pages(meta: dict, pages: list[int] | str | None, max_pages: int, name: str) -> tuple[list[int], list[str]]:
    """The pages to show (1-based) and a warning when not all were asked for."""
    count = meta["page_count"]
    if count == 0:
        raise DocumentError(f"{name}: the document has no pages to render")
    try:
        wanted = parse_page_spec(pages, count)
    except DocumentError as exc:
        raise DocumentError(f"{name}: {exc}") from None
    warnings = []
    if wanted is None:
        wanted = list(range(1, min(count, max_pages) + 1))
        if count > max_pages:
            warnings.append(f"rendered the first {max_pages} of {count} pages; name pages to see others")
    return wanted, warnings


def result_from_cache(
    source: Path,
    digest: str,
    out_dir: str | Path,
    dpi: int,
    pages: list[int] | str | None = None,
    max_pages: int = DEFAULT_MAX_PAGES,
    contact_columns: int = 4,
) -> RenderResult:
    """Copy a render the cache holds into out_dir (pages, contact sheet, PDF) and describe it."""
    entry = cache_root() / "renders" / digest
    meta = read_pages_meta(entry)
    if meta is None:
        raise DocumentError(f"{source.name}: no render in the cache")
    wanted, warnings = plan_pages(meta, pages, max_pages, source.name)
    page_dir = entry / f"dpi-{dpi}"
    warnings += read_json(page_dir / "warnings.json") or []
    cached_sheet = sheet_path(page_dir, wanted, contact_columns)
    if not cached_sheet.is_file():
        raise DocumentError(f"{source.name}: the render's contact sheet is missing from the cache")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = []
    for p in wanted:
        dest = out_dir / f"page-{p:03d}.png"
        atomic_copy(page_dir / f"page-{p:03d}.png", dest)
        outputs.append(dest)
    sheet = out_dir / "contact-sheet.png"
    atomic_copy(cached_sheet, sheet)
    pdf_out = out_dir / "document.pdf"
    atomic_copy(entry / "document.pdf", pdf_out)
    fonts = None
    if meta["format"] != "pdf":
        fonts = (read_json(entry / "fonts.json") or {}).get("substituted")
    sizes = [tuple(s) for s in meta["sizes"]]
    os.utime(entry)  # the cache is pruned least recently used first
    return RenderResult(
        source=source,
        format=meta["format"],
        pdf=pdf_out,
        pages=outputs,
        page_numbers=wanted,
        page_count=meta["page_count"],
        page_sizes_pt=[sizes[p - 1] for p in wanted],
        contact_sheet=sheet,
        dpi=dpi,
        fonts_substituted=fonts,
        warnings=warnings,
        cached=True,
    )


def read_pages_meta(entry: Path) -> dict | None:
    """The entry's page count, sizes and format; None when missing or written by an older version."""
    meta = read_json(entry / "pages.json")
    if not isinstance(meta, dict) or not {"format", "page_count", "sizes"} <= set(meta):
        return None
    return meta


def read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, data) -> None:
    atomic_write_text(path, json.dumps(data))
