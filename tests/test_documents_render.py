"""Rendering through real LibreOffice and PDFium: pixels where the document puts them."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.documents_builders import RED_BOX, make_docx, make_pdf, make_pptx, make_xlsx_with_stale_value, needs_soffice
from tools.documents import DocumentError
from tools.documents.convert import convert_to, to_pdf, to_pdf_many
from tools.documents.pages import MAX_PAGE_PIXELS
from tools.documents.pdfcheck import open_pdf
from tools.documents.render import render_document
from tools.montage import make_contact_sheet


@pytest.fixture(scope="module", autouse=True)
def shared_cache(tmp_path_factory):
    """One cache (and LibreOffice profiles) for the module: profile creation costs seconds."""
    old = os.environ.get("AGENT_CACHE_DIR")
    os.environ["AGENT_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield Path(os.environ["AGENT_CACHE_DIR"])
    if old is None:
        del os.environ["AGENT_CACHE_DIR"]
    else:
        os.environ["AGENT_CACHE_DIR"] = old


def pdf_text(path: Path) -> str:
    with open_pdf(path) as doc:
        out = []
        for i in range(len(doc)):
            tp = doc[i].get_textpage()
            out.append(tp.get_text_bounded())
            tp.close()
        return "\n".join(out)


def red_pixels(img: Image.Image, threshold: int = 200) -> int:
    a = np.asarray(img.convert("RGB")).astype(int)
    return int(((a[..., 0] > threshold) & (a[..., 1] < 80) & (a[..., 2] < 80)).sum())


def is_red(px) -> bool:
    r, g, b = px[:3]
    return r > 200 and g < 70 and b < 70


@needs_soffice
def test_pptx_red_box_renders_red_where_it_was_placed(tmp_path):
    deck = make_pptx(tmp_path / "deck.pptx")
    result = render_document(deck, tmp_path / "out", dpi=72)
    assert [p.name for p in result.pages] == ["page-001.png"]
    img = Image.open(result.pages[0]).convert("RGB")
    assert img.size == (720, 540)  # 10 x 7.5 in at 72 dpi
    x0, y0 = RED_BOX["left_in"] * 72, RED_BOX["top_in"] * 72
    x1, y1 = x0 + RED_BOX["width_in"] * 72, y0 + RED_BOX["height_in"] * 72
    for fx, fy in [(0.5, 0.5), (0.1, 0.1), (0.9, 0.9)]:
        assert is_red(img.getpixel((int(x0 + fx * (x1 - x0)), int(y0 + fy * (y1 - y0)))))
    # just outside the box the slide is white
    for x, y in [(x0 - 6, (y0 + y1) / 2), (x1 + 6, (y0 + y1) / 2), ((x0 + x1) / 2, y1 + 6)]:
        assert img.getpixel((int(x), int(y))) == (255, 255, 255)
    assert result.page_sizes_pt == [pytest.approx((720, 540), abs=1)]
    assert result.contact_sheet.exists() and result.pdf.exists()


@needs_soffice
def test_docx_pages_and_contact_sheet(tmp_path):
    doc = make_docx(tmp_path / "report.docx", body="Quarterly revenue grew.")
    result = render_document(doc, tmp_path / "out", dpi=60)
    assert result.page_count == 1 and result.format == "docx"
    assert "Quarterly revenue grew." in pdf_text(result.pdf)
    page = Image.open(result.pages[0]).convert("RGB")
    assert red_pixels(page) > 500  # the red picture is on the page
    sheet = Image.open(result.contact_sheet)
    assert sheet.width > 300


@needs_soffice
def test_stale_cached_formula_value_is_recalculated(tmp_path):
    book = make_xlsx_with_stale_value(tmp_path / "book.xlsx")
    pdf = to_pdf(book, tmp_path / "pdf")
    text = pdf_text(pdf)
    assert "42" in text and "999" not in text
    roundtrip = convert_to(book, "xlsx", tmp_path / "recalc")
    import openpyxl

    assert openpyxl.load_workbook(roundtrip, data_only=True).active["B1"].value == 42
    assert roundtrip.name == "book.xlsx" and roundtrip != book


@needs_soffice
def test_page_selection_and_cache(tmp_path):
    pdf = tmp_path / "three.pdf"
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(3):
        writer.add_blank_page(300, 200)
    writer.write(pdf)
    first = render_document(pdf, tmp_path / "a", dpi=72, pages="1,3")
    assert first.page_numbers == [1, 3] and [p.name for p in first.pages] == ["page-001.png", "page-003.png"]
    assert not first.cached
    again = render_document(pdf, tmp_path / "b", dpi=72, pages=[1, 3])
    assert again.cached
    assert again.pages[1].read_bytes() == first.pages[1].read_bytes()
    other_dpi = render_document(pdf, tmp_path / "c", dpi=36, pages=[1])
    assert Image.open(other_dpi.pages[0]).size == (150, 100)
    with pytest.raises(DocumentError, match="page 4 does not exist"):
        render_document(pdf, tmp_path / "d", pages="4")
    with pytest.raises(DocumentError, match="bad page list"):
        render_document(pdf, tmp_path / "d", pages="2-x")


def test_enormous_pdf_page_is_drawn_within_the_pixel_limit(tmp_path):
    big = make_pdf(tmp_path / "poster.pdf", size_pt=(14400, 14400))  # 200 x 200 inches
    result = render_document(big, tmp_path / "out", dpi=110)
    w, h = Image.open(result.pages[0]).size
    assert w * h <= MAX_PAGE_PIXELS
    assert any("stay under" in warning for warning in result.warnings)


@needs_soffice
def test_same_named_inputs_do_not_overwrite_each_other(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    a = make_docx(tmp_path / "one" / "report.docx", body="first report body")
    b = make_docx(tmp_path / "two" / "report.docx", body="second report body")
    out = tmp_path / "pdfs"
    results = to_pdf_many([a, b], out, workers=2)
    assert len({str(r) for r in results}) == 2
    assert "first report body" in pdf_text(results[0])
    assert "second report body" in pdf_text(results[1])


@needs_soffice
def test_concurrent_conversions_each_get_their_own_result(tmp_path):
    docs = [make_docx(tmp_path / f"d{i}.docx", body=f"document number {i}") for i in range(3)]
    results: dict[int, Path] = {}

    def convert(i: int) -> None:
        results[i] = to_pdf(docs[i], tmp_path / f"out{i}")

    threads = [threading.Thread(target=convert, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(3):
        assert f"document number {i}" in pdf_text(results[i])


@needs_soffice
def test_conversion_timeout_kills_the_converter(tmp_path, shared_cache):
    doc = make_docx(tmp_path / "slow.docx")
    with pytest.raises(DocumentError, match="did not finish"):
        to_pdf(doc, tmp_path / "out", timeout=0.3)
    leftover = subprocess.run(
        ["pgrep", "-f", f"UserInstallation=file://{shared_cache}"], capture_output=True, text=True
    )
    assert leftover.stdout.strip() == ""


@needs_soffice
def test_to_pdf_many_reports_bad_files_in_place(tmp_path):
    good = make_docx(tmp_path / "good.docx", body="fine")
    bad = tmp_path / "bad.docx"
    bad.write_text("not a document")
    results = to_pdf_many([good, bad], tmp_path / "out", workers=1)
    assert isinstance(results[0], Path) and "fine" in pdf_text(results[0])
    assert isinstance(results[1], DocumentError)


def test_missing_soffice_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no soffice anywhere on it
    monkeypatch.delenv("AGENT_SOFFICE", raising=False)
    doc = make_docx(tmp_path / "x.docx")
    with pytest.raises(DocumentError) as exc:
        to_pdf(doc, tmp_path / "out")
    assert "apt-get install" in str(exc.value) and "\n" not in str(exc.value)


def test_contact_sheet_marks_unreadable_images(tmp_path):
    good = tmp_path / "good.png"
    Image.new("RGB", (200, 300), (0, 0, 255)).save(good)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    sheet = make_contact_sheet(
        [good, broken, Image.new("RGB", (200, 300), (0, 255, 0))],
        tmp_path / "sheet.png",
        columns=3,
        cell_width=100,
        gap=10,
        labels=["p1", "p2", "p3"],
    )
    img = Image.open(sheet).convert("RGB")
    assert img.width == 3 * 100 + 4 * 10
    tile_center = (10 + 100 + 10 + 50, 10 + 75)
    first_center, third_center = (10 + 50, 10 + 75), (10 + 2 * 110 + 50, 10 + 75)
    assert img.getpixel(first_center) == (0, 0, 255)
    assert img.getpixel(third_center) == (0, 255, 0)
    tile = img.crop((120, 10, 220, 140))
    assert red_pixels(tile, threshold=150) > 100  # the red "unreadable" marks
    assert img.getpixel(tile_center) != (0, 0, 255)
