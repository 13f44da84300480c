"""Synthetic dial gauges with known truth, one kind per way real gauges fool a needle finder.

`make_gauge(Dial(...))` draws a dial (at 3x and downsampled, so edges are anti-aliased like a
photo's) and returns the image and the truth: the needle's angle on the dial's plane (degrees,
0 = right, counter-clockwise), the value it points at, the scale's range, and where the pivot
and the tip are in the image. `CASES` holds one dial per failure class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

SS = 3  # supersampling


def _font(size: int) -> ImageFont.ImageFont:
    for name in ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf", "LiberationSans-Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


@dataclass
class Scale:
    start: float = 225.0  # angle of the minimum value
    sweep: float = 270.0
    direction: str = "cw"
    low: float = 0.0
    high: float = 10.0
    major_step: float = 1.0
    minor_per_major: int = 5
    exponent: float = 1.0  # 1 = linear; >1 compresses the low end (a square-law meter)
    radius: float = 0.86  # outer end of the ticks, in dial radii
    number_radius: float = 0.66
    colour: tuple[int, int, int] = (20, 20, 20)
    number_size: float = 0.085  # in dial radii
    labels: dict[float, str] = field(default_factory=dict)  # value -> printed text, default the value

    def fraction(self, value: float) -> float:
        x = (value - self.low) / (self.high - self.low)
        return math.copysign(abs(x) ** self.exponent, x)

    def angle(self, value: float) -> float:
        sign = -1 if self.direction == "cw" else 1
        return (self.start + sign * self.sweep * self.fraction(value)) % 360.0


@dataclass
class Dial:
    value: float = 6.4
    size: int = 640
    radius: float = 250.0  # of the face, pixels of the output
    centre: tuple[float, float] = (320.0, 320.0)  # of the face
    pivot_offset: tuple[float, float] = (0.0, 0.0)  # the pivot relative to the face's centre, pixels
    square: bool = False  # a panel meter: square face, the scale centred on the pivot
    face: tuple[int, int, int] = (246, 244, 238)
    background: tuple[int, int, int] = (70, 78, 90)
    scale: Scale = field(default_factory=Scale)
    second: Scale | None = None  # an inner scale in another unit
    needle_colour: tuple[int, int, int] = (25, 25, 25)
    needle_width: float = 7.0  # at the hub, pixels
    tip_width: float = 2.0
    needle_length: float = 0.86  # in dial radii
    tail_length: float = 0.18
    counterweight: float = 0.0  # radius of a disc on the tail, in dial radii
    hub: float = 0.05  # hub cap radius, in dial radii
    hub_colour: tuple[int, int, int] = (30, 30, 30)
    screws: bool = False
    unit: str | None = "bar"
    caption: str | None = None  # text printed across the face
    caption_at: float = 0.32  # how far above the pivot, in dial radii
    glare: bool = False
    tilt: float = 0.0  # degrees the dial's plane is turned about the horizontal axis
    noise: float = 2.0

    @property
    def pivot(self) -> tuple[float, float]:
        return self.centre[0] + self.pivot_offset[0], self.centre[1] + self.pivot_offset[1]


@dataclass
class Truth:
    angle: float  # on the dial's plane
    value: float
    low: float
    high: float
    pivot: tuple[float, float]  # pixels of the output image
    tip: tuple[float, float]
    unit: str | None


def make_gauge(d: Dial) -> tuple[Image.Image, Truth]:
    s = SS
    img = Image.new("RGB", (d.size * s, d.size * s), d.background)
    draw = ImageDraw.Draw(img)
    cx, cy = d.centre[0] * s, d.centre[1] * s
    px, py = d.pivot[0] * s, d.pivot[1] * s
    r = d.radius * s
    if d.square:
        draw.rectangle([cx - r - 14 * s, cy - r - 14 * s, cx + r + 14 * s, cy + r + 14 * s], fill=(35, 35, 38))
        draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=d.face)
        reach = 1.55 * r  # the scale's radius round a corner pivot
    else:
        draw.ellipse([cx - r - 16 * s, cy - r - 16 * s, cx + r + 16 * s, cy + r + 16 * s], fill=(150, 150, 155))
        draw.ellipse([cx - r - 7 * s, cy - r - 7 * s, cx + r + 7 * s, cy + r + 7 * s], fill=(60, 60, 62))
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=d.face)
        reach = r
    for scale in [d.scale] + ([d.second] if d.second else []):
        _draw_scale(draw, scale, px, py, reach, s)
    if d.unit:
        uf = _font(round(0.09 * reach))
        ux, uy = (px, py + 0.42 * reach) if not d.square else (cx - 0.7 * r, cy - 0.75 * r)
        draw.text((ux, uy), d.unit, fill=(30, 30, 30), font=uf, anchor="mm")
    if d.caption:
        cf = _font(round(0.075 * reach))
        draw.text((px, py - d.caption_at * reach), d.caption, fill=(40, 40, 40), font=cf, anchor="mm")
    if d.screws:
        for sx, sy in ((px + 0.45 * reach, py + 0.3 * reach), (px - 0.35 * reach, py + 0.55 * reach)):
            sr = 0.045 * reach
            draw.ellipse([sx - sr, sy - sr, sx + sr, sy + sr], fill=(120, 120, 125), outline=(40, 40, 40), width=2 * s)
            draw.line([(sx - sr, sy), (sx + sr, sy)], fill=(40, 40, 40), width=3 * s)
    angle = d.scale.angle(d.value)
    tip = _draw_needle(draw, d, angle, px, py, reach, s)
    img = img.resize((d.size, d.size), Image.LANCZOS)
    if d.glare:
        img = _glare(img, d)
    if d.noise:
        rng = np.random.default_rng(7)
        arr = np.asarray(img).astype(np.float32) + rng.normal(0, d.noise, (d.size, d.size, 3))
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    pivot = d.pivot
    tip = (tip[0] / s, tip[1] / s)
    if d.tilt:
        img, (pivot, tip) = _tilt(img, d.tilt, [pivot, tip])
    img = img.filter(ImageFilter.GaussianBlur(0.6))
    return img, Truth(angle, d.value, d.scale.low, d.scale.high, pivot, tip, d.unit)


def _draw_scale(draw: ImageDraw.ImageDraw, sc: Scale, px: float, py: float, reach: float, s: int) -> None:
    outer = sc.radius * reach
    steps = round((sc.high - sc.low) / sc.major_step)
    font = _font(round(sc.number_size * reach))
    for k in range(steps * sc.minor_per_major + 1):
        value = sc.low + k * sc.major_step / sc.minor_per_major
        a = math.radians(sc.angle(value))
        major = k % sc.minor_per_major == 0
        inner = outer - (0.1 if major else 0.05) * reach
        width = (4 if major else 2) * s
        draw.line(
            [
                (px + inner * math.cos(a), py - inner * math.sin(a)),
                (px + outer * math.cos(a), py - outer * math.sin(a)),
            ],
            fill=sc.colour,
            width=width,
        )
        if major:
            text = sc.labels.get(value, f"{value:g}")
            nr = sc.number_radius * reach
            draw.text((px + nr * math.cos(a), py - nr * math.sin(a)), text, fill=sc.colour, font=font, anchor="mm")


def _draw_needle(
    draw: ImageDraw.ImageDraw, d: Dial, angle: float, px: float, py: float, reach: float, s: int
) -> tuple[float, float]:
    a = math.radians(angle)
    ux, uy = math.cos(a), -math.sin(a)
    nx, ny = -uy, ux
    length, tail = d.needle_length * reach, d.tail_length * reach
    w0, w1 = d.needle_width * s / 2, d.tip_width * s / 2
    tip = (px + length * ux, py + length * uy)
    back = (px - tail * ux, py - tail * uy)
    poly = [
        (back[0] + nx * w0, back[1] + ny * w0),
        (tip[0] + nx * w1, tip[1] + ny * w1),
        (tip[0] - nx * w1, tip[1] - ny * w1),
        (back[0] - nx * w0, back[1] - ny * w0),
    ]
    draw.polygon(poly, fill=d.needle_colour)
    if d.counterweight:
        cr = d.counterweight * reach
        c = (px - (tail - cr * 0.3) * ux, py - (tail - cr * 0.3) * uy)
        draw.ellipse([c[0] - cr, c[1] - cr, c[0] + cr, c[1] + cr], fill=d.needle_colour)
    hr = d.hub * reach
    draw.ellipse([px - hr, py - hr, px + hr, py + hr], fill=d.hub_colour)
    return tip


def _glare(img: Image.Image, d: Dial) -> Image.Image:
    """A soft bright reflection across part of the glass."""
    arr = np.asarray(img).astype(np.float32)
    yy, xx = np.mgrid[0 : d.size, 0 : d.size]
    gx, gy = d.centre[0] - 0.35 * d.radius, d.centre[1] - 0.3 * d.radius
    blob = np.exp(-(((xx - gx) / (0.5 * d.radius)) ** 2 + ((yy - gy) / (0.25 * d.radius)) ** 2))
    arr = arr + (255 - arr) * (0.75 * blob)[..., None]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _tilt(img: Image.Image, degrees: float, points: list[tuple[float, float]]):
    """The dial's plane turned about a horizontal axis through the image's centre, seen by a
    camera two image-widths away: foreshortened vertically, with a little perspective."""
    w, h = img.size
    hmat = _plane_homography(w, h, math.radians(degrees), 2.0 * w)
    out = cv2.warpPerspective(np.asarray(img), hmat, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    mapped = cv2.perspectiveTransform(np.array([points], np.float64), hmat)[0]
    return Image.fromarray(out), [tuple(map(float, p)) for p in mapped]


def _plane_homography(w: int, h: int, t: float, f: float) -> np.ndarray:
    """Image of the frontal picture after turning its plane by t about the horizontal axis."""
    c = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1]])  # to centred coordinates
    # a centred point (x, y) sits at (x, y, f) in camera space; turn it about the x axis round (0, 0, f)
    cos, sin = math.cos(t), math.sin(t)
    # projected: x' = f x / (f + y sin), y' = f y cos / (f + y sin)
    m = np.array([[f, 0, 0], [0, f * cos, 0], [0, sin, f]])
    return np.linalg.inv(c) @ m @ c


# One dial per way real gauges fool a needle finder (see issue 10).
BASE = Dial()
CASES: dict[str, Dial] = {
    "plain": BASE,
    "perspective": replace(BASE, value=3.7, tilt=38.0),
    "glare": replace(BASE, value=2.2, glare=True),
    "hub_cap": replace(BASE, value=8.1, hub=0.13, hub_colour=(190, 190, 195)),
    "counterweight": replace(BASE, value=9.1, needle_width=12, tip_width=1.5, tail_length=0.3, counterweight=0.09),
    "wide_needle": replace(BASE, value=4.5, needle_width=26, tip_width=8),
    "thin_needle": replace(BASE, value=7.3, needle_width=2.5, tip_width=1.2, needle_colour=(110, 110, 110), hub=0.03),
    "coloured_needle": replace(BASE, value=1.3, needle_colour=(235, 95, 30), needle_width=10),
    "screws": replace(BASE, value=5.6, screws=True),
    "panel_meter": replace(
        BASE,
        value=310,
        square=True,
        radius=230,
        pivot_offset=(150, 150),
        unit="V",
        scale=Scale(
            start=180.0,
            sweep=90.0,
            low=0,
            high=450,
            major_step=150,
            minor_per_major=10,
            radius=0.78,
            number_radius=0.9,
            number_size=0.07,
        ),
        needle_length=0.82,
        hub=0.04,
        tail_length=0.08,
    ),
    "non_linear": replace(
        BASE,
        value=120,
        square=True,
        radius=230,
        pivot_offset=(150, 150),
        unit="A",
        scale=Scale(
            start=180.0,
            sweep=90.0,
            low=0,
            high=200,
            major_step=50,
            minor_per_major=5,
            exponent=1.6,
            radius=0.78,
            number_radius=0.9,
            number_size=0.07,
        ),
        needle_length=0.82,
        hub=0.04,
        tail_length=0.08,
    ),
    "two_scales": replace(
        BASE,
        value=85,
        unit="psi",
        scale=Scale(
            low=0,
            high=200,
            major_step=20,
            minor_per_major=4,
            radius=0.9,
            number_radius=0.76,
            colour=(200, 30, 30),
            number_size=0.07,
        ),
        second=Scale(low=0, high=14, major_step=2, minor_per_major=2, radius=0.6, number_radius=0.43, number_size=0.07),
    ),
    "text_across": replace(BASE, value=5.2, caption="PRESSURE GAUGE", caption_at=0.25),
}

# Dials unlike any above, to check the tool generalises rather than fits the classes.
VARIATIONS: dict[str, Dial] = {
    "black_face": replace(
        BASE,
        value=3.3,
        face=(20, 20, 22),
        needle_colour=(250, 250, 250),
        hub_colour=(200, 200, 200),
        scale=replace(BASE.scale, colour=(240, 240, 240)),
    ),
    "counter_clockwise": replace(BASE, value=7.7, scale=replace(BASE.scale, direction="ccw", start=315.0)),
    "sweep_320": replace(
        BASE, value=11.2, scale=Scale(start=250, sweep=320, low=0, high=16, major_step=2, minor_per_major=4)
    ),
    "small_in_frame": replace(BASE, value=4.1, size=1400, centre=(900.0, 500.0), radius=200.0),
    "negative_numbers": replace(
        BASE, value=12.0, unit="°C", scale=Scale(low=-30, high=50, major_step=10, minor_per_major=5)
    ),
}
