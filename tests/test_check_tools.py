"""`agent check` and the model tools: exit codes, confinement, and the example deck and budget
fixed by the edit operations documented in docs/checks-and-edits.md."""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import pytest
from pptx import Presentation

from agent.commands import check as check_command
from agent.errors import UsageError
from tools.doc_edit_tools import TOOLS
from tools.images import ImageStore
from tools.registry import Toolbox, ToolContext

ROOT = Path(__file__).resolve().parents[1]
needs_soffice = pytest.mark.skipif(
    shutil.which("soffice") is None and not os.environ.get("CI"), reason="LibreOffice not installed"
)

DECK_FIX = [
    {"op": "set_text", "slide": 1, "shape": "Subtitle 2", "text": "Dana Whitfield, 14 October 2024"},
    {"op": "move_resize", "slide": 2, "shape": "Title 1", "top_pt": 20, "height_pt": 80},
    {"op": "move_resize", "slide": 3, "shape": "Roadmap items", "height_pt": 250},
    {
        "op": "set_text",
        "slide": 4,
        "shape": "Content Placeholder 2",
        "text": "Pilot single sign-on with two customers\nHire a second support engineer\nReview pricing in November",
    },
]
SHEET_FIX = [{"op": "set_value", "sheet": "Budget", "cell": "B7", "value": 12}]


def run_cli(argv):
    parser = argparse.ArgumentParser()
    check_command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["check", *argv])
    return args.func(args)


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    (home / "inputs").mkdir(parents=True)
    (home / "outputs").mkdir()
    shutil.copy(ROOT / "examples/deck/deck.pptx", home / "inputs")
    shutil.copy(ROOT / "examples/sheet/budget.xlsx", home / "inputs")
    return ToolContext(images=ImageStore(tmp_path / "images"), home=home), Toolbox(TOOLS)


@needs_soffice
def test_cli_reports_the_example_defects_and_exits_1(tmp_path, capsys):
    out = tmp_path / "ann.png"
    assert (
        run_cli(
            [
                str(ROOT / "examples/deck/deck.pptx"),
                str(ROOT / "examples/sheet/budget.xlsx"),
                "--json",
                "--annotate",
                str(out),
            ]
        )
        == 1
    )
    reports = json.loads(capsys.readouterr().out)
    deck_rules = [(f["rule"], f["page"]) for f in reports[0]["findings"] if f["severity"] == "error"]
    assert deck_rules == [("placeholder-text", 1), ("text-overlap", 2), ("text-overflow", 3), ("placeholder-text", 4)]
    assert [f["element"] for f in reports[1]["findings"] if f["severity"] == "error"] == ["Budget!B8"]
    assert (tmp_path / "ann-deck.png").stat().st_size > 0 and (tmp_path / "ann-budget.png").stat().st_size > 0


def test_cli_bad_input_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        run_cli([str(tmp_path / "missing.pptx")])
    junk = tmp_path / "junk.docx"
    junk.write_text("not really a document")
    with pytest.raises(UsageError, match="not a supported document"):
        run_cli([str(junk), "--no-render"])


@needs_soffice
def test_fix_loop_on_the_examples(home):
    ctx, box = home
    before = box.call("check_document", {"path": "inputs/deck.pptx"}, ctx)
    assert not before.is_error and before.data["counts"]["error"] == 4 and before.image_ids == ["img1"]
    edited = box.call("edit_pptx", {"path": "inputs/deck.pptx", "operations": DECK_FIX}, ctx)
    assert not edited.is_error and edited.data["written"] == "outputs/deck.edited.pptx"
    after = box.call("check_document", {"path": "outputs/deck.edited.pptx"}, ctx)
    assert after.data["counts"] == {"error": 0, "warning": 0, "info": 1}, after.text
    assert (
        Presentation(str(ctx.home / "inputs/deck.pptx")).slides[0].placeholders[1].text.startswith("TODO")
    )  # original kept

    fixed = box.call("edit_xlsx", {"path": "inputs/budget.xlsx", "operations": SHEET_FIX}, ctx)
    assert not fixed.is_error, fixed.text
    after = box.call("check_document", {"path": "outputs/budget.edited.xlsx"}, ctx)
    assert after.data["counts"]["error"] == 0 and after.data["counts"]["warning"] == 0, after.text


def test_edit_tools_confine_paths_and_outputs(home):
    ctx, box = home
    op = [{"op": "set_notes", "slide": 1, "text": "hi"}]
    escaped = box.call("edit_pptx", {"path": "../deck.pptx", "operations": op}, ctx)
    assert escaped.is_error and "home" in escaped.text
    wrong_place = box.call("edit_pptx", {"path": "inputs/deck.pptx", "operations": op, "output": "inputs/x.pptx"}, ctx)
    assert wrong_place.is_error and "inside outputs/" in wrong_place.text
    wrong_tool = box.call(
        "edit_docx", {"path": "inputs/deck.pptx", "operations": [{"op": "delete_paragraph", "index": 0}]}, ctx
    )
    assert wrong_tool.is_error and "use edit_pptx" in wrong_tool.text
    bad_op = box.call("edit_pptx", {"path": "inputs/deck.pptx", "operations": [{"op": "explode"}]}, ctx)
    assert bad_op.is_error and "invalid arguments" in bad_op.text
    # in place, twice, for a file already in outputs/
    first = box.call("edit_pptx", {"path": "inputs/deck.pptx", "operations": op, "output": "outputs/d.pptx"}, ctx)
    again = box.call("edit_pptx", {"path": "outputs/d.pptx", "operations": [{"op": "delete_slide", "slide": 4}]}, ctx)
    assert not first.is_error and not again.is_error and again.data["written"] == "outputs/d.pptx"
    prs = Presentation(str(ctx.home / "outputs/d.pptx"))
    assert len(prs.slides) == 3 and prs.slides[0].notes_slide.notes_text_frame.text == "hi"
