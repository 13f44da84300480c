"""`agent render` and `agent check` with many files, run as a user runs them: one call, one jailed
worker converting the files together, a folder per file, progress on stderr, per-file failures."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.documents_builders import (
    make_docx,
    make_pdf,
    make_pptx,
    make_xlsx_with_stale_value,
    needs_soffice,
    rewrite_part,
)

ROOT = Path(__file__).resolve().parents[1]


def agent(*args: str, cwd: Path, cache: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AGENT_CACHE_DIR": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        **kwargs,
    )


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def red_pixels(path: Path) -> int:
    a = pixels(path)
    return int(((a[..., 0] > 200) & (a[..., 1] < 80) & (a[..., 2] < 80)).sum())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """Four formats, two files named report.docx in different folders, and an unreadable .docx."""
    d = tmp_path_factory.mktemp("inputs")
    (d / "a").mkdir()
    (d / "b").mkdir()
    broken = rewrite_part(make_docx(d / "whole.docx"), d / "broken.docx", "word/document.xml", lambda _: b"<<<garbage")
    return {
        "report_a": make_docx(d / "a" / "report.docx", "The first report says alpha."),
        "report_b": make_docx(d / "b" / "report.docx", "The second report says beta, at greater length. " * 20),
        "deck": make_pptx(d / "deck.pptx"),
        "sheet": make_xlsx_with_stale_value(d / "sheet.xlsx"),
        "pdf": make_pdf(d / "scan.pdf", size_pt=(300, 200)),
        "broken": broken,
    }


@pytest.fixture(scope="module")
def many(inputs, tmp_path_factory):
    """One `agent render` call on all six files, with a fresh cache."""
    work = tmp_path_factory.mktemp("many")
    names = ["report_a", "report_b", "deck", "sheet", "broken", "pdf"]
    done = agent(
        "render", *[str(inputs[n]) for n in names], "--dpi", "60", "--out", "pages", cwd=work, cache=work / "cache"
    )
    return work, done


@needs_soffice
def test_many_files_give_the_pages_single_renders_give(inputs, many, tmp_path):
    work, done = many
    folders = {"report_a": "report", "report_b": "report-2", "deck": "deck", "sheet": "sheet", "pdf": "scan"}
    for name, folder in folders.items():
        single = agent("render", str(inputs[name]), "--dpi", "60", "--out", "one", cwd=tmp_path, cache=tmp_path / "c")
        assert single.returncode == 0, single.stderr
        expected = sorted(p.name for p in (tmp_path / "one").glob("page-*.png"))
        got = sorted(p.name for p in (work / "pages" / folder).glob("page-*.png"))
        assert got == expected and expected, (name, got, expected)
        for page in expected:
            assert np.array_equal(pixels(work / "pages" / folder / page), pixels(tmp_path / "one" / page)), (name, page)
        assert (work / "pages" / folder / "contact-sheet.png").is_file()
        for stale in (tmp_path / "one").iterdir():
            stale.unlink()
    # the two report.docx did not overwrite each other: each folder matched its own file's render above
    assert not np.array_equal(pixels(work / "pages/report/page-001.png"), pixels(work / "pages/report-2/page-001.png"))
    assert red_pixels(work / "pages" / "deck" / "page-001.png") > 1000


@needs_soffice
def test_a_broken_file_fails_alone_with_one_line_and_exit_2(inputs, many):
    work, done = many
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("agent: error:")]
    assert errors == [line for line in errors if str(inputs["broken"]) in line] and len(errors) == 1, done.stderr
    assert not (work / "pages" / "broken").exists() or not list((work / "pages" / "broken").glob("page-*.png"))
    assert "rendered 5 of 6 files" in done.stderr and "1 failed" in done.stderr
    assert "Traceback" not in done.stderr


@needs_soffice
def test_progress_goes_to_stderr_and_stdout_lists_only_the_pages(many):
    work, done = many
    progress = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert len(progress) == 5 and all("/6]" in line for line in progress), done.stderr
    assert any("report.docx: 1 page → pages/report" in line for line in progress)
    listed = done.stdout.split()
    assert listed and all(line.endswith(".png") and (work / line).is_file() for line in listed), done.stdout
    assert sum(name.endswith("contact-sheet.png") for name in listed) == 5


@needs_soffice
def test_a_cached_many_file_render_starts_no_worker_and_json_lists_every_file(inputs, many):
    work, _ = many
    names = ["deck", "pdf", "broken"]
    again = agent(
        "render",
        *[str(inputs[n]) for n in names],
        "--dpi",
        "60",
        "--out",
        "again",
        "--json",
        cwd=work,
        cache=work / "cache",
    )
    assert again.returncode == 2, again.stderr
    listed = json.loads(again.stdout)
    assert [item.get("source") for item in listed[2:]] == [str(inputs["broken"])] and "error" in listed[2]
    assert listed[0]["cached"] and listed[1]["cached"] and listed[0]["format"] == "pptx"
    assert np.array_equal(
        pixels(work / "again" / "deck" / "page-001.png"), pixels(work / "pages" / "deck" / "page-001.png")
    )


@needs_soffice
def test_on_a_terminal_the_progress_is_a_bar_on_stderr(inputs, many):
    work, _ = many
    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AGENT_CACHE_DIR": str(work / "cache")}
    args = ["render", str(inputs["deck"]), str(inputs["pdf"]), "--dpi", "60", "--out", "tty"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", *args], cwd=work, env=env, stdout=subprocess.PIPE, stderr=follower
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closes when the process ends
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    stdout, _ = proc.communicate(timeout=300)
    text = shown.decode("utf-8", "replace")
    assert proc.returncode == 0 and "rendered 2 of 2 files" in text, text
    assert "[1/2]" not in text  # a bar, not a line per file
    assert stdout.split() and all(line.endswith(b".png") for line in stdout.split())


def test_out_that_is_a_file_is_refused_before_any_work(tmp_path):
    (tmp_path / "taken").write_text("not a folder")
    deck = tmp_path / "deck.pptx"
    deck.write_bytes(b"whatever")
    for files in ([deck], [deck, deck]):
        done = agent("render", *map(str, files), "--out", "taken", cwd=tmp_path, cache=tmp_path / "cache")
        assert done.returncode == 2
        assert done.stderr.strip().splitlines() == [
            "agent: error: --out taken: a file is there; name a folder (it is made if missing)"
        ]
    assert not (tmp_path / "cache").exists()  # nothing was staged, converted or cached


@needs_soffice
def test_check_many_files_reports_each_and_a_broken_one_alone(inputs, tmp_path):
    deck, budget = ROOT / "examples/deck/deck.pptx", ROOT / "examples/sheet/budget.xlsx"
    done = agent("check", str(deck), str(inputs["broken"]), str(budget), "--json", cwd=tmp_path, cache=tmp_path / "c")
    assert done.returncode == 2, done.stderr
    reports = json.loads(done.stdout)
    assert [r["file"] for r in reports] == [str(deck), str(inputs["broken"]), str(budget)]
    assert reports[0]["counts"]["error"] >= 1 and reports[2]["counts"]["error"] >= 1
    assert "error" in reports[1] and "findings" not in reports[1]
    assert all(f["file"] == str(deck) for f in reports[0]["findings"])
    assert sum(line.startswith("agent: error:") for line in done.stderr.splitlines()) == 1
    assert "checked 2 of 3 files" in done.stderr
    readable = agent("check", str(deck), str(budget), cwd=tmp_path, cache=tmp_path / "c")
    assert readable.returncode == 1, readable.stderr  # error findings, every file read
    assert "deck.pptx: 4 error(s)" in readable.stdout and "budget.xlsx: 1 error(s)" in readable.stdout
    assert [line[:5] for line in readable.stderr.splitlines() if line.startswith("[")] == ["[1/2]", "[2/2]"]


@needs_soffice
def test_pages_cached_by_other_code_are_not_served(inputs, tmp_path):
    """The cache is keyed on a document's bytes; pages drawn by another version of the code (an
    upgrade, a branch switch) must be drawn again, not handed out as if they were current."""
    cache = tmp_path / "cache"
    first = agent("render", str(inputs["pdf"]), "--out", str(tmp_path / "one"), cwd=tmp_path, cache=cache)
    assert first.returncode == 0, first.stderr
    again = agent("render", str(inputs["pdf"]), "--out", str(tmp_path / "two"), cwd=tmp_path, cache=cache)
    assert "from cache" in again.stderr  # same code: served from the cache

    for page in (cache / "renders").rglob("page-*.png"):
        Image.new("RGB", Image.open(page).size, "red").save(page)  # what "other code" drew
    (cache / "made-by").write_text("0123456789abcdef\n")
    redrawn = agent("render", str(inputs["pdf"]), "--out", str(tmp_path / "three"), cwd=tmp_path, cache=cache)
    assert redrawn.returncode == 0, redrawn.stderr
    assert "from cache" not in redrawn.stderr
    page = next((tmp_path / "three").rglob("page-001.png"))
    assert np.array_equal(pixels(page), pixels(next((tmp_path / "one").rglob("page-001.png"))))
    assert red_pixels(page) < pixels(page).shape[0] * pixels(page).shape[1] // 2
