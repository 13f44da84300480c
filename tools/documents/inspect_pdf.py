"""PDF structure: pages (size, rotation, text, images), form fields, encryption, metadata.

PDFium gives the pages (it opens damaged files pypdf cannot); pypdf adds form fields,
encryption details and metadata when it can read the file.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pypdfium2.raw as pdfium_c

from tools.documents.pdfcheck import open_pdf

MAX_TEXT_PER_PAGE = 4000
MAX_PAGES_WITH_TEXT = 200


def inspect_pdf(path: Path) -> dict[str, Any]:
    pages = []
    with open_pdf(path) as doc:
        count = len(doc)
        for i in range(count):
            page = doc[i]
            try:
                w, h = page.get_size()
                entry: dict[str, Any] = {
                    "number": i + 1,
                    "width_pt": round(w, 2),
                    "height_pt": round(h, 2),
                    "rotation": page.get_rotation(),
                }
                if i < MAX_PAGES_WITH_TEXT:
                    textpage = page.get_textpage()
                    try:
                        text = textpage.get_text_bounded()
                        entry["chars"] = textpage.count_chars()
                    finally:
                        textpage.close()
                    text = text.replace("\r\n", "\n")
                    entry["text"] = text if len(text) <= MAX_TEXT_PER_PAGE else text[:MAX_TEXT_PER_PAGE] + "…"
                    entry["images"] = sum(
                        1 for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3)
                    )
                pages.append(entry)
            finally:
                page.close()
    info: dict[str, Any] = {"page_count": count, "pages": pages, "notes": []}
    if count > MAX_PAGES_WITH_TEXT:
        info["notes"].append(f"text and images listed for the first {MAX_PAGES_WITH_TEXT} pages only")
    info.update(_pypdf_details(path, info["notes"]))
    return info


def _pypdf_details(path: Path, notes: list[str]) -> dict[str, Any]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    details: dict[str, Any] = {"encrypted": False, "form_fields": [], "metadata": {}}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(str(path), strict=False)
            if reader.is_encrypted:
                details["encrypted"] = True
                reader.decrypt("")  # check_pdf let the file through, so the empty user password opens it
                encrypt = reader.trailer["/Encrypt"].get_object()
                details["encryption"] = {
                    "filter": str(encrypt.get("/Filter")),
                    "revision": int(encrypt.get("/R", 0)),
                    "key_bits": int(encrypt.get("/Length", 40)),
                    "note": "opens without a password (owner password only)",
                }
            fields = reader.get_fields() or {}
            for name, field in list(fields.items())[:300]:
                details["form_fields"].append(
                    {
                        "name": name,
                        "type": str(field.get("/FT", "")).lstrip("/"),
                        "value": _short(field.get("/V")),
                    }
                )
            meta = reader.metadata or {}
            details["metadata"] = {k.lstrip("/"): _short(v) for k, v in meta.items() if v is not None}
            attachments = list(getattr(reader, "attachments", {}) or {})
            if attachments:
                details["attachments"] = attachments
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError) as exc:
        notes.append(f"form fields/metadata unavailable: pypdf could not read the file ({type(exc).__name__})")
    return details


def _short(value: Any, limit: int = 200) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"
