"""`agent inspect FILE`: a document's structure, as text or JSON."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "inspect",
        help="show a document's structure (outline, shapes with positions, cells, pages)",
        description="Show the structure of a DOCX (outline, paragraphs and styles, tables, images, sections, comments), "
        "PPTX (slides, layouts, shapes with type, text, font sizes, position in points and 0-1000 slide coordinates, notes), "
        "XLSX (sheets, used ranges, cells with formulas and recalculated values, merged cells, charts, names) or "
        "PDF (pages, sizes, rotation, text, form fields, images, encryption).",
        epilog="example: agent inspect deck.pptx --json",
    )
    p.add_argument("file", help="the document")
    p.add_argument("--json", action="store_true", help="print the full structure as JSON")
    p.add_argument("--no-recalc", action="store_true", help="show workbook values as stored, without recalculating")
    p.set_defaults(func=inspect_command)


def inspect_command(args) -> int:
    from agent.commands.render import warn_if_documents_unjailed
    from agent.errors import UsageError
    from tools.documents import DocumentError, jailed
    from tools.documents.inspect import format_inspection, inspection_json

    warn_if_documents_unjailed()
    try:
        found = jailed.inspect(jailed.Source.from_path(Path(args.file)), recalculate=not args.no_recalc)
        text = inspection_json(found) if args.json else format_inspection(found)
    except DocumentError as exc:
        raise UsageError(str(exc)) from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # the worker's answer is data, checked here
        raise UsageError(
            f"{Path(args.file).name}: the document worker's answer could not be read ({type(exc).__name__})"
        ) from None
    print(text)
    return 0
