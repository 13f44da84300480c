"""Documents → one PNG per page (slide, sheet page), plus a contact sheet.

Office files go to PDF through LibreOffice (tools.documents.convert), PDFs are drawn with PDFium.
Both steps are cached by the file's content hash: the PDF once per content, each page once per
content and DPI, so rendering again after no change costs only copying files.

This module parses documents: it runs in the jailed document worker (and in model code's jail);
the agent reaches it through tools.documents.jailed and reads the cache through tools.documents.pages.
"""

from __future__ import annotations

import math
import os
import queue
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterator

from PIL import Image

from sandbox.files import atomic_output
from tools.documents.cache import cache_root, png_size
from tools.documents.convert import DEFAULT_TIMEOUT, to_pdf, to_pdf_many
from tools.documents.fonts import substituted_fonts
from tools.documents.formats import DocumentError, sniff
from tools.documents.pages import (
    DEFAULT_DPI,
    DEFAULT_MAX_PAGES,
    MAX_PAGE_PIXELS,
    MIN_DPI,  # noqa: F401 (re-exported)
    RenderResult,
    check_dpi,
    file_sha256,
    plan_pages,
    read_json,
    read_pages_meta,
    result_from_cache,
    sheet_path,
    write_json,
)
from tools.documents.pdfcheck import open_pdf
from tools.montage import make_contact_sheet

SHEET_CELL_WIDTH = 300  # make_contact_sheet's cell width: thumbnails are drawn this wide


def cached_pdf(path: Path, fmt: str, digest: str, timeout: float = DEFAULT_TIMEOUT) -> tuple[Path, bool]:
    """The document as PDF in the cache (converting it if needed); (path, was_cached)."""
    folder = cache_root() / "renders" / digest
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "document.pdf"
    if target.exists():
        return target, True
    with tempfile.TemporaryDirectory(dir=folder, prefix=".convert-") as tmp:
        produced = (
            to_pdf(path, tmp, timeout=timeout)
            if fmt != "pdf"
            else Path(shutil.copyfile(path, Path(tmp) / "document.pdf"))
        )
        os.replace(produced, target)
    return target, False


def pdfs_as_ready(
    paths: list[Path], workers: int | None = None, timeout: float = DEFAULT_TIMEOUT
) -> Iterator[tuple[int, DocumentError | None]]:
    """Each index of `paths`, once that file's PDF is in the cache, in the order they become
    ready: PDFs, cached conversions and files that cannot be read at once (their error is left
    to whoever opens them), office files as LibreOffice finishes each one. Conversion runs in a
    background thread (`to_pdf_many`: several files per LibreOffice start, a few starts at once),
    so the caller draws one file's pages while the next is being converted. A file LibreOffice
    could not convert comes with its DocumentError."""
    paths = [Path(p) for p in paths]
    waiting: dict[str, list[int]] = {}  # content digest -> the indices with that content
    at_once: list[int] = []
    for i, path in enumerate(paths):
        try:
            if sniff(path).format == "pdf":
                at_once.append(i)
                continue
        except DocumentError:
            at_once.append(i)
            continue
        digest = file_sha256(path)
        if (cache_root() / "renders" / digest / "document.pdf").exists():
            at_once.append(i)
        else:
            waiting.setdefault(digest, []).append(i)
    ready: queue.Queue = queue.Queue()
    # largest first: the files converted last are then small ones, quick to draw, so little is left after LibreOffice
    digests = sorted(waiting, key=lambda d: -paths[waiting[d][0]].stat().st_size)

    def convert() -> None:
        staging = cache_root() / "renders"
        staging.mkdir(parents=True, exist_ok=True)
        settled: set[int] = set()

        def landed(k: int, produced: Path | DocumentError) -> None:
            if isinstance(produced, Path):
                folder = staging / digests[k]
                folder.mkdir(exist_ok=True)
                os.replace(produced, folder / "document.pdf")
                produced = None
            settled.add(k)
            for i in waiting[digests[k]]:
                ready.put((i, produced))

        try:
            with tempfile.TemporaryDirectory(dir=staging, prefix=".batch-") as tmp:
                to_pdf_many([paths[waiting[d][0]] for d in digests], tmp, workers, timeout=timeout, on_result=landed)
        except DocumentError as exc:  # LibreOffice missing: every file waiting says so
            for k in set(range(len(digests))) - settled:
                for i in waiting[digests[k]]:
                    ready.put((i, exc))
        finally:
            ready.put(None)

    if digests:
        threading.Thread(target=convert, daemon=True).start()
    for i in at_once:
        yield i, None
    if digests:
        while (item := ready.get()) is not None:
            yield item


def render_many(
    paths: list[str | Path], out_root: str | Path, dpi: int = DEFAULT_DPI, workers: int | None = None, **kwargs
) -> list[RenderResult | DocumentError]:
    """Render many documents: each file's pages into out_root/<n>-<name>/, drawn as soon as
    LibreOffice has converted it (batched, concurrent). A file that fails gives its DocumentError
    in its place."""
    paths = [Path(p) for p in paths]
    results: list[RenderResult | DocumentError | None] = [None] * len(paths)
    for i, failed in pdfs_as_ready(paths, workers=workers):
        try:
            if failed is not None:
                raise failed
            results[i] = render_document(paths[i], Path(out_root) / f"{i + 1:03d}-{paths[i].stem}", dpi=dpi, **kwargs)
        except DocumentError as exc:
            results[i] = exc
    return results  # type: ignore[return-value]


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
    to `max_pages`). Writes out_dir/page-NNN.png, out_dir/contact-sheet.png and out_dir/document.pdf.
    This parses the document in the calling process: the agent calls it through the jailed
    document worker (tools.documents.jailed), model code inside its jail calls it directly.
    """
    path = Path(path)
    dpi = check_dpi(dpi)
    sniffed = sniff(path)
    digest = file_sha256(path)
    fresh = render_into_cache(path, sniffed.format, digest, dpi, pages, max_pages, timeout, contact_columns)
    result = result_from_cache(path, digest, out_dir, dpi, pages, max_pages, contact_columns)
    result.cached = not fresh
    return result


def render_into_cache(
    path: Path,
    fmt: str,
    digest: str,
    dpi: int,
    pages: list[int] | str | None = None,
    max_pages: int = DEFAULT_MAX_PAGES,
    timeout: float = DEFAULT_TIMEOUT,
    contact_columns: int = 4,
) -> bool:
    """Convert and draw what `result_from_cache` will need into the cache entry of `digest`: the
    PDF, the pages asked for, their contact sheet, the substituted fonts.
    Returns whether anything had to be made."""
    entry = cache_root() / "renders" / digest
    pdf, pdf_cached = cached_pdf(path, fmt, digest, timeout)
    meta = read_pages_meta(entry)
    if meta is None:
        with open_pdf(pdf) as doc:
            sizes = [tuple(doc.get_page_size(i)) for i in range(len(doc))]  # as displayed; loads no page
        meta = {"format": fmt, "page_count": len(sizes), "sizes": sizes}
        write_json(entry / "pages.json", meta)
    wanted, _ = plan_pages(meta, pages, max_pages, path.name)
    page_dir = entry / f"dpi-{dpi}"
    page_dir.mkdir(parents=True, exist_ok=True)
    todo = [p for p in wanted if not (page_dir / f"page-{p:03d}.png").exists()]
    if todo:
        _render_pages(pdf, todo, dpi, page_dir)
    sheet = sheet_path(page_dir, wanted, contact_columns)
    if not sheet.exists():
        thumbnails = _thumbnails(pdf, wanted, page_dir)
        labels = [str(p) for p in wanted]
        make_contact_sheet(thumbnails, sheet, columns=contact_columns, cell_width=SHEET_CELL_WIDTH, labels=labels)
    made_fonts = False
    if fmt != "pdf" and read_json(entry / "fonts.json") is None:
        write_json(entry / "fonts.json", {"substituted": substituted_fonts(path, fmt)})
        made_fonts = True
    return bool(todo) or not pdf_cached or made_fonts


def _render_pages(pdf: Path, pages: list[int], dpi: int, page_dir: Path) -> list[str]:
    warnings: list[str] = []

    def scale_of(p: int, w_pt: float, h_pt: float) -> float:
        scale = dpi / 72
        if (w_pt * scale) * (h_pt * scale) > MAX_PAGE_PIXELS:
            scale = math.sqrt(MAX_PAGE_PIXELS / (w_pt * h_pt)) * 0.995  # pixel rounding must not tip it over
            warnings.append(
                f"page {p} is {w_pt / 72:.0f}x{h_pt / 72:.0f} in; drawn at {scale * 72:.0f} dpi to stay under {MAX_PAGE_PIXELS // 1_000_000} MP"
            )
        return scale

    for p, image in _draw_pages(pdf, pages, scale_of):
        _save_png(image, page_dir / f"page-{p:03d}.png")
    if warnings:
        write_json(page_dir / "warnings.json", (read_json(page_dir / "warnings.json") or []) + warnings)
    return warnings


def _thumbnails(pdf: Path, pages: list[int], page_dir: Path, width: int = SHEET_CELL_WIDTH) -> list[Image.Image]:
    """The pages drawn `width` pixels wide for the contact sheet: drawing them small costs a
    fraction of decoding and shrinking the full-size PNGs. Each comes out exactly the size
    shrinking its PNG would give (read from the PNG's header), so the sheet's size is the same."""

    def scale_of(p: int, w_pt: float, h_pt: float) -> float:
        return min(width / w_pt, math.sqrt(MAX_PAGE_PIXELS / (w_pt * h_pt)))

    images = []
    for p, image in _draw_pages(pdf, pages, scale_of):
        page_w, page_h = png_size(page_dir / f"page-{p:03d}.png")
        size = (width, max(1, round(page_h * width / page_w)))
        images.append(image if image.size == size else image.resize(size, Image.LANCZOS))
    return images


def _draw_pages(
    pdf: Path, pages: list[int], scale_of: Callable[[int, float, float], float]
) -> Iterator[tuple[int, Image.Image]]:
    """Each of `pages` drawn by PDFium with its form fields, at the scale `scale_of(page, width
    pt, height pt)` gives; one page is held at a time."""
    with open_pdf(pdf) as doc:
        try:
            doc.init_forms()
        except Exception:  # a broken AcroForm must not stop the page from rendering
            pass
        for p in pages:
            page = doc[p - 1]
            try:
                w_pt, h_pt = page.get_size()
                image = page.render(scale=scale_of(p, w_pt, h_pt), may_draw_forms=True).to_pil()
            finally:
                page.close()
            yield p, image


def _save_png(image: Image.Image, dest: Path) -> None:
    with atomic_output(dest) as tmp:
        image.save(tmp, "PNG", compress_level=1)
