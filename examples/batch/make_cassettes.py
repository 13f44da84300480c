"""Build the batch example: small real inputs, the jobs file, and one cassette per job.

    python3 examples/batch/make_cassettes.py            # inputs (if missing), jobs.jsonl, cassettes
    python3 examples/batch/make_cassettes.py --inputs   # also rebuild the inputs

The cassettes are recorded from a scripted model (the replies below are written by hand, and
every cassette's header says so) while the REAL tools run, so the request digests are real and
`agent batch examples/batch/jobs.jsonl --model replay:examples/batch/cassettes/` replays them
offline. Re-run this script after changing a tool, the system prompt or an input: a strict
replay stops at the first request that differs from the recording.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from agent.budget import Budget  # noqa: E402
from agent.files import collect_inputs  # noqa: E402
from agent.loop import Agent  # noqa: E402
from agent.models.cassette import RecordingModel  # noqa: E402
from agent.models.scripted import ScriptedModel, call, say  # noqa: E402

FILES = HERE / "files"
CASSETTES = HERE / "cassettes"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

# id, job fields, the scripted model's replies (what a careful model would do), the run status they lead to
JOBS = [
    (
        "squares",
        {
            "task": "How many red squares are in the picture?",
            "files": ["files/shapes.png"],
            "expected": 4,
            "tags": ["image"],
        },
        [
            call("count_blobs", thought="Distinct solid shapes on white: count them.", image="img1", polarity="auto"),
            say("There are 4 red squares."),
        ],
        "done",
    ),
    (
        "meter",
        {
            "task": "What does the meter's display read? Give the number and unit.",
            "files": ["files/meter.png"],
            "expected": 1284.5,
            "match": "numeric",
            "tolerance": 0.05,
            "tags": ["image"],
        },
        [
            call(
                "zoom",
                thought="The digits are small; look closer at the display.",
                image="img1",
                x_min=50,
                y_min=250,
                x_max=950,
                y_max=750,
            ),
            say("The display reads 1,284.5 kWh."),
        ],
        "done",
    ),
    (
        "circles",
        {
            "task": "List the colours of the circles in the picture.",
            "files": ["files/circles.png"],
            "expected": ["red", "green", "blue"],
            "tags": ["image"],
        },
        # A deliberately wrong hand-written answer (the green circle is missed), so the
        # example's summary shows a miss being scored as one.
        [say("red and blue")],
        "done",
    ),
    (
        "invoice-total",
        {
            "task": "What is the total due on the invoice?",
            "files": ["files/invoice.pdf"],
            "expected": "$1,234.00",
            "match": "numeric",
            "tags": ["document"],
        },
        [call("read_text", path="inputs/invoice.pdf"), say("The total due is $1,234.00.")],
        "done",
    ),
    (
        "report-regions",
        {
            "task": "Which regions are listed in the sales table of the report?",
            "files": ["files/report.docx"],
            "expected": ["North", "South", "East"],
            "tags": ["document"],
        },
        [call("read_text", path="inputs/report.docx"), say("North, South and East")],
        "done",
    ),
    (
        "deck-title",
        {
            "task": "What is the title of slide 2 of the deck?",
            "files": ["files/deck.pptx"],
            "expected": "Roadmap 2027",
            "tags": ["document"],
        },
        [call("read_text", path="inputs/deck.pptx"), say("Roadmap 2027")],
        "done",
    ),
    (
        "deck-owner",
        {
            "task": "Who owns the roadmap, according to the deck?",
            "files": ["files/deck.pptx"],
            "expected": "Dana Okafor",
            "match": "contains",
            "max_steps": 1,
            "tags": ["document"],
        },
        # One step allowed and the model spends it on a tool call: the job ends "failed" (step limit).
        [call("read_text", path="inputs/deck.pptx")],
        "step_limit",
    ),
]


def make_inputs() -> None:
    FILES.mkdir(exist_ok=True)
    im = Image.new("RGB", (240, 160), "white")
    d = ImageDraw.Draw(im)
    for x, y in [(20, 20), (130, 30), (40, 95), (160, 100)]:
        d.rectangle([x, y, x + 40, y + 40], fill=(210, 30, 30))
    im.save(FILES / "shapes.png", optimize=True)

    im = Image.new("RGB", (320, 120), (40, 44, 40))
    d = ImageDraw.Draw(im)
    d.rectangle([20, 30, 300, 90], fill=(170, 200, 160))
    d.text((36, 42), "1,284.5 kWh", fill=(20, 30, 20), font=ImageFont.truetype(FONT, 26))
    im.save(FILES / "meter.png", optimize=True)

    im = Image.new("RGB", (240, 100), "white")
    d = ImageDraw.Draw(im)
    for cx, colour in [(45, (220, 30, 30)), (120, (30, 160, 60)), (195, (40, 70, 220))]:
        d.ellipse([cx - 30, 20, cx + 30, 80], fill=colour)
    im.save(FILES / "circles.png", optimize=True)

    from docx import Document
    from pptx import Presentation

    doc = Document()
    doc.add_heading("Quarterly sales report", 1)
    doc.add_paragraph("Sales by region for the third quarter.")
    table = doc.add_table(rows=4, cols=2)
    for row, cells in zip(table.rows, [("Region", "Sales"), ("North", "1,200"), ("South", "950"), ("East", "1,480")]):
        for cell, text in zip(row.cells, cells):
            cell.text = text
    doc.save(FILES / "report.docx")

    deck = Presentation()
    s1 = deck.slides.add_slide(deck.slide_layouts[0])
    s1.shapes.title.text = "Product update"
    s1.placeholders[1].text = "November 2026"
    s2 = deck.slides.add_slide(deck.slide_layouts[1])
    s2.shapes.title.text = "Roadmap 2027"
    s2.placeholders[1].text = "Owner: Dana Okafor\nQ1: batch runs\nQ2: cluster runner"
    deck.save(FILES / "deck.pptx")

    invoice = Document()
    invoice.add_heading("Invoice 2026-117", 1)
    invoice.add_paragraph("Bill to: Example Ltd")
    lines = invoice.add_table(rows=3, cols=2)
    for row, cells in zip(
        lines.rows, [("Consulting, 8 h", "$960.00"), ("Travel", "$274.00"), ("Total due", "$1,234.00")]
    ):
        for cell, text in zip(row.cells, cells):
            cell.text = text
    with tempfile.TemporaryDirectory() as tmp:
        from tools.documents.convert import to_pdf

        source = Path(tmp) / "invoice.docx"
        invoice.save(source)
        shutil.copyfile(to_pdf(source, tmp), FILES / "invoice.pdf")


def record() -> None:
    if CASSETTES.exists():
        shutil.rmtree(CASSETTES)
    CASSETTES.mkdir()
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for job_id, fields, replies, want in JOBS:
            model = RecordingModel(
                ScriptedModel(replies),
                CASSETTES / f"{job_id}.cassette.jsonl",
                source="hand-written",
                note="examples/batch/make_cassettes.py: scripted replies, real tools",
            )
            agent = Agent(model, budget=Budget(max_steps=fields.get("max_steps", 20)), runs_dir=Path(tmp))
            result = agent.run(fields["task"], collect_inputs(fields["task"], fields["files"], cwd=HERE))
            if result.status != want:
                raise SystemExit(f"{job_id}: expected status {want}, got {result.status}: {result.error}")
            print(f"{job_id}: {result.status} after {result.steps} step(s): {result.answer}")
            lines.append(json.dumps({"id": job_id, **fields}))
    (HERE / "jobs.jsonl").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", action="store_true", help="rebuild the input files too")
    args = parser.parse_args()
    if args.inputs or not FILES.exists():
        make_inputs()
    record()


if __name__ == "__main__":
    main()
