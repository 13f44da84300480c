"""DOCX rules from the document structure (python-docx): placeholder text, explicitly tiny
fonts, pictures wider than the page. Locations come from finding the text on the render."""

from __future__ import annotations

from pathlib import Path

import docx
from docx.oxml.ns import qn
from docx.table import _Cell

from tools.documents.checks.findings import Finding, placeholder_matches, snippet
from tools.documents.checks.render_rules import PageText, locate

MIN_DOC_FONT_PT = 8.0


def _paragraphs(document):
    def in_tables(tables, where):
        # Cell by cell as the rows hold them: python-docx's grid view needs the <w:tblGrid> and
        # <w:tblPr> real-world tables may lack, and repeats a merged cell once per grid column.
        for t, table in enumerate(tables):
            for r, tr in enumerate(table._tbl.findall(qn("w:tr"))):
                for c, tc in enumerate(tr.findall(qn("w:tc"))):
                    cell = _Cell(tc, table)
                    for p in cell.paragraphs:
                        yield f"{where}table {t} cell ({r}, {c})", p
                    yield from in_tables(cell.tables, f"{where}table {t} cell ({r}, {c}) ")

    for i, p in enumerate(document.paragraphs):
        yield f"paragraph {i}", p
    yield from in_tables(document.tables, "")
    for s, section in enumerate(document.sections):
        for name in ("header", "footer"):
            part = getattr(section, name)
            if not part.is_linked_to_previous:
                for p in part.paragraphs:
                    yield f"section {s} {name}", p


def docx_findings(path: Path, texts: list[PageText]) -> list[Finding]:
    document = docx.Document(str(path))
    out: list[Finding] = []
    for where, paragraph in _paragraphs(document):
        text = paragraph.text
        if not text.strip():
            continue
        words = list(dict.fromkeys(placeholder_matches(text)))
        if words:
            found = locate(texts, words[0])
            out.append(
                Finding(
                    "placeholder-text",
                    "error",
                    f"{where} has placeholder text ({', '.join(repr(w) for w in words)}): {snippet(text)!r}",
                    f"replace it (replace_text find={words[0]!r}) or delete the paragraph (delete_paragraph)",
                    page=found[0] if found else None,
                    box=found[1] if found else None,
                    element=where,
                )
            )
        tiny = [
            r for r in paragraph.runs if r.text.strip() and r.font.size is not None and r.font.size.pt < MIN_DOC_FONT_PT
        ]
        if tiny:
            size = min(r.font.size.pt for r in tiny)
            found = locate(texts, tiny[0].text.strip()[:30])
            out.append(
                Finding(
                    "small-font",
                    "warning",
                    f"{where} has {size:g} pt text: {snippet(tiny[0].text)!r}",
                    f"use at least {MIN_DOC_FONT_PT:g} pt",
                    page=found[0] if found else None,
                    box=found[1] if found else None,
                    element=where,
                )
            )
    section = document.sections[0]
    if section.page_width and section.left_margin is not None:
        room = (section.page_width - section.left_margin) / 12700
        for n, shape in enumerate(document.inline_shapes):
            width = shape.width / 12700 if shape.width else 0
            if width > room + 1:
                out.append(
                    Finding(
                        "off-page",
                        "error",
                        f"inline picture {n} is {width:.0f} pt wide but only {room:.0f} pt remain from the left margin to the page edge; it is cut off",
                        f"scale it to the text width ({(section.page_width - section.left_margin - section.right_margin) / 12700:.0f} pt)",
                        element=f"inline picture {n}",
                    )
                )
    return out
