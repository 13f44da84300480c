"""Build the defective example documents that `agent check` is demonstrated on.

    python3 examples/deck/make_examples.py

writes examples/deck/deck.pptx (4 slides) and examples/sheet/budget.xlsx. Their defects are
deliberate and each is fixed by one edit operation (see docs/checks-and-edits.md):
- slide 1: the subtitle still says "TODO: presenter name and date" (placeholder-text)
- slide 2: the title was dragged down onto the bullet text box (text-overlap)
- slide 3: eight 24 pt lines in a fixed 150 pt box (text-overflow, confirmed by the render)
- slide 4: the body is "Lorem ipsum ..." (placeholder-text)
- budget.xlsx: "Average per month" is =SUM(B2:B5)/B7 while B7 (months) is 0 (#DIV/0!)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import openpyxl  # noqa: E402
from openpyxl.styles import Font  # noqa: E402
from pptx import Presentation  # noqa: E402
from pptx.dml.color import RGBColor  # noqa: E402
from pptx.enum.text import MSO_AUTO_SIZE  # noqa: E402
from pptx.util import Pt  # noqa: E402

from tools.documents.edit_xlsx import _recalculate_into  # noqa: E402


def text_box(slide, name, left, top, width, height, lines, size):
    box = slide.shapes.add_textbox(Pt(left), Pt(top), Pt(width), Pt(height))
    box.name = name
    box.fill.solid()
    box.fill.fore_color.rgb = RGBColor(0xEE, 0xF3, 0xFA)
    box.line.color.rgb = RGBColor(0x4A, 0x6F, 0xA5)
    frame = box.text_frame
    frame.word_wrap = True
    frame.auto_size = MSO_AUTO_SIZE.NONE  # a fixed box: text that does not fit spills out of it
    for i, line in enumerate(lines):
        paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        paragraph.text = line
        paragraph.runs[0].font.size = Pt(size)
    return box


def make_deck(dest: Path) -> None:
    prs = Presentation()  # 4:3, 720 x 540 pt, the default Office theme
    title_slide, title_only, title_content = (prs.slide_layouts[i] for i in (0, 5, 1))

    s1 = prs.slides.add_slide(title_slide)
    s1.shapes.title.text = "Q3 Product Review"
    s1.placeholders[1].text = "TODO: presenter name and date"

    s2 = prs.slides.add_slide(title_only)
    s2.shapes.title.text = "Quarter highlights"
    title = s2.shapes.title
    title.left, title.top, title.width, title.height = Pt(36), Pt(95), Pt(648), Pt(90)  # dragged down onto the text box
    text_box(
        s2,
        "Highlights",
        50,
        120,
        620,
        200,
        ["Revenue up 18% year on year", "Churn down to 2.1%", "Three new enterprise customers"],
        24,
    )
    title._element.getparent().append(title._element)  # drawn on top of the box it overlaps

    s3 = prs.slides.add_slide(title_only)
    s3.shapes.title.text = "Roadmap"
    text_box(
        s3,
        "Roadmap items",
        50,
        130,
        620,
        150,
        [
            "October: single sign-on for all plans",
            "October: audit log export",
            "November: usage-based billing beta",
            "November: EU data residency",
            "December: mobile app 2.0",
            "December: offline mode",
            "January: public API v3",
            "February: partner marketplace",
        ],
        24,
    )

    s4 = prs.slides.add_slide(title_content)
    s4.shapes.title.text = "Next steps"
    s4.placeholders[1].text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit."
    prs.save(str(dest))


def make_budget(dest: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Budget"
    rows = [("Item", "Amount"), ("Rent", 3600), ("Salaries", 16200), ("Software", 900), ("Travel", 1350)]
    for row in rows:
        ws.append(row)
    ws["A6"], ws["B6"] = "Total", "=SUM(B2:B5)"
    ws["A7"], ws["B7"] = "Months", 0  # never filled in
    ws["A8"], ws["B8"] = "Average per month", "=SUM(B2:B5)/B7"
    for cell in ("A1", "B1", "A6", "B6", "A8", "B8"):
        ws[cell].font = Font(name="Calibri", size=11, bold=True)
    for cell in ("B2", "B3", "B4", "B5", "B6", "B8"):
        ws[cell].number_format = "#,##0"
    ws.column_dimensions["A"].width = 20
    ws.column_dimensions["B"].width = 12
    wb.save(str(dest))
    # Like a file saved by a spreadsheet program: the formulas carry their computed values.
    _recalculate_into(dest)


if __name__ == "__main__":
    make_deck(ROOT / "examples/deck/deck.pptx")
    if "--deck-only" in sys.argv:
        sys.exit(0)
    make_budget(ROOT / "examples/sheet/budget.xlsx")
    print("wrote examples/deck/deck.pptx and examples/sheet/budget.xlsx")
