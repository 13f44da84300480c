"""`check_document`: render a document, run the QA rules on its structure and on the render, and
return findings (rule, severity, page, 0-1000 box, message, suggested fix). `annotate` draws them
on the page images and lays those out as a contact sheet."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from tools.documents.checks.docx_rules import docx_findings
from tools.documents.checks.findings import SEVERITIES, CheckReport, Finding  # noqa: F401 (CheckReport re-exported)
from tools.documents.checks.pptx_rules import apply_render, pptx_findings, read_slides
from tools.documents.checks.render_rules import PageText, page_findings, pdf_findings, read_page_texts
from tools.documents.checks.xlsx_rules import xlsx_findings
from tools.documents.formats import DocumentError, detect_format
from tools.documents.inspect import cached_conversion, has_formulas, read_structure
from tools.montage import make_contact_sheet

# LibreOffice's stand-ins that keep every glyph's width, so layout does not move.
METRIC_COMPATIBLE = {
    "calibri": "carlito",
    "cambria": "caladea",
    "arial": "liberation sans",
    "helvetica": "liberation sans",
    "times new roman": "liberation serif",
    "times": "liberation serif",
    "courier new": "liberation mono",
    "courier": "liberation mono",
    "arial narrow": "liberation sans narrow",
}
SEVERITY_COLOURS = {"error": (220, 30, 30), "warning": (235, 140, 0), "info": (40, 110, 220)}
INK_LEVEL = 200  # grey level below which a page pixel counts as printed


def check_document(path: str | Path, work_dir: str | Path, render: bool = True, dpi: int = 110) -> CheckReport:
    """Run every rule that applies to the file's format. `work_dir` receives the render and any
    converted copies. Raises DocumentError for files that cannot be read at all."""
    path = Path(path)
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    fmt = detect_format(path)
    notes: list[str] = []

    rendered = None
    texts: list[PageText] = []
    if render:
        if fmt != "pdf" and shutil.which("soffice") is None:
            notes.append("LibreOffice (soffice) is not installed: checks that need the render were skipped")
        else:
            from tools.documents.render import render_document

            rendered = render_document(path, work / "render", dpi=dpi)
            texts = read_page_texts(rendered.pdf)
            notes.extend(rendered.warnings)
    pngs = dict(zip(rendered.page_numbers, rendered.pages)) if rendered else {}

    skip_blank: set[int] = set()

    def structure_findings(structure: Path, kind: str) -> list[Finding]:
        nonlocal skip_blank
        if kind == "pptx":
            slides, slide_w, slide_h = read_slides(structure)
            apply_render(slides, texts, slide_w, slide_h)
            found = pptx_findings(slides, slide_w, slide_h)
            skip_blank = {f.page for f in found if f.rule == "empty-slide"}
            return found
        if kind == "docx":
            return docx_findings(structure, texts)
        if kind == "xlsx":
            recalculated = None
            if not has_formulas(structure):
                pass  # nothing to recalculate; LibreOffice's round trip costs minutes on big workbooks
            elif shutil.which("soffice") is not None:
                recalculated = cached_conversion(structure, "xlsx")  # the same copy inspect reads
            else:
                notes.append("formulas were not recalculated (no LibreOffice); cached values were checked instead")
            return xlsx_findings(structure, recalculated, texts)
        return pdf_findings(structure, texts)

    try:
        findings, kind, _ = read_structure(path, structure_findings, work, notes)
    except DocumentError:
        raise
    except Exception as exc:  # python-docx/pptx/openpyxl reject some files the renderer accepts
        raise DocumentError(
            f"{path.name}: cannot read its {fmt.upper()} structure ({type(exc).__name__}: {exc})"
        ) from None
    if texts:
        findings += page_findings(texts, pngs, kind, skip_blank)
    if rendered is not None and rendered.fonts_substituted:
        findings += _font_findings(rendered.fonts_substituted)
    for f in findings:
        f.file = str(path)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: (f.page if f.page is not None else 10**9, order[f.severity]))
    return CheckReport(
        path,
        fmt,
        findings,
        list(rendered.pages) if rendered else [],
        list(rendered.page_numbers) if rendered else [],
        notes,
    )


def _font_findings(substituted: list[dict[str, str]]) -> list[Finding]:
    out = []
    for item in substituted:
        requested, used = item["requested"], item["used"]
        compatible = METRIC_COMPATIBLE.get(requested.lower()) == used.lower()
        if compatible:
            out.append(
                Finding(
                    "font-substituted",
                    "info",
                    f"font {requested!r} is not installed; the render used {used!r}, which has the same metrics, so the layout holds",
                    "nothing to do unless the exact look matters; install the font to render it exactly",
                    element=requested,
                    evidence="render",
                )
            )
        else:
            out.append(
                Finding(
                    "font-substituted",
                    "warning",
                    f"font {requested!r} is not installed; the render used {used!r}, whose widths differ, so line breaks and fit may differ from the author's",
                    f"use an installed font, or install {requested!r}; re-check overflow after changing it",
                    element=requested,
                    evidence="render",
                )
            )
    return out


def annotate(report: CheckReport, out_path: str | Path, columns: int | None = None) -> Path:
    """The contact sheet of the rendered pages with each located finding boxed and numbered
    (numbers as in format_text)."""
    if not report.pages:
        raise DocumentError("nothing to annotate: the document was not rendered")
    out_path = Path(out_path)
    by_page: dict[int, list[tuple[int, Finding]]] = {}
    for n, f in enumerate(report.findings, 1):
        if f.page is not None and f.box is not None:
            by_page.setdefault(f.page, []).append((n, f))
    images = []
    for number, png in zip(report.page_numbers, report.pages):
        with Image.open(png) as im:
            page = im.convert("RGB")
        _draw(page, by_page.get(number, []))
        images.append(page)
    count = len(images)
    columns = columns or (1 if count == 1 else 2 if count <= 4 else 3)
    labels = [f"page {n}" + (f" · {len(by_page[n])} finding(s)" if n in by_page else "") for n in report.page_numbers]
    return make_contact_sheet(images, out_path, columns=columns, cell_width=560, labels=labels)


def _draw(page: Image.Image, items: list[tuple[int, Finding]]) -> None:
    """Box each finding just outside its region and put its number where it covers the least of
    the page (beside the box, else above or below it), so neither hides the text in question."""
    ink = page.convert("L").point(lambda v: 255 if v < INK_LEVEL else 0)  # read before anything is drawn
    draw = ImageDraw.Draw(page)
    w, h = page.size
    width = max(2, round(min(w, h) / 220))
    size = max(14, round(min(w, h) / 28))
    try:
        font = ImageFont.truetype("DejaVuSans-Bold.ttf", size)
    except OSError:
        font = ImageFont.load_default(size)
    gap = width + 1
    boxes = []
    for _, f in items:
        b = f.box
        x0, y0, x1, y1 = b.x_min * w / 1000, b.y_min * h / 1000, b.x_max * w / 1000, b.y_max * h / 1000
        boxes.append((x0 - gap, y0 - gap, max(x1, x0 + 4) + gap, max(y1, y0 + 4) + gap))
    taken = list(boxes)
    for (n, f), box in zip(items, boxes):
        colour = SEVERITY_COLOURS[f.severity]
        draw.rectangle(box, outline=colour, width=width)
        label = str(n)
        badge_w, badge_h = draw.textlength(label, font=font) + 8, size + 4
        badge = _badge_place(box, badge_w, badge_h, (w, h), ink, taken)
        taken.append(badge)
        draw.rectangle(badge, fill=colour)
        draw.text((badge[0] + 4, badge[1] + 1), label, fill=(255, 255, 255), font=font)


def _badge_place(box, bw: float, bh: float, size: tuple[int, int], ink: Image.Image, taken: list) -> tuple:
    """Where a bw x bh badge for `box` covers the fewest printed pixels and no other mark: to
    its left or right, above or below it, in that order of preference when the page is bare."""
    x0, y0, x1, y1 = box
    w, h = size
    candidates = [
        (x0 - bw, y0),  # left, level with the top
        (x1, y0),  # right
        (x0, y0 - bh),  # above
        (x0, y1),  # below
        (x1 - bw, y0 - bh),
        (x1 - bw, y1),
    ]
    best, best_cost = None, None
    for rank, (left, top) in enumerate(candidates):
        left, top = min(max(0.0, left), w - bw), min(max(0.0, top), h - bh)
        rect = (left, top, left + bw, top + bh)
        covered = ink.crop(tuple(round(v) for v in rect)).histogram()[255]
        clash = sum(_overlap(rect, other) for other in taken)
        cost = (covered + 4 * clash, rank)
        if best_cost is None or cost < best_cost:
            best, best_cost = rect, cost
    return best


def _overlap(a, b) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
