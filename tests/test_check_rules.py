"""Each QA rule fires on a file made to break it and stays quiet on a clean one (real renders)."""

from __future__ import annotations

import os
import shutil

import docx
import openpyxl
import pytest
from PIL import Image
from pptx import Presentation
from pptx.enum.text import MSO_AUTO_SIZE
from pptx.util import Pt
from pypdf import PdfWriter

from tools.documents.check import check_document

pytestmark = pytest.mark.skipif(
    shutil.which("soffice") is None and not os.environ.get("CI"), reason="LibreOffice not installed"
)


def rules(report, severity=None):
    return sorted({f.rule for f in report.findings if severity is None or f.severity == severity})


def deck_with(tmp_path, name, build):
    prs = Presentation()
    build(prs)
    path = tmp_path / name
    prs.save(str(path))
    return path


def box(slide, left, top, width, height, text, size=20, name=None):
    shape = slide.shapes.add_textbox(Pt(left), Pt(top), Pt(width), Pt(height))
    frame = shape.text_frame
    frame.word_wrap = True
    frame.auto_size = MSO_AUTO_SIZE.NONE
    for i, line in enumerate(text.split("\n")):
        p = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        p.text = line
        p.runs[0].font.size = Pt(size)
    if name:
        shape.name = name
    return shape


def test_clean_deck_has_no_warnings_or_errors(tmp_path):
    def build(prs):
        s = prs.slides.add_slide(prs.slide_layouts[5])
        s.shapes.title.text = "A clean slide"
        box(s, 50, 150, 600, 200, "Short line one\nShort line two", 24)

    report = check_document(deck_with(tmp_path, "clean.pptx", build), tmp_path / "w")
    assert rules(report, "error") == [] and rules(report, "warning") == []


def test_overflow_fires_and_is_measured_on_the_render(tmp_path):
    def build(prs):
        s = prs.slides.add_slide(prs.slide_layouts[6])
        box(s, 50, 50, 300, 60, "\n".join(f"line {i}" for i in range(8)), 20, name="Long")

    report = check_document(deck_with(tmp_path, "over.pptx", build), tmp_path / "w")
    [f] = [f for f in report.findings if f.rule == "text-overflow"]
    assert f.severity == "error" and f.page == 1 and f.element == "Long" and f.evidence == "render"
    assert f.extra["needed_pt"] > 150  # 8 lines of 20 pt
    assert f.box.y_max > 50 / 540 * 1000 + 100  # the box reaches down to where the text ends


def test_off_page_overlap_small_font_placeholder_empty(tmp_path):
    def build(prs):
        s1 = prs.slides.add_slide(prs.slide_layouts[6])
        box(s1, 600, 100, 300, 60, "Half off the slide", name="Off")
        box(s1, 50, 300, 300, 80, "First box text here", name="A")
        box(s1, 60, 310, 300, 80, "Second box text here", name="B")
        box(s1, 50, 450, 300, 40, "tiny footnote", size=7, name="Tiny")
        s2 = prs.slides.add_slide(prs.slide_layouts[6])
        box(s2, 50, 50, 500, 60, "{{customer_name}} owes xxxx", name="Tpl")
        prs.slides.add_slide(prs.slide_layouts[6])  # empty

    report = check_document(deck_with(tmp_path, "bad.pptx", build), tmp_path / "w")
    by_rule = {f.rule: f for f in report.findings}
    assert by_rule["off-page"].element == "Off" and by_rule["off-page"].severity == "error"
    assert by_rule["text-overlap"].element == "A / B" and by_rule["text-overlap"].severity == "error"
    assert by_rule["small-font"].element == "Tiny"
    assert by_rule["placeholder-text"].page == 2 and "{{" in by_rule["placeholder-text"].message
    assert by_rule["empty-slide"].page == 3
    assert "blank-page" not in by_rule  # the empty slide is reported once, as empty-slide


def test_substituted_font_is_a_warning_unless_metric_compatible(tmp_path):
    def build(prs):
        s = prs.slides.add_slide(prs.slide_layouts[6])
        shape = box(s, 50, 50, 500, 60, "Odd font", name="F")
        shape.text_frame.paragraphs[0].runs[0].font.name = "Zapfino Extra Nowhere"

    report = check_document(deck_with(tmp_path, "font.pptx", build), tmp_path / "w")
    fonts = {f.element: f.severity for f in report.findings if f.rule == "font-substituted"}
    assert fonts["Zapfino Extra Nowhere"] == "warning"
    assert fonts.get("Calibri", "info") == "info"  # Carlito keeps Calibri's metrics


def make_book(path, divisor, with_cache=True):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(["a", 10])
    ws.append(["b", divisor])
    ws["B3"] = "=B1/B2"
    ws["B4"] = "=Sheet1!B1+#REF!" if divisor == "ref" else "=B1*2"
    if divisor == "ref":
        ws["B2"] = 5
    wb.save(str(path))
    if with_cache:
        from tools.documents.edit_xlsx import _recalculate_into

        _recalculate_into(path)
    return path


def test_formula_errors_after_recalculation(tmp_path):
    report = check_document(make_book(tmp_path / "div.xlsx", 0), tmp_path / "w1")
    [f] = [f for f in report.findings if f.rule == "formula-error"]
    assert f.element == "Sheet1!B3" and "#DIV/0!" in f.message and f.page == 1 and f.box is not None
    report = check_document(make_book(tmp_path / "ref.xlsx", "ref"), tmp_path / "w2")
    assert [f.element for f in report.findings if f.rule == "formula-error"] == ["Sheet1!B4"]
    clean = check_document(make_book(tmp_path / "ok.xlsx", 4), tmp_path / "w3")
    assert rules(clean, "error") == [] and rules(clean, "warning") == []


def test_formula_without_cached_value(tmp_path):
    report = check_document(make_book(tmp_path / "raw.xlsx", 4, with_cache=False), tmp_path / "w")
    [f] = [f for f in report.findings if f.rule == "formula-no-cached-value"]
    assert f.severity == "warning" and "B3" in f.message and "B4" in f.message


def test_docx_blank_page_and_placeholder(tmp_path):
    d = docx.Document()
    d.add_paragraph("Dear Lorem ipsum, thank you.")
    d.add_page_break()
    d.add_page_break()
    d.add_paragraph("Last page text")
    path = tmp_path / "letter.docx"
    d.save(str(path))
    report = check_document(path, tmp_path / "w")
    blank = [f.page for f in report.findings if f.rule == "blank-page"]
    assert blank == [2]
    [p] = [f for f in report.findings if f.rule == "placeholder-text"]
    assert p.page == 1 and p.box is not None and p.box.y_max < 300
    clean = docx.Document()
    clean.add_paragraph("A normal letter.")
    clean.save(str(tmp_path / "clean.docx"))
    assert rules(check_document(tmp_path / "clean.docx", tmp_path / "w2"), "error") == []


def test_pdf_without_text_layer_and_blank_page(tmp_path):
    scan = tmp_path / "scan.png"
    img = Image.new("RGB", (400, 560), "white")
    img.paste((20, 20, 20), (40, 40, 360, 120))
    img.save(scan)
    img_pdf = tmp_path / "img.pdf"
    img.save(img_pdf, "PDF", resolution=72)
    writer = PdfWriter(clone_from=str(img_pdf))
    writer.add_blank_page(400, 560)
    path = tmp_path / "scan.pdf"
    with open(path, "wb") as fh:
        writer.write(fh)
    report = check_document(path, tmp_path / "w")
    found = {(f.rule, f.page, f.severity) for f in report.findings}
    assert ("no-text-layer", 1, "warning") in found and ("blank-page", 2, "error") in found
