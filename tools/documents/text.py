"""`read_text`: the plain text of a document, page by page, slide by slide, sheet by sheet."""

from __future__ import annotations

from pathlib import Path

from tools.documents.formats import sniff
from tools.documents.inspect import inspect_document
from tools.documents.pdfcheck import open_pdf


def read_text(path: str | Path, max_chars: int = 200_000) -> str:
    """The document's text. PDF by page, PPTX by slide (with notes), XLSX by sheet (cell: value),
    DOCX (and other word-processing files) in reading order including table cells."""
    path = Path(path)
    fmt = sniff(path).format
    if fmt == "pdf":
        text = _pdf_text(path, max_chars)
    else:
        d = inspect_document(path)
        if "slides" in d:
            text = _slides_text(d)
        elif "sheets" in d:
            text = _sheets_text(d)
        else:
            text = _docx_text(path, d)
    if len(text) > max_chars:
        text = text[:max_chars] + f"\n[… cut at {max_chars:,} characters]"
    return text


def _pdf_text(path: Path, max_chars: int) -> str:
    parts = []
    size = 0
    with open_pdf(path) as doc:
        for i in range(len(doc)):
            page = doc[i]
            textpage = page.get_textpage()
            try:
                text = textpage.get_text_bounded().replace("\r\n", "\n")
            finally:
                textpage.close()
                page.close()
            parts.append(f"--- page {i + 1} ---\n{text}")
            size += len(text)
            if size > max_chars:
                break
    return "\n".join(parts)


def _slides_text(d: dict) -> str:
    out = []

    def walk(shapes):
        for s in shapes:
            if s.get("text", "").strip():
                out.append(s["text"])
            if s.get("table"):
                out.extend("\t".join(row) for row in s["table"]["cells"])
            walk(s.get("children", []))

    for slide in d["slides"]:
        out.append(f"--- slide {slide['number']} ---")
        walk(slide["shapes"])
        if slide["notes"].strip():
            out.append(f"[notes] {slide['notes']}")
    return "\n".join(out)


def _sheets_text(d: dict) -> str:
    out = []
    for s in d["sheets"]:
        out.append(f"--- sheet {s['name']} ---")
        for c in s.get("cells", []):
            value = c.get("value", c.get("cached_value"))
            out.append(f"{c['ref']}: {value}" + (f"  [{c['formula']}]" if "formula" in c else ""))
    return "\n".join(out)


def _docx_text(path: Path, d: dict) -> str:
    if d.get("converted_from"):
        # the reader saw a converted copy; its paragraph list is what we have
        return "\n".join(p["text"] for p in d["paragraphs"])
    import docx
    from docx.oxml.ns import qn

    document = docx.Document(str(path))
    out = []
    for block in document.element.body.iterchildren():
        if block.tag == qn("w:p"):
            out.append("".join(t.text or "" for t in block.iter(qn("w:t"))))
        elif block.tag == qn("w:tbl"):
            for row in block.iter(qn("w:tr")):
                cells = ["".join(t.text or "" for t in cell.iter(qn("w:t"))) for cell in row.iter(qn("w:tc"))]
                out.append("\t".join(cells))
    return "\n".join(out)
