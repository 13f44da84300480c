"""DOCX structure: sections, headings outline, paragraphs with styles, tables, images, text boxes, comments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docx
from docx.oxml.exceptions import InvalidXmlError
from docx.oxml.ns import qn

MAX_PARAGRAPHS = 400
MAX_TABLE_ROWS = 30
MAX_TEXT = 1500


def _pt(length) -> float | None:
    return None if length is None else round(length.pt, 2)


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def inspect_docx(path: Path) -> dict[str, Any]:
    document = docx.Document(str(path))
    body = document.element.body

    sections = []
    for number, s in enumerate(document.sections):
        sections.append(
            {
                "page_width_pt": _pt(s.page_width),
                "page_height_pt": _pt(s.page_height),
                "orientation": "landscape" if s.orientation == 1 else "portrait",
                "margins_pt": {
                    "top": _pt(s.top_margin),
                    "bottom": _pt(s.bottom_margin),
                    "left": _pt(s.left_margin),
                    "right": _pt(s.right_margin),
                },
                "columns": int(s._sectPr.find(qn("w:cols")).get(qn("w:num"), "1"))
                if s._sectPr.find(qn("w:cols")) is not None
                else 1,
                "header_text": _header_text(s.header, number),
                "footer_text": _header_text(s.footer, number),
            }
        )

    outline, paragraphs = [], []
    total_words = 0
    for index, p in enumerate(document.paragraphs):
        text = p.text
        total_words += len(text.split())
        style = _style_name(p)
        level = _heading_level(p, style)
        if level is not None and text.strip():
            outline.append({"level": level, "text": _clip(text, 200), "paragraph": index})
        if len(paragraphs) < MAX_PARAGRAPHS and (text.strip() or level is not None):
            entry: dict[str, Any] = {"index": index, "style": style, "text": _clip(text)}
            sizes = sorted({r.font.size.pt for r in p.runs if r.font.size is not None})
            if sizes:
                entry["font_sizes_pt"] = sizes
            if p.alignment is not None:
                entry["alignment"] = str(p.alignment).split(".")[-1].split(" ")[0].lower()
            paragraphs.append(entry)

    tables = [_table(index, table) for index, table in enumerate(document.tables)]

    images = []
    for shape in document.inline_shapes:
        try:
            kind = str(shape.type).split(".")[-1].split(" ")[0].lower()
        except (AttributeError, InvalidXmlError):  # a picture's graphic without its <pic:pic>
            kind = "unknown"
        images.append({"width_pt": _pt(shape.width), "height_pt": _pt(shape.height), "kind": kind})
    anchored = len(body.findall(".//" + qn("wp:anchor")))

    text_boxes = []
    for box in body.iter(qn("w:txbxContent")):
        text = "\n".join("".join(t.text or "" for t in p.iter(qn("w:t"))) for p in box.iter(qn("w:p")))
        if text.strip():
            text_boxes.append(_clip(text, 500))

    comments = []
    try:
        for c in document.comments:
            comments.append(
                {"id": c.comment_id, "author": c.author, "initials": c.initials, "text": _clip(c.text, 500)}
            )
    except (AttributeError, KeyError, ValueError):
        pass

    notes = []
    if len(document.paragraphs) > MAX_PARAGRAPHS:
        notes.append(f"paragraph list cut at {MAX_PARAGRAPHS} non-empty paragraphs of {len(document.paragraphs)}")
    return {
        "sections": sections,
        "outline": outline,
        "paragraphs": paragraphs,
        "tables": tables,
        "images": images,
        "floating_drawings": anchored,
        "text_boxes": text_boxes,
        "comments": comments,
        "stats": {
            "paragraphs": len(document.paragraphs),
            "words": total_words,
            "tables": len(tables),
            "inline_images": len(images),
            "comments": len(comments),
        },
        "notes": notes,
    }


def _table(index: int, table) -> dict[str, Any]:
    """A table's size, style and first rows. Word opens tables without the <w:tblPr> or <w:tblGrid>
    the schema requires (python-docx refuses them), and grids that gridBefore/vMerge make
    irregular: then the counts and cells come from the rows' own <w:tc> elements."""
    rows_xml = table._tbl.findall(qn("w:tr"))
    try:
        style = table.style.name if table.style is not None else None
    except (InvalidXmlError, KeyError, ValueError, AttributeError):  # no <w:tblPr>, or a dangling style id
        style = None
    try:
        cols = len(table.columns)
    except InvalidXmlError:  # no <w:tblGrid>
        cols = max((len(tr.findall(qn("w:tc"))) for tr in rows_xml), default=0)
    rows = []
    for row, tr in zip(table.rows, rows_xml[:MAX_TABLE_ROWS]):
        try:
            rows.append([_clip(c.text, 200) for c in row.cells])
        except (IndexError, ValueError, InvalidXmlError):
            rows.append([_clip(_xml_text(tc), 200) for tc in tr.findall(qn("w:tc"))])
    return {"index": index, "rows": len(rows_xml), "cols": cols, "style": style, "cells": rows}


def _xml_text(element) -> str:
    return "\n".join("".join(t.text or "" for t in p.iter(qn("w:t"))) for p in element.iter(qn("w:p")))


def _style_name(p) -> str | None:
    try:
        return p.style.name if p.style is not None else None
    except (KeyError, ValueError, AttributeError):  # missing styles part or a dangling style id
        return None


def _heading_level(p, style: str | None) -> int | None:
    if style:
        if style == "Title":
            return 0
        if style.startswith("Heading "):
            try:
                return int(style.split(" ", 1)[1])
            except ValueError:
                return None
    ppr = p._p.pPr
    if ppr is not None:
        lvl = ppr.find(qn("w:outlineLvl"))
        if lvl is not None:
            try:
                value = int(lvl.get(qn("w:val")))
                return value + 1 if value < 9 else None
            except (TypeError, ValueError):
                return None
    return None


def _header_text(story, section_number: int) -> str:
    if story.is_linked_to_previous:
        return "(same as previous section)" if section_number else ""
    return _clip(_story_text(story), 300)


def _story_text(story) -> str:
    try:
        return "\n".join(p.text for p in story.paragraphs if p.text.strip())
    except (KeyError, ValueError, AttributeError):
        return ""
