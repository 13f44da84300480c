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

from agent.loop import Agent  # noqa: E402
from agent.models.base import ModelRequest  # noqa: E402
from agent.models.cassette import RecordingModel  # noqa: E402
from agent.models.scripted import ScriptedModel, call  # noqa: E402
from agent.transcript import ToolResult  # noqa: E402

TASK = "read the gauge in examples/gauge/gauge.png"
CASSETTE = Path(__file__).with_name("run.cassette.jsonl")
DIAL = {"x_min": 470, "y_min": 133.3, "x_max": 870, "y_max": 666.7}  # the bezel; the hub is at its centre
SMALL_PRINT = {"x_min": 590, "y_min": 440, "x_max": 750, "y_max": 560}
ZERO_ANGLE, DEGREES_PER_BAR = 225.0, 27.0  # read off the dial: 0 bar at 225°, 5 bar straight up, 10 bar at 315°
READING: dict[str, float] = {}


def result_of(request: ModelRequest, tool_name: str) -> ToolResult:
    """The latest result of a tool, read from the request as a model would."""
    results = [p for m in request.messages for p in m.parts if isinstance(p, ToolResult) and p.name == tool_name]
    if not results:
        raise SystemExit(f"no {tool_name} result in the request")
    return results[-1]


def needle_angle(request: ModelRequest) -> float:
    text = result_of(request, "find_lines").text
    match = re.search(r"needle in \w+: direction (-?\d+(?:\.\d+)?) deg", text)
    if not match:
        raise SystemExit(f"find_lines did not report a needle angle: {text}")
    return float(match.group(1))


def annotate_needle(request: ModelRequest):
    import math

    angle = needle_angle(request)
    bar = (ZERO_ANGLE - angle) / DEGREES_PER_BAR
    READING.update(angle=angle, bar=bar)
    tip_x = 500 + 380 * math.cos(math.radians(angle))
    tip_y = 500 - 380 * math.sin(math.radians(angle))
    return call(
        "annotate",
        thought=(
            f"find_lines puts the needle at {angle:.1f}°. On this dial 0 bar is at 225° and 5 bar straight up "
            f"at 90°, so 27° per bar: (225 − {angle:.1f}) / 27 = {bar:.2f} bar. The needle tip sits just past "
            "the 6 mark, two minor ticks (0.2 bar each) beyond it, which agrees. Mark it for the record."
        ),
        image="img2",
        shapes=[
            {"kind": "line", "x1": 500, "y1": 500, "x2": round(tip_x, 1), "y2": round(tip_y, 1)},
            {"kind": "circle", "x": 500, "y": 500, "radius": 20},
            {"kind": "arrow", "x1": 560, "y1": 70, "x2": round(tip_x, 1), "y2": round(tip_y, 1), "label": f"needle {angle:.1f}° = {bar:.1f} bar"},
        ],
    )


def answer(request: ModelRequest):
    bar = READING["bar"]
    return call(
        "final_answer",
        thought="The reading, the unit and the scale are all confirmed by zoomed views; answer with the evidence.",
        answer=(
            f"{bar:.1f} bar. The needle points just past 6 on the 0–10 bar scale, two minor ticks beyond it "
            f"(needle at {READING['angle']:.1f}°, 27° per bar from 0 bar at 225°); the dial's unit is bar "
            "(MANOMETRIX, class 1.6)."
        ),
        evidence=[result_of(request, "annotate").image_ids[0], result_of(request, "zoom").image_ids[0]],
    )


SCRIPT = [
    call(
        "zoom",
        thought="A pressure gauge sits right of centre, with a name plate and a warning sticker to its left. The dial is too small here to read the needle precisely: zoom on the whole gauge.",
        image="img1",
        **DIAL,
    ),
    call(
        "enhance",
        thought="The dial is readable: 0–10 with minor ticks, a red needle between 6 and 7. Raise the contrast so the needle stands out from the ticks before locating it.",
        image="img2",
        operation="contrast",
        amount=1.8,
    ),
    call(
        "find_lines",
        thought="Locate the needle precisely: needle mode, centred on the hub, which is the centre of this zoom.",
        image="img3",
        mode="needle",
        centre_x=500,
        centre_y=500,
    ),
    call(
        "zoom",
        thought="Before converting the angle, confirm the unit and the scale from the print on the dial.",
        image="img1",
        **SMALL_PRINT,
    ),
    annotate_needle,
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
        result = Agent(model, runs_dir=Path(tmp) / "runs").run(TASK, cwd=ROOT)
        print(f"{result.status}: {result.answer}", file=sys.stderr)
        if result.status != "done":
            raise SystemExit(f"the scripted run did not finish: {result.error}")
    print(f"wrote {CASSETTE.relative_to(ROOT)} ({model.turn} turns)", file=sys.stderr)


if __name__ == "__main__":
    main()
