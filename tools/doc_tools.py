"""Document tools the model calls: render pages to images, inspect structure, read text.

File paths are relative to the sandbox home; anything outside it, or reached through a link, is
refused. The document is parsed only by the jailed worker (tools.documents.jailed); the pages
come back as PNG files from the render cache, outside the home.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from pydantic import Field

from sandbox.confined import ConfinedPathError, split_relative
from tools.documents import DocumentError, jailed
from tools.documents.inspect import format_inspection
from tools.documents.pages import parse_page_spec
from tools.images import ImageInputError, open_image_checked
from tools.registry import ToolContext, ToolError, ToolOutput, tool

MAX_PAGES_PER_CALL = 20
MAX_INSPECT_CHARS = 24_000


def document_source(ctx: ToolContext, path: str) -> jailed.Source:
    """The document the model named, as the worker will get it: a regular file in the home,
    reached without following a link (checked again when it is copied)."""
    try:
        rel = "/".join(split_relative(path))
        with ctx.files.open_file(rel):
            pass
    except ConfinedPathError as exc:
        raise ToolError(str(exc)) from None
    return jailed.Source.from_home(ctx.files, rel)


def load_page_image(png: Path, name: str):
    try:
        return open_image_checked(png, name=name)
    except ImageInputError as exc:
        raise ToolError(str(exc)) from None


def render_document(
    ctx: ToolContext,
    path: Annotated[
        str, Field(description="The document, relative to the home, e.g. 'inputs/deck.pptx' or 'outputs/report.docx'.")
    ],
    pages: Annotated[
        str | None, Field(description="Pages/slides to render, e.g. '1-3,7'. Default: the first 20.")
    ] = None,
    dpi: Annotated[
        int, Field(ge=40, le=200, description="Resolution; 110 shows a page whole, raise it (or zoom) for small print.")
    ] = 110,
) -> ToolOutput:
    """Render a DOCX, PPTX, XLSX, ODF, legacy Office or PDF file to one image per page (slide, sheet page) plus a contact sheet of all of them with page numbers.

    Use it to see a document as it prints; re-render after every edit to check the result.
    """
    source = document_source(ctx, path)
    shown = source.name
    with tempfile.TemporaryDirectory(prefix="render-") as tmp:
        try:
            wanted = parse_page_spec(pages)
            if wanted is not None and len(wanted) > MAX_PAGES_PER_CALL:
                raise ToolError(
                    f"{len(wanted)} pages asked; render at most {MAX_PAGES_PER_CALL} per call (use the contact sheet to choose)"
                )
            result = jailed.render(
                source, Path(tmp), dpi=dpi, pages=wanted, max_pages=MAX_PAGES_PER_CALL, isolation=ctx.settings.isolation
            )
        except DocumentError as exc:
            raise ToolError(str(exc)) from None
        ids = []
        for number, png in zip(result.page_numbers, result.pages):
            rec = ctx.images.add(
                load_page_image(png, f"page {number}"),
                parent=None,
                op="render",
                params={"file": shown, "page": number, "dpi": result.dpi},
            )
            ids.append(rec.id)
        sheet = ctx.images.add(
            load_page_image(result.contact_sheet, "contact sheet"),
            parent=None,
            op="contact_sheet",
            params={"file": shown, "pages": result.page_numbers},
        )
    pairs = ", ".join(f"page {n} = {i}" for n, i in zip(result.page_numbers, ids))
    lines = [
        f"rendered {len(ids)} of {result.page_count} pages of {shown} at {result.dpi} dpi: {pairs}; contact sheet {sheet.id}"
    ]
    if result.page_count > len(ids) and pages is None:
        lines.append(f"pages {len(ids) + 1}-{result.page_count} not rendered; ask for them with pages='…'")
    for sub in result.fonts_substituted or []:
        lines.append(f"font {sub['requested']!r} is not installed; rendered with {sub['used']!r}")
    lines.extend(f"warning: {w}" for w in result.warnings)
    return ToolOutput(
        "\n".join(lines),
        image_ids=ids + [sheet.id],
        data={"pages": result.page_numbers, "contact_sheet": sheet.id, "cached": result.cached},
    )


def inspect_document(
    ctx: ToolContext,
    path: Annotated[str, Field(description="The document, relative to the home.")],
) -> ToolOutput:
    """Show a document's structure: DOCX outline, paragraphs with styles, tables, images, sections, comments; PPTX slides with every shape's type, name, text, font sizes, position (points and 0-1000 slide coordinates matching the rendered slide image) and notes; XLSX sheets, used ranges, cells with formulas and recalculated values, merged cells, charts, names, formula errors; PDF pages, sizes, rotation, text, form fields, encryption."""
    source = document_source(ctx, path)
    try:
        found = jailed.inspect(source, isolation=ctx.settings.isolation)
        text = format_inspection(found)
    except DocumentError as exc:
        raise ToolError(str(exc)) from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ToolError(
            f"{source.name}: the document worker's answer could not be read ({type(exc).__name__})"
        ) from None
    if len(text) > MAX_INSPECT_CHARS:
        text = (
            text[:MAX_INSPECT_CHARS]
            + f"\n[output cut at {MAX_INSPECT_CHARS:,} of {len(text):,} characters; use read_text with start= for the rest of the text]"
        )
    return ToolOutput(f"inspected {source.name}\n{text}")


def read_text(
    ctx: ToolContext,
    path: Annotated[str, Field(description="The document, relative to the home.")],
    start: Annotated[
        int, Field(ge=0, description="Character offset to start from, for reading long documents in parts.")
    ] = 0,
    max_chars: Annotated[int, Field(ge=100, le=50_000, description="How many characters to return.")] = 12_000,
) -> ToolOutput:
    """Read the plain text of a document: PDF page by page, PPTX slide by slide with notes, XLSX cell by cell, DOCX in reading order with table cells."""
    source = document_source(ctx, path)
    try:
        text = jailed.read_text(source, max_chars=start + max_chars + 1, isolation=ctx.settings.isolation)
    except DocumentError as exc:
        raise ToolError(str(exc)) from None
    part = text[start : start + max_chars]
    more = len(text) > start + max_chars
    head = f"text of {source.name}, characters {start}-{start + len(part)}" + (
        f" (more: call again with start={start + len(part)})" if more else " (end)"
    )
    return ToolOutput(f"{head}\n{part}")


TOOLS = [tool(render_document), tool(inspect_document), tool(read_text)]
