#!/usr/bin/env python3
"""Render a deck (PPTX/ODP/PPT) or a PDF to one PNG per slide, each fitted into WIDTH x HEIGHT.

    python share/slides/render_slides.py inputs/deck.pptx --out outputs/slides --width 1600 --height 900

Writes slide-001.png, slide-002.png, ... into --out and prints one path per line. Exit 2 on bad input.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render a deck or PDF to one PNG per slide, fitted into a box.")
    parser.add_argument("input", help="a .pptx/.odp/.ppt deck or a .pdf")
    parser.add_argument("--out", help="output folder (default: outputs/<name>-slides)")
    parser.add_argument(
        "--width", type=int, default=1600, help="largest width of a slide image in pixels (default 1600)"
    )
    parser.add_argument(
        "--height", type=int, default=900, help="largest height of a slide image in pixels (default 900)"
    )
    parser.add_argument("--pages", help="slides to render, e.g. 1-3,7 (default: all)")
    args = parser.parse_args(argv)
    try:
        from PIL import Image

        from tools.documents.formats import DocumentError
        from tools.documents.pages import MAX_DPI, MIN_DPI
        from tools.documents.render import render_document
    except ImportError as exc:
        return _fail(f"rendering is not available here ({exc}); run inside the agent's sandbox or install the project")
    if args.width < 16 or args.height < 16:
        return _fail("--width and --height must be at least 16 pixels")
    source = Path(args.input)
    if not source.is_file():
        return _fail(f"no such file: {source}")
    out = Path(args.out or f"outputs/{source.stem}-slides")
    scratch = out / ".render"
    try:
        # a cheap pass learns the page sizes (the PDF is cached), then one at the DPI that fills the box
        probe = render_document(source, scratch, dpi=MIN_DPI, pages=args.pages)
        needed = max(min(args.width / (w / 72), args.height / (h / 72)) for w, h in probe.page_sizes_pt)
        result = render_document(source, scratch, dpi=max(MIN_DPI, min(MAX_DPI, math.ceil(needed))), pages=args.pages)
    except DocumentError as exc:
        return _fail(str(exc))
    for number, page in zip(result.page_numbers, result.pages):
        with Image.open(page) as im:
            im.load()
            img = im.copy()
        img.thumbnail((args.width, args.height), Image.LANCZOS)
        dest = out / f"slide-{number:03d}.png"
        img.save(dest)
        print(dest)
    for warning in result.warnings:
        print(f"render_slides: warning: {warning}", file=sys.stderr)
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


def _fail(message: str) -> int:
    print(f"render_slides: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
