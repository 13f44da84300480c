#!/usr/bin/env python3
"""Render a Word document (DOCX/ODT/DOC) to one PNG per page plus a contact sheet.

    python share/docs/render_docx.py inputs/report.docx --out outputs/report-pages --dpi 110

Writes page-001.png, ... and contact-sheet.png into --out and prints one path per line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render a document to one PNG per page and a contact sheet.")
    parser.add_argument("document", help="a .docx/.odt/.doc file (any format the renderer takes also works)")
    parser.add_argument("--out", help="output folder (default: outputs/<name>-pages)")
    parser.add_argument("--dpi", type=int, default=110, help="resolution (default 110)")
    parser.add_argument("--pages", help="pages to render, e.g. 1-3,7 (default: all)")
    args = parser.parse_args(argv)
    try:
        from tools.documents.formats import DocumentError
        from tools.documents.render import render_document
    except ImportError as exc:
        return _fail(f"rendering is not available here ({exc}); run inside the agent's sandbox or install the project")
    source = Path(args.document)
    if not source.is_file():
        return _fail(f"no such file: {source}")
    try:
        result = render_document(source, args.out or f"outputs/{source.stem}-pages", dpi=args.dpi, pages=args.pages)
    except DocumentError as exc:
        return _fail(str(exc))
    for page in result.pages:
        print(page)
    print(result.contact_sheet)
    for warning in result.warnings:
        print(f"render_docx: warning: {warning}", file=sys.stderr)
    return 0


def _fail(message: str) -> int:
    print(f"render_docx: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
