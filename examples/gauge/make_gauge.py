"""Render examples/gauge/gauge.png: an analogue pressure gauge on a machine panel.

Deterministic (fixed noise seed, fonts from DejaVu): running it again gives the same picture.
The gauge is small in a large photo-like frame, so its numbers and small print only read after
a zoom. Prints the true reading and the geometry a reader needs.

    python3 examples/gauge/make_gauge.py [OUT.png]
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

WIDTH, HEIGHT = 2000, 1500
SUPERSAMPLE = 2  # drawn at twice the size, then reduced: smooth edges like a photo

CENTRE = (1340, 600)  # gauge centre, pixels
BEZEL_RADIUS = 400
DIAL_RADIUS = 350

VALUE_BAR = 6.4  # the reading the needle shows
SCALE_MAX_BAR = 10
ZERO_ANGLE = 225.0  # direction of 0 bar: 0 = right, 90 = up, counter-clockwise
SWEEP = 270.0  # clockwise from 0 bar to full scale
PSI_PER_BAR = 14.5038


def bar_to_angle(bar: float) -> float:
    """Needle direction for a pressure (0 = right, 90 = up, counter-clockwise); 10 bar is at -45 = 315."""
    return ZERO_ANGLE - SWEEP * bar / SCALE_MAX_BAR


def _font(size: float, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf", round(size))


def _polar(cx: float, cy: float, radius: float, angle_deg: float) -> tuple[float, float]:
    a = math.radians(angle_deg)
    return cx + radius * math.cos(a), cy - radius * math.sin(a)


def panel_background(rng: np.random.Generator) -> Image.Image:
    """Brushed, slightly uneven painted steel: horizontal streaks, a light fall-off, fine noise."""
    h, w = HEIGHT, WIDTH
    streaks = np.repeat(rng.normal(0, 1, (h, 1)) * 6, w, axis=1)
    grain = horizontal_blur(rng.normal(0, 1, (h, w)), 9) * 10
    yy, xx = np.mgrid[0:h, 0:w]
    light = 1.0 - 0.22 * (((xx - 0.65 * w) / w) ** 2 + ((yy - 0.35 * h) / h) ** 2)
    base = np.array([118, 128, 124], dtype=np.float64)  # industrial grey-green paint
    img = (base[None, None, :] * light[:, :, None]) + (streaks + grain)[:, :, None] + rng.normal(0, 3, (h, w, 1))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def horizontal_blur(a: np.ndarray, length: int) -> np.ndarray:
    """Horizontal box blur (brush marks) without needing OpenCV in an example script."""
    kernel = np.ones(length) / length
    return np.apply_along_axis(lambda row: np.convolve(row, kernel, mode="same"), 1, a)


def draw_panel_details(img: Image.Image) -> None:
    draw = ImageDraw.Draw(img)
    # name plate, bolted on
    plate = (150, 220, 800, 440)
    draw.rounded_rectangle(plate, 18, fill=(205, 205, 196), outline=(70, 70, 70), width=4)
    draw.text((205, 250), "PUMP STATION 2", font=_font(58, bold=True), fill=(30, 30, 30))
    draw.text((205, 330), "DISCHARGE LINE  P-204", font=_font(40), fill=(40, 40, 40))
    draw.text((205, 385), "max. working pressure 8 bar", font=_font(26), fill=(60, 60, 60))
    for x, y in (
        (plate[0] + 22, plate[1] + 22),
        (plate[2] - 22, plate[1] + 22),
        (plate[0] + 22, plate[3] - 22),
        (plate[2] - 22, plate[3] - 22),
    ):
        bolt(draw, x, y, 11)
    # a pipe running under the gauge, with the gauge's stem
    draw.rectangle((0, 1180, WIDTH, 1300), fill=(150, 152, 150))
    for y, shade in ((1180, 185), (1200, 170), (1270, 120), (1290, 100)):
        draw.rectangle((0, y, WIDTH, y + 10), fill=(shade, shade, shade))
    cx = CENTRE[0]
    draw.rectangle(
        (cx - 45, CENTRE[1] + BEZEL_RADIUS - 10, cx + 45, 1185), fill=(170, 140, 70), outline=(90, 70, 30), width=4
    )
    draw.polygon(
        [(cx - 75, 1120), (cx + 75, 1120), (cx + 60, 1185), (cx - 60, 1185)], fill=(150, 120, 60), outline=(80, 60, 25)
    )
    # panel bolts and a warning sticker
    for x, y in ((60, 60), (WIDTH - 60, 60), (60, HEIGHT - 60), (WIDTH - 60, HEIGHT - 60)):
        bolt(draw, x, y, 18)
    sticker = (230, 640, 520, 900)
    draw.rectangle(sticker, fill=(250, 205, 20), outline=(20, 20, 20), width=6)
    tri = [(375, 670), (300, 800), (450, 800)]
    draw.polygon(tri, outline=(20, 20, 20), width=10)
    draw.text((375, 780), "!", font=_font(80, bold=True), fill=(20, 20, 20), anchor="ms")
    draw.text((375, 860), "HIGH PRESSURE", font=_font(30, bold=True), fill=(20, 20, 20), anchor="ms")


def bolt(draw: ImageDraw.ImageDraw, x: float, y: float, r: float) -> None:
    draw.ellipse((x - r, y - r, x + r, y + r), fill=(165, 165, 160), outline=(60, 60, 60), width=3)
    draw.line((x - r * 0.6, y, x + r * 0.6, y), fill=(60, 60, 60), width=3)


def gauge_layer() -> Image.Image:
    """The gauge alone on a transparent layer, drawn at SUPERSAMPLE scale."""
    s = SUPERSAMPLE
    size = 2 * BEZEL_RADIUS * s + 40 * s
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    c = size / 2
    R, D = BEZEL_RADIUS * s, DIAL_RADIUS * s

    # chrome bezel: concentric rings from dark to light
    for i, shade in enumerate((70, 120, 170, 215, 235, 200, 150, 105)):
        r = R - i * (R - D) / 8
        draw.ellipse((c - r, c - r, c + r, c + r), fill=(shade, shade, shade + 4, 255))
    # dial face, a touch darker towards the rim
    for i in range(30):
        r = D - i * D / 30
        v = round(236 + 16 * i / 30)
        draw.ellipse((c - r, c - r, c + r, c + r), fill=(v, v, v - 3, 255))

    ink = (20, 20, 22, 255)
    tick_outer = D * 0.92
    for k in range(0, SCALE_MAX_BAR * 10 + 1, 2):  # every 0.2 bar; whole bars long and bold
        angle = bar_to_angle(k / 10)
        major = k % 10 == 0
        inner = tick_outer - (D * 0.11 if major else D * 0.055)
        draw.line(
            [_polar(c, c, inner, angle), _polar(c, c, tick_outer, angle)],
            fill=ink,
            width=round((7 if major else 3) * s),
        )
    # half-bar ticks a little longer, as real dials have
    for k in range(5, SCALE_MAX_BAR * 10, 10):
        angle = bar_to_angle(k / 10)
        draw.line(
            [_polar(c, c, tick_outer - D * 0.08, angle), _polar(c, c, tick_outer, angle)], fill=ink, width=round(4 * s)
        )
    # scale arc
    arc_r = tick_outer
    box = (c - arc_r, c - arc_r, c + arc_r, c + arc_r)
    draw.arc(box, start=-ZERO_ANGLE, end=-(ZERO_ANGLE - SWEEP), fill=ink, width=round(3 * s))
    # red zone above 8 bar (the plate's maximum working pressure)
    red_r = tick_outer + D * 0.035
    draw.arc(
        (c - red_r, c - red_r, c + red_r, c + red_r),
        start=-bar_to_angle(8),
        end=-bar_to_angle(10),
        fill=(200, 20, 20, 255),
        width=round(12 * s),
    )

    number_font = _font(D * 0.13, bold=True)
    for bar in range(SCALE_MAX_BAR + 1):
        x, y = _polar(c, c, D * 0.66, bar_to_angle(bar))
        draw.text((x, y), str(bar), font=number_font, fill=ink, anchor="mm")

    # inner psi scale in red: short ticks every 10 psi, numbers every 20 psi
    psi_red = (185, 25, 25, 255)
    psi_r = D * 0.45
    for psi in range(0, 146, 10):
        angle = bar_to_angle(psi / PSI_PER_BAR)
        draw.line(
            [_polar(c, c, psi_r, angle), _polar(c, c, psi_r + D * 0.05, angle)], fill=psi_red, width=round(2.5 * s)
        )
    draw.arc(
        (c - psi_r, c - psi_r, c + psi_r, c + psi_r),
        start=-ZERO_ANGLE,
        end=-bar_to_angle(145 / PSI_PER_BAR),
        fill=psi_red,
        width=round(2 * s),
    )
    psi_font = _font(D * 0.058)
    for psi in range(0, 141, 20):
        x, y = _polar(c, c, psi_r - D * 0.08, bar_to_angle(psi / PSI_PER_BAR))
        draw.text((x, y), str(psi), font=psi_font, fill=psi_red, anchor="mm")

    draw.text((c, c + D * 0.30), "bar", font=_font(D * 0.12, bold=True), fill=ink, anchor="mm")
    draw.text((c, c - D * 0.24), "psi", font=_font(D * 0.06), fill=psi_red, anchor="mm")
    small = _font(D * 0.042)
    draw.text((c, c + D * 0.47), "MANOMETRIX GmbH  ·  EN 837-1", font=small, fill=(60, 60, 60, 255), anchor="mm")
    draw.text((c, c + D * 0.55), "Cl. 1.6", font=small, fill=(60, 60, 60, 255), anchor="mm")
    draw.text((c, c + D * 0.63), "Ser. No. 24-08817", font=_font(D * 0.034), fill=(90, 90, 90, 255), anchor="mm")

    # needle: a red tapered pointer with a short counterweight tail
    angle = bar_to_angle(VALUE_BAR)
    tip = _polar(c, c, D * 0.86, angle)
    tail = _polar(c, c, D * 0.20, angle + 180)
    side_l = _polar(c, c, D * 0.028, angle + 90)
    side_r = _polar(c, c, D * 0.028, angle - 90)
    tail_l = _polar(tail[0], tail[1], D * 0.045, angle + 90)
    tail_r = _polar(tail[0], tail[1], D * 0.045, angle - 90)
    shadow = Image.new("RGBA", layer.size, (0, 0, 0, 0))
    sd = ImageDraw.Draw(shadow)
    offset = 6 * s
    sd.polygon([(x + offset, y + offset) for x, y in (tip, side_l, tail_l, tail_r, side_r)], fill=(0, 0, 0, 90))
    layer.alpha_composite(shadow.filter(ImageFilter.GaussianBlur(4 * s)))
    draw = ImageDraw.Draw(layer)
    draw.polygon([tip, side_l, tail_l, tail_r, side_r], fill=(205, 25, 25, 255))
    hub = D * 0.075
    draw.ellipse((c - hub, c - hub, c + hub, c + hub), fill=(35, 35, 35, 255))
    draw.ellipse((c - hub * 0.45, c - hub * 0.45, c + hub * 0.45, c + hub * 0.45), fill=(120, 120, 120, 255))

    # glass: a faint glare across the upper left of the dial
    glare = Image.new("L", layer.size, 0)
    gd = ImageDraw.Draw(glare)
    gd.ellipse((c - D * 0.95, c - D * 1.05, c + D * 0.35, c - D * 0.15), fill=38)
    glare = glare.filter(ImageFilter.GaussianBlur(30 * s))
    white = Image.new("RGBA", layer.size, (255, 255, 255, 0))
    white.putalpha(glare)
    mask = Image.new("L", layer.size, 0)
    ImageDraw.Draw(mask).ellipse((c - D, c - D, c + D, c + D), fill=255)
    white.putalpha(Image.fromarray(np.minimum(np.asarray(glare), np.asarray(mask))))
    layer.alpha_composite(white)
    return layer


def render() -> Image.Image:
    rng = np.random.default_rng(2024)
    img = panel_background(rng)
    draw_panel_details(img)
    layer = gauge_layer()
    small = layer.resize((layer.width // SUPERSAMPLE, layer.height // SUPERSAMPLE), Image.LANCZOS)
    top_left = (CENTRE[0] - small.width // 2, CENTRE[1] - small.height // 2)
    # soft shadow of the gauge body on the panel, light from the upper left
    shadow = Image.new("RGBA", img.size, (0, 0, 0, 0))
    ImageDraw.Draw(shadow).ellipse(
        (
            CENTRE[0] - BEZEL_RADIUS + 18,
            CENTRE[1] - BEZEL_RADIUS + 22,
            CENTRE[0] + BEZEL_RADIUS + 18,
            CENTRE[1] + BEZEL_RADIUS + 22,
        ),
        fill=(0, 0, 0, 110),
    )
    base = img.convert("RGBA")
    base.alpha_composite(shadow.filter(ImageFilter.GaussianBlur(16)))
    base.alpha_composite(small, top_left)
    photo = base.convert("RGB")
    # camera-like finish: a little blur and sensor noise
    photo = photo.filter(ImageFilter.GaussianBlur(0.6))
    noise = rng.normal(0, 2.5, (HEIGHT, WIDTH, 3))
    return Image.fromarray(np.clip(np.asarray(photo, dtype=np.float64) + noise, 0, 255).astype(np.uint8), "RGB")


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("gauge.png")
    render().save(out, optimize=True)
    cx, cy = CENTRE
    print(f"wrote {out} ({WIDTH}x{HEIGHT} px)")
    print(f"true reading: {VALUE_BAR} bar (needle direction {bar_to_angle(VALUE_BAR):.1f} deg)")
    print(f"gauge centre: pixels ({cx}, {cy}) = 0-1000 ({cx * 1000 / WIDTH:.1f}, {cy * 1000 / HEIGHT:.1f})")
    print(
        "bezel box 0-1000: x {:.1f}-{:.1f}, y {:.1f}-{:.1f}".format(
            (cx - BEZEL_RADIUS) * 1000 / WIDTH,
            (cx + BEZEL_RADIUS) * 1000 / WIDTH,
            (cy - BEZEL_RADIUS) * 1000 / HEIGHT,
            (cy + BEZEL_RADIUS) * 1000 / HEIGHT,
        )
    )
    print(
        f"calibration: 0 bar at {bar_to_angle(0):.0f} deg, 10 bar at {bar_to_angle(10) % 360:.0f} deg (= {bar_to_angle(10):.0f}); "
        f"bar = ({ZERO_ANGLE:.0f} - angle) / {SWEEP / SCALE_MAX_BAR:.0f}"
    )


if __name__ == "__main__":
    main()
