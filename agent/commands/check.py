"""`agent check FILE...`: QA findings for documents; exit 1 when any finding is an error.

Several files go through one jailed worker, converted together (as `agent render` does), with
progress on stderr."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from agent.commands.render import check_inputs, failure_line, plural, warn_if_documents_unjailed
from agent.errors import UsageError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "check",
        help="QA a document: overflow, overlaps, placeholders, fonts, formula errors, blank pages",
        description="Render each document and run the QA rules. Each finding has a rule id, a severity, the page "
        "or slide, a 0-1000 box on the rendered page, a message and a suggested fix. Exit status: 0 no errors, "
        "1 at least one error-severity finding, 2 a file could not be checked (the others still are) or bad usage.",
        epilog="example: agent check examples/deck/deck.pptx --annotate deck-findings.png",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="DOCX, PPTX, XLSX, ODF, legacy Office or PDF files")
    p.add_argument(
        "--json",
        action="store_true",
        help="print a JSON array, one object per file in order (a file that could not be checked: {file, error})",
    )
    p.add_argument(
        "--annotate",
        metavar="OUT.png",
        help="write the contact sheet with each finding boxed and numbered (several files: OUT-<name>.png)",
    )
    p.add_argument("--no-render", action="store_true", help="structure-only checks (no LibreOffice; less evidence)")
    p.add_argument("--work-dir", default=None, help="keep the renders here (default: a temporary folder)")
    p.set_defaults(func=check_command)


def check_command(args) -> int:
    from agent.file_progress import FileProgress
    from tools.documents import DocumentError, jailed

    paths = check_inputs(args.files)
    if args.annotate and args.no_render:
        raise UsageError("--annotate needs the render; drop --no-render")
    many = len(paths) > 1
    progress = FileProgress(len(paths), "checked") if many else None
    annotated_paths = _annotated_paths(paths, args.annotate)

    with tempfile.TemporaryDirectory(prefix="agent-check-") as tmp:
        work_root = Path(args.work_dir) if args.work_dir else Path(tmp)

        def done(i: int, outcome) -> None:
            if isinstance(outcome, DocumentError):
                if progress is not None:
                    progress.file_failed(failure_line(paths[i], outcome))
                return
            outcome.report.file = paths[i]
            for finding in outcome.report.findings:
                finding.file = str(paths[i])
            notes = []
            if args.annotate and outcome.annotated is not None:
                shutil.copyfile(outcome.annotated, annotated_paths[i])
                notes.append(f"annotated: {annotated_paths[i]}")
            if progress is None:
                for note in notes:
                    print(note, file=sys.stderr)
            else:
                counts = outcome.report.counts()
                detail = (
                    f"{plural(counts['error'], 'error')}, {plural(counts['warning'], 'warning')}, "
                    f"{plural(counts['info'], 'note')}"
                )
                progress.file_done(str(paths[i]), len(outcome.report.pages), detail, notes)

        try:
            outcomes = jailed.check_many(
                [jailed.Source.from_path(p) for p in paths],
                [work_root / f"{i:03d}-{p.stem}" for i, p in enumerate(paths)],
                render=not args.no_render,
                annotate=bool(args.annotate),
                on_done=done,
            )
        finally:
            if progress is not None:
                progress.close()
    warn_if_documents_unjailed()
    if not many and isinstance(outcomes[0], DocumentError):
        raise UsageError(str(outcomes[0]))
    reports = [o.report for o in outcomes if not isinstance(o, DocumentError)]
    failed = [p for p, o in zip(paths, outcomes) if isinstance(o, DocumentError)]
    if args.json:
        print(
            json.dumps(
                [
                    {"file": str(p), "error": str(o)} if isinstance(o, DocumentError) else o.report.to_dict()
                    for p, o in zip(paths, outcomes)
                ],
                indent=1,
            )
        )
    else:
        print("\n\n".join(r.format_text() for r in reports))
    if many:
        errors = sum(r.errors for r in reports)
        print(
            f"checked {len(reports)} of {len(paths)} files: {plural(errors, 'error-severity finding')}"
            + (f"; {len(failed)} could not be checked" if failed else ""),
            file=sys.stderr,
        )
    if failed:
        return 2
    return 1 if any(r.errors for r in reports) else 0


def _annotated_paths(paths: list[Path], annotate: str | None) -> list[Path]:
    """Where each file's annotated sheet goes: OUT.png for one file, OUT-<name>.png for several
    (OUT-<name>-2.png for a name already taken)."""
    if not annotate:
        return []
    out = Path(annotate)
    if len(paths) == 1:
        return [out]
    taken: set[str] = set()
    result = []
    for path in paths:
        n = 1
        while (name := f"{out.stem}-{path.stem}" + ("" if n == 1 else f"-{n}")).casefold() in taken:
            n += 1
        taken.add(name.casefold())
        result.append(out.with_name(name + (out.suffix or ".png")))
    return result
