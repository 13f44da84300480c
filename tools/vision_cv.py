"""OpenCV helpers for the model: circles (dials), lines and gauge needles, blob counting.

Each returns numbers in 0-1000 coordinates of the image it was given, plus an annotated copy
so the model (and the person reading the run) can see what was found.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

import cv2
import numpy as np
from PIL import Image, ImageDraw
from pydantic import Field

from tools.registry import ToolContext, ToolError, ToolOutput, tool
from tools.vision import direction
from tools.vision_common import (
    ImageId,
    colour_name,
    contrasting_colour,
    draw_label,
    fetch,
    font_size,
    gray_array,
    new_image_line,
    rgb,
    stroke_width,
    to_norm,
    to_px,
)

# Detection runs on a copy no larger than this: Hough transforms are slow on big photos and
# gain nothing from more pixels than the shapes need.
WORK_SIDE = 1200
# A circle must show an edge along at least this share of its circumference: Hough accumulators
# also peak on arcs of text and on unrelated curves, which cover little of any one circle.
MIN_COVERAGE = 0.6
MAX_CANDIDATES = 80


@dataclass
class Circle:
    x: float  # pixels of the image given
    y: float
    r: float


def _work_gray(img: Image.Image) -> tuple[np.ndarray, float]:
    """Grey pixels at most WORK_SIDE on the longest side, and the factor from work to image pixels."""
    gray = gray_array(img)
    h, w = gray.shape
    factor = max(w, h) / WORK_SIDE
    if factor <= 1:
        return gray, 1.0
    small = cv2.resize(gray, (round(w / factor), round(h / factor)), interpolation=cv2.INTER_AREA)
    return small, max(w, h) / max(small.shape)


def detect_circles(img: Image.Image, min_radius_px: float, max_radius_px: float, limit: int) -> list[Circle]:
    gray, factor = _work_gray(img)
    blurred = cv2.medianBlur(gray, 5)
    low, high = max(1, round(min_radius_px / factor)), max(2, round(max_radius_px / factor))
    min_dist = max(8, min(gray.shape) / 10)
    edges = _edge_points(blurred)
    # The "ALT" variant scores each candidate by how circular its edge is (param2, 0-1) instead of
    # raw votes, so small and large circles compete fairly; it is also far faster on textured photos.
    found = cv2.HoughCircles(
        blurred,
        cv2.HOUGH_GRADIENT_ALT,
        dp=1.5,
        minDist=min_dist,
        param1=300,
        param2=0.75,
        minRadius=low,
        maxRadius=high,
    )
    if found is None:
        return []
    circles: list[Circle] = []
    for x, y, r in found.reshape(-1, found.shape[-1])[:MAX_CANDIDATES, :3]:  # strongest first
        x, y, r = _refine_circle(edges, float(x), float(y), float(r))
        if _coverage(edges, x, y, r) < MIN_COVERAGE:
            continue
        c = Circle(x * factor, y * factor, r * factor)
        # a weaker circle centred inside a stronger one of similar size is the same ring seen again
        if not any(math.hypot(c.x - k.x, c.y - k.y) < 0.5 * k.r and 0.6 < c.r / k.r < 1.6 for k in circles):
            circles.append(c)
        if len(circles) == limit:
            break
    return circles


def _edge_points(gray: np.ndarray) -> np.ndarray:
    """Edge pixels as rows (x, y, unit gradient x, unit gradient y)."""
    edges = cv2.Canny(gray, 60, 120)
    ys, xs = np.nonzero(edges)
    gx = cv2.Sobel(gray, cv2.CV_64F, 1, 0, ksize=3)[ys, xs]
    gy = cv2.Sobel(gray, cv2.CV_64F, 0, 1, ksize=3)[ys, xs]
    norm = np.hypot(gx, gy) + 1e-9
    return np.column_stack([xs, ys, gx / norm, gy / norm]).astype(np.float64)


def _near_radial(edges: np.ndarray, x: float, y: float, r: float, band: float) -> np.ndarray:
    """The edge pixels within `band` of the circle whose gradient points along the radius."""
    dx, dy = edges[:, 0] - x, edges[:, 1] - y
    dist = np.hypot(dx, dy) + 1e-9
    radial = np.abs((dx * edges[:, 2] + dy * edges[:, 3]) / dist) > 0.9
    return edges[(np.abs(dist - r) <= band) & radial]


def _coverage(edges: np.ndarray, x: float, y: float, r: float) -> float:
    """Share of the circumference, in 5-degree arcs, along which an edge actually runs (an arc
    counts when edge pixels cover half its length; a feature merely crossing it does not)."""
    near = _near_radial(edges, x, y, r, max(2.0, 0.04 * r))  # wide enough for both edges of a drawn ring
    if len(near) == 0:
        return 0.0
    bins = np.floor(np.degrees(np.arctan2(near[:, 1] - y, near[:, 0] - x)) / 5).astype(int) % 72
    counts = np.bincount(bins, minlength=72)
    return float((counts >= 0.5 * 2 * math.pi * r / 72).mean())


def _refine_circle(edges: np.ndarray, x: float, y: float, r: float) -> tuple[float, float, float]:
    """Least-squares circle through the edge pixels of a Hough circle: the accumulator is only
    accurate to a few pixels, a fit to the edge itself to about one. Only pixels near the circle
    whose gradient points along the radius count, so ticks, text and stems crossing it do not."""
    for band in (0.08, 0.05, 0.03):  # narrow in as the fit converges
        if len(edges) == 0:
            break
        near = _near_radial(edges, x, y, r, max(2.0, band * r))[:, :2]
        if len(near) < 20:
            break
        # x^2 + y^2 = 2ax + 2by + c is linear in (a, b, c)
        design = np.column_stack([2 * near[:, 0], 2 * near[:, 1], np.ones(len(near))])
        target = (near**2).sum(axis=1)
        (a, b, c), *_ = np.linalg.lstsq(design, target, rcond=None)
        radius_sq = c + a * a + b * b
        if radius_sq <= 0 or math.hypot(a - x, b - y) > 0.25 * r:
            break
        x, y, r = float(a), float(b), math.sqrt(radius_sq)
    return x, y, r


def find_circles(
    ctx: ToolContext,
    image: ImageId,
    min_radius: Annotated[
        float, Field(gt=0, le=1000, description="Smallest radius, 0-1000 of the image's longer side (default 20).")
    ] = 20,
    max_radius: Annotated[
        float, Field(gt=0, le=1000, description="Largest radius, 0-1000 of the image's longer side (default 500).")
    ] = 500,
    max_circles: Annotated[int, Field(ge=1, le=50, description="Return at most this many, strongest first.")] = 5,
) -> ToolOutput:
    """Find circles (dials, gauges, round parts) with a Hough transform; returns centres and radii in 0-1000 and an image with them drawn."""
    if min_radius >= max_radius:
        raise ToolError(f"min_radius ({min_radius:g}) must be less than max_radius ({max_radius:g})")
    rec, img = fetch(ctx, image)
    longest = max(rec.width, rec.height)
    circles = detect_circles(img, to_px(min_radius, longest), to_px(max_radius, longest), max_circles)
    if not circles:
        return ToolOutput(
            f"found no circles in {image} with radius {min_radius:g}-{max_radius:g} (0-1000 of the longer side)"
        )
    canvas = rgb(img)
    draw = ImageDraw.Draw(canvas)
    width = stroke_width(canvas)
    lines = []
    for n, c in enumerate(circles, 1):
        colour = contrasting_colour(canvas, (c.x - c.r, c.y - c.r, c.x + c.r, c.y + c.r))
        draw.ellipse([c.x - c.r, c.y - c.r, c.x + c.r, c.y + c.r], outline=colour, width=width)
        draw.line([(c.x - 3 * width, c.y), (c.x + 3 * width, c.y)], fill=colour, width=width)
        draw.line([(c.x, c.y - 3 * width), (c.x, c.y + 3 * width)], fill=colour, width=width)
        draw_label(draw, (c.x, c.y - c.r - width), str(n), colour, font_size(canvas), canvas.size, anchor="md")
        lines.append(
            f"circle {n}: centre x {to_norm(c.x, rec.width):.1f}, y {to_norm(c.y, rec.height):.1f}, "
            f"radius {to_norm(c.r, longest):.1f} (0-1000; radius of the longer side); pixels ({c.x:.0f}, {c.y:.0f}) r {c.r:.0f}"
        )
    new = ctx.images.add(
        canvas, parent=image, op="find_circles", params={"min_radius": min_radius, "max_radius": max_radius}
    )
    return ToolOutput(
        f"found {len(circles)} circle(s) in {image}, drawn on {new_image_line(new)}:\n" + "\n".join(lines), [new.id]
    )


@dataclass
class Segment:
    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def length(self) -> float:
        return math.hypot(self.x2 - self.x1, self.y2 - self.y1)


def detect_segments(img: Image.Image, min_length_px: float) -> list[Segment]:
    gray, factor = _work_gray(img)
    blurred = cv2.GaussianBlur(gray, (3, 3), 0)
    otsu, _ = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    edges = cv2.Canny(blurred, max(10, 0.5 * otsu), max(30, otsu))
    min_len = max(5, round(min_length_px / factor))
    found = cv2.HoughLinesP(
        edges,
        rho=1,
        theta=np.pi / 720,
        threshold=max(10, min_len // 2),
        minLineLength=min_len,
        maxLineGap=max(3, min_len // 8),
    )
    if found is None:
        return []
    segments = [Segment(*(float(v) * factor for v in row)) for row in found.reshape(-1, 4)]
    return sorted(segments, key=lambda s: -s.length)


@dataclass
class Needle:
    angle: float  # degrees, 0 = right, 90 = up
    tip: tuple[float, float]  # pixels
    support: int  # segments that agree


def detect_needle(segments: list[Segment], cx: float, cy: float, radius: float) -> Needle | None:
    """The line through the centre that reaches farthest out: a needle, not a tick (ticks sit at the rim)."""
    candidates = []
    for s in segments:
        dx, dy = s.x2 - s.x1, s.y2 - s.y1
        perp = abs(dx * (cy - s.y1) - dy * (cx - s.x1)) / s.length
        d1, d2 = math.hypot(s.x1 - cx, s.y1 - cy), math.hypot(s.x2 - cx, s.y2 - cy)
        near, far = min(d1, d2), max(d1, d2)
        if perp > max(4.0, 0.06 * radius) or near > 0.45 * radius or far < 0.25 * radius:
            continue
        fx, fy = (s.x2, s.y2) if d2 >= d1 else (s.x1, s.y1)
        ox, oy = (s.x1, s.y1) if d2 >= d1 else (s.x2, s.y2)
        # orient the segment away from the centre; its own direction is the needle's axis
        angle = direction(fx - ox, fy - oy)
        candidates.append((s.length - 2 * perp, angle, s.length, (fx, fy)))
    if not candidates:
        return None
    best = max(candidates, key=lambda c: c[0])
    agreeing = [c for c in candidates if abs((c[1] - best[1] + 180) % 360 - 180) <= 5]
    # length-weighted circular mean: the two edges of a tapered needle lean opposite ways
    sx = sum(c[2] * math.cos(math.radians(c[1])) for c in agreeing)
    sy = sum(c[2] * math.sin(math.radians(c[1])) for c in agreeing)
    angle = math.degrees(math.atan2(sy, sx)) % 360
    tip_distance = max(math.hypot(c[3][0] - cx, c[3][1] - cy) for c in agreeing)
    tip = (cx + tip_distance * math.cos(math.radians(angle)), cy - tip_distance * math.sin(math.radians(angle)))
    return Needle(angle, tip, len(agreeing))


def find_lines(
    ctx: ToolContext,
    image: ImageId,
    mode: Annotated[
        Literal["segments", "needle"],
        Field(
            description="'segments': the longest straight segments; 'needle': the gauge needle through a centre, with its angle."
        ),
    ] = "segments",
    centre_x: Annotated[
        float | None,
        Field(
            ge=0,
            le=1000,
            description="Needle mode: the dial's centre x, 0-1000 (default: the strongest circle's centre, else the image centre).",
        ),
    ] = None,
    centre_y: Annotated[
        float | None, Field(ge=0, le=1000, description="Needle mode: the dial's centre y, 0-1000.")
    ] = None,
    min_length: Annotated[
        float, Field(gt=0, le=1000, description="Shortest segment, 0-1000 of the longer side (default 40).")
    ] = 40,
    max_lines: Annotated[
        int, Field(ge=1, le=50, description="Segments mode: return at most this many, longest first.")
    ] = 10,
) -> ToolOutput:
    """Find straight line segments (Hough), or in needle mode the needle of a dial gauge and its angle
    (degrees: 0 = pointing right, 90 = up, counter-clockwise positive)."""
    if (centre_x is None) != (centre_y is None):
        raise ToolError("give both centre_x and centre_y, or neither")
    rec, img = fetch(ctx, image)
    longest = max(rec.width, rec.height)
    segments = detect_segments(img, to_px(min_length, longest))
    canvas = rgb(img)
    draw = ImageDraw.Draw(canvas)
    width = stroke_width(canvas)
    if mode == "segments":
        if not segments:
            return ToolOutput(
                f"found no straight segments of at least {min_length:g} (0-1000 of the longer side) in {image}"
            )
        shown = segments[:max_lines]
        lines = []
        for n, s in enumerate(shown, 1):
            colour = contrasting_colour(canvas, (s.x1, s.y1, s.x2, s.y2))
            draw.line([(s.x1, s.y1), (s.x2, s.y2)], fill=colour, width=width)
            draw_label(
                draw,
                ((s.x1 + s.x2) / 2, (s.y1 + s.y2) / 2),
                str(n),
                colour,
                font_size(canvas),
                canvas.size,
                anchor="mm",
            )
            lines.append(
                f"line {n}: ({to_norm(s.x1, rec.width):.0f}, {to_norm(s.y1, rec.height):.0f}) -> "
                f"({to_norm(s.x2, rec.width):.0f}, {to_norm(s.y2, rec.height):.0f}), {s.length:.0f} px, "
                f"direction {direction(s.x2 - s.x1, s.y2 - s.y1) % 180:.1f} deg (mod 180)"
            )
        new = ctx.images.add(canvas, parent=image, op="find_lines", params={"mode": mode, "min_length": min_length})
        return ToolOutput(
            f"found {len(segments)} segment(s) in {image}, the {len(shown)} longest drawn on {new_image_line(new)}:\n"
            + "\n".join(lines),
            [new.id],
        )
    if centre_x is not None:
        cx, cy = to_px(centre_x, rec.width), to_px(centre_y, rec.height)
        radius, centre_from = 0.5 * min(rec.width, rec.height), "given"
        dial = detect_circles(img, 0.15 * min(rec.width, rec.height), 0.75 * longest, 5)
        near = [c for c in dial if math.hypot(c.x - cx, c.y - cy) < 0.15 * c.r]
        if near:
            radius = max(c.r for c in near)
    else:
        dial = detect_circles(img, 0.15 * min(rec.width, rec.height), 0.75 * longest, 1)
        if dial:
            cx, cy, radius, centre_from = dial[0].x, dial[0].y, dial[0].r, "the strongest circle"
        else:
            cx, cy, radius, centre_from = (
                rec.width / 2,
                rec.height / 2,
                0.5 * min(rec.width, rec.height),
                "the image centre",
            )
    needle = detect_needle(segments, cx, cy, radius)
    centre_text = f"centre ({to_norm(cx, rec.width):.1f}, {to_norm(cy, rec.height):.1f}) from {centre_from}"
    if needle is None:
        return ToolOutput(
            f"found no needle-like line through the {centre_text} in {image} ({len(segments)} segments seen); "
            "give centre_x/centre_y, zoom onto the dial, or lower min_length"
        )
    colour = contrasting_colour(canvas, (cx, cy, *needle.tip))
    draw.line([(cx, cy), needle.tip], fill=colour, width=width)
    r = width * 3
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=colour, width=width)
    draw_label(draw, needle.tip, f"{needle.angle:.1f} deg", colour, font_size(canvas), canvas.size, anchor="mb")
    new = ctx.images.add(canvas, parent=image, op="find_lines", params={"mode": mode, "centre": [cx, cy]})
    return ToolOutput(
        f"needle in {image}: direction {needle.angle:.1f} deg (0 = right, 90 = up, counter-clockwise), {centre_text}, "
        f"tip ({to_norm(needle.tip[0], rec.width):.1f}, {to_norm(needle.tip[1], rec.height):.1f}), "
        f"{needle.support} supporting segment(s) in {colour_name(colour)} on {new_image_line(new)}",
        [new.id],
    )


def count_blobs(
    ctx: ToolContext,
    image: ImageId,
    polarity: Annotated[
        Literal["auto", "dark", "light"],
        Field(description="Count dark things on a light background, light on dark, or 'auto' (the less common side)."),
    ] = "auto",
    threshold: Annotated[
        int | None,
        Field(ge=0, le=255, description="Grey level separating things from background; default automatic (Otsu)."),
    ] = None,
    min_area: Annotated[
        float | None,
        Field(ge=0, description="Smallest blob in pixels of this image (default 0.01% of the image, at least 4)."),
    ] = None,
    max_area: Annotated[
        float | None, Field(gt=0, description="Largest blob in pixels of this image (default half the image).")
    ] = None,
) -> ToolOutput:
    """Count separate objects (blobs) after thresholding; returns the count, each blob's box in 0-1000 and an image with them numbered."""
    rec, img = fetch(ctx, image)
    area = rec.width * rec.height
    low = max(4.0, area * 1e-4) if min_area is None else min_area
    high = area * 0.5 if max_area is None else max_area
    if low > high:
        raise ToolError(f"min_area ({low:g}) is larger than max_area ({high:g})")
    gray = gray_array(img)
    if threshold is None:
        level, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    else:
        level, binary = cv2.threshold(gray, threshold, 255, cv2.THRESH_BINARY)
    light = binary > 0
    if polarity == "auto":
        polarity = "light" if light.mean() < 0.5 else "dark"
    mask = (light if polarity == "light" else ~light).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    blobs = [stats[i] for i in range(1, n) if low <= stats[i][cv2.CC_STAT_AREA] <= high]
    blobs.sort(key=lambda s: (s[cv2.CC_STAT_TOP] // max(1, rec.height // 50), s[cv2.CC_STAT_LEFT]))  # reading order
    canvas = rgb(img)
    draw = ImageDraw.Draw(canvas)
    width, size = max(1, stroke_width(canvas) // 2 + 1), font_size(canvas)
    lines = []
    for k, s in enumerate(blobs, 1):
        x, y, w, h, a = (int(v) for v in s[:5])
        colour = contrasting_colour(canvas, (x, y, x + w, y + h))
        draw.rectangle([x - width, y - width, x + w + width - 1, y + h + width - 1], outline=colour, width=width)
        draw_label(draw, (x, y - width), str(k), colour, size, canvas.size, anchor="ld")
        if k <= 60:
            lines.append(
                f"{k}: x {to_norm(x, rec.width):.0f}-{to_norm(x + w, rec.width):.0f}, "
                f"y {to_norm(y, rec.height):.0f}-{to_norm(y + h, rec.height):.0f}, {a} px"
            )
    if len(blobs) > 60:
        lines.append(f"... and {len(blobs) - 60} more")
    new = ctx.images.add(
        canvas,
        parent=image,
        op="count_blobs",
        params={"polarity": polarity, "threshold": float(level), "min_area": low, "max_area": high},
    )
    head = (
        f"counted {len(blobs)} {polarity} blob(s) in {image} (threshold {level:.0f}, area {low:g}-{high:g} px), "
        f"numbered on {new_image_line(new)}"
    )
    return ToolOutput("\n".join([head + (":" if lines else ""), *lines]), [new.id])


TOOLS = [tool(find_circles), tool(find_lines), tool(count_blobs)]
