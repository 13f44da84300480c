"""Rules that look at the rendered document: the PDF's text layer (PDFium character boxes) and
the page images. Also finds where a string sits on a page, so findings from the structure
(a placeholder word, a formula error) can be boxed on the page image."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pypdfium2.raw as pdfium_c
from PIL import Image
from pypdf import PdfReader

from tools.documents.checks.findings import Box, Finding, placeholder_matches, snippet
from tools.documents.pdfcheck import open_pdf

BLANK_INK_FRACTION = 0.0005  # pages with less ink than this (and no text) are blank
MIN_PDF_FONT_PT = 6.0


@dataclass
class PageText:
    number: int  # 1-based
    width: float  # points, as displayed
    height: float
    text: str = ""
    boxes: list[tuple[float, float, float, float] | None] = field(default_factory=list)  # per char, top-left origin
    sizes: list[float] = field(default_factory=list)  # per char font size, points
    rotated: bool = False

    @property
    def char_count(self) -> int:
        return len(self.text.strip())

    def find(self, needle: str, match_case: bool = True) -> list[tuple[float, float, float, float]]:
        """Bounding boxes (points, top-left origin) of each occurrence of `needle`."""
        hay, pin = (self.text, needle) if match_case else (self.text.lower(), needle.lower())
        found, pos = [], hay.find(pin)
        while pos >= 0 and pin:
            boxes = [b for b in self.boxes[pos : pos + len(pin)] if b is not None]
            if boxes:
                found.append(
                    (
                        min(b[0] for b in boxes),
                        min(b[1] for b in boxes),
                        max(b[2] for b in boxes),
                        max(b[3] for b in boxes),
                    )
                )
            pos = hay.find(pin, pos + len(pin))
        return found

    def box(self, rect: tuple[float, float, float, float]) -> Box:
        return Box.from_points(*rect, self.width, self.height)


def read_page_texts(pdf: Path) -> list[PageText]:
    pages = []
    with open_pdf(pdf) as doc:
        for i in range(len(doc)):
            page = doc[i]
            width, height = page.get_size()
            rotated = page.get_rotation() % 360 != 0
            textpage = page.get_textpage()
            try:
                n = textpage.count_chars()
                text = textpage.get_text_range(0, n) if n else ""
                info = PageText(i + 1, width, height, rotated=rotated)
                if len(text) != n:  # surrogate pairs break the index mapping; keep text, drop positions
                    info.text, info.boxes, info.sizes = text, [None] * len(text), [0.0] * len(text)
                else:
                    info.text = text
                    for k in range(n):
                        left, bottom, right, top = textpage.get_charbox(k)
                        info.boxes.append(
                            None
                            if rotated or (left == right and top == bottom)
                            else (left, height - top, right, height - bottom)
                        )
                        info.sizes.append(pdfium_c.FPDFText_GetFontSize(textpage.raw, k))
                pages.append(info)
            finally:
                textpage.close()
                page.close()
    return pages


def ink_fraction(png: Path) -> float:
    """Share of pixels that differ clearly from the page's background colour."""
    with Image.open(png) as im:
        small = im.convert("RGB")
        small.thumbnail((600, 600))
        arr = np.asarray(small, dtype=np.int16)
    background = np.median(arr.reshape(-1, 3), axis=0)
    return float((np.abs(arr - background).max(axis=2) > 24).mean())


def page_findings(
    texts: list[PageText], pngs: dict[int, Path], fmt: str, skip_pages: set[int] = frozenset()
) -> list[Finding]:
    """blank-page and no-text-layer for every rendered page."""
    out = []
    for page in texts:
        png = pngs.get(page.number)
        if png is None or page.number in skip_pages:
            continue
        ink = ink_fraction(png)
        if page.char_count == 0 and ink < BLANK_INK_FRACTION:
            out.append(
                Finding(
                    "blank-page",
                    "warning" if fmt == "xlsx" else "error",
                    f"page {page.number} is blank",
                    "remove what creates it (a trailing page break, empty paragraphs, an empty slide, or delete the page)",
                    page=page.number,
                    box=Box(0, 0, 1000, 1000),
                    evidence="render",
                )
            )
        elif page.char_count == 0:
            severity = "warning" if fmt == "pdf" else "info"
            out.append(
                Finding(
                    "no-text-layer",
                    severity,
                    f"page {page.number} shows content ({ink:.1%} of its area) but has no text layer: it cannot be searched, copied or read aloud",
                    "run OCR on it (e.g. ocrmypdf) or rebuild it from text"
                    if fmt == "pdf"
                    else "if the picture shows text, put that text in as real text",
                    page=page.number,
                    box=Box(0, 0, 1000, 1000),
                    evidence="render",
                )
            )
    return out


def locate(
    texts: list[PageText], needle: str, match_case: bool = True, page: int | None = None
) -> tuple[int, Box] | None:
    """The first page (or the given page) where `needle` appears, and its box there."""
    for pt in texts:
        if page is not None and pt.number != page:
            continue
        hits = pt.find(needle, match_case)
        if hits:
            return pt.number, pt.box(hits[0])
    return None


def pdf_findings(pdf: Path, texts: list[PageText]) -> list[Finding]:
    """Rules for PDF inputs: placeholder text, tiny text, text off the page, fonts not embedded."""
    out = []
    for page in texts:
        words = list(dict.fromkeys(placeholder_matches(page.text)))
        for word in words:
            hits = page.find(word)
            start = page.text.find(word)
            context = snippet(page.text[max(0, start - 20) : start + 40]) if start >= 0 else word
            out.append(
                Finding(
                    "placeholder-text",
                    "error",
                    f"page {page.number} has placeholder text {word!r}: …{context}…",
                    "replace it with the real text in the source document and export again",
                    page=page.number,
                    box=page.box(hits[0]) if hits else None,
                    evidence="render",
                )
            )
        tiny = [k for k, (c, s) in enumerate(zip(page.text, page.sizes)) if c.strip() and 0 < s < MIN_PDF_FONT_PT]
        if tiny:
            boxes = [page.boxes[k] for k in tiny if page.boxes[k] is not None]
            rect = (
                (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
                if boxes
                else None
            )
            out.append(
                Finding(
                    "small-font",
                    "warning",
                    f"page {page.number} has {len(tiny)} character(s) set below {MIN_PDF_FONT_PT:g} pt (smallest {min(page.sizes[k] for k in tiny):.1f} pt)",
                    "use at least 6-8 pt for print; enlarge it in the source document",
                    page=page.number,
                    box=page.box(rect) if rect else None,
                    evidence="render",
                )
            )
        outside = [
            b
            for c, b in zip(page.text, page.boxes)
            if b is not None
            and c.strip()
            and (
                b[2] < 0
                or b[0] > page.width
                or b[3] < 0
                or b[1] > page.height
                or b[0] < -1
                or b[1] < -1
                or b[2] > page.width + 1
                or b[3] > page.height + 1
            )
        ]
        if outside:
            out.append(
                Finding(
                    "off-page",
                    "error",
                    f"page {page.number}: {len(outside)} character(s) lie outside the page and are cut off",
                    "move the text inside the margins in the source document",
                    page=page.number,
                    box=Box(0, 0, 1000, 1000),
                    evidence="render",
                )
            )
    out.extend(_unembedded_fonts(pdf))
    return out


_STANDARD_14 = {"Courier", "Helvetica", "Times", "Symbol", "ZapfDingbats", "Times-Roman"}


def _unembedded_fonts(pdf: Path) -> list[Finding]:
    try:
        reader = PdfReader(str(pdf))
        missing: dict[str, int] = {}
        for number, page in enumerate(reader.pages, 1):
            fonts = (page.get("/Resources") or {}).get_object().get("/Font") if page.get("/Resources") else None
            for ref in fonts.get_object().values() if fonts else []:
                font = ref.get_object()
                descriptor = font.get("/FontDescriptor")
                if font.get("/Subtype") == "/Type0":
                    descendants = font.get("/DescendantFonts")
                    descriptor = (
                        descendants.get_object()[0].get_object().get("/FontDescriptor") if descendants else None
                    )
                if font.get("/Subtype") == "/Type3":
                    continue
                descriptor = descriptor.get_object() if descriptor is not None else None
                embedded = descriptor is not None and any(
                    k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")
                )
                if not embedded:
                    name = str(font.get("/BaseFont", "?")).lstrip("/").split("+")[-1]
                    missing.setdefault(name, number)
    except Exception:
        return []
    out = []
    for name, page in missing.items():
        standard = name.split(",")[0].split("-")[0] in _STANDARD_14
        out.append(
            Finding(
                "font-substituted",
                "info" if standard else "warning",
                f"font {name!r} is not embedded; each viewer draws it with its own substitute"
                + (" (a standard PDF font, usually safe)" if standard else ""),
                "embed fonts when exporting (PDF/A or 'embed all fonts')",
                page=page,
                element=name,
                evidence="render",
            )
        )
    return out
