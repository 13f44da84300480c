#!/usr/bin/env python3
"""Make a contact sheet: many images on one canvas in a grid, each labelled.

    python share/slides/create_montage.py outputs/slides --out outputs/montage.png --columns 4
    python share/slides/create_montage.py a.png b.png c.png --labels name --cell-width 400

A folder means every image in it, in natural name order (slide-2 before slide-10). An image that
cannot be read is shown as a tile marked "unreadable", so a broken page is never silently missing.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Lay images out on one contact sheet with labels.")
    parser.add_argument("inputs", nargs="+", help="a folder of images, or image files")
    parser.add_argument("--out", default="outputs/montage.png", help="the PNG to write (default outputs/montage.png)")
    parser.add_argument("--columns", type=int, default=4, help="images per row (default 4)")
    parser.add_argument("--cell-width", type=int, default=300, help="width of each cell in pixels (default 300)")
    parser.add_argument("--gap", type=int, default=16, help="space between cells in pixels (default 16)")
    parser.add_argument(
        "--labels",
        choices=["number", "name", "none"],
        default="number",
        help="label each image by its position, its file name, or not at all (default number)",
    )
    args = parser.parse_args(argv)
    try:
        from tools.montage import make_contact_sheet
    except ImportError as exc:
        return _fail(f"montage is not available here ({exc}); run inside the agent's sandbox or install the project")
    if args.columns < 1 or args.cell_width < 16 or args.gap < 0:
        return _fail("--columns must be at least 1, --cell-width at least 16, --gap not negative")
    files: list[Path] = []
    for raw in args.inputs:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                (p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()), key=_natural
            )
            if not found:
                return _fail(f"no images in folder {path}")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            return _fail(f"no such file or folder: {path}")
    labels = {
        "number": [str(i + 1) for i in range(len(files))],
        "name": [p.name for p in files],
        "none": [""] * len(files),
    }[args.labels]
    out = make_contact_sheet(
        files, args.out, columns=args.columns, cell_width=args.cell_width, gap=args.gap, labels=labels
    )
    print(out)
    return 0


def _natural(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _fail(message: str) -> int:
    print(f"create_montage: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
