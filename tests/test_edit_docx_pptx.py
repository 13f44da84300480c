"""Each DOCX/PPTX edit operation: edit, re-open with the library, assert the change (and what must stay)."""

from __future__ import annotations

import docx
import pytest
from docx.shared import Pt as DocxPt
from pptx import Presentation
from pptx.util import Pt
from pydantic import TypeAdapter

from tools.documents.edit_common import EditError
from tools.documents.edit_docx import edit_docx
from tools.documents.edit_ops import DocxOp, PptxOp
from tools.documents.edit_pptx import edit_pptx

DOCX_OPS = TypeAdapter(list[DocxOp])
PPTX_OPS = TypeAdapter(list[PptxOp])


@pytest.fixture
def report_docx(tmp_path):
    d = docx.Document()
    d.add_heading("Quarterly report", 1)
    p = d.add_paragraph()
    bold = p.add_run("Revenue for Q")
    bold.bold = True
    italic = p.add_run("3 was high")
    italic.italic = True
    italic.font.size = DocxPt(14)
    d.add_paragraph("Second paragraph")
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Name"
    path = tmp_path / "report.docx"
    d.save(str(path))
    return path


def run_docx(src, dest, ops):
    return edit_docx(src, dest, DOCX_OPS.validate_python(ops))


def test_replace_text_across_runs_keeps_formatting(report_docx, tmp_path):
    out = tmp_path / "out.docx"
    lines = run_docx(report_docx, out, [{"op": "replace_text", "find": "Q3 was", "replace": "the third quarter was"}])
    assert "1 occurrence" in lines[0]
    p = docx.Document(str(out)).paragraphs[1]
    assert p.text == "Revenue for the third quarter was high"
    # the match started in the bold run: the replacement is bold; the rest keeps italic 14 pt
    assert p.runs[0].bold and p.runs[0].text.endswith("the third quarter was")
    assert p.runs[1].italic and p.runs[1].font.size == DocxPt(14) and p.runs[1].text == " high"
    assert docx.Document(str(report_docx)).paragraphs[1].text == "Revenue for Q3 was high"  # source untouched


def test_replace_text_missing_is_an_error_and_writes_nothing(report_docx, tmp_path):
    out = tmp_path / "out.docx"
    with pytest.raises(EditError, match="not found"):
        run_docx(report_docx, out, [{"op": "replace_text", "find": "nowhere", "replace": "x"}])
    assert not out.exists() and list(tmp_path.iterdir()) == [report_docx]


def test_insert_delete_style_and_table_cell(report_docx, tmp_path):
    out = tmp_path / "out.docx"
    run_docx(
        report_docx,
        out,
        [
            {"op": "insert_paragraph", "index": 1, "text": "Summary", "style": "Heading 2"},
            {"op": "delete_paragraph", "containing": "Second paragraph"},
            {"op": "set_style", "index": 2, "style": "Quote"},
            {"op": "set_table_cell", "table": 0, "row": 1, "col": 1, "text": "42"},
        ],
    )
    d = docx.Document(str(out))
    assert [p.text for p in d.paragraphs] == ["Quarterly report", "Summary", "Revenue for Q3 was high"]
    assert d.paragraphs[1].style.name == "Heading 2" and d.paragraphs[2].style.name == "Quote"
    assert d.tables[0].cell(1, 1).text == "42" and d.tables[0].cell(0, 0).text == "Name"


def test_unknown_style_lists_the_styles(report_docx, tmp_path):
    with pytest.raises(EditError, match=r"operation 1 \(set_style\): no paragraph style 'Fancy'.*Heading 1"):
        run_docx(report_docx, tmp_path / "o.docx", [{"op": "set_style", "index": 0, "style": "Fancy"}])


@pytest.fixture
def deck(tmp_path):
    prs = Presentation()
    for title in ("One", "Two", "Three"):
        s = prs.slides.add_slide(prs.slide_layouts[1])
        s.shapes.title.text = title
        s.placeholders[1].text = f"body {title}"
    box = prs.slides[0].shapes.add_textbox(Pt(10), Pt(10), Pt(100), Pt(40))
    box.name = "Note"
    box.text_frame.text = "first"
    box.text_frame.paragraphs[0].runs[0].font.bold = True
    path = tmp_path / "deck.pptx"
    prs.save(str(path))
    return path


def run_pptx(src, dest, ops):
    return edit_pptx(src, dest, PPTX_OPS.validate_python(ops))


def test_set_text_font_size_geometry_and_notes(deck, tmp_path):
    out = tmp_path / "out.pptx"
    run_pptx(
        deck,
        out,
        [
            {"op": "set_text", "slide": 1, "shape": "Note", "text": "alpha\nbeta"},
            {"op": "set_font_size", "slide": 1, "shape": "Note", "size_pt": 20},
            {"op": "move_resize", "slide": 1, "shape": "Note", "left_pt": 50, "top_pt": 60, "height_pt": 80},
            {"op": "set_notes", "slide": 2, "text": "say hello"},
        ],
    )
    prs = Presentation(str(out))
    note = [s for s in prs.slides[0].shapes if s.name == "Note"][0]
    assert [p.text for p in note.text_frame.paragraphs] == ["alpha", "beta"]
    runs = [r for p in note.text_frame.paragraphs for r in p.runs]
    assert all(r.font.size == Pt(20) for r in runs)
    assert runs[0].font.bold and runs[1].font.bold  # new paragraph copies the formatting it replaces
    assert (note.left, note.top, note.width, note.height) == (Pt(50), Pt(60), Pt(100), Pt(80))
    assert prs.slides[1].notes_slide.notes_text_frame.text == "say hello"


def test_slide_operations(deck, tmp_path):
    out = tmp_path / "out.pptx"
    run_pptx(
        deck,
        out,
        [
            {"op": "duplicate_slide", "slide": 1},
            {"op": "delete_slide", "slide": 3},
            {"op": "move_slide", "slide": 3, "to": 1},
            {"op": "add_slide", "title": "Added", "body": "new body", "position": 2},
        ],
    )
    prs = Presentation(str(out))
    titles = [s.shapes.title.text for s in prs.slides]
    assert titles == ["Three", "Added", "One", "One"]
    copy_shapes = {s.name: s.text_frame.text for s in prs.slides[3].shapes if s.has_text_frame}
    assert copy_shapes["Note"] == "first"  # the duplicate carries the extra text box
    assert prs.slides[1].placeholders[1].text_frame.text == "new body"


def test_unknown_shape_names_the_shapes(deck, tmp_path):
    with pytest.raises(EditError, match=r"no shape 'Nope'.*'Note'"):
        run_pptx(deck, tmp_path / "o.pptx", [{"op": "set_text", "slide": 1, "shape": "Nope", "text": "x"}])
    with pytest.raises(EditError, match="slide 9 does not exist: the deck has 3"):
        run_pptx(deck, tmp_path / "o.pptx", [{"op": "delete_slide", "slide": 9}])
    assert not (tmp_path / "o.pptx").exists()


def test_edit_in_place_replaces_atomically(deck):
    run_pptx(deck, deck, [{"op": "set_text", "slide": 2, "shape": "Title 1", "text": "Renamed"}])
    assert Presentation(str(deck)).slides[1].shapes.title.text == "Renamed"
    assert sorted(p.name for p in deck.parent.iterdir()) == ["deck.pptx"]  # no temp files left
