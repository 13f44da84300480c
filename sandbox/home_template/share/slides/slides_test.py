#!/usr/bin/env python3
"""Check that every slide keeps its content on the slide.

    python share/slides/slides_test.py outputs/deck.pptx

Exit 0 when nothing leaves any slide; exit 1 and list each slide whose shapes or text run off the
slide (or overflow their box); exit 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

LEAVING_RULES = {"off-page", "text-overflow"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="List the slides whose content leaves the slide; exit 1 if any.")
    parser.add_argument("deck", help="a .pptx file")
    args = parser.parse_args(argv)
    try:
        from tools.documents.checks.pptx_rules import pptx_findings, read_slides
        from tools.documents.formats import DocumentError, detect_format
    except ImportError as exc:
        return _fail(
            f"slide checks are not available here ({exc}); run inside the agent's sandbox or install the project"
        )
    deck = Path(args.deck)
    if not deck.is_file():
        return _fail(f"no such file: {deck}")
    try:
        if detect_format(deck) != "pptx":
            return _fail(f"{deck} is not a PPTX deck")
        slides, width, height = read_slides(deck)
    except DocumentError as exc:
        return _fail(str(exc))
    problems = [f for f in pptx_findings(slides, width, height) if f.rule in LEAVING_RULES]
    if not problems:
        print(f"ok: all {len(slides)} slides keep their content inside the slide")
        return 0
    by_slide: dict[int, list[str]] = {}
    for f in problems:
        by_slide.setdefault(f.page, []).append(f"{f.rule}: {f.message}")
    for number in sorted(by_slide):
        print(f"slide {number}:")
        for line in by_slide[number]:
            print(f"  {line}")
    print(f"{len(by_slide)} of {len(slides)} slides have content leaving the slide", file=sys.stderr)
    return 1


def _fail(message: str) -> int:
    print(f"slides_test: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
