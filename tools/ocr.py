"""Reading printed text in images: `read_text_in_image`, and the OCR engine read_gauge shares.

The engine is RapidOCR (PaddleOCR's PP-OCR detection and recognition models, run by ONNX
Runtime). Its models ship inside the `rapidocr` wheel, so nothing is downloaded at run time; they
are loaded on first use and kept for the life of the process (loading takes ~0.1 s, importing
the package ~1.5 s, so a run that never reads text never pays for it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
from PIL import ImageDraw

from tools.registry import ToolContext, ToolError, ToolOutput, tool
from tools.vision_common import (
    ImageId,
    Norm,
    check_box,
    contrasting_colour,
    draw_label,
    fetch,
    font_size,
    new_image_line,
    pixel_box,
    rgb,
    stroke_width,
    to_norm,
)

MIN_CONFIDENCE = 0.5
MAX_LISTED = 80


@dataclass
class TextLine:
    text: str
    confidence: float
    quad: list[tuple[float, float]]  # the detected box's four corners, pixels of the image read

    @property
    def box(self) -> tuple[float, float, float, float]:
        xs, ys = [p[0] for p in self.quad], [p[1] for p in self.quad]
        return min(xs), min(ys), max(xs), max(ys)

    def words(self) -> list[tuple[str, tuple[float, float, float, float]]]:
        """Each word with its share of the line's box, split in proportion to its characters
        (the recogniser reads a line at a time; this places "PRESSURE GAUGE 10"'s 10 at its end)."""
        tokens = self.text.split()
        if len(tokens) <= 1:
            return [(self.text.strip(), self.box)]
        (x0, y0), (x1, y1) = self.quad[0], self.quad[1]  # the top edge runs along the text
        (x3, y3) = self.quad[3]
        total = len(self.text)
        out, at = [], 0
        for token in tokens:
            start = self.text.index(token, at)
            end = start + len(token)
            at = end
            pts = []
            for f in (start / total, end / total):
                tx, ty = x0 + f * (x1 - x0), y0 + f * (y1 - y0)
                pts += [(tx, ty), (tx + x3 - x0, ty + y3 - y0)]
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            out.append((token, (min(xs), min(ys), max(xs), max(ys))))
        return out


class OcrUnavailable(RuntimeError):
    """The OCR engine could not be loaded (package missing or broken)."""


_engine = None
_engine_lock = threading.Lock()


def _load_engine():
    global _engine
    with _engine_lock:
        if _engine is None:
            try:
                import rapidocr
                from rapidocr import RapidOCR
            except ImportError as exc:  # pragma: no cover - a broken install
                raise OcrUnavailable(f"the OCR engine is not installed ({exc}); reinstall with `make setup`") from None
            models = Path(rapidocr.__file__).parent / "models"
            paths = {
                "Det.model_path": models / "PP-OCRv6_det_small.onnx",
                "Rec.model_path": models / "PP-OCRv6_rec_small.onnx",
                "Cls.model_path": models / "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
            }
            missing = [str(p) for p in paths.values() if not p.is_file()]
            if missing:
                # never let the engine fetch models itself: runs must work offline
                raise OcrUnavailable(f"the OCR models that ship with rapidocr are missing: {', '.join(missing)}")
            _engine = RapidOCR(
                params={
                    **{k: str(v) for k, v in paths.items()},
                    "Global.log_level": "error",
                    "Global.use_cls": False,  # dials and labels are upright or turned less than 90 degrees
                    # detection runs at the size it is given (callers choose it); the default
                    # enlarges every image to 736 px on its shorter side, which triples the time
                    "Det.limit_type": "max",
                    "Det.limit_side_len": 2000,
                    # One thread per call: on a 2-core machine running batch jobs side by side,
                    # more threads only spin against each other (measured: twice the CPU time
                    # for the same wall time under load).
                    "EngineConfig.onnxruntime.intra_op_num_threads": 1,
                    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                }
            )
        return _engine


def detect_text(rgb_pixels: np.ndarray, side: int = 960) -> list[list[tuple[float, float]]]:
    """The four corners of every text line in an RGB array (its pixels), found at about `side` px."""
    engine = _load_engine()
    h, w = rgb_pixels.shape[:2]
    scale = side / max(h, w)
    small = cv2.resize(
        rgb_pixels,
        (max(1, round(w * scale)), max(1, round(h * scale))),
        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC,
    )
    with _engine_lock:  # one ONNX session; calls from threads take turns
        # the engine remembers these switches between calls, so every call sets all three
        found = engine(
            cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2BGR), use_det=True, use_cls=False, use_rec=False
        )
    if found.boxes is None:
        return []
    return [[(float(x) / scale, float(y) / scale) for x, y in quad] for quad in found.boxes]


def recognise(
    rgb_pixels: np.ndarray, quads: list[list[tuple[float, float]]], min_confidence: float = MIN_CONFIDENCE
) -> list[TextLine]:
    """The text in each quad (corners in reading order: top-left, top-right, bottom-right, bottom-left)."""
    engine = _load_engine()
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb_pixels), cv2.COLOR_RGB2BGR)
    lines = []
    for quad in quads:
        pts = np.array(quad, np.float32)
        width = max(2, round(max(np.linalg.norm(pts[1] - pts[0]), np.linalg.norm(pts[2] - pts[3]))))
        height = max(2, round(max(np.linalg.norm(pts[3] - pts[0]), np.linalg.norm(pts[2] - pts[1]))))
        target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
        crop = cv2.warpPerspective(
            bgr,
            cv2.getPerspectiveTransform(pts, target),
            (width, height),
            flags=cv2.INTER_CUBIC,
            borderMode=cv2.BORDER_REPLICATE,
        )
        if height > 1.5 * width:  # a vertical line of text: read it turned upright
            crop = np.rot90(crop)
        with _engine_lock:
            result = engine(np.ascontiguousarray(crop), use_det=False, use_cls=False, use_rec=True)
        if not result.txts:
            continue
        text, score = result.txts[0].strip(), float(result.scores[0])
        if text and score >= min_confidence:
            lines.append(TextLine(text, score, [(float(x), float(y)) for x, y in quad]))
    return lines


def read_text(rgb_pixels: np.ndarray, min_confidence: float = MIN_CONFIDENCE) -> list[TextLine]:
    """Lines of text in an RGB array, in reading order, with pixel boxes of that array."""
    h, w = rgb_pixels.shape[:2]
    side = min(1600, max(640, max(h, w)))  # small crops are enlarged so their print is big enough to find
    lines = recognise(rgb_pixels, detect_text(rgb_pixels, side), min_confidence)
    lines.sort(key=lambda t: (round(t.box[1] / max(8.0, t.box[3] - t.box[1])), t.box[0]))
    return lines


def read_text_in_image(
    ctx: ToolContext,
    image: ImageId,
    x_min: Annotated[float, Norm("Optional: read only this region; left edge, 0-1000 of the width.")] = 0,
    y_min: Annotated[float, Norm("Top edge, 0-1000 of the height.")] = 0,
    x_max: Annotated[float, Norm("Right edge, 0-1000 of the width.")] = 1000,
    y_max: Annotated[float, Norm("Bottom edge, 0-1000 of the height.")] = 1000,
) -> ToolOutput:
    """Read printed text (OCR): every line and word with its box in 0-1000 coordinates of the image and a
    confidence, numbered on an annotated copy. Check small or doubtful text by zooming on its box."""
    check_box(x_min, y_min, x_max, y_max)
    rec, img = fetch(ctx, image)
    left, top, right, bottom = pixel_box(rec.width, rec.height, x_min, y_min, x_max, y_max)
    if min(right - left, bottom - top) < 8:
        raise ToolError(
            f"the region is {right - left}x{bottom - top} px of {image}, too small to read; give a larger one"
        )
    try:
        lines = read_text(np.asarray(rgb(img.crop((left, top, right, bottom)))))
    except OcrUnavailable as exc:
        raise ToolError(str(exc)) from None
    region = (
        f" region x {x_min:g}-{x_max:g}, y {y_min:g}-{y_max:g}"
        if (x_min, y_min, x_max, y_max) != (0, 0, 1000, 1000)
        else ""
    )
    if not lines:
        return ToolOutput(
            f"found no text in {image}{region}; zoom in if the print is small, or enhance it", data={"lines": []}
        )

    def norm_box(box):
        x0, y0, x1, y1 = box
        return {
            "x_min": round(to_norm(x0 + left, rec.width), 1),
            "y_min": round(to_norm(y0 + top, rec.height), 1),
            "x_max": round(to_norm(x1 + left, rec.width), 1),
            "y_max": round(to_norm(y1 + top, rec.height), 1),
        }

    canvas = rgb(img)
    draw = ImageDraw.Draw(canvas)
    width, size = max(1, stroke_width(canvas) // 2 + 1), font_size(canvas)
    found, listing = [], []
    for n, line in enumerate(lines, 1):
        x0, y0, x1, y1 = line.box
        box = (x0 + left, y0 + top, x1 + left, y1 + top)
        colour = contrasting_colour(canvas, box)
        draw.polygon([(x + left, y + top) for x, y in line.quad], outline=colour, width=width)
        draw_label(draw, (box[0], box[1] - width), str(n), colour, size, canvas.size, anchor="ld")
        b = norm_box(line.box)
        found.append(
            {
                "text": line.text,
                "confidence": round(line.confidence, 3),
                "box": b,
                "words": [{"text": t, "box": norm_box(wb)} for t, wb in line.words()],
            }
        )
        if n <= MAX_LISTED:
            listing.append(
                f"{n}: {line.text!r} (confidence {line.confidence:.2f}) x {b['x_min']:.0f}-{b['x_max']:.0f}, y {b['y_min']:.0f}-{b['y_max']:.0f}"
            )
    if len(lines) > MAX_LISTED:
        listing.append(f"... and {len(lines) - MAX_LISTED} more lines")
    new = ctx.images.add(canvas, parent=image, op="read_text_in_image", params={"region": [x_min, y_min, x_max, y_max]})
    head = f"read {len(lines)} line(s) of text in {image}{region}, numbered on {new_image_line(new)} (boxes in 0-1000 of {image}):"
    return ToolOutput("\n".join([head, *listing]), [new.id], data={"lines": found})


TOOLS = [tool(read_text_in_image)]
