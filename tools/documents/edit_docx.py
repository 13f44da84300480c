"""Structured edits of a DOCX with python-docx: replace text keeping each run's formatting,
insert/delete paragraphs, set paragraph styles, fill table cells.

Paragraphs are addressed by `index` (0-based, body paragraphs outside tables, in reading
order) or by `containing` (the first body paragraph whose text contains the string)."""

from __future__ import annotations

from pathlib import Path

import docx
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from tools.documents.edit_common import EditError, save_verified
from tools.documents.edit_ops import (
    DeleteParagraph,
    InsertParagraph,
    ParagraphTarget,
    ReplaceText,
    SetStyle,
    SetTableCell,
)  # noqa: F401 (re-exported)


def edit_docx(src: Path, dest: Path, operations: list) -> list[str]:
    """Apply `operations` in order to `src`, write `dest` atomically; one line per operation done."""
    try:
        document = docx.Document(str(src))
    except Exception as exc:
        raise EditError(f"{Path(src).name}: not a readable DOCX ({type(exc).__name__}: {exc})") from None
    done = []
    for n, op in enumerate(operations, 1):
        try:
            done.append(_APPLY[type(op)](document, op))
        except EditError as exc:
            raise EditError(f"operation {n} ({op.op}): {exc}") from None
    save_verified(dest, lambda tmp: document.save(str(tmp)), lambda tmp: docx.Document(str(tmp)))
    return done


def _all_paragraphs(document):
    """Body, table-cell, header and footer paragraphs: everywhere text can be replaced."""

    def in_tables(tables):
        for table in tables:
            for row in table.rows:
                for cell in row.cells:
                    yield from cell.paragraphs
                    yield from in_tables(cell.tables)

    yield from document.paragraphs
    yield from in_tables(document.tables)
    for section in document.sections:
        for part in (section.header, section.footer, section.first_page_header, section.first_page_footer):
            if part.is_linked_to_previous:
                continue
            yield from part.paragraphs
            yield from in_tables(part.tables)


def _replace_in_paragraph(paragraph: Paragraph, find: str, replace: str, match_case: bool) -> int:
    runs = [Run(r, paragraph) for r in paragraph._p.xpath("./w:r | ./w:hyperlink/w:r | ./w:ins/w:r | ./w:smartTag/w:r")]
    texts = [r.text for r in runs]
    full = "".join(texts)
    haystack, needle = (full, find) if match_case else (full.lower(), find.lower())
    starts, pos = [], haystack.find(needle)
    while pos >= 0:
        starts.append(pos)
        pos = haystack.find(needle, pos + len(needle))
    if not starts:
        return 0
    bounds, offset = [], 0
    for t in texts:
        bounds.append((offset, offset + len(t)))
        offset += len(t)
    # Right to left, so earlier offsets stay valid.
    for start in reversed(starts):
        end = start + len(find)
        first = next(i for i, (a, b) in enumerate(bounds) if a <= start < b)
        last = next(i for i, (a, b) in enumerate(bounds) if a < end <= b)
        a0 = bounds[first][0]
        if first == last:
            texts[first] = texts[first][: start - a0] + replace + texts[first][end - a0 :]
        else:
            texts[first] = texts[first][: start - a0] + replace
            for i in range(first + 1, last):
                texts[i] = ""
            texts[last] = texts[last][end - bounds[last][0] :]
    for run, old, new in zip(runs, [r.text for r in runs], texts):
        if new != old:
            if new:
                run.text = new
            else:
                run._r.getparent().remove(run._r)
    return len(starts)


def _replace_text(document, op: ReplaceText) -> str:
    count = sum(_replace_in_paragraph(p, op.find, op.replace, op.match_case) for p in _all_paragraphs(document))
    if not count:
        raise EditError(f"text {op.find!r} not found in the document")
    return f"replaced {count} occurrence(s) of {op.find!r} with {op.replace!r}"


def _style(document, name: str):
    try:
        style = document.styles[name]
    except KeyError:
        names = sorted(s.name for s in document.styles if s.type == 1)
        raise EditError(f"no paragraph style {name!r}; the document has: {', '.join(names)}") from None
    return style


def _target(document, op: ParagraphTarget) -> tuple[int, Paragraph]:
    paragraphs = document.paragraphs
    if (op.index is None) == (op.containing is None):
        raise EditError("give exactly one of index or containing")
    if op.index is not None:
        if op.index >= len(paragraphs):
            raise EditError(
                f"paragraph index {op.index} is out of range: the body has {len(paragraphs)} paragraph(s), from 0"
            )
        return op.index, paragraphs[op.index]
    for i, p in enumerate(paragraphs):
        if op.containing in p.text:
            return i, p
    raise EditError(f"no body paragraph contains {op.containing!r}")


def _insert_paragraph(document, op: InsertParagraph) -> str:
    paragraphs = document.paragraphs
    if op.index > len(paragraphs):
        raise EditError(f"index {op.index} is past the end: the body has {len(paragraphs)} paragraph(s)")
    style = _style(document, op.style) if op.style else None
    if op.index == len(paragraphs):
        document.add_paragraph(op.text, style)
    else:
        paragraphs[op.index].insert_paragraph_before(op.text, style)
    return f"inserted paragraph {op.index}{f' ({op.style})' if op.style else ''}: {op.text[:60]!r}"


def _delete_paragraph(document, op: DeleteParagraph) -> str:
    i, paragraph = _target(document, op)
    paragraph._p.getparent().remove(paragraph._p)
    return f"deleted paragraph {i}: {paragraph.text[:60]!r}"


def _set_style(document, op: SetStyle) -> str:
    i, paragraph = _target(document, op)
    paragraph.style = _style(document, op.style)
    return f"set paragraph {i} to style {op.style!r}"


def _set_table_cell(document, op: SetTableCell) -> str:
    tables = document.tables
    if op.table >= len(tables):
        raise EditError(f"table {op.table} does not exist: the body has {len(tables)} table(s), from 0")
    table = tables[op.table]
    if op.row >= len(table.rows) or op.col >= len(table.columns):
        raise EditError(
            f"cell ({op.row}, {op.col}) is outside table {op.table}, which is {len(table.rows)} rows x {len(table.columns)} columns"
        )
    cell = table.cell(op.row, op.col)
    first, *rest = cell.paragraphs
    for extra in rest:
        extra._p.getparent().remove(extra._p)
    runs = first.runs
    if runs:
        runs[0].text = op.text
        for r in runs[1:]:
            r._r.getparent().remove(r._r)
    else:
        first.add_run(op.text)
    return f"set table {op.table} cell ({op.row}, {op.col}) to {op.text[:60]!r}"


_APPLY = {
    ReplaceText: _replace_text,
    InsertParagraph: _insert_paragraph,
    DeleteParagraph: _delete_paragraph,
    SetStyle: _set_style,
    SetTableCell: _set_table_cell,
}
