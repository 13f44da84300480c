"""Model tools: QA-check a document, and edit DOCX/PPTX/XLSX/PDF with typed operations.

Paths are relative to the home. Edits read the source anywhere in the home and write to
outputs/ (default outputs/<stem>.edited.<ext>); a file already in outputs/ is edited in place,
so the model can fix, check and fix again. The user's originals are never written."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Callable

from PIL import Image
from pydantic import Field

from sandbox.paths import PathOutsideHome, relative_to_home, resolve_in_home
from tools.documents import DocumentError, detect_format
from tools.documents.check import annotate as annotate_report
from tools.documents.check import check_document as run_checks
from tools.documents.edit_docx import DocxOp, edit_docx as apply_docx
from tools.documents.edit_pdf import PdfOp, edit_pdf as apply_pdf
from tools.documents.edit_pptx import PptxOp, edit_pptx as apply_pptx
from tools.documents.edit_xlsx import XlsxOp, edit_xlsx as apply_xlsx
from tools.registry import ToolContext, ToolError, ToolOutput, tool

PathArg = Annotated[str, Field(description="file path relative to the home, e.g. 'inputs/deck.pptx' or 'outputs/deck.edited.pptx'")]
OutputArg = Annotated[str | None, Field(None, description="where to write, inside outputs/ (default: outputs/<stem>.edited.<ext>, or in place for a file already in outputs/)")]


def _resolve(ctx: ToolContext, path: str) -> Path:
    try:
        return resolve_in_home(ctx.home, path)
    except PathOutsideHome as exc:
        raise ToolError(str(exc)) from None


def _source(ctx: ToolContext, path: str, fmt: str | None = None) -> Path:
    src = _resolve(ctx, path)
    if not src.is_file():
        raise ToolError(f"{path}: no such file in the home")
    if fmt is not None:
        try:
            found = detect_format(src)
        except DocumentError as exc:
            raise ToolError(str(exc)) from None
        if found != fmt:
            raise ToolError(f"{path} is a {found.upper()} file; use edit_{found} for it" if found in ("docx", "pptx", "xlsx", "pdf")
                            else f"{path} is a {found.upper()} file; only DOCX, PPTX, XLSX and PDF can be edited")
    return src


def _destination(ctx: ToolContext, src: Path, output: str | None) -> Path:
    outputs = (ctx.home / "outputs").resolve()
    if output is None:
        if src.is_relative_to(outputs):
            return src
        return outputs / f"{src.stem}.edited{src.suffix.lower()}"
    dest = _resolve(ctx, output)
    if not dest.is_relative_to(outputs) or dest == outputs:
        raise ToolError(f"output {output!r} must be a file inside outputs/, e.g. outputs/{src.stem}.edited{src.suffix.lower()}")
    if dest.suffix.lower() != src.suffix.lower():
        raise ToolError(f"output {output!r} must keep the extension {src.suffix.lower()}")
    return dest


def _edit(ctx: ToolContext, path: str, fmt: str, output: str | None, apply: Callable[[Path, Path], list[str]]) -> ToolOutput:
    src = _source(ctx, path, fmt)
    dest = _destination(ctx, src, output)
    try:
        done = apply(src, dest)
    except DocumentError as exc:
        raise ToolError(f"{exc}; nothing was written") from None
    where = relative_to_home(ctx.home, dest)
    lines = [f"wrote {where} ({len(done)} step(s)); check it with check_document"] + [f"- {d}" for d in done]
    return ToolOutput("\n".join(lines), data={"written": where, "source": relative_to_home(ctx.home, src)})


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
    src = _source(ctx, path)
    work = ctx.home / "tmp" / "check" / src.stem
    try:
        report = run_checks(src, work)
    except DocumentError as exc:
        raise ToolError(str(exc)) from None
    text = report.format_text()
    image_ids = []
    if annotate and report.pages:
        sheet = annotate_report(report, work / "findings.png")
        with Image.open(sheet) as im:
            rec = ctx.images.add(im.convert("RGB"), parent=None, op="check",
                                 params={"file": relative_to_home(ctx.home, src), "findings": len(report.findings)})
        image_ids.append(rec.id)
        text += f"\nannotated pages: {rec.id} (boxes numbered as above)"
    return ToolOutput(text, image_ids=image_ids, data={"counts": report.counts(), "findings": [f.to_dict() for f in report.findings]})


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
    return _edit(ctx, path, "docx", output, lambda s, d: apply_docx(s, d, operations))


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
    return _edit(ctx, path, "pptx", output, lambda s, d: apply_pptx(s, d, operations))


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
    return _edit(ctx, path, "xlsx", output, lambda s, d: apply_xlsx(s, d, operations))


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
    return _edit(ctx, path, "pdf", output, lambda s, d: apply_pdf(s, d, operations, resolve=lambda p: _source(ctx, p, "pdf")))


TOOLS = [tool(check_document), tool(edit_docx), tool(edit_pptx), tool(edit_xlsx), tool(edit_pdf)]
