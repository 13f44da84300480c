"""The pictures in a report: display copies of the run's images, embedded so the page stands
alone, and crops of rendered pages around a finding, at a size where the text can be read.

Only files in the run's images/ folder are opened: the host wrote every one of them (inputs were
checked as images when the run started, everything else was decoded and saved again by the
image store), and each is still opened through the same checks as any input."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from tools.images import ImageInputError, open_image_checked

DISPLAY_MAX_SIDE = 1200
DISPLAY_MAX_BYTES = 400_000
# A crop is shown as if the page were printed at this resolution: 10 pt text comes out ~28 px tall.
LEGIBLE_DPI = 200
CROP_MIN_WIDTH_IN = 3.0  # enough of the page around a finding to see what it belongs to
CROP_MIN_HEIGHT_IN = 0.9
CROP_MAX_WIDTH_IN = 7.0
CROP_MAX_SCALE = 3.0
INK_LEVEL = 200  # grey level below which a page pixel counts as printed


@dataclass
class Crop:
    uri: str
    width: int  # display size in CSS pixels
    height: int
    box: tuple[float, float, float, float]  # the finding's region in the crop, in % of the crop


def display_uri(path: Path) -> str:
    """The image as a data URI: the file itself when small, else a JPEG copy (photo-like PNGs
    run to megabytes; the page needs a faithful look, the full file is a link away)."""
    try:
        with _open(path) as im:
            heavy = path.stat().st_size > DISPLAY_MAX_BYTES
            if heavy or max(im.size) > DISPLAY_MAX_SIDE or path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
                im = im.convert("RGB")
                im.thumbnail((DISPLAY_MAX_SIDE, DISPLAY_MAX_SIDE))
                return _uri(im, "JPEG")
            mime = "image/png" if path.suffix.lower() == ".png" else "image/jpeg"
            return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()
    except (OSError, ImageInputError):
        return ""


def page_crop(path: Path, box: tuple[int, int, int, int], dpi: float) -> Crop | None:
    """The part of a rendered page around `box` (0-1000 of the page), with some of the page
    around it, shown at LEGIBLE_DPI."""
    try:
        with _open(path) as page:
            page.load()
            w, h = page.size
            x0, y0, x1, y1 = box[0] * w / 1000, box[1] * h / 1000, box[2] * w / 1000, box[3] * h / 1000
            pad = max(0.15 * dpi, 0.15 * max(x1 - x0, y1 - y0))
            # widen to the ink on the same lines, so a cell's row label or a line's start is in view
            ink_left, ink_right = _ink_span(page, max(0.0, y0 - pad / 2), min(float(h), y1 + pad / 2))
            room = max(0.0, CROP_MAX_WIDTH_IN * dpi - (x1 - x0 + 2 * pad))  # the box itself is never cut
            more_left = min(max(0.0, x0 - ink_left), room)
            more_right = min(max(0.0, ink_right - x1), room - more_left)
            span_left, span_right = max(0.0, x0 - pad - more_left), min(float(w), x1 + pad + more_right)
            cw = min(w, max(span_right - span_left, CROP_MIN_WIDTH_IN * dpi))
            ch = min(h, max(y1 - y0 + 2 * pad, CROP_MIN_HEIGHT_IN * dpi))
            left = min(max(0.0, (span_left + span_right - cw) / 2), w - cw)
            top = min(max(0.0, (y0 + y1 - ch) / 2), h - ch)
            region = tuple(round(v) for v in (left, top, left + cw, top + ch))
            crop = page.crop(region)
            uri = _uri(crop, "PNG")
    except (OSError, ImageInputError):
        return None
    rw, rh = region[2] - region[0], region[3] - region[1]
    if rw <= 0 or rh <= 0:
        return None
    scale = min(CROP_MAX_SCALE, max(1.0, LEGIBLE_DPI / dpi))
    pct = (
        100 * (x0 - region[0]) / rw,
        100 * (y0 - region[1]) / rh,
        100 * (x1 - x0) / rw,
        100 * (y1 - y0) / rh,
    )
    return Crop(uri, round(rw * scale), round(rh * scale), pct)


def _ink_span(page: Image.Image, top: float, bottom: float) -> tuple[float, float]:
    """The leftmost and rightmost printed pixel of the page's rows top..bottom (inf, -inf if none)."""
    band = page.crop((0, int(top), page.width, max(int(top) + 1, int(bottom)))).convert("L")
    ink = band.point(lambda v: 255 if v < INK_LEVEL else 0).getbbox()
    return (float(ink[0]), float(ink[2])) if ink else (float("inf"), float("-inf"))


def _open(path: Path) -> Image.Image:
    return open_image_checked(path, name=path.name)


def _uri(img: Image.Image, fmt: str) -> str:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(buf, "JPEG", quality=85)
        return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
    img.save(buf, "PNG", optimize=False, compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
