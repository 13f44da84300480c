"""What the vision tools share: fetching an image by id, normalising its pixel mode,
converting 0-1000 coordinates to pixels, fonts, and colours that stand out.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Annotated

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFilter, ImageFont, ImageStat
from pydantic import Field

from tools.images import ImageRecord
from tools.registry import ToolContext, ToolError

ImageId = Annotated[str, Field(description="Id of the image to work on, e.g. 'img1'.")]


def Norm(description: str):  # noqa: N802 - reads like a type in signatures
    """A coordinate in 0-1000 of the referenced image."""
    return Field(ge=0, le=1000, description=description)


BUSY = 0.15  # share of edge pixels above which a spot is too full of detail to put a label on

# Saturated colours that stay visible on most backgrounds; the first is the tie-break favourite.
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (230, 25, 25),
    "yellow": (255, 225, 0),
    "lime": (0, 230, 60),
    "cyan": (0, 210, 255),
    "magenta": (240, 0, 220),
    "blue": (20, 60, 255),
    "orange": (255, 140, 0),
    "white": (255, 255, 255),
    "black": (0, 0, 0),
}


def record_of(ctx: ToolContext, image_id: str) -> ImageRecord:
    """The record of an image id; an unknown id is a ToolError the model can fix."""
    try:
        return ctx.images.record(image_id)
    except KeyError as exc:
        raise ToolError(exc.args[0]) from None


NEUTRAL_WEIGHT = 0.6


def fetch(ctx: ToolContext, image_id: str) -> tuple[ImageRecord, Image.Image]:
    """The record and decoded pixels (8-bit "L" or "RGB", see tools.images.eight_bit) of an image id."""
    rec = record_of(ctx, image_id)
    return rec, ctx.images.get(image_id)


def rgb(img: Image.Image) -> Image.Image:
    """A new RGB image safe to draw on (never the store's cached object)."""
    return img.convert("RGB") if img.mode != "RGB" else img.copy()


def gray_array(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("L"))


def to_px(value: float, size: int) -> float:
    return value * size / 1000.0


def to_norm(value: float, size: int) -> float:
    return value * 1000.0 / size


def check_box(x_min: float, y_min: float, x_max: float, y_max: float, what: str = "region") -> None:
    if x_min >= x_max:
        raise ToolError(f"{what}: x_min ({x_min:g}) must be less than x_max ({x_max:g})")
    if y_min >= y_max:
        raise ToolError(f"{what}: y_min ({y_min:g}) must be less than y_max ({y_max:g})")


def pixel_box(
    width: int, height: int, x_min: float, y_min: float, x_max: float, y_max: float
) -> tuple[int, int, int, int]:
    """Whole-pixel box covering a 0-1000 region (rounded outwards, at least 1 px each way)."""
    eps = 1e-6
    left = max(0, math.floor(to_px(x_min, width) + eps))
    top = max(0, math.floor(to_px(y_min, height) + eps))
    right = min(width, math.ceil(to_px(x_max, width) - eps))
    bottom = min(height, math.ceil(to_px(y_max, height) - eps))
    right = max(right, min(width, left + 1))
    bottom = max(bottom, min(height, top + 1))
    left, top = min(left, right - 1), min(top, bottom - 1)
    return left, top, right, bottom


def fmt_norm(x: float, y: float) -> str:
    return f"({x:.0f}, {y:.0f})"


def stroke_width(img: Image.Image) -> int:
    """A line width that stays visible once the image is scaled to a model's view."""
    return max(2, round(max(img.size) / 250))


def font_size(img: Image.Image) -> int:
    return max(12, round(max(img.size) / 48))


@lru_cache(maxsize=32)
def font(size: int) -> ImageFont.ImageFont:
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "LiberationSans-Regular.ttf", "Arial.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def parse_colour(name: str) -> tuple[int, int, int]:
    if name.lower() in PALETTE:
        return PALETTE[name.lower()]
    try:
        value = ImageColor.getrgb(name)
    except ValueError:
        raise ToolError(f"unknown colour {name!r}; use a name like 'red' or a hex code like '#ff8800'") from None
    return value[:3]


def colour_name(value: tuple[int, int, int]) -> str:
    for name, v in PALETTE.items():
        if v == tuple(value):
            return name
    return "#%02x%02x%02x" % tuple(value)


def contrasting_colour(img: Image.Image, box: tuple[float, float, float, float]) -> tuple[int, int, int]:
    """The palette colour farthest from the mean colour under `box` (pixels, padded a little)."""
    pad = stroke_width(img) * 3
    x0, y0, x1, y1 = box
    crop = (
        max(0, int(min(x0, x1)) - pad),
        max(0, int(min(y0, y1)) - pad),
        min(img.width, int(max(x0, x1)) + pad + 1),
        min(img.height, int(max(y0, y1)) + pad + 1),
    )
    if crop[2] <= crop[0] or crop[3] <= crop[1]:
        crop = (0, 0, img.width, img.height)
    mean = ImageStat.Stat(img.convert("RGB").crop(crop)).mean

    def distance(colour: tuple[int, int, int]) -> float:
        d = math.dist(colour, mean)
        # black and white are always far from mid-tones yet blend with text and ticks: prefer a hue
        return d * NEUTRAL_WEIGHT if colour in ((0, 0, 0), (255, 255, 255)) else d

    return max(PALETTE.values(), key=distance)


def text_on(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever reads better on `colour`."""
    luminance = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    return (0, 0, 0) if luminance > 140 else (255, 255, 255)


def draw_label(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    colour: tuple[int, int, int],
    size: int,
    bounds: tuple[int, int],
    anchor: str = "la",
) -> None:
    """Text on a filled tag of `colour`, nudged to stay inside the image."""
    fnt = font(size)
    left, top, right, bottom = draw.textbbox(xy, text, font=fnt, anchor=anchor)
    pad = max(2, size // 5)
    dx = max(0, pad - left) - max(0, right + pad - bounds[0])
    dy = max(0, pad - top) - max(0, bottom + pad - bounds[1])
    x, y = xy[0] + dx, xy[1] + dy
    left, top, right, bottom = left + dx, top + dy, right + dx, bottom + dy
    draw.rectangle([left - pad, top - pad, right + pad, bottom + pad], fill=colour)
    draw.text((x, y), text, fill=text_on(colour), font=fnt, anchor=anchor)


def quietest_spot(
    clean: Image.Image, size: tuple[float, float], centres: list[tuple[float, float]], avoid: list[tuple] = ()
) -> tuple[float, float]:
    """The first of `centres` (in order of preference) where a label of `size`, kept inside the
    image, covers none of the `avoid` boxes and little detail of `clean` (edges: marks and
    numbers); failing that, the one covering the least of the boxes, then the least detail."""
    edges = np.asarray(clean.convert("L").filter(ImageFilter.FIND_EDGES), dtype=np.int32) > 40
    table = np.pad(edges.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    height, width = edges.shape
    bw, bh = size
    best, best_cost = centres[0], None
    for rank, (cx, cy) in enumerate(centres):
        x0 = int(min(max(0, cx - bw / 2), max(0, width - bw)))
        y0 = int(min(max(0, cy - bh / 2), max(0, height - bh)))
        x1, y1 = min(width, x0 + int(bw)), min(height, y0 + int(bh))
        detail = int(table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]) / max(1, (x1 - x0) * (y1 - y0))
        clash = sum(max(0, min(x1, a[2]) - max(x0, a[0])) * max(0, min(y1, a[3]) - max(y0, a[1])) for a in avoid)
        cost = (clash, detail > BUSY, detail if detail > BUSY else 0, rank)
        if best_cost is None or cost < best_cost:
            best, best_cost = (x0 + bw / 2, y0 + bh / 2), cost
    return best


def new_image_line(rec: ImageRecord) -> str:
    return f"{rec.id} ({rec.width}x{rec.height} px)"
