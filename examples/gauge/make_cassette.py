"""Writes run.cassette.jsonl: a hand-written gauge-reading run, recorded from a scripted model.

The tools run for real while recording, so the request digests in the cassette are real and
`agent run … --model replay:examples/gauge/run.cassette.jsonl` replays it strictly. The
scripted model reads the tools' own results (the needle angle from find_lines) rather than
assuming them, the way a model would. Run from the repository root:

    python3 examples/gauge/make_cassette.py

Re-run it after changing a tool's schema, the system prompt or a skills guide: replay is
strict and says which turn and which part changed.
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

TASK = "read the gauge in examples/gauge/gauge.png"
CASSETTE = Path(__file__).with_name("run.cassette.jsonl")
DIAL = {"x_min": 470, "y_min": 133.3, "x_max": 870, "y_max": 666.7}  # the bezel
SMALL_PRINT = {"x_min": 590, "y_min": 440, "x_max": 750, "y_max": 560}
READING: dict[str, float | str] = {}


def result_of(request: ModelRequest, tool_name: str) -> ToolResult:
    """The latest result of a tool, read from the request as a model would."""
    results = [p for m in request.messages for p in m.parts if isinstance(p, ToolResult) and p.name == tool_name]
    if not results:
        raise SystemExit(f"no {tool_name} result in the request")
    return results[-1]


def check_the_tip(request: ModelRequest):
    """Read read_gauge's value, angle and the box it suggests for checking, and zoom there."""
    text = result_of(request, "read_gauge").text
    value = re.search(r"gauge in \w+: (-?\d+(?:\.\d+)?) (\S+) \(confidence (\d\.\d+)\)", text)
    angle = re.search(r"needle (-?\d+(?:\.\d+)?) deg", text)
    box = re.search(r"check: zoom on the tip \(x (\d+)-(\d+), y (\d+)-(\d+)\)", text)
    if not (value and angle and box):
        raise SystemExit(f"read_gauge did not report a value, an angle and a box to check: {text}")
    READING.update(
        value=float(value.group(1)),
        unit=value.group(2),
        confidence=float(value.group(3)),
        angle=float(angle.group(1)),
        annotated=result_of(request, "read_gauge").image_ids[0],
    )
    x0, x1, y0, y1 = (float(v) for v in box.groups())
    return call(
        "zoom",
        thought=(
            f"read_gauge reads {READING['value']:g} {READING['unit']} (confidence {READING['confidence']:.2f}): pivot on the hub, "
            f"needle at {READING['angle']:.1f}°, scale 0–10 bar clockwise from its own numbers. Its annotated image looks right: "
            "the cross on the hub, the red line along the needle. Check the tip against the ticks myself before trusting it."
        ),
        image="img2",
        x_min=x0,
        y_min=y0,
        x_max=x1,
        y_max=y1,
    )


def check_the_print(request: ModelRequest):
    READING["tip"] = result_of(request, "zoom").image_ids[0]
    return call(
        "zoom",
        thought="The tip sits two minor ticks past 6, as read. Confirm the unit and the maker's print on the dial before answering.",
        image="img1",
        **SMALL_PRINT,
    )


def answer(request: ModelRequest):
    value, angle = READING["value"], READING["angle"]
    return call(
        "final_answer",
        thought="The tip and the print agree with read_gauge; answer with the annotated dial and the zoomed tip as evidence.",
        answer=(
            f"{value:.1f} bar. The needle points just past 6 on the 0–10 bar scale, two minor ticks (0.2 bar each) beyond it "
            f"(read_gauge: needle at {angle:.1f}°, calibration inferred from the dial's numbers, checked by zooming on the tip); "
            "the dial's unit is bar (MANOMETRIX, class 1.6)."
        ),
        evidence=[READING["annotated"], READING["tip"]],
    )


SCRIPT = [
    call(
        "zoom",
        thought="A pressure gauge sits right of centre, with a name plate and a warning sticker to its left. The dial is too small here to read precisely: zoom on the whole gauge.",
        image="img1",
        **DIAL,
    ),
    call(
        "read_gauge",
        thought="The dial fills this zoom: 0–10 with minor ticks, a red needle between 6 and 7. Read it with read_gauge, then check its result.",
        image="img2",
    ),
    check_the_tip,
    check_the_print,
    answer,
]


def main() -> None:
    model = RecordingModel(
        ScriptedModel(SCRIPT, name="scripted:gauge-example"),
        CASSETTE,
        source="hand-written",
        note="Recorded from a scripted model (examples/gauge/make_cassette.py) with every tool running for real; not a live model's output.",
    )
    with tempfile.TemporaryDirectory() as tmp:
        result = Agent(model, runs_dir=Path(tmp) / "runs").run(TASK, collect_inputs(TASK, [], cwd=ROOT))
        print(f"{result.status}: {result.answer}", file=sys.stderr)
        if result.status != "done":
            raise SystemExit(f"the scripted run did not finish: {result.error}")
    print(f"wrote {CASSETTE.relative_to(ROOT)} ({model.turn} turns)", file=sys.stderr)


if __name__ == "__main__":
    main()
