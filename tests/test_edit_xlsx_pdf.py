"""Each XLSX/PDF edit operation: edit, re-open, assert."""

from __future__ import annotations

import os
import shutil

import openpyxl
import pypdfium2 as pdfium
import pytest
from pydantic import TypeAdapter
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, TextStringObject

from tools.documents.edit_common import EditError
from tools.documents.edit_ops import XlsxOp
from tools.documents.edit_pdf import PdfOp, edit_pdf
from tools.documents.edit_xlsx import edit_xlsx

needs_soffice = pytest.mark.skipif(
    shutil.which("soffice") is None and not os.environ.get("CI"), reason="LibreOffice not installed"
)
XLSX_OPS = TypeAdapter(list[XlsxOp])
PDF_OPS = TypeAdapter(list[PdfOp])


@pytest.fixture
def book(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    for i, v in enumerate([10, 20, 30], 1):
        ws.cell(i, 1, v)
    summary = wb.create_sheet("Summary")
    summary["A1"] = "=SUM(Data!A1:A3)"
    path = tmp_path / "book.xlsx"
    wb.save(str(path))
    return path


def run_xlsx(src, dest, ops, recalculate=False):
    return edit_xlsx(src, dest, XLSX_OPS.validate_python(ops), recalculate=recalculate)


def test_values_formulas_formats_widths_sheets(book, tmp_path):
    out = tmp_path / "out.xlsx"
    run_xlsx(
        book,
        out,
        [
            {"op": "set_value", "sheet": "Data", "cell": "A4", "value": 40},
            {"op": "set_formula", "sheet": "Data", "cell": "A5", "formula": "=SUM(A1:A4)"},
            {"op": "set_number_format", "sheet": "Data", "range": "A1:A5", "format": "#,##0.00"},
            {"op": "set_column_width", "sheet": "Data", "columns": "A:B", "width": 18},
            {"op": "add_sheet", "name": "Notes", "position": 1},
            {"op": "rename_sheet", "sheet": "Data", "new_name": "Raw data"},
        ],
    )
    wb = openpyxl.load_workbook(str(out))
    assert wb.sheetnames == ["Notes", "Raw data", "Summary"]
    ws = wb["Raw data"]
    assert ws["A4"].value == 40 and ws["A5"].value == "=SUM(A1:A4)"
    assert all(ws[f"A{i}"].number_format == "#,##0.00" for i in range(1, 6))
    assert ws.column_dimensions["A"].width == 18 and ws.column_dimensions["B"].width == 18
    assert wb["Summary"]["A1"].value == "=SUM('Raw data'!A1:A3)"  # references follow the rename


@needs_soffice
def test_edit_stores_recalculated_values(book, tmp_path):
    out = tmp_path / "out.xlsx"
    lines = run_xlsx(book, out, [{"op": "set_value", "sheet": "Data", "cell": "A3", "value": 70}], recalculate=True)
    assert "recalculated" in lines[-1]
    values = openpyxl.load_workbook(str(out), data_only=True)
    assert values["Summary"]["A1"].value == 100
    assert openpyxl.load_workbook(str(out))["Summary"]["A1"].value == "=SUM(Data!A1:A3)"  # formula kept


def test_bad_xlsx_operations(book, tmp_path):
    out = tmp_path / "out.xlsx"
    with pytest.raises(EditError, match="use the set_formula"):
        run_xlsx(book, out, [{"op": "set_value", "cell": "A1", "value": "=1+1"}])
    with pytest.raises(EditError, match="no sheet 'Nope'"):
        run_xlsx(book, out, [{"op": "set_value", "sheet": "Nope", "cell": "A1", "value": 1}])
    with pytest.raises(EditError, match="not a cell reference"):
        run_xlsx(book, out, [{"op": "set_value", "cell": "11A", "value": 1}])
    with pytest.raises(EditError, match="already exists"):
        run_xlsx(book, out, [{"op": "add_sheet", "name": "summary"}])
    assert not out.exists()


def make_pdf(path, pages=3, form=False):
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(200, 300)
    if form:
        field = DictionaryObject(
            {
                NameObject("/FT"): NameObject("/Tx"),
                NameObject("/T"): TextStringObject("name"),
                NameObject("/Type"): NameObject("/Annot"),
                NameObject("/Subtype"): NameObject("/Widget"),
                NameObject("/Rect"): ArrayObject(
                    [NumberObject(10), NumberObject(10), NumberObject(150), NumberObject(40)]
                ),
            }
        )
        ref = writer._add_object(field)
        writer.pages[0][NameObject("/Annots")] = ArrayObject([ref])
        writer._root_object[NameObject("/AcroForm")] = DictionaryObject({NameObject("/Fields"): ArrayObject([ref])})
    with open(path, "wb") as fh:
        writer.write(fh)
    return path


def run_pdf(src, dest, ops, **kw):
    return edit_pdf(src, dest, PDF_OPS.validate_python(ops), **kw)


def test_merge_rotate_delete(tmp_path):
    a, _b = make_pdf(tmp_path / "a.pdf", 3), make_pdf(tmp_path / "b.pdf", 2)
    out = tmp_path / "out.pdf"
    run_pdf(
        a,
        out,
        [
            {"op": "merge", "files": ["b.pdf"], "position": 2},
            {"op": "rotate", "pages": "1,3", "degrees": 90},
            {"op": "delete_pages", "pages": "5"},
        ],
        resolve=lambda name: tmp_path / name,
    )
    reader = PdfReader(str(out))
    assert len(reader.pages) == 4
    assert [p.rotation for p in reader.pages] == [90, 0, 90, 0]


def test_split_writes_one_file_per_range(tmp_path):
    src = make_pdf(tmp_path / "a.pdf", 5)
    lines = run_pdf(src, tmp_path / "a.edited.pdf", [{"op": "split", "ranges": ["1-2", "3-5"]}])
    assert len(lines) == 2
    assert len(PdfReader(str(tmp_path / "a.edited.part1.pdf")).pages) == 2
    assert len(PdfReader(str(tmp_path / "a.edited.part2.pdf")).pages) == 3
    with pytest.raises(EditError, match="split must be the last"):
        run_pdf(src, tmp_path / "x.pdf", [{"op": "split", "ranges": ["1"]}, {"op": "rotate", "degrees": 90}])


def test_fill_form(tmp_path):
    src = make_pdf(tmp_path / "form.pdf", 1, form=True)
    out = tmp_path / "out.pdf"
    run_pdf(src, out, [{"op": "fill_form", "fields": {"name": "Ada Lovelace"}}])
    assert PdfReader(str(out)).get_fields()["name"]["/V"] == "Ada Lovelace"
    with pytest.raises(EditError, match="no form field 'age'"):
        run_pdf(src, out, [{"op": "fill_form", "fields": {"age": "36"}}])


def test_stamp_text_is_drawn_where_asked(tmp_path):
    src = make_pdf(tmp_path / "a.pdf", 2)
    out = tmp_path / "out.pdf"
    run_pdf(src, out, [{"op": "stamp_text", "text": "DRAFT (v2)", "pages": "2", "x": 100, "y": 100, "size_pt": 20}])
    doc = pdfium.PdfDocument(str(out))
    try:
        assert doc[0].get_textpage().get_text_range().strip() == ""
        textpage = doc[1].get_textpage()
        assert textpage.get_text_range().strip() == "DRAFT (v2)"
        left, bottom, right, top = textpage.get_charbox(0)
        assert abs(left - 20) < 3  # x = 100/1000 of a 200 pt page
        assert 300 - top == pytest.approx(30 + 20 * 0.8 - 20 * 0.7, abs=6)  # y = 100/1000 of 300 pt, to the glyph top
    finally:
        doc.close()
    with pytest.raises(EditError, match="Latin-1"):
        run_pdf(src, out, [{"op": "stamp_text", "text": "草稿", "x": 0, "y": 0}])


def test_page_out_of_range(tmp_path):
    src = make_pdf(tmp_path / "a.pdf", 2)
    with pytest.raises(EditError, match="page 3 does not exist"):
        run_pdf(src, tmp_path / "o.pdf", [{"op": "delete_pages", "pages": "3"}])
    with pytest.raises(EditError, match="every page"):
        run_pdf(src, tmp_path / "o.pdf", [{"op": "delete_pages", "pages": "all"}])
