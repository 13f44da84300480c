"""How much room text needs: wrap it to a width and add up line heights, measuring strings with
the font the renderer will actually use (fontconfig's match for the requested family)."""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass

from PIL import ImageFont

SCALE = 4  # measure at 4 px per point so rounding stays well under a point


@functools.lru_cache(maxsize=128)
def font_file(family: str, bold: bool = False, italic: bool = False) -> str | None:
    if shutil.which("fc-match") is None:
        return None
    pattern = family + (":bold" if bold else "") + (":italic" if italic else "")
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}", pattern], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


@functools.lru_cache(maxsize=512)
def _font(family: str, size_pt: float, bold: bool, italic: bool):
    path = font_file(family, bold, italic)
    size = max(1, int(round(size_pt * SCALE)))
    if path:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            pass
    return ImageFont.load_default(size)


@dataclass
class Run:
    text: str
    size_pt: float
    family: str = "Liberation Sans"
    bold: bool = False
    italic: bool = False


def text_width(run: Run, text: str) -> float:
    return _font(run.family, run.size_pt, run.bold, run.italic).getlength(text) / SCALE


def line_height(run: Run) -> float:
    """The font's line height (ascent + descent + line gap) in points: one line at 100% spacing."""
    font = _font(run.family, run.size_pt, run.bold, run.italic)
    height = getattr(getattr(font, "font", None), "height", None)
    if height is None:
        ascent, descent = font.getmetrics()
        height = (ascent + descent) * 1.15
    return height / SCALE


def wrap_paragraph(runs: list[Run], width_pt: float | None) -> list[tuple[float, float]]:
    """Greedy word wrap of a paragraph made of runs. Returns (line width, line height) per line;
    width_pt None means no wrapping."""
    # Split into words keeping each word's run (for its font); spaces stay attached to the
    # preceding word so measuring a line measures what is drawn.
    words: list[tuple[str, Run]] = []
    for run in runs:
        for piece in run.text.replace("\t", "    ").split(" "):
            words.append((piece + " ", run))
    if words:
        last_text, last_run = words[-1]
        words[-1] = (last_text[:-1], last_run)
    if not words or all(not w.strip() for w, _ in words):
        base = runs[0] if runs else Run("", 18)
        return [(0.0, line_height(base))]
    lines: list[tuple[float, float]] = []
    current_w, current_h = 0.0, 0.0
    for text, run in words:
        w = text_width(run, text)
        trimmed = text_width(run, text.rstrip())
        if width_pt is not None and current_w > 0 and current_w + trimmed > width_pt:
            lines.append((current_w, current_h))
            current_w, current_h = 0.0, 0.0
        if width_pt is not None and current_w == 0 and trimmed > width_pt:
            # A word longer than the line breaks across lines.
            pieces = int(trimmed // max(width_pt, 1.0))
            lines.extend([(width_pt, line_height(run))] * pieces)
            w = trimmed - pieces * width_pt
        current_w += w
        current_h = max(current_h, line_height(run))
    lines.append((current_w, current_h))
    return lines
