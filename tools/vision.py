"""Image tools that look closer: zoom, rotate, flip, enhance, measure, view.

Every new image records an affine map back to its parent, so a box found in a zoomed,
rotated or flipped view can be carried back onto the original.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import cv2
import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps
from pydantic import BaseModel, ConfigDict, Field

from tools.registry import ToolContext, ToolError, ToolOutput, tool
from tools.vision_common import (
    ImageId,
    Norm,
    check_box,
    fetch,
    new_image_line,
    pixel_box,
    record_of,
    to_px,
)

# A zoom aims for this longest side: big enough to read small print, small enough to be cheap.
ZOOM_TARGET_SIDE = 1024
ZOOM_MAX_SIDE = 2048
ZOOM_MAX_UPSCALE = 8.0


def zoom_size(width: int, height: int) -> tuple[int, int]:
    """Output size for a crop: upscaled towards ZOOM_TARGET_SIDE (at most 8x), never above ZOOM_MAX_SIDE."""
    longest = max(width, height)
    if longest < ZOOM_TARGET_SIDE:
        scale = min(ZOOM_MAX_UPSCALE, ZOOM_TARGET_SIDE / longest)
    elif longest > ZOOM_MAX_SIDE:
        scale = ZOOM_MAX_SIDE / longest
    else:
        scale = 1.0
    return max(1, round(width * scale)), max(1, round(height * scale))


def zoom(
    ctx: ToolContext,
    image: ImageId,
    x_min: Annotated[float, Norm("Left edge of the region, 0-1000 of the image width.")],
    y_min: Annotated[float, Norm("Top edge of the region, 0-1000 of the image height.")],
    x_max: Annotated[float, Norm("Right edge of the region, 0-1000 of the image width.")],
    y_max: Annotated[float, Norm("Bottom edge of the region, 0-1000 of the image height.")],
) -> ToolOutput:
    """Crop a region of an image and enlarge it (longest side about 1024 px, at most 8x) to see small detail.

    The region is in 0-1000 coordinates of the image named; the result is a new image whose
    coordinates map back onto the original.
    """
    check_box(x_min, y_min, x_max, y_max)
    rec, img = fetch(ctx, image)
    left, top, right, bottom = pixel_box(rec.width, rec.height, x_min, y_min, x_max, y_max)
    crop_w, crop_h = right - left, bottom - top
    out_w, out_h = zoom_size(crop_w, crop_h)
    # crop before resizing: resizing with a source box would blend in pixels from outside the region
    out = img.crop((left, top, right, bottom))
    if out_w > crop_w:
        # bicubic enlarges as sharply as Lanczos to the eye, with less ringing and in 2/3 the time
        out = out.resize((out_w, out_h), Image.BICUBIC)
    elif out_w < crop_w:
        out = out.resize((out_w, out_h), Image.LANCZOS, reducing_gap=3.0)
    to_parent = [crop_w / out_w, 0.0, float(left), 0.0, crop_h / out_h, float(top)]
    params = {"x_min": x_min, "y_min": y_min, "x_max": x_max, "y_max": y_max, "pixel_box": [left, top, right, bottom]}
    new = ctx.images.add(
        out, parent=image, op="zoom", params=params, to_parent=to_parent, photo=ctx.images.is_photo(image)
    )
    scale = out_w / crop_w
    return ToolOutput(
        f"zoomed {image} region x {x_min:g}-{x_max:g}, y {y_min:g}-{y_max:g} "
        f"(pixels {left},{top}-{right},{bottom}, {crop_w}x{crop_h}) at {scale:.2f}x -> {new_image_line(new)}",
        [new.id],
    )


def rotate(
    ctx: ToolContext,
    image: ImageId,
    degrees: Annotated[
        float, Field(ge=-360, le=360, description="Angle in degrees, counter-clockwise; negative turns clockwise.")
    ],
) -> ToolOutput:
    """Rotate an image counter-clockwise by an angle in degrees; the canvas grows so nothing is cut off."""
    rec, img = fetch(ctx, image)
    w, h = rec.width, rec.height
    quarter = degrees / 90.0
    if abs(quarter - round(quarter)) < 1e-9:
        # whole quarter turns are exact pixel permutations: no resampling blur
        turns = int(round(quarter)) % 4
        transpose = {1: Image.Transpose.ROTATE_90, 2: Image.Transpose.ROTATE_180, 3: Image.Transpose.ROTATE_270}
        out = img.transpose(transpose[turns]) if turns else img.copy()
        cos, sin = [(1, 0), (0, 1), (-1, 0), (0, -1)][turns]
        new_w, new_h = out.size
    else:
        rad = math.radians(degrees)
        cos, sin = math.cos(rad), math.sin(rad)
        new_w = max(1, math.ceil(abs(w * cos) + abs(h * sin) - 1e-6))
        new_h = max(1, math.ceil(abs(w * sin) + abs(h * cos) - 1e-6))
    # Output pixel (x', y') comes from the parent at the centre-relative vector turned back by the angle
    # (y points down, so a counter-clockwise turn on screen is [[cos, sin], [-sin, cos]]).
    cx, cy, ncx, ncy = w / 2, h / 2, new_w / 2, new_h / 2
    to_parent = [cos, -sin, cx - cos * ncx + sin * ncy, sin, cos, cy - sin * ncx - cos * ncy]
    if abs(quarter - round(quarter)) >= 1e-9:
        fill = 0 if img.mode == "L" else (0, 0, 0)
        out = img.transform((new_w, new_h), Image.Transform.AFFINE, to_parent, resample=Image.BICUBIC, fillcolor=fill)
    new = ctx.images.add(
        out,
        parent=image,
        op="rotate",
        params={"degrees": degrees},
        to_parent=to_parent,
        photo=ctx.images.is_photo(image),
    )
    return ToolOutput(f"rotated {image} by {degrees:g} degrees counter-clockwise -> {new_image_line(new)}", [new.id])


def flip(
    ctx: ToolContext,
    image: ImageId,
    direction: Annotated[
        Literal["horizontal", "vertical"],
        Field(description="'horizontal' mirrors left-right; 'vertical' mirrors top-bottom."),
    ],
) -> ToolOutput:
    """Mirror an image left-right (horizontal) or top-bottom (vertical)."""
    rec, img = fetch(ctx, image)
    if direction == "horizontal":
        out = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        to_parent = [-1.0, 0.0, float(rec.width), 0.0, 1.0, 0.0]
    else:
        out = img.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        to_parent = [1.0, 0.0, 0.0, 0.0, -1.0, float(rec.height)]
    new = ctx.images.add(
        out,
        parent=image,
        op="flip",
        params={"direction": direction},
        to_parent=to_parent,
        photo=ctx.images.is_photo(image),
    )
    return ToolOutput(f"flipped {image} {direction}ly -> {new_image_line(new)}", [new.id])


# operation -> (default amount, lowest, highest, what the amount means)
ENHANCE_AMOUNTS: dict[str, tuple[float, float, float, str]] = {
    "contrast": (1.8, 0.0, 10.0, "factor (1 = unchanged)"),
    "brightness": (1.4, 0.0, 10.0, "factor (1 = unchanged)"),
    "sharpen": (2.0, 0.0, 10.0, "strength (1 = a normal unsharp mask)"),
    "threshold": (-1.0, 0.0, 255.0, "grey level 0-255 (omit for Otsu's automatic level)"),
    "clahe": (2.0, 0.1, 40.0, "clip limit"),
}


def enhance(
    ctx: ToolContext,
    image: ImageId,
    operation: Annotated[
        Literal["contrast", "brightness", "sharpen", "grayscale", "threshold", "equalize", "clahe"],
        Field(
            description="contrast/brightness: scale by amount; sharpen: unsharp mask; grayscale; "
            "threshold: black and white at amount (or automatic, Otsu); equalize: histogram equalisation; "
            "clahe: local adaptive equalisation, good for faint detail in uneven light."
        ),
    ],
    amount: Annotated[
        float | None,
        Field(
            description="contrast/brightness factor (default 1.8/1.4, 1 = unchanged), sharpen strength (default 2), "
            "threshold grey level 0-255 (default automatic), clahe clip limit (default 2). Ignored otherwise."
        ),
    ] = None,
) -> ToolOutput:
    """Make detail easier to see: contrast, brightness, sharpen, grayscale, threshold, equalize or CLAHE."""
    rec, img = fetch(ctx, image)
    used = amount
    if operation in ENHANCE_AMOUNTS:
        default, low, high, meaning = ENHANCE_AMOUNTS[operation]
        if amount is not None and not low <= amount <= high:
            raise ToolError(f"{operation}: amount is a {meaning} from {low:g} to {high:g}, got {amount:g}")
        used = default if amount is None else amount
    elif amount is not None:
        used = None  # the operation has no amount; say so rather than pretend it was used
    detail = ""
    if operation == "contrast":
        out = ImageEnhance.Contrast(img).enhance(used)
    elif operation == "brightness":
        out = ImageEnhance.Brightness(img).enhance(used)
    elif operation == "sharpen":
        out = img.filter(
            ImageFilter.UnsharpMask(radius=max(1.0, max(img.size) / 800), percent=round(used * 100), threshold=2)
        )
    elif operation == "grayscale":
        out = img.convert("L")
    elif operation == "equalize":
        out = ImageOps.equalize(img)
    elif operation == "clahe":
        out = _clahe(img, used)
    else:  # threshold
        gray = np.asarray(img.convert("L"))
        if used < 0:
            level, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
            detail = f" at Otsu level {level:.0f}"
        else:
            level, binary = cv2.threshold(gray, used, 255, cv2.THRESH_BINARY)
            detail = f" at level {level:.0f}"
        out = Image.fromarray(binary)
        used = float(level)
    if operation != "threshold" and used is not None:
        detail = f" (amount {used:g})"
    elif amount is not None and used is None:
        detail = f" (amount {amount:g} ignored: {operation} takes none)"
    # a black-and-white threshold is a drawing, not a photo: JPEG would smear its edges
    photo = operation != "threshold" and ctx.images.is_photo(image)
    new = ctx.images.add(out, parent=image, op="enhance", params={"operation": operation, "amount": used}, photo=photo)
    return ToolOutput(f"applied {operation} to {image}{detail} -> {new_image_line(new)}", [new.id])


def _clahe(img: Image.Image, clip_limit: float) -> Image.Image:
    clahe = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(8, 8))
    if img.mode == "L":
        return Image.fromarray(clahe.apply(np.asarray(img)))
    # equalise lightness only, so colours do not shift
    lab = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2LAB)
    lab[:, :, 0] = clahe.apply(lab[:, :, 0])
    return Image.fromarray(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB))


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: Annotated[float, Norm("0-1000 of the image width")]
    y: Annotated[float, Norm("0-1000 of the image height")]


def measure(
    ctx: ToolContext,
    image: ImageId,
    points: Annotated[
        list[Point],
        Field(min_length=2, max_length=20, description="Points in 0-1000 of the image, measured as a path in order."),
    ],
) -> ToolOutput:
    """Measure distances and angles between points: each segment's length (pixels of this image and of the
    original) and direction (0 = right, 90 = up, counter-clockwise positive); with 3 points also the angle at the middle one."""
    rec = record_of(ctx, image)
    root_id = ctx.images.root_of(image)
    px = [(to_px(p.x, rec.width), to_px(p.y, rec.height)) for p in points]
    _, root_px = ctx.images.map_points(image, px)
    lines = []
    for i in range(len(px) - 1):
        (ax, ay), (bx, by) = px[i], px[i + 1]
        (rax, ray), (rbx, rby) = root_px[i], root_px[i + 1]
        length = math.hypot(bx - ax, by - ay)
        root_length = math.hypot(rbx - rax, rby - ray)
        angle = direction(bx - ax, by - ay)
        dx, dy = points[i + 1].x - points[i].x, points[i + 1].y - points[i].y
        text = (
            f"segment {i + 1} ({points[i].x:g},{points[i].y:g})->({points[i + 1].x:g},{points[i + 1].y:g}): "
            f"{length:.1f} px in {image}"
        )
        if root_id != image:
            text += f", {root_length:.1f} px in the original {root_id}"
        text += f"; dx {dx:+g}, dy {dy:+g} in 0-1000 units; direction {angle:.1f} deg"
        root_angle = direction(rbx - rax, rby - ray)
        if root_id != image and abs(_wrap(root_angle - angle)) > 0.05:
            text += f" ({root_angle:.1f} deg in {root_id})"
        lines.append(text)
    if len(px) == 3:
        vertex = _angle_at(px[0], px[1], px[2])
        lines.append(f"angle at point 2 between the two segments: {vertex:.1f} deg")
    return ToolOutput(f"measured {len(px)} points on {image} ({rec.width}x{rec.height} px):\n" + "\n".join(lines))


def direction(dx: float, dy: float) -> float:
    """Direction of a pixel vector in degrees 0-360: 0 = right, 90 = up (image y grows downwards)."""
    return math.degrees(math.atan2(-dy, dx)) % 360.0


def _wrap(deg: float) -> float:
    return (deg + 180.0) % 360.0 - 180.0


def _angle_at(a: tuple[float, float], vertex: tuple[float, float], b: tuple[float, float]) -> float:
    v1 = (a[0] - vertex[0], a[1] - vertex[1])
    v2 = (b[0] - vertex[0], b[1] - vertex[1])
    n1, n2 = math.hypot(*v1), math.hypot(*v2)
    if n1 == 0 or n2 == 0:
        raise ToolError("the angle at point 2 is undefined: it coincides with point 1 or point 3")
    cosine = (v1[0] * v2[0] + v1[1] * v2[1]) / (n1 * n2)
    return math.degrees(math.acos(max(-1.0, min(1.0, cosine))))


def view(ctx: ToolContext, image: ImageId) -> ToolOutput:
    """Show an earlier image again (by id), e.g. one no longer shown to save context."""
    rec = record_of(ctx, image)
    return ToolOutput(f"showing {rec.describe()}", [rec.id])


TOOLS = [tool(zoom), tool(rotate), tool(flip), tool(enhance), tool(measure), tool(view)]
