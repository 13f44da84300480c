"""Small office files built in tests, and the markers document tests share."""

from __future__ import annotations

import io
import os
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from PIL import Image

needs_soffice = pytest.mark.skipif(
    shutil.which("soffice") is None and not os.environ.get("CI"),
    reason="LibreOffice (soffice) is not installed; install libreoffice-writer/calc/impress",
)

RED_BOX = {"left_in": 2.5, "top_in": 1.875, "width_in": 2.5, "height_in": 1.875}  # on a 10 x 7.5 in slide


def make_pptx(path: Path, notes: str = "speaker notes here") -> Path:
    """One slide: a title, a red filled rectangle at RED_BOX with no outline, and notes."""
    from pptx import Presentation
    from pptx.dml.color import RGBColor
    from pptx.enum.shapes import MSO_SHAPE
    from pptx.util import Inches, Pt

    prs = Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[5])  # title only
    slide.shapes.title.text = "Quarterly numbers"
    box = slide.shapes.add_shape(
        MSO_SHAPE.RECTANGLE,
        Inches(RED_BOX["left_in"]),
        Inches(RED_BOX["top_in"]),
        Inches(RED_BOX["width_in"]),
        Inches(RED_BOX["height_in"]),
    )
    box.name = "Red box"
    box.fill.solid()
    box.fill.fore_color.rgb = RGBColor(255, 0, 0)
    box.line.fill.background()
    tb = slide.shapes.add_textbox(Inches(6), Inches(5), Inches(3), Inches(1))
    run = tb.text_frame.paragraphs[0].add_run()
    run.text = "small print"
    run.font.size = Pt(9)
    slide.notes_slide.notes_text_frame.text = notes
    prs.save(path)
    return path


def red_png_bytes(size=(120, 80)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (255, 0, 0)).save(buf, "PNG")
    return buf.getvalue()


def make_docx(path: Path, body: str = "Body text of the report.") -> Path:
    """A heading, a paragraph, a 2x3 table, a red inline picture and a comment."""
    import docx
    from docx.shared import Inches

    document = docx.Document()
    document.add_heading("Annual report", level=1)
    para = document.add_paragraph(body)
    document.add_heading("Figures", level=2)
    table = document.add_table(rows=2, cols=3)
    for r in range(2):
        for c in range(3):
            table.cell(r, c).text = f"r{r}c{c}"
    document.add_picture(io.BytesIO(red_png_bytes()), width=Inches(2))
    document.add_comment(para.runs, text="check this figure", author="Reviewer", initials="RV")
    document.save(path)
    return path


def make_xlsx_with_stale_value(path: Path) -> Path:
    """Sheet1: A1=21, B1 = A1*2 whose cached value in the file is a stale 999, C1 = 1/0."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = 21
    ws["B1"] = "=A1*2"
    ws["C1"] = "=1/0"
    ws.merge_cells("A3:C3")
    ws["A3"] = "merged title"
    tmp = path.with_suffix(".tmp.xlsx")
    wb.save(tmp)
    with zipfile.ZipFile(tmp) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb"(<c r=\"B1\"[^>]*>)<f>A1\*2</f>(<v>[^<]*</v>)?", rb"\1<f>A1*2</f><v>999</v>", data)
                assert b"<v>999</v>" in data
            dst.writestr(info, data)
    tmp.unlink()
    return path


def make_pdf(
    path: Path,
    text: str = "Hello PDF",
    size_pt=(612, 792),
    user_password: str | None = None,
    owner_password: str | None = None,
) -> Path:
    """A one-page PDF drawn with Pillow (text as an image is enough for geometry tests), optionally encrypted."""
    from pypdf import PdfReader, PdfWriter

    w, h = int(size_pt[0]), int(size_pt[1])
    buf = io.BytesIO()
    Image.new("RGB", (max(1, w // 4), max(1, h // 4)), "white").save(buf, "PDF", resolution=18)
    writer = PdfWriter()
    page = PdfReader(io.BytesIO(buf.getvalue())).pages[0]
    writer.add_page(page)
    writer.pages[0].mediabox.upper_right = (w, h)
    if user_password is not None or owner_password is not None:
        writer.encrypt(user_password=user_password or "", owner_password=owner_password, algorithm="AES-128")
    with open(path, "wb") as fh:
        writer.write(fh)
    return path


def rewrite_part(src: Path, dest: Path, part: str, transform) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == part:
                data = transform(data)
            zout.writestr(info, data)
    return dest
