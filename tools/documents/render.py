"""Documents → one PNG per page (slide, sheet page), plus a contact sheet.

Office files go to PDF through LibreOffice (tools.documents.convert), PDFs are drawn with PDFium.
Both steps are cached by the file's content hash: the PDF once per content, each page once per
content and DPI, so rendering again after no change costs only copying files.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from sandbox.files import atomic_copy, atomic_output, atomic_write_text
from tools.documents.convert import DEFAULT_TIMEOUT, cache_root, to_pdf, to_pdf_many
from tools.documents.fonts import substituted_fonts
from tools.documents.formats import DocumentError, sniff
from tools.documents.pdfcheck import open_pdf
from tools.montage import make_contact_sheet

DEFAULT_DPI = 110
MIN_DPI, MAX_DPI = 20, 600
MAX_PAGE_PIXELS = 40_000_000  # a page bigger than this at the asked DPI is drawn at a lower one
DEFAULT_MAX_PAGES = 300  # pages rendered when none are named


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
            "source": str(self.source), "format": self.format, "pdf": str(self.pdf), "dpi": self.dpi,
            "page_count": self.page_count,
            "pages": [{"page": n, "png": str(p), "width_pt": round(w, 2), "height_pt": round(h, 2)}
                      for n, p, (w, h) in zip(self.page_numbers, self.pages, self.page_sizes_pt)],
            "contact_sheet": str(self.contact_sheet), "fonts_substituted": self.fonts_substituted,
            "warnings": self.warnings, "cached": self.cached,
        }


def parse_pages(spec: str | None) -> list[int] | None:
    """ "1-3,7" → [1, 2, 3, 7]; None or "" → None (all pages)."""
    if spec is None or not str(spec).strip():
        return None
    pages: list[int] = []
    for part in str(spec).split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if lo > hi:
                    raise ValueError
                if hi - lo > 10_000:
                    raise DocumentError(f"page range {part!r} is too long")
                pages.extend(range(lo, hi + 1))
            else:
                pages.append(int(part))
        except ValueError:
            raise DocumentError(f"bad page list {spec!r}: use numbers and ranges like 1-3,7") from None
    if any(p < 1 for p in pages):
        raise DocumentError(f"bad page list {spec!r}: pages start at 1")
    return sorted(set(pages))


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cached_pdf(path: Path, fmt: str, digest: str, timeout: float = DEFAULT_TIMEOUT) -> tuple[Path, bool]:
    """The document as PDF in the cache (converting it if needed); (path, was_cached)."""
    folder = cache_root() / "renders" / digest
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "document.pdf"
    if target.exists():
        return target, True
    with tempfile.TemporaryDirectory(dir=folder, prefix=".convert-") as tmp:
        produced = to_pdf(path, tmp, timeout=timeout) if fmt != "pdf" else Path(shutil.copyfile(path, Path(tmp) / "document.pdf"))
        os.replace(produced, target)
    return target, False


def warm_pdf_cache(paths: list[Path], workers: int | None = None, batch_size: int = 4,
                   timeout: float = DEFAULT_TIMEOUT) -> None:
    """Convert the office files among `paths` that are not cached yet, with concurrent workers
    (each its own LibreOffice profile) and several files per LibreOffice start. Failures are
    left for render_document to report."""
    todo: dict[str, Path] = {}
    for path in paths:
        try:
            if sniff(path).format == "pdf":
                continue
        except DocumentError:
            continue
        digest = file_sha256(path)
        if not (cache_root() / "renders" / digest / "document.pdf").exists():
            todo.setdefault(digest, Path(path))
    if not todo:
        return
    staging = cache_root() / "renders"
    staging.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=staging, prefix=".batch-") as tmp:
        results = to_pdf_many(list(todo.values()), tmp, workers=workers, batch_size=batch_size, timeout=timeout)
        for digest, produced in zip(todo, results):
            if isinstance(produced, Path):
                folder = staging / digest
                folder.mkdir(exist_ok=True)
                os.replace(produced, folder / "document.pdf")


def render_many(paths: list[str | Path], out_root: str | Path, dpi: int = DEFAULT_DPI, workers: int | None = None,
                batch_size: int = 4, **kwargs) -> list[RenderResult | DocumentError]:
    """Render many documents: batched concurrent conversion first, then each file's pages into
    out_root/<n>-<name>/. A file that fails gives its DocumentError in its place."""
    paths = [Path(p) for p in paths]
    warm_pdf_cache(paths, workers=workers, batch_size=batch_size)
    results: list[RenderResult | DocumentError] = []
    for n, path in enumerate(paths, 1):
        try:
            results.append(render_document(path, Path(out_root) / f"{n:03d}-{path.stem}", dpi=dpi, **kwargs))
        except DocumentError as exc:
            results.append(exc)
    return results


def render_document(
    path: str | Path,
    out_dir: str | Path,
    dpi: int = DEFAULT_DPI,
    pages: list[int] | str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_pages: int = DEFAULT_MAX_PAGES,
    contact_columns: int = 4,
) -> RenderResult:
    """Render `path` (DOCX/PPTX/XLSX/ODF/legacy Office/PDF) to PNG pages in out_dir.

    `pages` is a list of 1-based page numbers or a spec like "1-3,7"; None renders all pages (up
    to `max_pages`). Writes out_dir/page-NNN.png and out_dir/contact-sheet.png.
    """
    path = Path(path)
    if not MIN_DPI <= int(dpi) <= MAX_DPI:
        raise DocumentError(f"dpi {dpi} is out of range {MIN_DPI}-{MAX_DPI}")
    dpi = int(dpi)
    wanted = parse_pages(pages) if isinstance(pages, str) or pages is None else sorted(set(int(p) for p in pages))
    sniffed = sniff(path)
    digest = file_sha256(path)
    pdf, pdf_cached = cached_pdf(path, sniffed.format, digest, timeout)
    page_dir = cache_root() / "renders" / digest / f"dpi-{dpi}"
    page_dir.mkdir(parents=True, exist_ok=True)
    warnings: list[str] = []

    meta_file = page_dir.parent / "pages.json"
    meta = _read_json(meta_file)
    if meta is None:
        with open_pdf(pdf) as doc:
            sizes = [tuple(doc[i].get_size()) for i in range(len(doc))]
        meta = {"page_count": len(sizes), "sizes": sizes}
        _write_json(meta_file, meta)
    count = meta["page_count"]
    sizes = [tuple(s) for s in meta["sizes"]]
    if count == 0:
        raise DocumentError(f"{path.name}: the document has no pages to render")
    if wanted is None:
        wanted = list(range(1, min(count, max_pages) + 1))
        if count > max_pages:
            warnings.append(f"rendered the first {max_pages} of {count} pages; name pages to see others")
    missing = [p for p in wanted if p > count]
    if missing:
        raise DocumentError(f"{path.name}: page {missing[0]} does not exist; the document has {count} page{'s' if count != 1 else ''}")

    todo = [p for p in wanted if not (page_dir / f"page-{p:03d}.png").exists()]
    if todo:
        warnings.extend(_render_pages(pdf, todo, dpi, page_dir))
    else:
        warnings.extend(_read_json(page_dir / "warnings.json") or [])

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = []
    for p in wanted:
        dest = out_dir / f"page-{p:03d}.png"
        atomic_copy(page_dir / f"page-{p:03d}.png", dest)
        outputs.append(dest)
    sheet_key = hashlib.sha256(f"{wanted}-{contact_columns}".encode()).hexdigest()[:16]
    cached_sheet = page_dir / f"sheet-{sheet_key}.png"
    if not cached_sheet.exists():
        make_contact_sheet([page_dir / f"page-{p:03d}.png" for p in wanted], cached_sheet,
                           columns=contact_columns, labels=[str(p) for p in wanted])
    sheet = out_dir / "contact-sheet.png"
    atomic_copy(cached_sheet, sheet)
    pdf_out = out_dir / "document.pdf"
    atomic_copy(pdf, pdf_out)

    fonts = None
    if sniffed.format != "pdf":
        fonts_meta = _read_json(page_dir.parent / "fonts.json")
        if fonts_meta is None:
            fonts_meta = {"substituted": substituted_fonts(path, sniffed.format)}
            _write_json(page_dir.parent / "fonts.json", fonts_meta)
        fonts = fonts_meta["substituted"]
    return RenderResult(
        source=path, format=sniffed.format, pdf=pdf_out, pages=outputs, page_numbers=wanted, page_count=count,
        page_sizes_pt=[sizes[p - 1] for p in wanted], contact_sheet=sheet, dpi=dpi,
        fonts_substituted=fonts, warnings=warnings, cached=pdf_cached and not todo,
    )


def _render_pages(pdf: Path, pages: list[int], dpi: int, page_dir: Path) -> list[str]:
    warnings: list[str] = []
    with open_pdf(pdf) as doc:
        try:
            doc.init_forms()
        except Exception:  # a broken AcroForm must not stop the page from rendering
            pass
        for p in pages:
            page = doc[p - 1]
            try:
                w_pt, h_pt = page.get_size()
                scale = dpi / 72
                pixels = (w_pt * scale) * (h_pt * scale)
                if pixels > MAX_PAGE_PIXELS:
                    scale = math.sqrt(MAX_PAGE_PIXELS / (w_pt * h_pt)) * 0.995  # pixel rounding must not tip it over
                    warnings.append(f"page {p} is {w_pt / 72:.0f}x{h_pt / 72:.0f} in; drawn at {scale * 72:.0f} dpi to stay under {MAX_PAGE_PIXELS // 1_000_000} MP")
                image = page.render(scale=scale, may_draw_forms=True).to_pil()
            finally:
                page.close()
            _save_png(image, page_dir / f"page-{p:03d}.png")
    if warnings:
        _write_json(page_dir / "warnings.json", (_read_json(page_dir / "warnings.json") or []) + warnings)
    return warnings


def _save_png(image: Image.Image, dest: Path) -> None:
    with atomic_output(dest) as tmp:
        image.save(tmp, "PNG", compress_level=1)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data) -> None:
    atomic_write_text(path, json.dumps(data))