"""`read_gauge`: read an analogue dial like an instrument technician.

Finds the dial (and un-tilts an oblique one), the needle's pivot, the needle's tip and tail, the
tick ring and the numbers printed on the scale (OCR), infers the calibration from those numbers,
and converts the needle's angle into a value with its unit and a confidence. The pieces live in
tools/gauge_geometry.py (where things are) and tools/gauge_scale.py (what the scale says).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
from PIL import Image, ImageDraw
from pydantic import Field

from tools.gauge_geometry import Geometry, read_geometry
from tools.gauge_scale import (
    Calibration,
    Number,
    infer_calibration,
    linear_calibration,
    parse_number,
    parse_unit,
)
from tools.ocr import OcrUnavailable, detect_text, recognise
from tools.registry import ToolContext, ToolError, ToolOutput, tool
from tools.vision_common import (
    ImageId,
    contrasting_colour,
    draw_label,
    fetch,
    font,
    font_size,
    new_image_line,
    quietest_spot,
    rgb,
    stroke_width,
    to_norm,
    to_px,
)

# Text is found on the work copy shrunk to this side: scale numbers stay 15+ px tall, and
# detection takes a third of the time it does at full work size.
OCR_SIDE = 640

Angle = Annotated[
    float | None,
    Field(
        ge=-360,
        le=360,
        description="Degrees as `measure` reports them in this image (0 = right, 90 = up, counter-clockwise), seen from the pivot.",
    ),
]


@dataclass
class GaugeReading:
    geometry: Geometry
    numbers: list[Number]
    calibration: Calibration | None
    other_scales: list[Calibration]
    value: float | None
    unit: str | None
    unit_from: str | None
    confidence: float
    why_no_value: str | None
    notes: list[str] = field(default_factory=list)

    @property
    def needle_angle(self) -> float | None:
        return None if self.geometry.needle is None else self.geometry.needle.angle


def analyse_gauge(
    pixels: np.ndarray,
    pivot: tuple[float, float] | None = None,
    min_angle: float | None = None,
    max_angle: float | None = None,
    min_value: float | None = None,
    max_value: float | None = None,
    direction: str | None = None,
    unit: str | None = None,
    ocr: bool = True,
) -> GaugeReading:
    """Everything read_gauge finds in an RGB array; `pivot` in its pixels, angles as in the image."""
    geo = read_geometry(pixels, pivot)
    notes = list(geo.notes)
    numbers: list[Number] = []
    units: list[tuple[float, str]] = []
    if ocr:
        try:
            numbers, units = _read_scale_text(geo)
        except OcrUnavailable as exc:
            notes.append(f"no OCR: {exc}")
    ticks = geo.ticks.angles if geo.ticks else None
    inferred, others = infer_calibration(numbers, geo.radius, ticks)
    cal, why = _calibration(geo, inferred, min_angle, max_angle, min_value, max_value, direction)
    value = None
    if geo.needle is None:
        why = "no needle found: nothing unlike the dial face runs out from the pivot; zoom onto the dial, or give centre_x/centre_y"
    elif cal is not None:
        if _on_scale(geo, cal):
            value = cal.value_at(geo.needle.angle)
        else:
            why = f"the needle ({geo.needle.angle:.1f}°) is outside the scale ({cal.min_angle:.1f}° to {cal.max_angle:.1f}° {cal.direction})"
    unit_from = None
    if unit:
        unit_from = "given"
    elif units:
        unit, unit_from = max(units)[1], "printed on the dial"
    confidence = _confidence(geo, cal, value)
    return GaugeReading(
        geo, numbers, cal, others, value, unit, unit_from, confidence, why if value is None else None, notes
    )


def _on_scale(geo: Geometry, cal: Calibration) -> bool:
    """Whether the needle points at the scale: between its end marks, or a little beyond (a
    needle resting on its stop, or on an end number it hides from the OCR: up to about one
    number's spacing), or anywhere along the tick arc."""
    travel = cal.travel(geo.needle.angle)
    beyond = max(0.08 * cal.sweep, 1.3 * cal.sweep / max(1, len(cal.marks) - 1))
    if -beyond <= travel <= cal.sweep + beyond:
        return True
    ticks = geo.ticks
    if ticks is None or ticks.cw_first is None:
        return False
    arc = (ticks.cw_first - ticks.cw_last) % 360.0
    # the needle often hides the end tick it points at: allow a couple of tick spacings more
    margin = 3.0 + 2 * arc / max(1, len(ticks.angles) - 1)
    return (ticks.cw_first - geo.needle.angle + margin) % 360.0 <= arc + 2 * margin


def _read_scale_text(geo: Geometry) -> tuple[list[Number], list[tuple[float, str]]]:
    """The numbers and unit names printed on the dial, read by OCR on the enlarged dial.
    Only short pieces of text inside the dial are recognised: the scale's numbers and unit
    names are short, and recognising a maker's long line costs more than all the rest."""
    quads = []
    for quad in detect_text(geo.work, side=OCR_SIDE):
        xs, ys = [p[0] for p in quad], [p[1] for p in quad]
        w, h = max(xs) - min(xs), max(ys) - min(ys)
        # the unit may be printed beyond the scale (a panel meter's big "V" in its corner)
        if geo.plane_angle((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2)[1] <= 1.6 * geo.radius and max(
            w, h
        ) <= 4 * min(w, h):
            quads.append(quad)
    numbers, units = [], []
    for line in recognise(geo.work, quads):
        for text, (bx0, by0, bx1, by1) in line.words():
            angle, radius = geo.plane_angle((bx0 + bx1) / 2, (by0 + by1) / 2)
            value = parse_number(text)
            # a panel meter's numbers may stand outside its arc of ticks
            if value is not None and 0.12 * geo.radius < radius <= 1.3 * geo.radius:
                numbers.append(Number(text, value, angle, radius, (bx0, by0, bx1, by1)))
                continue
            found = parse_unit(text)
            if found:
                units.append((line.confidence, found))
    return numbers, units


def _calibration(
    geo: Geometry, inferred: Calibration | None, min_angle, max_angle, min_value, max_value, direction
) -> tuple[Calibration | None, str | None]:
    """The calibration in force: the caller's values where given, the inferred ones elsewhere."""
    given = [v is not None for v in (min_angle, max_angle, min_value, max_value, direction)]
    if not any(given):
        if inferred is None:
            return (
                None,
                "no calibration: fewer than 3 scale numbers were read in order; give min_value/max_value (and min_angle/max_angle if the scale's ends are unclear)",
            )
        return inferred, None
    way = direction or (inferred.direction if inferred else "cw")
    arc = (geo.ticks.cw_first, geo.ticks.cw_last) if geo.ticks and geo.ticks.cw_first is not None else (None, None)
    if way == "ccw":
        arc = arc[::-1]
    start = geo.from_image_angle(min_angle) if min_angle is not None else (inferred.min_angle if inferred else arc[0])
    end = geo.from_image_angle(max_angle) if max_angle is not None else (inferred.max_angle if inferred else arc[1])
    low = min_value if min_value is not None else (inferred.min_value if inferred else None)
    high = max_value if max_value is not None else (inferred.max_value if inferred else None)
    missing = [
        name
        for name, v in (("min_angle", start), ("max_angle", end), ("min_value", low), ("max_value", high))
        if v is None
    ]
    if missing:
        return None, f"calibration incomplete: {', '.join(missing)} neither given nor read from the dial"
    if (
        inferred
        and start == inferred.min_angle
        and end == inferred.max_angle
        and low == inferred.min_value
        and high == inferred.max_value
        and way == inferred.direction
    ):
        return inferred, None  # what was given agrees with the scale read
    names = [n for n, g in zip(("min_angle", "max_angle", "min_value", "max_value", "direction"), given) if g]
    return linear_calibration(
        start,
        end,
        low,
        high,
        way,
        f"given ({', '.join(names)})" + (", the rest read from the dial" if not all(given) else ""),
    ), None


def _confidence(geo: Geometry, cal: Calibration | None, value: float | None) -> float:
    if geo.needle is None or value is None or cal is None:
        return 0.0
    needle = min(1.0, max(0.0, geo.needle.prominence - 1.0))
    pivot = 1.0 if geo.pivot_from == "given" else min(1.0, geo.pivot_support / 25)
    if cal.source.startswith("given"):
        scale = 1.0
    else:
        scale = min(1.0, len(cal.marks) / 5) * (0.85 if cal.kind == "piecewise" else 1.0)
    return round((max(needle, 0.05) * max(pivot, 0.05) * scale) ** (1 / 3), 2)


# -- the tool ------------------------------------------------------------------------------------


def read_gauge(
    ctx: ToolContext,
    image: ImageId,
    centre_x: Annotated[
        float | None,
        Field(
            ge=0,
            le=1000,
            description="The needle's pivot x, 0-1000, if you know it better than the tool (default: found).",
        ),
    ] = None,
    centre_y: Annotated[float | None, Field(ge=0, le=1000, description="The needle's pivot y, 0-1000.")] = None,
    min_angle: Angle = None,
    max_angle: Angle = None,
    min_value: Annotated[
        float | None, Field(description="The value at the scale's start (default: read from the dial's numbers).")
    ] = None,
    max_value: Annotated[float | None, Field(description="The value at the scale's end.")] = None,
    direction: Annotated[
        Literal["cw", "ccw"] | None,
        Field(description="The way values increase: 'cw' clockwise (most gauges) or 'ccw'."),
    ] = None,
    unit: Annotated[
        str | None,
        Field(max_length=20, description="The unit, if not printed on the dial or to override what is read."),
    ] = None,
) -> ToolOutput:
    """Read an analogue gauge or panel meter: finds the pivot, the needle (tip and tail), the tick ring and the scale
    numbers (OCR), infers the calibration (linear or non-linear), and returns the value with its unit and a confidence,
    on an annotated image. Give centre/min/max/direction only to override what it reads; check the result by zooming on the tip.

    Angles are degrees, 0 = right, 90 = up, counter-clockwise; min_angle/max_angle are where the
    scale's first and last values lie, seen from the pivot in this image.
    """
    if (centre_x is None) != (centre_y is None):
        raise ToolError("give both centre_x and centre_y, or neither")
    if min_value is not None and max_value is not None and min_value == max_value:
        raise ToolError("min_value and max_value are equal; give the values at the two ends of the scale")
    rec, img = fetch(ctx, image)
    pixels = np.asarray(rgb(img))
    pivot = None if centre_x is None else (to_px(centre_x, rec.width), to_px(centre_y, rec.height))
    reading = analyse_gauge(pixels, pivot, min_angle, max_angle, min_value, max_value, direction, unit)
    canvas = _draw(rgb(img), reading)
    new = ctx.images.add(
        canvas,
        parent=image,
        op="read_gauge",
        params={
            k: v
            for k, v in {
                "centre_x": centre_x,
                "centre_y": centre_y,
                "min_angle": min_angle,
                "max_angle": max_angle,
                "min_value": min_value,
                "max_value": max_value,
                "direction": direction,
                "unit": unit,
            }.items()
            if v is not None
        },
    )
    data = reading_data(reading, rec.width, rec.height)
    return ToolOutput(_describe(image, reading, data, new), [new.id], data=data)


def _norm_point(geo: Geometry, p: tuple[float, float], width: int, height: int) -> dict[str, float]:
    x, y = geo.to_image(*p)
    return {"x": round(to_norm(x, width), 1), "y": round(to_norm(y, height), 1)}


def reading_data(r: GaugeReading, width: int, height: int) -> dict[str, Any]:
    """The `data` of a read_gauge result: every number in 0-1000 of the image and plane degrees."""
    geo = r.geometry
    n = geo.needle

    def box(b):
        (x0, y0), (x1, y1) = geo.to_image(b[0], b[1]), geo.to_image(b[2], b[3])
        return {
            "x_min": round(to_norm(x0, width), 1),
            "y_min": round(to_norm(y0, height), 1),
            "x_max": round(to_norm(x1, width), 1),
            "y_max": round(to_norm(y1, height), 1),
        }

    return {
        "value": None if r.value is None else round(r.value, 6),
        "unit": r.unit,
        "unit_from": r.unit_from,
        "confidence": r.confidence,
        "why_no_value": r.why_no_value,
        "needle_angle_deg": None if n is None else round(n.angle, 2),
        "needle_angle_image_deg": None if n is None else round(geo.image_angle(n.angle), 2),
        "pivot": _norm_point(geo, geo.pivot, width, height),
        "pivot_from": geo.pivot_from,
        "tip": None
        if n is None
        else {**_norm_point(geo, n.tip, width, height), "reach": round(n.tip_reach / geo.scale, 1)},
        "tail": None
        if n is None
        else {**_norm_point(geo, n.tail, width, height), "reach": round(n.tail_reach / geo.scale, 1)},
        "needle_width_px": None if n is None else round(n.width / geo.scale, 1),
        "dial": None
        if geo.dial is None
        else {
            **_norm_point(geo, (geo.dial.cx, geo.dial.cy), width, height),
            "aspect": round(geo.dial.aspect, 3),
            "rectified": bool(not np.allclose(geo.rectify, np.eye(2))),
        },
        "ticks": []
        if geo.ticks is None
        else [{"angle": round(a, 2), "major": bool(m)} for a, m in zip(geo.ticks.angles, geo.ticks.major)],
        "numbers": [
            {"text": x.text, "value": x.value, "angle": round(x.angle, 2), "box": box(x.box), "used": x.used}
            for x in r.numbers
        ],
        "calibration": None if r.calibration is None else r.calibration.to_dict(),
        "other_scales": [
            {**c.to_dict(), "value": None if n is None else round(c.value_at(n.angle), 6)} for c in r.other_scales
        ],
        "notes": r.notes,
    }


def reading_text(r: GaugeReading) -> str:
    """The value to a thousandth of the scale's span: as finely as a needle can be read."""
    span = abs(r.calibration.max_value - r.calibration.min_value) or 1.0
    return f"{r.value:.{max(0, math.ceil(-math.log10(span / 1000)))}f}"


def _fmt(v: float) -> str:
    return f"{v:.4g}" if abs(v) < 1000 else f"{v:.0f}"


def _describe(image: str, r: GaugeReading, data: dict, new) -> str:
    geo, n = r.geometry, r.geometry.needle
    unit = f" {r.unit}" if r.unit else ""
    if r.value is not None:
        head = (
            f"gauge in {image}: {reading_text(r)}{unit} (confidence {r.confidence:.2f}), drawn on {new_image_line(new)}"
        )
    else:
        head = f"gauge in {image}: no value ({r.why_no_value}), drawn on {new_image_line(new)}"
    lines = [head]
    p = data["pivot"]
    lines.append(f"pivot ({p['x']}, {p['y']}) from {geo.pivot_from}")
    if n is not None:
        t, tl = data["tip"], data["tail"]
        tilt = (
            f" on the un-tilted dial, {data['needle_angle_image_deg']:.1f} deg in the image"
            if data["dial"] and data["dial"]["rectified"]
            else ""
        )
        lines.append(
            f"needle {n.angle:.1f} deg (0 = right, counter-clockwise){tilt}; tip ({t['x']}, {t['y']}) reaching {t['reach']:.0f} px, "
            f"tail ({tl['x']}, {tl['y']}) reaching {tl['reach']:.0f} px"
        )
    cal = r.calibration
    if cal is not None:
        way = "clockwise" if cal.direction == "cw" else "counter-clockwise"
        marks = ", ".join(f"{_fmt(v)}@{a:.1f}" for v, a in cal.marks)
        lines.append(
            f"scale: {cal.kind}, increasing {way}, {_fmt(cal.min_value)} at {cal.min_angle:.1f} deg to {_fmt(cal.max_value)} at {cal.max_angle:.1f} deg ({cal.source}); value@angle: {marks}"
        )
    if geo.ticks is not None:
        ends = (
            f" from {geo.ticks.cw_first:.1f} clockwise to {geo.ticks.cw_last:.1f} deg"
            if geo.ticks.cw_first is not None
            else ""
        )
        lines.append(f"ticks: {len(geo.ticks.angles)} ({sum(geo.ticks.major)} major){ends}")
    unused = [x.text for x in r.numbers if not x.used]
    if r.numbers:
        lines.append(
            f"numbers read: {', '.join(x.text for x in r.numbers if x.used) or 'none used'}"
            + (f"; not used: {', '.join(unused)}" if unused else "")
        )
    for other in data["other_scales"]:
        if other["value"] is not None:
            lines.append(
                f"another scale ({_fmt(other['min_value'])} to {_fmt(other['max_value'])}) reads {_fmt(other['value'])} there"
            )
    if r.unit:
        lines.append(f"unit: {r.unit} ({r.unit_from})")
    lines.extend(f"note: {x}" for x in r.notes)
    if n is not None:
        t = data["tip"]
        half = 90
        lines.append(
            f"check: zoom on the tip (x {max(0, t['x'] - half):.0f}-{min(1000, t['x'] + half):.0f}, y {max(0, t['y'] - half):.0f}-{min(1000, t['y'] + half):.0f}) "
            "and compare with the nearest numbers"
        )
    return "\n".join(lines)


COLOURS = {
    "tip": (230, 25, 25),
    "tail": (0, 150, 255),
    "pivot": (255, 0, 220),
    "dial": (0, 200, 60),
    "tick": (255, 200, 0),
    "used": (0, 200, 60),
    "unused": (150, 150, 150),
}


def _draw(canvas: Image.Image, r: GaugeReading) -> Image.Image:
    geo, n = r.geometry, r.geometry.needle
    clean = canvas.copy()  # what the label must not hide, before anything is drawn on it
    draw = ImageDraw.Draw(canvas)
    w = stroke_width(canvas)
    size = font_size(canvas)

    def pt(p):
        return geo.to_image(*p)

    if geo.dial is not None:
        d = geo.dial
        t = np.linspace(0, 2 * math.pi, 120)
        a = math.radians(d.angle)
        ring = [
            pt(
                (
                    d.cx + d.major * math.cos(s) * math.cos(a) - d.minor * math.sin(s) * math.sin(a),
                    d.cy + d.major * math.cos(s) * math.sin(a) + d.minor * math.sin(s) * math.cos(a),
                )
            )
            for s in t
        ]
        draw.line(ring, fill=COLOURS["dial"], width=max(1, w // 2))
    if geo.ticks is not None:
        for angle, major in zip(geo.ticks.angles, geo.ticks.major):
            x, y = pt(geo.image_point(angle, (geo.ticks.inner + geo.ticks.outer) / 2))
            rad = w * (1.2 if major else 0.7)
            draw.ellipse([x - rad, y - rad, x + rad, y + rad], fill=COLOURS["tick"])
    for x in r.numbers:
        (x0, y0), (x1, y1) = pt(x.box[:2]), pt(x.box[2:])
        draw.rectangle([x0, y0, x1, y1], outline=COLOURS["used" if x.used else "unused"], width=max(1, w // 2))
    px, py = pt(geo.pivot)
    tip_colour = COLOURS["tip"]
    if n is not None:
        # thin lines in a colour that stands out from the needle, so the needle stays visible under them
        (tx, ty), (bx, by) = pt(n.tip), pt(n.tail)
        tip_colour = contrasting_colour(canvas, (min(px, tx), min(py, ty), max(px, tx), max(py, ty)))
        draw.line([(px, py), (bx, by)], fill=COLOURS["tail"], width=max(1, w // 2))
        draw.line([(px, py), (tx, ty)], fill=tip_colour, width=max(1, w // 2))
    cross = 3 * w
    draw.line([(px - cross, py), (px + cross, py)], fill=COLOURS["pivot"], width=w)
    draw.line([(px, py - cross), (px, py + cross)], fill=COLOURS["pivot"], width=w)
    if n is not None:
        label = f"{reading_text(r)}{' ' + r.unit if r.unit else ''}" if r.value is not None else f"{n.angle:.1f} deg"
        draw_label(draw, _label_spot(clean, draw, label, size, r, pt), label, tip_colour, size, canvas.size, "mm")
    return canvas


def _label_spot(
    clean: Image.Image, draw: ImageDraw.ImageDraw, label: str, size: int, r: GaugeReading, pt
) -> tuple[float, float]:
    """Where the reading's label goes: near the needle's tip but off the ticks around it, off
    every scale number and off the needle. Candidates lie beyond the tick ring along the needle,
    then to either side of it, then beside the needle inside the dial."""
    geo, n = r.geometry, r.geometry.needle
    left, top, right, bottom = draw.textbbox((0, 0), label, font=font(size), anchor="mm")
    bw, bh = right - left + size, bottom - top + size // 2
    (tx, ty), (px, py) = pt(n.tip), pt(geo.pivot)
    length = math.hypot(tx - px, ty - py) or 1.0
    ux, uy = (tx - px) / length, (ty - py) / length
    avoid = [(tx - size, ty - size, tx + size, ty + size)]
    avoid += [(*pt(x.box[:2]), *pt(x.box[2:])) for x in r.numbers]
    start = 0.0
    if geo.ticks is not None:  # the ticks the tip is read against: from a few degrees before it to a few after
        ring = [
            pt(geo.image_point(n.angle + da, rad)) for da in (-10, 0, 10) for rad in (geo.ticks.inner, geo.ticks.outer)
        ]
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        avoid.append((min(xs), min(ys), max(xs), max(ys)))
        start = max(0.0, math.hypot(*(a - b for a, b in zip(pt(geo.image_point(n.angle, geo.ticks.outer)), (tx, ty)))))
    reach = math.hypot(bw, bh) / 2 + size * 0.4
    centres = []
    for along in (1.0, 1.5, 2.2, 3.0):
        for side in (0.0, 1.0, -1.0):
            d, s = start + reach * along, side * (bw / 2 + size)
            centres.append((tx + ux * d - uy * s, ty + uy * d + ux * s))
    for back in (0.3, 0.5, 0.7):
        for side in (1.0, -1.0):
            d, s = length * back, side * (bw / 2 + bh)
            centres.append((px + ux * d - uy * s, py + uy * d + ux * s))
    return quietest_spot(clean, (bw, bh), centres, avoid)


TOOLS = [tool(read_gauge)]
