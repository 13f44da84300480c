"""Document tools the model calls: render pages to images, inspect structure, read text.

File paths are relative to the sandbox home; anything outside it is refused.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

from PIL import Image
from pydantic import Field

from sandbox.paths import PathOutsideHome, relative_to_home, resolve_in_home
from tools.documents import DocumentError
from tools.documents import inspect as inspection
from tools.documents.render import parse_pages, render_document as render_pages
from tools.documents.text import read_text as document_text
from tools.registry import ToolContext, ToolError, ToolOutput, tool

MAX_PAGES_PER_CALL = 20
MAX_INSPECT_CHARS = 24_000


def _document_path(ctx: ToolContext, path: str) -> Path:
    try:
        resolved = resolve_in_home(ctx.home, path)
    except PathOutsideHome as exc:
        raise ToolError(str(exc)) from None
    if not resolved.is_file():
        raise ToolError(f"no file {path!r} in the home; list inputs/ or outputs/ to see what exists")
    return resolved


def render_document(
    ctx: ToolContext,
    path: Annotated[str, Field(description="The document, relative to the home, e.g. 'inputs/deck.pptx' or 'outputs/report.docx'.")],
    pages: Annotated[str | None, Field(description="Pages/slides to render, e.g. '1-3,7'. Default: the first 20.")] = None,
    dpi: Annotated[int, Field(ge=40, le=200, description="Resolution; 110 shows a page whole, raise it (or zoom) for small print.")] = 110,
) -> ToolOutput:
    """Render a DOCX, PPTX, XLSX, ODF, legacy Office or PDF file to one image per page (slide, sheet page) plus a contact sheet of all of them with page numbers.

    Use it to see a document as it prints; re-render after every edit to check the result.
    """
    source = _document_path(ctx, path)
    try:
        wanted = parse_pages(pages)
        if wanted is not None and len(wanted) > MAX_PAGES_PER_CALL:
            raise ToolError(f"{len(wanted)} pages asked; render at most {MAX_PAGES_PER_CALL} per call (use the contact sheet to choose)")
        out_dir = Path(ctx.home) / "tmp" / "renders" / source.stem
        result = render_pages(source, out_dir, dpi=dpi, pages=wanted, max_pages=MAX_PAGES_PER_CALL)
    except DocumentError as exc:
        raise ToolError(str(exc)) from None
    shown = relative_to_home(ctx.home, source)
    ids = []
    for number, png in zip(result.page_numbers, result.pages):
        with Image.open(png) as im:
            im.load()
            rec = ctx.images.add(im, parent=None, op="render", params={"file": shown, "page": number, "dpi": result.dpi})
        ids.append(rec.id)
    with Image.open(result.contact_sheet) as im:
        im.load()
        sheet = ctx.images.add(im, parent=None, op="contact_sheet", params={"file": shown, "pages": result.page_numbers})
    pairs = ", ".join(f"page {n} = {i}" for n, i in zip(result.page_numbers, ids))
    lines = [f"rendered {len(ids)} of {result.page_count} pages of {shown} at {result.dpi} dpi: {pairs}; contact sheet {sheet.id}"]
    if result.page_count > len(ids) and pages is None:
        lines.append(f"pages {len(ids) + 1}-{result.page_count} not rendered; ask for them with pages='…'")
    for sub in result.fonts_substituted or []:
        lines.append(f"font {sub['requested']!r} is not installed; rendered with {sub['used']!r}")
    lines.extend(f"warning: {w}" for w in result.warnings)
    return ToolOutput("\n".join(lines), image_ids=ids + [sheet.id],
                      data={"pdf": str(result.pdf), "pages": result.page_numbers, "contact_sheet": sheet.id})


def inspect_document(
    ctx: ToolContext,
    path: Annotated[str, Field(description="The document, relative to the home.")],
) -> ToolOutput:
    """Show a document's structure: DOCX outline, paragraphs with styles, tables, images, sections, comments; PPTX slides with every shape's type, name, text, font sizes, position (points and 0-1000 slide coordinates matching the rendered slide image) and notes; XLSX sheets, used ranges, cells with formulas and recalculated values, merged cells, charts, names, formula errors; PDF pages, sizes, rotation, text, form fields, encryption."""
    source = _document_path(ctx, path)
    try:
        found = inspection.inspect_document(source)
    except DocumentError as exc:
        raise ToolError(str(exc)) from None
    text = inspection.format_inspection(found)
    if len(text) > MAX_INSPECT_CHARS:
        text = text[:MAX_INSPECT_CHARS] + f"\n[output cut at {MAX_INSPECT_CHARS:,} of {len(text):,} characters; use read_text with start= for the rest of the text]"
    return ToolOutput(f"inspected {relative_to_home(ctx.home, source)}\n{text}")


def read_text(
    ctx: ToolContext,
    path: Annotated[str, Field(description="The document, relative to the home.")],
    start: Annotated[int, Field(ge=0, description="Character offset to start from, for reading long documents in parts.")] = 0,
    max_chars: Annotated[int, Field(ge=100, le=50_000, description="How many characters to return.")] = 12_000,
) -> ToolOutput:
    """Read the plain text of a document: PDF page by page, PPTX slide by slide with notes, XLSX cell by cell, DOCX in reading order with table cells."""
    source = _document_path(ctx, path)
    try:
        text = document_text(source, max_chars=start + max_chars + 1)
    except DocumentError as exc:
        raise ToolError(str(exc)) from None
    part = text[start:start + max_chars]
    more = len(text) > start + max_chars
    head = f"text of {relative_to_home(ctx.home, source)}, characters {start}-{start + len(part)}" + (f" (more: call again with start={start + len(part)})" if more else " (end)")
    return ToolOutput(f"{head}\n{part}")


TOOLS = [tool(render_document), tool(inspect_document), tool(read_text)]
