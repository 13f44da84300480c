"""report.html as a person sees it: the example runs' reports loaded in a real headless Chromium
on a desktop (1400 px) and a phone (400 px), after the run directory was moved. Nothing may
overflow sideways, every image must load, no console error, every link must lead somewhere;
failures must read as failures, and hostile model text must stay inert text."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

from agent.files import collect_inputs
from agent.loop import Agent
from agent.models.base import ModelError, ModelReply, Usage
from agent.models.scripted import ScriptedModel, call, say
from agent.transcript import Text, Thought, ToolCall
from tests.chromium import Chromium, PageLoad, find_chromium

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = (1400, 400)
CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="Chromium is not installed (scripts/install-system-deps.sh)"
)
needs_soffice = pytest.mark.skipif(
    shutil.which("soffice") is None and not os.environ.get("CI"), reason="LibreOffice (soffice) is not installed"
)
pytestmark = needs_chromium

GAUGE = ("read the gauge in examples/gauge/gauge.png", "examples/gauge/run.cassette.jsonl")
DECK = ("check examples/deck/deck.pptx and fix every defect you find", "examples/deck/fix.cassette.jsonl")
SHEET = ("find and fix the broken formula in examples/sheet/budget.xlsx", "examples/sheet/fix.cassette.jsonl")


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM, "CI must have Chromium (scripts/install-system-deps.sh installs it)"
    with Chromium(CHROMIUM) as chromium:
        yield chromium


def run_example(tmp_path: Path, example: tuple[str, str]) -> Path:
    """The example run from the CLI, as a user runs it, then its directory moved elsewhere."""
    task, cassette = example
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent.cli",
            "run",
            task,
            "--model",
            f"replay:{cassette}",
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = (tmp_path / "runs").iterdir()
    moved = tmp_path / "moved" / "elsewhere"
    moved.parent.mkdir()
    shutil.move(run, moved)  # relative links must survive the move
    return moved


def load_both(browser: Chromium, report: Path, tmp_path: Path) -> dict[int, PageLoad]:
    loads = {}
    for width in WIDTHS:
        page = browser.load(report, width, screenshot=True)
        (tmp_path / f"report-{width}.png").write_bytes(page.screenshot)  # to look at when this fails
        assert_sound(page, report.parent)
        loads[width] = page
    return loads


def assert_sound(page: PageLoad, run_dir: Path) -> None:
    r, where = page.result, f"at {page.width} px"
    assert r["innerWidth"] == page.width, f"{where}: laid out {r['innerWidth']} px wide (no viewport meta?)"
    assert r["scrollWidth"] <= r["clientWidth"] and not r["wide"], f"{where}: overflows sideways: {r['wide']}"
    assert r["images"] and all(i["loaded"] for i in r["images"]), f"{where}: images not loaded: {r['images']}"
    assert page.console_errors == [], f"{where}: {page.console_errors}"
    for href in r["links"]:
        if href.startswith("#"):
            assert href[1:] in r["ids"], f"{where}: link to a missing anchor {href}"
        else:
            assert "://" not in href and not href.startswith(("/", "..")), href
            assert (run_dir / unquote(href)).is_file(), f"{where}: link to a missing file {href}"


def test_gauge_report_links_full_size_images_and_outlines_zooms(browser, tmp_path):
    run = run_example(tmp_path, GAUGE)
    loads = load_both(browser, run / "report.html", tmp_path)
    r = loads[1400].result
    # every image opens full size from its own file, and each zoom's region is outlined on its parent
    for image in ("img1", "img2", "img3", "img4", "img5"):
        assert f"images/{image}.png" in r["links"]
    assert {"#img2", "#img5", "#img4"} <= set(r["links"])
    text = r["text"]
    assert (
        "Duration" in text and "Run directory" in text and "bwrap" in text and "replay:scripted:gauge-example" in text
    )
    assert "zoom of img1 on x 470–870, y 133.3–666.7 (of 1000)" in text  # captions in words
    assert "Step 2 · model" in text and "tools" in text  # each step's time
    assert "6.4 bar" in text
    # on a phone the images are shrunk to fit, never clipped
    assert max(i["shown"] for i in loads[400].result["images"]) <= 400


@needs_soffice
@pytest.mark.parametrize("example, edited", [(SHEET, "budget.edited.xlsx"), (DECK, "deck.edited.pptx")])
def test_document_fix_report_shows_each_finding_before_and_after(browser, tmp_path, example, edited):
    run = run_example(tmp_path, example)
    loads = load_both(browser, run / "report.html", tmp_path)
    r = loads[1400].result
    assert f"home/outputs/{edited}" in r["links"]  # the edited file is a click away
    crops = [i for i in r["images"] if i["alt"].startswith("the region on")]
    # each located finding: a crop before (in the check's step, and in the fix) and after the fix
    assert len(crops) >= 3
    assert min(i["shown"] for i in crops) >= 300  # legible, not a whole page at thumbnail size
    text = r["text"]
    assert "Document fixes" in text and "before: inputs/" in text and f"after: outputs/{edited}" in text
    if edited.endswith(".xlsx"):
        assert "B8 =SUM(B2:B5)/B7 evaluates to #DIV/0!" in text and "after 0 error(s)" in text


def test_a_failed_run_reads_as_a_failure(browser, tmp_path):
    shutil.copy(ROOT / "examples/gauge/gauge.png", tmp_path / "gauge.png")

    def fail(request):
        raise ModelError("gemini: 503 the model is overloaded (after 4 attempts)")

    model = ScriptedModel([call("zoom", image="img1", x_min=470, y_min=133, x_max=870, y_max=667), fail])
    result = Agent(model, runs_dir=tmp_path / "runs").run(
        "read the gauge", collect_inputs("", [tmp_path / "gauge.png"])
    )
    assert result.status == "model_error"
    r = load_both(browser, result.run_dir / "report.html", tmp_path)[400].result
    text = r["text"]
    assert "Failed: the model or its API failed" in text and "503 the model is overloaded" in text
    assert "Answer" not in text.split("Steps")[0]  # no green answer box for a failure


PAYLOAD = "<script>window.__pwned = 1</script><img src=x onerror='window.__pwned=2'>"
LINK = '<a href="javascript:window.__pwned=3">click</a> [x](javascript:window.__pwned=4)'


def test_hostile_model_text_is_inert_in_the_report(browser, tmp_path):
    shutil.copy(ROOT / "examples/gauge/gauge.png", tmp_path / "gauge.png")
    replies = [
        ModelReply(
            [
                Thought(f"thinking {PAYLOAD}"),
                Text(f"text {LINK}"),
                ToolCall("c1", "<script>window.__pwned=5</script>", {"x": PAYLOAD}),
                ToolCall("c2", "zoom", {"image": "img1' onerror='window.__pwned=6", "x_min": 0}),
            ],
            Usage(),
            "tool_calls",
        ),
        call("final_answer", answer=f"the answer {PAYLOAD} {LINK}", evidence=['img1" onload="window.__pwned=7']),
        say(f"plain answer {PAYLOAD} {LINK}", thought=f"<style>body{{display:none}}</style>{PAYLOAD}"),
    ]
    result = Agent(ScriptedModel(replies), runs_dir=tmp_path / "runs").run(
        f"task {PAYLOAD}", collect_inputs("", [tmp_path / "gauge.png"])
    )
    assert result.status == "done"
    r = load_both(browser, result.run_dir / "report.html", tmp_path)[1400].result
    assert r["scripts"] == 0 and r["handlers"] == 0 and r["scriptUrls"] == []
    assert r["pwned"] == "undefined"
    # the payloads are there, as text a reader can see
    assert r["text"].count("window.__pwned = 1") >= 3 and "javascript:window.__pwned=3" in r["text"]
    assert all(not h.startswith("javascript") for h in r["links"])
