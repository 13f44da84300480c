"""The vision tools on synthetic images with known pixels: what they make, and how it maps back."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tools.images import ImageStore
from tools.registry import Toolbox, ToolContext
from tools.vision import TOOLS as VIEW_TOOLS
from tools.vision_cv import TOOLS as CV_TOOLS
from tools.vision_draw import TOOLS as DRAW_TOOLS

# 1000x800 white canvas with four squares at known pixel boxes
SQUARES = {
    "red": ((100, 80, 300, 240), (220, 20, 20)),
    "green": ((600, 80, 750, 200), (20, 160, 40)),
    "blue": ((150, 500, 350, 700), (30, 40, 200)),
    "black": ((700, 480, 900, 760), (0, 0, 0)),
}


@pytest.fixture
def ctx(tmp_path):
    return ToolContext(images=ImageStore(tmp_path / "images"), home=tmp_path / "home")


@pytest.fixture
def box():
    return Toolbox(VIEW_TOOLS + DRAW_TOOLS + CV_TOOLS)


def add(ctx, img: Image.Image, tmp_path_name: str = "input.png") -> str:
    path = ctx.images.folder.parent / tmp_path_name
    img.save(path)
    return ctx.images.add_input(path).id


def squares_image() -> Image.Image:
    img = Image.new("RGB", (1000, 800), "white")
    draw = ImageDraw.Draw(img)
    for (x0, y0, x1, y1), colour in SQUARES.values():
        draw.rectangle([x0, y0, x1 - 1, y1 - 1], fill=colour)
    return img


def norm(box_px, size=(1000, 800)):
    x0, y0, x1, y1 = box_px
    w, h = size
    return {"x_min": x0 * 1000 / w, "y_min": y0 * 1000 / h, "x_max": x1 * 1000 / w, "y_max": y1 * 1000 / h}


def ok(box, ctx, name, **args):
    out = box.call(name, args, ctx)
    assert not out.is_error, out.text
    return out


def pixels(ctx, image_id) -> np.ndarray:
    return np.asarray(ctx.images.get(image_id).convert("RGB")).astype(int)


# -- zoom ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SQUARES))
def test_zoom_on_a_square_is_all_that_colour_and_maps_back_to_its_box(ctx, box, name):
    src = add(ctx, squares_image())
    square, colour = SQUARES[name]
    out = ok(box, ctx, "zoom", image=src, **norm(square))
    new = out.image_ids[0]
    rec = ctx.images.record(new)
    assert f"{new} ({rec.width}x{rec.height} px)" in out.text
    assert (pixels(ctx, new) == np.array(colour)).all()
    assert max(rec.width, rec.height) >= 1000  # enlarged towards ~1024 px
    root, mapped = ctx.images.map_box(new, (0, 0, rec.width, rec.height))
    assert root == src
    assert all(abs(a - b) <= 1 for a, b in zip(mapped, square)), mapped


def test_zoom_size_rules(ctx, box):
    src = add(ctx, Image.new("RGB", (4000, 3000), "gray"))
    tiny = ctx.images.record(ok(box, ctx, "zoom", image=src, x_min=0, y_min=0, x_max=10, y_max=10).image_ids[0])
    assert (tiny.width, tiny.height) == (320, 240)  # 40x30 crop: at most 8x
    huge = ctx.images.record(ok(box, ctx, "zoom", image=src, x_min=0, y_min=0, x_max=1000, y_max=1000).image_ids[0])
    assert (huge.width, huge.height) == (2048, 1536)  # longest side capped at 2048
    same = ctx.images.record(ok(box, ctx, "zoom", image=src, x_min=0, y_min=0, x_max=300, y_max=400).image_ids[0])
    assert (same.width, same.height) == (1200, 1200)  # already 1024-2048: kept at native size


def test_zoom_of_a_zoom_maps_to_the_original(ctx, box):
    src = add(ctx, squares_image())
    first = ok(box, ctx, "zoom", image=src, x_min=500, y_min=0, x_max=1000, y_max=500).image_ids[0]
    # the green square in the first zoom's coordinates: x 600-750 of 500-1000 px, y 80-200 of 0-400 px
    second = ok(box, ctx, "zoom", image=first, x_min=200, y_min=200, x_max=500, y_max=500).image_ids[0]
    rec = ctx.images.record(second)
    # the first zoom's 2.048x scale puts the square's edges inside pixels, so only a border band may blend (and ring, from the first resampling)
    inner = pixels(ctx, second)[rec.height // 20 : -rec.height // 20, rec.width // 20 : -rec.width // 20]
    assert (inner == np.array(SQUARES["green"][1])).all()
    _, mapped = ctx.images.map_box(second, (0, 0, rec.width, rec.height))
    assert all(abs(a - b) <= 1 for a, b in zip(mapped, SQUARES["green"][0])), mapped


# -- rotate and flip ------------------------------------------------------------------------


def test_rotate_90_turns_counter_clockwise_and_points_map_back(ctx, box):
    src = add(ctx, squares_image())
    out = ok(box, ctx, "rotate", image=src, degrees=90)
    new = out.image_ids[0]
    rec = ctx.images.record(new)
    assert (rec.width, rec.height) == (800, 1000)
    assert (pixels(ctx, new) == np.rot90(pixels(ctx, src))).all()  # numpy rot90 is counter-clockwise too
    # the red square's centre (200, 160) lands at (160, 1000 - 200) after a quarter turn left
    assert tuple(pixels(ctx, new)[800 - 1, 160]) == SQUARES["red"][1]
    _, [(x, y)] = ctx.images.map_points(new, [(160.5, 799.5)])
    assert (x, y) == pytest.approx((200.5, 160.5))
    _, mapped = ctx.images.map_box(new, (0, 0, 800, 1000))
    assert mapped == pytest.approx((0, 0, 1000, 800))


def test_rotate_any_angle_expands_the_canvas_and_maps_a_marked_point(ctx, box):
    img = Image.new("RGB", (400, 300), "white")
    ImageDraw.Draw(img).ellipse([300 - 6, 60 - 6, 300 + 6, 60 + 6], fill=(255, 0, 0))
    src = add(ctx, img)
    new = ok(box, ctx, "rotate", image=src, degrees=30).image_ids[0]
    rec = ctx.images.record(new)
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    assert (rec.width, rec.height) == (math.ceil(400 * c + 300 * s), math.ceil(400 * s + 300 * c))
    red = pixels(ctx, new)
    ys, xs = np.nonzero((red[:, :, 0] > 200) & (red[:, :, 1] < 80))
    centre = (xs.mean() + 0.5, ys.mean() + 0.5)
    _, [(x, y)] = ctx.images.map_points(new, [centre])
    assert math.hypot(x - 300, y - 60) < 1.0
    # and the other way: the original corner (0, 0) is a canvas corner region painted from the image
    _, corners = ctx.images.map_box(new, (0, 0, rec.width, rec.height))
    assert corners[0] < 0 and corners[2] > 400  # the expanded canvas covers more than the original


@pytest.mark.parametrize("direction", ["horizontal", "vertical"])
def test_flip_mirrors_pixels_and_maps_back(ctx, box, direction):
    src = add(ctx, squares_image())
    new = ok(box, ctx, "flip", image=src, direction=direction).image_ids[0]
    axis = 1 if direction == "horizontal" else 0
    assert (pixels(ctx, new) == np.flip(pixels(ctx, src), axis=axis)).all()
    x0, y0, x1, y1 = SQUARES["red"][0]
    flipped = (1000 - x1, y0, 1000 - x0, y1) if direction == "horizontal" else (x0, 800 - y1, x1, 800 - y0)
    _, mapped = ctx.images.map_box(new, flipped)
    assert mapped == pytest.approx(SQUARES["red"][0])


# -- enhance --------------------------------------------------------------------------------


def test_enhance_threshold_otsu_makes_two_levels_and_grayscale_is_one_channel(ctx, box):
    src = add(ctx, squares_image())
    out = ok(box, ctx, "enhance", image=src, operation="threshold")
    arr = pixels(ctx, out.image_ids[0])
    assert set(np.unique(arr)) == {0, 255}
    assert "Otsu" in out.text
    assert (arr[160, 200] == 0).all() and (arr[10, 10] == 255).all()
    gray = ctx.images.get(ok(box, ctx, "enhance", image=src, operation="grayscale").image_ids[0])
    assert gray.mode == "L"


def test_enhance_contrast_spreads_values_and_clahe_keeps_size(ctx, box):
    flat = Image.new("L", (200, 100), 120)
    ImageDraw.Draw(flat).rectangle([50, 20, 150, 80], fill=136)
    src = add(ctx, flat)
    out = ok(box, ctx, "enhance", image=src, operation="contrast", amount=3)
    arr = np.asarray(ctx.images.get(out.image_ids[0]).convert("L")).astype(int)
    assert arr[50, 100] - arr[5, 5] > 16 * 2  # the 16-level step is at least doubled
    clahe = ctx.images.record(ok(box, ctx, "enhance", image=src, operation="clahe").image_ids[0])
    assert (clahe.width, clahe.height) == (200, 100)
    assert ctx.images.map_box(clahe.id, (0, 0, 200, 100))[1] == (0, 0, 200, 100)


def test_enhance_amount_out_of_range_is_a_tool_error(ctx, box):
    src = add(ctx, squares_image())
    out = box.call("enhance", {"image": src, "operation": "threshold", "amount": 300}, ctx)
    assert out.is_error and "0 to 255" in out.text
    out = box.call("enhance", {"image": src, "operation": "blur"}, ctx)
    assert out.is_error and "operation" in out.text


# -- annotate and grid -----------------------------------------------------------------------


def test_annotated_box_lands_on_the_box_edges_only(ctx, box):
    src = add(ctx, Image.new("RGB", (1000, 800), "white"))
    region = (200, 160, 600, 480)
    new = ok(box, ctx, "annotate", image=src, shapes=[{"kind": "box", **norm(region), "color": "red"}]).image_ids[0]
    arr = pixels(ctx, new)
    red = (arr[:, :, 0] > 200) & (arr[:, :, 1] < 60) & (arr[:, :, 2] < 60)
    ys, xs = np.nonzero(red)
    assert xs.min() >= 200 - 1 and xs.max() <= 600 and ys.min() >= 160 - 1 and ys.max() <= 480
    # all four edges are drawn, the inside is untouched
    assert red[320, 200:206].any() and red[320, 594:600].any() and red[160:166, 400].any() and red[474:480, 400].any()
    assert not red[200:440, 240:560].any()
    assert (pixels(ctx, src) == 255).all()  # the original is not drawn on


def test_annotate_default_colour_stands_out_and_labels_markers_arrows_draw(ctx, box):
    img = Image.new("RGB", (800, 600), (230, 20, 20))  # red background: red must not be chosen
    src = add(ctx, img)
    shapes = [
        {"kind": "box", "x_min": 100, "y_min": 100, "x_max": 400, "y_max": 400, "label": "part A"},
        {"kind": "marker", "x": 700, "y": 700},
        {"kind": "arrow", "x1": 500, "y1": 500, "x2": 900, "y2": 900},
        {"kind": "circle", "x": 500, "y": 200, "radius": 50},
        {"kind": "point", "x": 300, "y": 800},
        {"kind": "line", "x1": 0, "y1": 950, "x2": 1000, "y2": 950, "color": "#00ff00"},
        {"kind": "label", "x": 600, "y": 50, "label": "note"},
    ]
    out = ok(box, ctx, "annotate", image=src, shapes=shapes)
    assert "7 shape(s)" in out.text and "in red" not in out.text.split("line")[0]
    arr = pixels(ctx, out.image_ids[0])
    changed = np.abs(arr - np.array([230, 20, 20])).sum(axis=2) > 60
    assert changed[int(0.95 * 600) - 1 : int(0.95 * 600) + 2, :].mean() > 0.9  # the green line spans the width
    assert changed[int(0.7 * 600), int(0.7 * 800)]  # marker centre
    assert (arr[int(0.95 * 600), 400] == [0, 255, 0]).all()


def test_annotate_rejects_bad_shapes_as_errors(ctx, box):
    src = add(ctx, squares_image())
    bad = box.call(
        "annotate",
        {"image": src, "shapes": [{"kind": "box", "x_min": 500, "y_min": 0, "x_max": 400, "y_max": 10}]},
        ctx,
    )
    assert bad.is_error and "x_min < x_max" in bad.text
    bad = box.call("annotate", {"image": src, "shapes": [{"kind": "star", "x": 5, "y": 5}]}, ctx)
    assert bad.is_error and "kind" in bad.text
    bad = box.call("annotate", {"image": src, "shapes": [{"kind": "point", "x": 5, "y": 5, "color": "blurple"}]}, ctx)
    assert bad.is_error and "blurple" in bad.text


def test_grid_draws_labelled_lines_at_each_step(ctx, box):
    src = add(ctx, Image.new("RGB", (1000, 500), "white"))
    out = ok(box, ctx, "grid", image=src, step=250)
    arr = pixels(ctx, out.image_ids[0])
    marked = np.abs(arr - 255).sum(axis=2) > 30
    for x in (250, 500, 750):  # vertical lines (away from the label row)
        assert marked[300, x - 1 : x + 2].any()
    for y in (125, 250, 375):
        assert marked[y - 1 : y + 2, 600].any()
    assert not marked[300, 300:450].any()  # between lines nothing is drawn


# -- measure and view ---------------------------------------------------------------------------


def test_measure_gives_exact_distances_and_angles(ctx, box):
    src = add(ctx, Image.new("RGB", (1000, 500), "white"))
    # (100,400) -> (400,400) -> (400,0) in pixels: 300 px right, then 400 px up
    out = ok(box, ctx, "measure", image=src, points=[{"x": 100, "y": 800}, {"x": 400, "y": 800}, {"x": 400, "y": 0}])
    assert "300.0 px" in out.text and "400.0 px" in out.text
    assert "direction 0.0 deg" in out.text and "direction 90.0 deg" in out.text
    assert "angle at point 2 between the two segments: 90.0 deg" in out.text
    diag = ok(box, ctx, "measure", image=src, points=[{"x": 0, "y": 1000}, {"x": 300, "y": 200}])
    assert "500.0 px" in diag.text and f"direction {math.degrees(math.atan2(400, 300)):.1f} deg" in diag.text
    assert not out.image_ids


def test_measure_on_a_zoom_reports_original_pixels_too(ctx, box):
    src = add(ctx, Image.new("RGB", (4000, 3000), "white"))
    zoomed = ok(box, ctx, "zoom", image=src, x_min=0, y_min=0, x_max=100, y_max=100).image_ids[0]  # 400x300 -> 1024x768
    out = ok(box, ctx, "measure", image=zoomed, points=[{"x": 0, "y": 500}, {"x": 1000, "y": 500}])
    assert "1024.0 px in img2" in out.text and "400.0 px in the original img1" in out.text


def test_view_returns_an_earlier_image(ctx, box):
    src = add(ctx, squares_image())
    out = ok(box, ctx, "view", image=src)
    assert out.image_ids == [src] and "1000x800" in out.text


# -- OpenCV helpers ------------------------------------------------------------------------------


def test_count_blobs_counts_the_squares_and_boxes_them(ctx, box):
    src = add(ctx, squares_image())
    out = ok(box, ctx, "count_blobs", image=src)
    assert out.text.startswith("counted 4 dark blob(s)")
    assert "1: x 100-300, y 100-300" in out.text  # red square: 100-300 px wide, 80-240 px of 800 tall
    light = ok(box, ctx, "count_blobs", image=src, polarity="light", max_area=800_000)  # the background itself
    assert light.text.startswith("counted 1 light blob(s)")


def test_count_blobs_respects_area_limits(ctx, box):
    img = Image.new("L", (400, 400), 255)
    draw = ImageDraw.Draw(img)
    for i in range(5):
        draw.rectangle([20 + 70 * i, 20, 20 + 70 * i + 9, 29], fill=0)  # 100 px dots
    draw.rectangle([20, 200, 219, 299], fill=0)  # one big 20000 px blob
    src = add(ctx, img)
    assert ok(box, ctx, "count_blobs", image=src).text.startswith("counted 6 ")
    assert ok(box, ctx, "count_blobs", image=src, max_area=1000).text.startswith("counted 5 ")
    assert ok(box, ctx, "count_blobs", image=src, min_area=1000).text.startswith("counted 1 ")


def test_find_circles_finds_a_drawn_circle_centre(ctx, box):
    img = Image.new("RGB", (1200, 900), (245, 245, 245))
    ImageDraw.Draw(img).ellipse([700 - 180, 380 - 180, 700 + 180, 380 + 180], outline=(20, 20, 20), width=8)
    src = add(ctx, img)
    out = ok(box, ctx, "find_circles", image=src)
    first = out.text.splitlines()[1]
    px = first.split("pixels (")[1]
    x, y = (float(v) for v in px.split(")")[0].split(","))
    r = float(px.split(" r ")[1])
    assert math.hypot(x - 700, y - 380) <= 4 and abs(r - 180) <= 8, first
    assert out.image_ids


def needle_image(angle_deg: float, centre=(420, 330), length=260) -> Image.Image:
    """A dial: ring, ticks at the rim, a tapered needle from a hub."""
    img = Image.new("RGB", (800, 640), "white")
    draw = ImageDraw.Draw(img)
    cx, cy = centre
    draw.ellipse([cx - 300, cy - 300, cx + 300, cy + 300], outline="black", width=6)
    for k in range(0, 360, 15):
        a = math.radians(k)
        draw.line(
            [(cx + 265 * math.cos(a), cy - 265 * math.sin(a)), (cx + 290 * math.cos(a), cy - 290 * math.sin(a))],
            fill="black",
            width=4,
        )
    a = math.radians(angle_deg)
    tip = (cx + length * math.cos(a), cy - length * math.sin(a))
    side = math.radians(angle_deg + 90)
    left = (cx + 9 * math.cos(side), cy - 9 * math.sin(side))
    right = (cx - 9 * math.cos(side), cy + 9 * math.sin(side))
    draw.polygon([tip, left, right], fill=(200, 20, 20))
    draw.ellipse([cx - 15, cy - 15, cx + 15, cy + 15], fill="black")
    return img


@pytest.mark.parametrize("angle", [52.2, 140.0, 233.0, 300.5])
def test_find_lines_needle_mode_finds_the_needle_angle(ctx, box, angle):
    src = add(ctx, needle_image(angle))
    out = ok(box, ctx, "find_lines", image=src, mode="needle", centre_x=420 / 800 * 1000, centre_y=330 / 640 * 1000)
    found = float(out.text.split("direction ")[1].split(" deg")[0])
    assert abs((found - angle + 180) % 360 - 180) <= 2, out.text
    auto = ok(box, ctx, "find_lines", image=src, mode="needle")  # centre from the dial circle
    found = float(auto.text.split("direction ")[1].split(" deg")[0])
    assert abs((found - angle + 180) % 360 - 180) <= 2, auto.text


def test_find_lines_segments_mode_lists_the_longest_lines(ctx, box):
    img = Image.new("RGB", (600, 400), "white")
    ImageDraw.Draw(img).line([(50, 300), (550, 300)], fill="black", width=5)
    src = add(ctx, img)
    out = ok(box, ctx, "find_lines", image=src)
    line1 = out.text.splitlines()[1]
    assert "direction 0.0 deg" in line1 or "direction 180.0" in line1 or "179." in line1, line1


# -- validation: errors come back to the model, never raise -------------------------------------------


@pytest.mark.parametrize(
    "name,args,needle",
    [
        ("zoom", {"x_min": -5, "y_min": 0, "x_max": 100, "y_max": 100}, "x_min"),
        ("zoom", {"x_min": 0, "y_min": 0, "x_max": 1001, "y_max": 100}, "x_max"),
        ("zoom", {"x_min": 500, "y_min": 0, "x_max": 500, "y_max": 100}, "x_min (500) must be less than x_max (500)"),
        ("zoom", {"x_min": 0, "y_min": 600, "x_max": 100, "y_max": 100}, "y_min (600) must be less than y_max (100)"),
        ("zoom", {"x_min": 0, "y_min": 0, "x_max": 100}, "y_max"),
        ("rotate", {"degrees": "a lot"}, "degrees"),
        ("flip", {"direction": "diagonal"}, "direction"),
        ("measure", {"points": [{"x": 1, "y": 1}]}, "points"),
        ("find_lines", {"mode": "needle", "centre_x": 500}, "both centre_x and centre_y"),
        ("find_circles", {"min_radius": 300, "max_radius": 100}, "min_radius"),
        ("grid", {"step": 5}, "step"),
    ],
)
def test_bad_arguments_are_error_results(ctx, box, name, args, needle):
    src = add(ctx, squares_image())
    out = box.call(name, {"image": src, **args}, ctx)
    assert out.is_error and needle in out.text, out.text


@pytest.mark.parametrize(
    "name",
    [
        "zoom",
        "rotate",
        "flip",
        "enhance",
        "annotate",
        "grid",
        "measure",
        "view",
        "find_circles",
        "find_lines",
        "count_blobs",
    ],
)
def test_unknown_image_id_is_an_error_result_naming_the_known_ids(ctx, box, name):
    add(ctx, squares_image())
    args = {
        "zoom": {"x_min": 0, "y_min": 0, "x_max": 10, "y_max": 10},
        "rotate": {"degrees": 10},
        "flip": {"direction": "vertical"},
        "enhance": {"operation": "equalize"},
        "annotate": {"shapes": [{"kind": "point", "x": 1, "y": 1}]},
        "measure": {"points": [{"x": 1, "y": 1}, {"x": 2, "y": 2}]},
    }.get(name, {})
    out = box.call(name, {"image": "img9", **args}, ctx)
    assert out.is_error and "unknown image id 'img9'" in out.text and "img1" in out.text, out.text


def test_schemas_name_the_fields_with_their_bounds():
    specs = {s["name"]: s for s in Toolbox(VIEW_TOOLS + DRAW_TOOLS + CV_TOOLS).specs()}
    assert set(specs) == {
        "zoom",
        "rotate",
        "flip",
        "enhance",
        "annotate",
        "grid",
        "measure",
        "view",
        "find_circles",
        "find_lines",
        "count_blobs",
    }
    zoom = specs["zoom"]["parameters"]
    assert zoom["required"] == ["image", "x_min", "y_min", "x_max", "y_max"]
    for field in ("x_min", "y_min", "x_max", "y_max"):
        assert zoom["properties"][field]["minimum"] == 0 and zoom["properties"][field]["maximum"] == 1000
    assert set(specs["enhance"]["parameters"]["properties"]["operation"]["enum"]) == {
        "contrast",
        "brightness",
        "sharpen",
        "grayscale",
        "threshold",
        "equalize",
        "clahe",
    }
    annotate = specs["annotate"]["parameters"]
    kinds = {
        d["properties"]["kind"].get("const") or tuple(d["properties"]["kind"].get("enum", []))
        for d in annotate["$defs"].values()
    }
    assert {"box", "point", "circle", "marker", "label", ("line", "arrow")} <= kinds
    assert all(s["description"] for s in specs.values())


# -- image modes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "I;16", "1", "CMYK"])
def test_every_tool_works_on_unusual_image_modes(ctx, box, mode):
    base = squares_image()
    if mode == "I;16":
        arr = np.asarray(base.convert("L")).astype(np.uint16) * 257
        img = Image.fromarray(arr)
    elif mode == "P":
        img = base.convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    else:
        img = base.convert(mode)
    src = add(ctx, img, f"input-{mode.replace(';', '')}.{'jpg' if mode == 'CMYK' else 'png'}")
    calls = [
        ("zoom", {"x_min": 100, "y_min": 100, "x_max": 300, "y_max": 300}),
        ("rotate", {"degrees": 15}),
        ("flip", {"direction": "horizontal"}),
        ("enhance", {"operation": "clahe"}),
        ("enhance", {"operation": "sharpen"}),
        (
            "annotate",
            {"shapes": [{"kind": "box", "x_min": 100, "y_min": 100, "x_max": 300, "y_max": 300, "label": "x"}]},
        ),
        ("grid", {}),
        ("find_circles", {}),
        ("find_lines", {}),
        ("count_blobs", {}),
    ]
    for name, args in calls:
        ok(box, ctx, name, image=src, **args)
    zoomed = ok(box, ctx, "zoom", image=src, **norm(SQUARES["black"][0])).image_ids[0]
    assert (
        pixels(ctx, zoomed).max() < 30
    )  # the black square stays black whatever the mode (16-bit is not clipped to white)


def test_sixteen_bit_levels_are_scaled_not_clipped(ctx, box):
    arr = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (64, 1))
    src = add(ctx, Image.fromarray(arr))
    zoomed = ok(box, ctx, "zoom", image=src, x_min=0, y_min=0, x_max=1000, y_max=1000).image_ids[0]
    row = np.asarray(ctx.images.get(zoomed).convert("L")).astype(int)[10]
    assert row[0] < 5 and row[-1] > 250 and abs(row[len(row) // 2] - 128) < 8


def test_views_of_a_photo_stay_jpeg_but_drawings_and_thresholds_are_lossless(ctx, box):
    src = add(ctx, squares_image(), "photo.jpg")
    zoomed = ok(box, ctx, "zoom", image=src, x_min=0, y_min=0, x_max=500, y_max=500).image_ids[0]
    drawn = ok(box, ctx, "annotate", image=zoomed, shapes=[{"kind": "point", "x": 10, "y": 10}]).image_ids[0]
    binary = ok(box, ctx, "enhance", image=zoomed, operation="threshold").image_ids[0]
    assert ctx.images.path(zoomed).suffix == ".jpg"
    assert ctx.images.path(drawn).suffix == ".png" and ctx.images.path(binary).suffix == ".png"
    png_src = add(ctx, squares_image(), "drawing.png")
    assert (
        ctx.images.path(ok(box, ctx, "zoom", image=png_src, x_min=0, y_min=0, x_max=500, y_max=500).image_ids[0]).suffix
        == ".png"
    )
