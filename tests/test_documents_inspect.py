"""Inspect output of files built here, the model-facing document tools, and the CLI commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.documents_builders import RED_BOX, make_docx, make_pdf, make_pptx, make_xlsx_with_stale_value, needs_soffice
from tools.documents.inspect import format_inspection, inspect_document
from tools.documents.text import read_text
from tools.images import ImageStore
from tools.registry import Toolbox, ToolContext

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def shared_cache(tmp_path_factory):
    old = os.environ.get("AGENT_CACHE_DIR")
    os.environ["AGENT_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        del os.environ["AGENT_CACHE_DIR"]
    else:
        os.environ["AGENT_CACHE_DIR"] = old


def test_pptx_shapes_positions_fonts_and_notes(tmp_path):
    d = inspect_document(make_pptx(tmp_path / "deck.pptx", notes="say hello"))
    assert d["format"] == "pptx" and d["slide_count"] == 1
    slide = d["slides"][0]
    assert slide["layout"] == "Title Only" and slide["notes"] == "say hello"
    shapes = {s["name"]: s for s in slide["shapes"]}
    box = shapes["Red box"]
    assert box["type"] == "auto_shape:rectangle"
    assert box["left_pt"] == pytest.approx(RED_BOX["left_in"] * 72)
    assert box["box_1000"] == {"x_min": 250, "y_min": 250, "x_max": 500, "y_max": 500}
    small = [s for s in slide["shapes"] if s.get("text") == "small print"][0]
    assert small["type"] == "text_box" and small["font_sizes_pt"] == [9.0]
    title = [s for s in slide["shapes"] if s.get("placeholder")][0]
    assert title["text"] == "Quarterly numbers" and title["placeholder"]["type"] == "title"
    text = format_inspection(d)
    assert "Red box" in text and "x 250-500 y 250-500" in text and "say hello" in text


def test_docx_outline_tables_images_comments(tmp_path):
    d = inspect_document(make_docx(tmp_path / "r.docx", body="The body."))
    assert [(h["level"], h["text"]) for h in d["outline"]] == [(1, "Annual report"), (2, "Figures")]
    assert any(p["style"] == "Normal" and p["text"] == "The body." for p in d["paragraphs"])
    assert d["tables"][0]["rows"] == 2 and d["tables"][0]["cols"] == 3 and d["tables"][0]["cells"][1][2] == "r1c2"
    assert len(d["images"]) == 1 and d["images"][0]["width_pt"] == pytest.approx(144)
    assert d["comments"][0]["author"] == "Reviewer" and d["comments"][0]["text"] == "check this figure"
    assert d["sections"][0]["page_width_pt"] > 0
    text = format_inspection(d)
    assert "1. Annual report" in text and "check this figure" in text


@needs_soffice
def test_xlsx_formulas_cached_and_recalculated_values(tmp_path):
    d = inspect_document(make_xlsx_with_stale_value(tmp_path / "b.xlsx"))
    assert d["recalculated"] is True
    cells = {c["ref"]: c for c in d["sheets"][0]["cells"]}
    assert cells["A1"]["value"] == 21
    assert cells["B1"]["formula"] == "=A1*2" and cells["B1"]["cached_value"] == 999 and cells["B1"]["value"] == 42
    assert d["sheets"][0]["merged"] == ["A3:C3"]
    assert d["sheets"][0]["used_range"] == "A1:C3"
    assert {"sheet": "Sheet", "ref": "C1", "error": "#DIV/0!", "formula": "=1/0"} in d["formula_errors"]
    assert "ERROR Sheet!C1: #DIV/0!" in format_inspection(d)
    stored = inspect_document(tmp_path / "b.xlsx", recalculate=False)
    assert stored["recalculated"] is False
    assert {c["ref"]: c for c in stored["sheets"][0]["cells"]}["B1"].get("value") is None


def test_pdf_pages_sizes_and_encryption(tmp_path):
    d = inspect_document(make_pdf(tmp_path / "p.pdf", size_pt=(842, 595), user_password="", owner_password="o"))
    assert d["page_count"] == 1
    assert (d["pages"][0]["width_pt"], d["pages"][0]["height_pt"]) == (842, 595)
    assert d["encrypted"] is True and "owner password" in d["encryption"]["note"]
    assert "(no text layer)" in format_inspection(d)


@needs_soffice
def test_read_text_of_each_format(tmp_path):
    assert "The body." in read_text(make_docx(tmp_path / "r.docx", body="The body."))
    assert "r1c2" in read_text(tmp_path / "r.docx")  # table cells too
    deck = read_text(make_pptx(tmp_path / "d.pptx", notes="the notes"))
    assert "--- slide 1 ---" in deck and "Quarterly numbers" in deck and "[notes] the notes" in deck
    assert "B1: 42" in read_text(make_xlsx_with_stale_value(tmp_path / "b.xlsx"))


@needs_soffice
def test_document_tools_register_pages_and_confine_paths(tmp_path):
    from tools.doc_tools import TOOLS

    home = tmp_path / "home"
    (home / "inputs").mkdir(parents=True)
    make_pptx(home / "inputs" / "deck.pptx")
    (tmp_path / "secret.docx").write_bytes((home / "inputs" / "deck.pptx").read_bytes())
    os.symlink(tmp_path / "secret.docx", home / "inputs" / "link.docx")
    ctx = ToolContext(images=ImageStore(tmp_path / "images"), home=home)
    box = Toolbox(TOOLS)

    out = box.call("render_document", {"path": "inputs/deck.pptx", "dpi": 72}, ctx)
    assert not out.is_error, out.text
    assert out.image_ids == ["img1", "img2"] and "page 1 = img1" in out.text and "contact sheet img2" in out.text
    record = ctx.images.record("img1")
    assert record.op == "render" and record.params["file"] == "inputs/deck.pptx" and record.params["page"] == 1
    page = np.asarray(ctx.images.get("img1").convert("RGB"))
    cy, cx = int(540 * 0.375), int(720 * 0.375)  # centre of the red box
    assert page[cy, cx, 0] > 200 and page[cy, cx, 1] < 70

    for bad in ["../secret.docx", str(tmp_path / "secret.docx"), "inputs/link.docx", "inputs/none.pptx"]:
        result = box.call("inspect_document", {"path": bad}, ctx)
        assert result.is_error and "\n" not in result.text, bad

    info = box.call("inspect_document", {"path": "inputs/deck.pptx"}, ctx)
    assert not info.is_error and "Red box" in info.text
    text = box.call("read_text", {"path": "inputs/deck.pptx", "max_chars": 100}, ctx)
    assert "Quarterly numbers" in text.text
    wrong = box.call("render_document", {"path": "inputs/deck.pptx", "pages": "7"}, ctx)
    assert wrong.is_error and "does not exist" in wrong.text


def _agent(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


@needs_soffice
def test_cli_render_and_inspect(tmp_path):
    deck = make_pptx(tmp_path / "deck.pptx")
    done = _agent("render", str(deck), "--dpi", "50", "--out", "pages", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "pages" / "page-001.png").exists() and (tmp_path / "pages" / "contact-sheet.png").exists()
    assert Image.open(tmp_path / "pages" / "page-001.png").size == (500, 375)
    shown = _agent("inspect", str(deck), "--json", cwd=tmp_path)
    assert shown.returncode == 0 and json.loads(shown.stdout)["slides"][0]["shapes"]


def test_cli_bad_inputs_are_one_line_and_exit_2(tmp_path):
    locked = make_pdf(tmp_path / "locked.pdf", user_password="pw", owner_password="o")
    empty = tmp_path / "empty.docx"
    empty.write_bytes(b"")
    for args in (
        ["inspect", str(locked)],
        ["render", str(empty)],
        ["inspect", str(tmp_path / "missing.xlsx")],
        ["render", str(locked), "--pages", "x"],
    ):
        done = _agent(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
