"""Model tools: QA-check a document, and edit DOCX/PPTX/XLSX/PDF with typed operations.

Paths are relative to the home. Edits read the source anywhere in the home and write to
outputs/ (default outputs/<stem>.edited.<ext>); a file already in outputs/ is edited in place,
so the model can fix, check and fix again. The user's originals are never written. The document
is parsed and edited by the jailed worker; the host only places the result, without following
a link, within the home's caps."""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath
from typing import Annotated

from pydantic import BaseModel, Field

from sandbox.confined import ConfinedPathError, QuotaExceeded, split_relative
from tools.doc_tools import document_source, load_page_image
from tools.documents import DocumentError, jailed
from tools.documents.edit_ops import DocxOp, Merge, PdfOp, PptxOp, XlsxOp
from tools.registry import ToolContext, ToolError, ToolOutput, tool

PathArg = Annotated[
    str, Field(description="file path relative to the home, e.g. 'inputs/deck.pptx' or 'outputs/deck.edited.pptx'")
]
OutputArg = Annotated[
    str | None,
    Field(
        None,
        description="where to write, inside outputs/ (default: outputs/<stem>.edited.<ext>, or in place for a file already in outputs/)",
    ),
]


def _destination(source: str, output: str | None) -> str:
    src = PurePosixPath(source)
    if output is None:
        if src.parts[0] == "outputs":
            return source
        return f"outputs/{src.stem}.edited{src.suffix.lower()}"
    try:
        parts = split_relative(output)
    except ConfinedPathError as exc:
        raise ToolError(str(exc)) from None
    if parts[0] != "outputs" or len(parts) < 2:
        raise ToolError(
            f"output {output!r} must be a file inside outputs/, e.g. outputs/{src.stem}.edited{src.suffix.lower()}"
        )
    if PurePosixPath(parts[-1]).suffix.lower() != src.suffix.lower():
        raise ToolError(f"output {output!r} must keep the extension {src.suffix.lower()}")
    return "/".join(parts)


def _edit(ctx: ToolContext, path: str, fmt: str, output: str | None, operations: list[BaseModel]) -> ToolOutput:
    source = document_source(ctx, path)
    dest = _destination(source.name, output)
    extras = {}
    for op in operations:
        if isinstance(op, Merge):
            for name in op.files:
                extras[name] = document_source(ctx, name)
    folder = str(PurePosixPath(dest).parent)
    with tempfile.TemporaryDirectory(prefix="edit-") as tmp:
        try:
            outcome = jailed.edit(
                source,
                fmt,
                [op.model_dump() for op in operations],
                PurePosixPath(dest).name,
                Path(tmp),
                extras,
                isolation=ctx.settings.isolation,
            )
        except DocumentError as exc:
            raise ToolError(f"{exc}; nothing was written") from None
        if not outcome.written:
            raise ToolError(f"{source.name}: the edit produced no file; nothing was written")
        try:
            ctx.files.check_room(sum(f.stat().st_size for f in outcome.written), len(outcome.written))
            placed = []
            for made in outcome.written:
                rel = f"{folder}/{made.name}"
                ctx.files.write_file(rel, made)
                placed.append(rel)
        except (QuotaExceeded, ConfinedPathError) as exc:
            raise ToolError(f"{exc}; nothing was written") from None
    where = placed[0] if len(placed) == 1 else ", ".join(placed)
    lines = [f"wrote {where} ({len(outcome.done)} step(s)); check it with check_document"] + [
        f"- {d}" for d in outcome.done
    ]
    return ToolOutput(
        "\n".join(lines), data={"written": placed[0] if len(placed) == 1 else placed, "source": source.name}
    )


def check_document(
    ctx: ToolContext,
    path: PathArg,
    annotate: Annotated[bool, Field(description="also return the pages with each finding boxed and numbered")] = True,
) -> ToolOutput:
    """Run the QA checks on a DOCX/PPTX/XLSX/PDF: text overflowing its box or the slide, shapes off the page, overlapping text boxes, tiny fonts, leftover placeholder text, substituted fonts, formula errors after recalculation, formulas without values, blank pages, pages without a text layer, empty slides.

    Each finding has a rule id, severity (error/warning/info), page, a 0-1000 box on the
    rendered page, and a suggested fix naming the edit operation to use. Run it again after
    editing until no errors remain.
    """
    source = document_source(ctx, path)
    with tempfile.TemporaryDirectory(prefix="check-") as tmp:
        try:
            outcome = jailed.check(source, Path(tmp), annotate=annotate, isolation=ctx.settings.isolation)
        except DocumentError as exc:
            raise ToolError(str(exc)) from None
        report = outcome.report
        text = report.format_text()
        image_ids = []
        if outcome.annotated is not None:
            rec = ctx.images.add(
                load_page_image(outcome.annotated, "annotated pages"),
                parent=None,
                op="check",
                params={"file": source.name, "findings": len(report.findings)},
            )
            image_ids.append(rec.id)
            text += f"\nannotated pages: {rec.id} (boxes numbered as above)"
    return ToolOutput(
        text,
        image_ids=image_ids,
        data={"file": source.name, "counts": report.counts(), "findings": [f.to_dict() for f in report.findings]},
    )


def edit_docx(
    ctx: ToolContext,
    path: PathArg,
    operations: Annotated[list[DocxOp], Field(min_length=1, description="operations applied in order; all or nothing")],
    output: OutputArg = None,
) -> ToolOutput:
    """Edit a DOCX: replace_text (keeps each run's formatting), insert_paragraph, delete_paragraph, set_style, set_table_cell.

    Paragraph indexes count body paragraphs from 0 (tables excluded); delete_paragraph and
    set_style also accept `containing` text instead of an index.
    """
    return _edit(ctx, path, "docx", output, operations)


def edit_pptx(
    ctx: ToolContext,
    path: PathArg,
    operations: Annotated[list[PptxOp], Field(min_length=1, description="operations applied in order; all or nothing")],
    output: OutputArg = None,
) -> ToolOutput:
    """Edit a PPTX: set_text, set_font_size, move_resize (points), delete_shape, add_slide, duplicate_slide, delete_slide, move_slide, set_notes.

    Slides count from 1; shapes are named as check_document/inspect report them (e.g. 'TextBox 3')
    or by numeric id. Geometry is in points from the slide's top-left corner.
    """
    return _edit(ctx, path, "pptx", output, operations)


def edit_xlsx(
    ctx: ToolContext,
    path: PathArg,
    operations: Annotated[list[XlsxOp], Field(min_length=1, description="operations applied in order; all or nothing")],
    output: OutputArg = None,
) -> ToolOutput:
    """Edit an XLSX: set_value, set_formula, set_number_format, set_column_width, add_sheet, rename_sheet.

    Cells are A1 references on a named sheet (default: the first). The result is recalculated
    so every formula carries its value; charts and images are not kept (openpyxl).
    """
    return _edit(ctx, path, "xlsx", output, operations)


def edit_pdf(
    ctx: ToolContext,
    path: PathArg,
    operations: Annotated[list[PdfOp], Field(min_length=1, description="operations applied in order; all or nothing")],
    output: OutputArg = None,
) -> ToolOutput:
    """Edit a PDF: merge (other PDFs in the home), rotate, delete_pages, fill_form, stamp_text, and split (last; one file per range).

    Pages count from 1; page lists look like '1-3,5' or 'all'. stamp_text positions are 0-1000
    of the page as displayed.
    """
    return _edit(ctx, path, "pdf", output, operations)


TOOLS = [tool(check_document), tool(edit_docx), tool(edit_pptx), tool(edit_xlsx), tool(edit_pdf)]
