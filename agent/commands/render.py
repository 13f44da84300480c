"""`agent render FILE`: pages of a DOCX/PPTX/XLSX/ODF/PDF as PNG images, plus a contact sheet."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "render",
        help="render a document's pages to PNG images and a contact sheet",
        description="Render DOCX, PPTX, XLSX, ODF, legacy Office (via LibreOffice) and PDF files to one PNG "
        "per page/slide/sheet page, plus contact-sheet.png with page numbers. Pages are cached by content and DPI.",
        epilog="example: agent render report.docx --pages 1-3,7 --out report_pages",
    )
    p.add_argument("file", help="the document")
    # the default is the renderer's (tools.documents.pages.DEFAULT_DPI), not imported here to keep start-up short
    p.add_argument("--dpi", type=int, default=None, help="resolution in dots per inch (default 110)")
    p.add_argument("--pages", default=None, help="pages to render, e.g. 1-3,7 (default: all)")
    p.add_argument("--out", default=None, help="output folder (default: ./<file name>_pages)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=render_command)


def warn_if_documents_unjailed() -> None:
    """Say once, when bubblewrap is missing, that documents are parsed at the process level."""
    from sandbox.jail import choose_isolation
    from tools.documents import jailed

    note = jailed.document_isolation_note(choose_isolation(None))
    if note:
        print(f"agent: warning: {note}", file=sys.stderr)


def render_command(args) -> int:
    from agent.errors import UsageError
    from agent.files import check_out_dir
    from tools.documents import DocumentError, jailed
    from tools.documents.pages import DEFAULT_DPI

    source = Path(args.file)
    out = check_out_dir(args.out or f"{source.stem}_pages", "--out")  # before anything is rendered
    warn_if_documents_unjailed()
    try:
        result = jailed.render(jailed.Source.from_path(source), out, dpi=args.dpi or DEFAULT_DPI, pages=args.pages)
    except DocumentError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(result.to_json(), indent=1))
        return 0
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for sub in result.fonts_substituted or []:
        print(f"font substituted: {sub['requested']} → {sub['used']}", file=sys.stderr)
    for page in result.pages:
        print(page)
    print(result.contact_sheet)
    print(
        f"rendered {len(result.pages)} of {result.page_count} pages at {result.dpi} dpi into {out}"
        + (" (from cache)" if result.cached else ""),
        file=sys.stderr,
    )
    return 0
