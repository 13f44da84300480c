"""Drawing on images: annotations that mark evidence, and a labelled grid for locating things.

Sizes scale with the image so marks stay visible however the image is shown; default colours
are picked to stand out from what is under each shape.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Union

from PIL import Image, ImageDraw
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tools.registry import ToolContext, ToolOutput, tool
from tools.vision_common import (
    ImageId,
    Norm,
    check_box,
    colour_name,
    contrasting_colour,
    draw_label,
    fetch,
    font,
    font_size,
    new_image_line,
    parse_colour,
    rgb,
    stroke_width,
    text_on,
    to_px,
)

Label = Annotated[str | None, Field(max_length=80, description="Optional text drawn next to the shape.")]
Colour = Annotated[
    str | None,
    Field(
        description="Optional colour name ('red', 'yellow', 'lime', 'cyan', ...) or hex '#rrggbb'; default: one that stands out there."
    ),
]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: Label = None
    color: Colour = None


class BoxShape(_Shape):
    kind: Literal["box"]
    x_min: Annotated[float, Norm("left, 0-1000 of the width")]
    y_min: Annotated[float, Norm("top, 0-1000 of the height")]
    x_max: Annotated[float, Norm("right, 0-1000 of the width")]
    y_max: Annotated[float, Norm("bottom, 0-1000 of the height")]

    @model_validator(mode="after")
    def _ordered(self) -> "BoxShape":
        if self.x_min >= self.x_max or self.y_min >= self.y_max:
            raise ValueError("a box needs x_min < x_max and y_min < y_max")
        return self


class PointShape(_Shape):
    kind: Literal["point"]
    x: Annotated[float, Norm("0-1000 of the width")]
    y: Annotated[float, Norm("0-1000 of the height")]


class LineShape(_Shape):
    kind: Literal["line", "arrow"] = Field(description="'arrow' puts an arrowhead at (x2, y2).")
    x1: Annotated[float, Norm("start x, 0-1000 of the width")]
    y1: Annotated[float, Norm("start y, 0-1000 of the height")]
    x2: Annotated[float, Norm("end x, 0-1000 of the width")]
    y2: Annotated[float, Norm("end y, 0-1000 of the height")]


class CircleShape(_Shape):
    kind: Literal["circle"]
    x: Annotated[float, Norm("centre x, 0-1000 of the width")]
    y: Annotated[float, Norm("centre y, 0-1000 of the height")]
    radius: Annotated[float, Field(gt=0, le=1000, description="radius, 0-1000 of the image's longer side")]


class MarkerShape(_Shape):
    kind: Literal["marker"]
    x: Annotated[float, Norm("0-1000 of the width")]
    y: Annotated[float, Norm("0-1000 of the height")]
    number: Annotated[
        int | None, Field(ge=0, le=9999, description="Number shown in the marker; default: 1, 2, 3... in order.")
    ] = None


class LabelShape(_Shape):
    kind: Literal["label"]
    x: Annotated[float, Norm("left of the text, 0-1000 of the width")]
    y: Annotated[float, Norm("top of the text, 0-1000 of the height")]
    label: Annotated[str, Field(min_length=1, max_length=120, description="The text to write.")]


Shape = Annotated[
    Union[BoxShape, PointShape, LineShape, CircleShape, MarkerShape, LabelShape],
    Field(discriminator="kind"),
]


def annotate(
    ctx: ToolContext,
    image: ImageId,
    shapes: Annotated[
        list[Shape],
        Field(
            min_length=1,
            max_length=100,
            description="Shapes to draw, each with a kind: box (x_min, y_min, x_max, y_max), point (x, y), "
            "line or arrow (x1, y1, x2, y2), circle (x, y, radius), marker (x, y, number), label (x, y, label). "
            "Coordinates in 0-1000 of the image.",
        ),
    ],
) -> ToolOutput:
    """Draw boxes, points, lines, arrows, circles, numbered markers and text labels on a copy of an image, to mark evidence."""
    rec, img = fetch(ctx, image)
    canvas = rgb(img)
    draw = ImageDraw.Draw(canvas)
    width, height = canvas.size
    line_w, text_size = stroke_width(canvas), font_size(canvas)
    drawn = []
    next_number = 1
    for shape in shapes:
        extent = _extent(shape, width, height)
        colour = parse_colour(shape.color) if shape.color else contrasting_colour(canvas, extent)
        if isinstance(shape, BoxShape):
            x0, y0, x1, y1 = extent
            draw.rectangle([x0, y0, x1 - 1, y1 - 1], outline=colour, width=line_w)
            tag_at, anchor = (x0, y0 - line_w), "ld"
        elif isinstance(shape, PointShape):
            cx, cy = to_px(shape.x, width), to_px(shape.y, height)
            r = line_w * 2.5
            draw.ellipse(
                [cx - r, cy - r, cx + r, cy + r], fill=colour, outline=text_on(colour), width=max(1, line_w // 2)
            )
            tag_at, anchor = (cx + r + line_w, cy), "lm"
        elif isinstance(shape, LineShape):
            a = (to_px(shape.x1, width), to_px(shape.y1, height))
            b = (to_px(shape.x2, width), to_px(shape.y2, height))
            draw.line([a, b], fill=colour, width=line_w)
            if shape.kind == "arrow":
                _arrowhead(draw, a, b, colour, line_w)
            tag_at, anchor = (a[0], a[1]), "rb" if b[0] >= a[0] else "lb"
        elif isinstance(shape, CircleShape):
            cx, cy = to_px(shape.x, width), to_px(shape.y, height)
            r = shape.radius * max(width, height) / 1000.0
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=colour, width=line_w)
            tag_at, anchor = (cx, cy - r - line_w), "md"
        elif isinstance(shape, MarkerShape):
            number = shape.number if shape.number is not None else next_number
            next_number = number + 1
            cx, cy = to_px(shape.x, width), to_px(shape.y, height)
            r = text_size * 0.8
            draw.ellipse(
                [cx - r, cy - r, cx + r, cy + r], fill=colour, outline=text_on(colour), width=max(1, line_w // 2)
            )
            draw.text((cx, cy), str(number), fill=text_on(colour), font=font(text_size), anchor="mm")
            tag_at, anchor = (cx + r + line_w, cy), "lm"
        else:  # label
            tag_at, anchor = (to_px(shape.x, width), to_px(shape.y, height)), "la"
        if shape.label:
            draw_label(draw, tag_at, shape.label, colour, text_size, (width, height), anchor=anchor)
        drawn.append(f"{shape.kind}{' ' + repr(shape.label) if shape.label else ''} in {colour_name(colour)}")
    new = ctx.images.add(
        canvas, parent=image, op="annotate", params={"shapes": [s.model_dump(exclude_none=True) for s in shapes]}
    )
    return ToolOutput(
        f"annotated {image} with {len(shapes)} shape(s): {'; '.join(drawn)} -> {new_image_line(new)}", [new.id]
    )


def _extent(shape: _Shape, width: int, height: int) -> tuple[float, float, float, float]:
    """The pixel box a shape covers, for picking a colour that stands out there."""
    if isinstance(shape, BoxShape):
        return (
            to_px(shape.x_min, width),
            to_px(shape.y_min, height),
            to_px(shape.x_max, width),
            to_px(shape.y_max, height),
        )
    if isinstance(shape, LineShape):
        return (to_px(shape.x1, width), to_px(shape.y1, height), to_px(shape.x2, width), to_px(shape.y2, height))
    cx, cy = to_px(shape.x, width), to_px(shape.y, height)
    r = shape.radius * max(width, height) / 1000.0 if isinstance(shape, CircleShape) else max(width, height) / 60
    return (cx - r, cy - r, cx + r, cy + r)


def _arrowhead(draw: ImageDraw.ImageDraw, a: tuple[float, float], b: tuple[float, float], colour, line_w: int) -> None:
    length = math.hypot(b[0] - a[0], b[1] - a[1])
    if length == 0:
        return
    ux, uy = (b[0] - a[0]) / length, (b[1] - a[1]) / length
    size = min(length * 0.4, line_w * 6)
    base = (b[0] - ux * size, b[1] - uy * size)
    half = size * 0.55
    left = (base[0] - uy * half, base[1] + ux * half)
    right = (base[0] + uy * half, base[1] - ux * half)
    draw.polygon([b, left, right], fill=colour)


def grid(
    ctx: ToolContext,
    image: ImageId,
    step: Annotated[
        int, Field(ge=20, le=500, description="Spacing of grid lines in 0-1000 units (default 100).")
    ] = 100,
    x_min: Annotated[float, Norm("Optional: grid only this part; left edge, 0-1000.")] = 0,
    y_min: Annotated[float, Norm("top edge, 0-1000.")] = 0,
    x_max: Annotated[float, Norm("right edge, 0-1000.")] = 1000,
    y_max: Annotated[float, Norm("bottom edge, 0-1000.")] = 1000,
) -> ToolOutput:
    """Overlay a labelled grid in 0-1000 coordinates (lines every `step` units) to read off where things are."""
    check_box(x_min, y_min, x_max, y_max)
    rec, img = fetch(ctx, image)
    base = rgb(img)
    width, height = base.size
    colour = contrasting_colour(base, (0, 0, width, height))
    overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    line_w = max(1, stroke_width(base) // 2)
    size = max(11, round(font_size(base) * 0.75))
    xs = [v for v in range(0, 1001, step) if x_min <= v <= x_max]
    ys = [v for v in range(0, 1001, step) if y_min <= v <= y_max]
    left, right = to_px(x_min, width), to_px(x_max, width)
    top, bottom = to_px(y_min, height), to_px(y_max, height)
    for v in xs:
        x = min(width - line_w, to_px(v, width))
        draw.line([(x, top), (x, bottom)], fill=(*colour, 150), width=line_w)
    for v in ys:
        y = min(height - line_w, to_px(v, height))
        draw.line([(left, y), (right, y)], fill=(*colour, 150), width=line_w)
    labelled = Image.alpha_composite(base.convert("RGBA"), overlay)
    draw = ImageDraw.Draw(labelled)
    # labels along the top and left edges of the gridded part, on tags so they read on any background
    for v in xs:
        draw_label(draw, (to_px(v, width), top + 2), str(v), colour, size, (width, height), anchor="ma")
    for v in ys:
        if v != ys[0] or not xs:
            draw_label(draw, (left + 2, to_px(v, height)), str(v), colour, size, (width, height), anchor="lm")
    out = labelled.convert("RGB")
    new = ctx.images.add(out, parent=image, op="grid", params={"step": step, "region": [x_min, y_min, x_max, y_max]})
    return ToolOutput(f"drew a {step}-unit grid on {image} in {colour_name(colour)} -> {new_image_line(new)}", [new.id])


TOOLS = [tool(annotate), tool(grid)]
