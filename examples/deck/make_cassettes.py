"""Writes the fix-loop cassettes: render → check → fix → render again → check clean.

- examples/deck/fix.cassette.jsonl: the defective deck (an overflowing text box, leftover
  placeholders, a title colliding with a text box) fixed with edit_pptx;
- examples/sheet/fix.cassette.jsonl: the budget whose average divides by zero, fixed with edit_xlsx.

Both are hand-written: recorded from a scripted model while every tool (LibreOffice renders,
the QA checks, the edits) runs for real, so the request digests are real. The scripted model
reads the check results from the request and refuses to record a run whose final check is not
clean. Run from the repository root after changing a tool, the system prompt or a guide:

    python3 examples/deck/make_cassettes.py
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from agent.files import collect_inputs  # noqa: E402
from agent.loop import Agent  # noqa: E402
from agent.models.base import ModelRequest  # noqa: E402
from agent.models.cassette import RecordingModel  # noqa: E402
from agent.models.scripted import ScriptedModel, call  # noqa: E402
from agent.transcript import ToolResult  # noqa: E402

DECK_TASK = "check examples/deck/deck.pptx and fix every defect you find"
SHEET_TASK = "find and fix the broken formula in examples/sheet/budget.xlsx"
NOTE = "Recorded from a scripted model (examples/deck/make_cassettes.py) with every tool running for real; not a live model's output."


def results_of(request: ModelRequest, tool_name: str) -> list[ToolResult]:
    return [p for m in request.messages for p in m.parts if isinstance(p, ToolResult) and p.name == tool_name]


def error_count(result: ToolResult) -> int:
    match = re.search(r"(\d+) error\(s\)", result.text)
    if not match:
        raise SystemExit(f"check_document said something unexpected: {result.text[:300]}")
    return int(match.group(1))


def image_id(result: ToolResult, pattern: str) -> str:
    match = re.search(pattern, result.text)
    if not match:
        raise SystemExit(f"no image id matching {pattern!r} in {result.name}'s result: {result.text[:300]}")
    return match.group(1)


def confirm_clean(kind: str, fixed: str):
    def reply(request: ModelRequest):
        check = results_of(request, "check_document")[-1]
        if error_count(check) != 0 or check.is_error:
            raise SystemExit(f"the fixed {kind} is not clean: {check.text[:500]}")
        render = results_of(request, "render_document")[-1]
        return call(
            "final_answer",
            thought="The re-rendered pages look right and the checks report no errors: done.",
            answer=ANSWERS[kind].format(fixed=fixed),
            # ids read from the results' text: older images reach the model as stubs, not as ids
            evidence=[
                image_id(render, r"contact sheet (img\d+)"),
                image_id(results_of(request, "check_document")[0], r"annotated pages: (img\d+)"),
            ],
        )

    return reply


ANSWERS = {
    "deck": (
        "Fixed all four defects; the corrected deck is {fixed}. Slide 1: the 'TODO' subtitle now names the "
        "presenter and date. Slide 2: the title no longer collides with the highlights box (title moved up and "
        "made shorter). Slide 3: the roadmap box was too short for its eight lines; it is now 250 pt tall and "
        "nothing overflows. Slide 4: the 'Lorem ipsum' placeholder is replaced with the real next steps. "
        "The re-render is clean: 0 errors, 0 warnings (Calibri renders as the metric-compatible Carlito)."
    ),
    "sheet": (
        "Budget!B8 (=SUM(B2:B5)/B7, the average per month) was #DIV/0! because Months (B7) was 0. Set B7 to 12; "
        "B8 now recalculates to 1,838 and the workbook checks clean. The fixed file is {fixed}."
    ),
}

DECK_SCRIPT = [
    call("read_skill", thought="A deck to check and fix: read the slides guide for the workflow first.", name="slides"),
    call("render_document", thought="Render every slide and look at them before judging.", path="inputs/deck.pptx"),
    call(
        "check_document",
        thought="Slide 2's title runs into the bullet text, slide 3's list spills below its box, and there is "
        "leftover text on slides 1 and 4. Run the checks to get exact shapes and sizes.",
        path="inputs/deck.pptx",
    ),
    call(
        "edit_pptx",
        thought="Four errors, each with a fix: replace both placeholders, move the title of slide 2 above the "
        "highlights box, and make the roadmap box tall enough (the check says at least 237 pt).",
        path="inputs/deck.pptx",
        operations=[
            {"op": "set_text", "slide": 1, "shape": "Subtitle 2", "text": "Dana Whitfield, 14 October 2024"},
            {"op": "move_resize", "slide": 2, "shape": "Title 1", "top_pt": 20, "height_pt": 80},
            {"op": "move_resize", "slide": 3, "shape": "Roadmap items", "height_pt": 250},
            {
                "op": "set_text",
                "slide": 4,
                "shape": "Content Placeholder 2",
                "text": "Pilot single sign-on with two customers\nHire a second support engineer\nReview pricing in November",
            },
        ],
    ),
    call("render_document", thought="Render the fixed deck and look again.", path="outputs/deck.edited.pptx"),
    call("check_document", thought="The slides look right; confirm with the checks.", path="outputs/deck.edited.pptx"),
    confirm_clean("deck", "outputs/deck.edited.pptx"),
]

SHEET_SCRIPT = [
    call("render_document", thought="Look at the sheet as it prints.", path="inputs/budget.xlsx"),
    call(
        "check_document",
        thought="One cell shows #DIV/0!. Run the checks to find which formula and why.",
        path="inputs/budget.xlsx",
    ),
    call(
        "inspect_document",
        thought="B8 divides by B7. See the cells and their recalculated values before changing anything.",
        path="inputs/budget.xlsx",
    ),
    call(
        "edit_xlsx",
        thought="B7 'Months' is 0, so the average per month divides by zero. A yearly budget covers 12 months: set B7 to 12.",
        path="inputs/budget.xlsx",
        operations=[{"op": "set_value", "sheet": "Budget", "cell": "B7", "value": 12}],
    ),
    call("render_document", thought="Render the fixed workbook.", path="outputs/budget.edited.xlsx"),
    call(
        "check_document",
        thought="B8 now shows a number; confirm nothing else is wrong.",
        path="outputs/budget.edited.xlsx",
    ),
    confirm_clean("sheet", "outputs/budget.edited.xlsx"),
]


def record(task: str, script: list, cassette: Path) -> None:
    model = RecordingModel(
        ScriptedModel(script, name="scripted:fix-loop-example"), cassette, source="hand-written", note=NOTE
    )
    with tempfile.TemporaryDirectory() as tmp:
        result = Agent(model, runs_dir=Path(tmp) / "runs").run(task, collect_inputs(task, [], cwd=ROOT))
    if result.status != "done":
        raise SystemExit(f"{task!r} did not finish: {result.status} {result.error}")
    print(f"wrote {cassette.relative_to(ROOT)} ({model.turn} turns): {result.answer}", file=sys.stderr)


def main() -> None:
    record(DECK_TASK, DECK_SCRIPT, ROOT / "examples" / "deck" / "fix.cassette.jsonl")
    record(SHEET_TASK, SHEET_SCRIPT, ROOT / "examples" / "sheet" / "fix.cassette.jsonl")


if __name__ == "__main__":
    main()
