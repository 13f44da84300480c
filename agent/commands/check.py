"""`agent check FILE...`: QA findings for documents; exit 1 when any finding is an error."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "check",
        help="QA a document: overflow, overlaps, placeholders, fonts, formula errors, blank pages",
        description="Render each document and run the QA rules. Each finding has a rule id, a severity, the page "
        "or slide, a 0-1000 box on the rendered page, a message and a suggested fix. Exit status: 0 no errors, "
        "1 at least one error-severity finding, 2 unreadable input.",
        epilog="example: agent check examples/deck/deck.pptx --annotate deck-findings.png",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="DOCX, PPTX, XLSX, ODF, legacy Office or PDF files")
    p.add_argument("--json", action="store_true", help="print one JSON object per file (a JSON array)")
    p.add_argument(
        "--annotate",
        metavar="OUT.png",
        help="write the contact sheet with each finding boxed and numbered (several files: OUT-<name>.png)",
    )
    p.add_argument("--no-render", action="store_true", help="structure-only checks (no LibreOffice; less evidence)")
    p.add_argument("--work-dir", default=None, help="keep the renders here (default: a temporary folder)")
    p.set_defaults(func=check_command)


def check_command(args) -> int:
    from agent.commands.render import warn_if_documents_unjailed
    from agent.errors import UsageError
    from tools.documents import DocumentError, jailed

    warn_if_documents_unjailed()
    for name in args.files:
        if not Path(name).is_file():
            raise UsageError(f"{name}: no such file")
    if args.annotate and args.no_render:
        raise UsageError("--annotate needs the render; drop --no-render")
    reports = []
    with tempfile.TemporaryDirectory(prefix="agent-check-") as tmp:
        work_root = Path(args.work_dir) if args.work_dir else Path(tmp)
        for i, name in enumerate(args.files):
            source = Path(name)
            try:
                outcome = jailed.check(
                    jailed.Source.from_path(source),
                    work_root / f"{i:03d}-{source.stem}",
                    render=not args.no_render,
                    annotate=bool(args.annotate),
                )
            except DocumentError as exc:
                raise UsageError(str(exc)) from None
            report = outcome.report
            report.file = source
            reports.append(report)
            if args.annotate and outcome.annotated is not None:
                out = Path(args.annotate)
                if len(args.files) > 1:
                    out = out.with_name(f"{out.stem}-{source.stem}{out.suffix or '.png'}")
                shutil.copyfile(outcome.annotated, out)
                print(f"annotated: {out}", file=sys.stderr)
    if args.json:
        print(json.dumps([r.to_dict() for r in reports], indent=1))
    else:
        print("\n\n".join(r.format_text() for r in reports))
    return 1 if any(r.errors for r in reports) else 0
