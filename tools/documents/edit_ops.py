"""The typed operations of each document editor, as the model sends them.

Only their shapes: pydantic models the tool schemas are generated from and arguments are
validated against, in the agent process. The editors that apply them (tools.documents.edit_*,
on python-docx, python-pptx, openpyxl and pypdf) run in the jailed document worker.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

# -- DOCX --------------------------------------------------------------------------------


class _Op(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParagraphTarget(_Op):
    index: int | None = Field(None, ge=0, description="0-based index of the body paragraph (tables excluded)")
    containing: str | None = Field(
        None, min_length=1, description="or: the first body paragraph whose text contains this"
    )


class ReplaceText(_Op):
    op: Literal["replace_text"]
    find: str = Field(min_length=1, description="exact text to find (may span formatting runs)")
    replace: str = Field(description="replacement; takes the formatting of the run where the match starts")
    match_case: bool = True


class InsertParagraph(_Op):
    op: Literal["insert_paragraph"]
    index: int = Field(ge=0, description="position the new paragraph takes (0 = first; the paragraph count appends)")
    text: str
    style: str | None = Field(
        None, description="paragraph style name, e.g. 'Heading 1'; default: the document's Normal"
    )


class DeleteParagraph(ParagraphTarget):
    op: Literal["delete_paragraph"]


class SetStyle(ParagraphTarget):
    op: Literal["set_style"]
    style: str = Field(description="paragraph style name, e.g. 'Heading 2', 'List Bullet'")


class SetTableCell(_Op):
    op: Literal["set_table_cell"]
    table: int = Field(ge=0, description="0-based table index in the body")
    row: int = Field(ge=0, description="0-based row")
    col: int = Field(ge=0, description="0-based column")
    text: str = Field(description="new cell text; keeps the formatting of the cell's first run")


DocxOp = Annotated[
    Union[ReplaceText, InsertParagraph, DeleteParagraph, SetStyle, SetTableCell], Field(discriminator="op")
]


# -- PPTX --------------------------------------------------------------------------------


class ShapeOp(_Op):
    slide: int = Field(ge=1, description="slide number, from 1")
    shape: str = Field(min_length=1, description="shape name (e.g. 'TextBox 3') or numeric shape id as a string")


class SetText(ShapeOp):
    op: Literal["set_text"]
    text: str = Field(
        description="new text; '\\n' separates paragraphs; each paragraph keeps the formatting of the one it replaces"
    )


class SetFontSize(ShapeOp):
    op: Literal["set_font_size"]
    size_pt: float = Field(gt=0, le=400, description="font size in points for every run in the shape")


class MoveResize(ShapeOp):
    op: Literal["move_resize"]
    left_pt: float | None = Field(None, description="new left edge in points from the slide's left")
    top_pt: float | None = Field(None, description="new top edge in points from the slide's top")
    width_pt: float | None = Field(None, gt=0)
    height_pt: float | None = Field(None, gt=0)


class DeleteShape(ShapeOp):
    op: Literal["delete_shape"]


class AddSlide(_Op):
    op: Literal["add_slide"]
    layout: str | int | None = Field(
        None,
        description="layout name (e.g. 'Title and Content') or 0-based layout index; default: 'Title and Content' if present",
    )
    position: int | None = Field(None, ge=1, description="slide number the new slide gets; default: last")
    title: str | None = None
    body: str | None = Field(None, description="text for the body placeholder; '\\n' separates paragraphs")


class DuplicateSlide(_Op):
    op: Literal["duplicate_slide"]
    slide: int = Field(ge=1)
    position: int | None = Field(
        None, ge=1, description="slide number the copy gets; default: right after the original"
    )


class DeleteSlide(_Op):
    op: Literal["delete_slide"]
    slide: int = Field(ge=1)


class MoveSlide(_Op):
    op: Literal["move_slide"]
    slide: int = Field(ge=1)
    to: int = Field(ge=1, description="the slide number it has afterwards")


class SetNotes(_Op):
    op: Literal["set_notes"]
    slide: int = Field(ge=1)
    text: str = Field(description="speaker notes, replacing any existing ones")


PptxOp = Annotated[
    Union[SetText, SetFontSize, MoveResize, DeleteShape, AddSlide, DuplicateSlide, DeleteSlide, MoveSlide, SetNotes],
    Field(discriminator="op"),
]


# -- XLSX --------------------------------------------------------------------------------


class SheetOp(_Op):
    sheet: str | None = Field(None, description="sheet name; default: the first sheet")


class SetValue(SheetOp):
    op: Literal["set_value"]
    cell: str = Field(description="A1 reference, e.g. 'B7'")
    value: str | float | int | bool | None = Field(
        description="literal value (null clears the cell); use set_formula for formulas"
    )


class SetFormula(SheetOp):
    op: Literal["set_formula"]
    cell: str = Field(description="A1 reference, e.g. 'B8'")
    formula: str = Field(description="Excel formula starting with '=', e.g. '=SUM(B2:B6)'")


class SetNumberFormat(SheetOp):
    op: Literal["set_number_format"]
    range: str = Field(description="cell or range, e.g. 'B2:B8'")
    format: str = Field(description="Excel number format, e.g. '#,##0.00', '0%', 'yyyy-mm-dd'")


class SetColumnWidth(SheetOp):
    op: Literal["set_column_width"]
    columns: str = Field(description="a column 'B' or a span 'B:D'")
    width: float = Field(gt=0, le=255, description="width in characters of the default font")


class AddSheet(_Op):
    op: Literal["add_sheet"]
    name: str = Field(min_length=1, max_length=31)
    position: int | None = Field(None, ge=1, description="1-based position among the sheets; default: last")


class RenameSheet(_Op):
    op: Literal["rename_sheet"]
    sheet: str
    new_name: str = Field(min_length=1, max_length=31, description="formulas that refer to the old name are updated")


XlsxOp = Annotated[
    Union[SetValue, SetFormula, SetNumberFormat, SetColumnWidth, AddSheet, RenameSheet], Field(discriminator="op")
]


# -- PDF --------------------------------------------------------------------------------


class Merge(_Op):
    op: Literal["merge"]
    files: list[str] = Field(min_length=1, description="PDF paths (relative to the home) whose pages are inserted")
    position: int | None = Field(
        None, ge=1, description="page number the first inserted page gets; default: appended at the end"
    )


class Split(_Op):
    op: Literal["split"]
    ranges: list[str] = Field(
        min_length=1, description="one output file per page range, e.g. ['1-2', '3-5']; must be the last operation"
    )


class Rotate(_Op):
    op: Literal["rotate"]
    pages: str = Field("all", description="e.g. '1-3,5' or 'all'")
    degrees: Literal[90, 180, 270] = Field(description="clockwise")


class DeletePages(_Op):
    op: Literal["delete_pages"]
    pages: str = Field(description="e.g. '2' or '4-6'")


class FillForm(_Op):
    op: Literal["fill_form"]
    fields: dict[str, str] = Field(description="form field name → value (check boxes: '/Yes' or '/Off')")


class StampText(_Op):
    op: Literal["stamp_text"]
    text: str = Field(min_length=1, description="one line of text (Latin-1 characters)")
    pages: str = Field("all", description="e.g. '1' or 'all'")
    x: float = Field(ge=0, le=1000, description="left edge of the text, 0-1000 across the page as displayed")
    y: float = Field(ge=0, le=1000, description="top of the text, 0-1000 down the page as displayed")
    size_pt: float = Field(12, gt=0, le=300)
    color: str = Field("#ff0000", pattern=r"^#[0-9a-fA-F]{6}$", description="hex colour")


PdfOp = Annotated[Union[Merge, Split, Rotate, DeletePages, FillForm, StampText], Field(discriminator="op")]
