"""PPTX structure: slides, layouts, every shape with type, name, text, font sizes, geometry, notes.

Positions are given in points and as 0–1000 coordinates of the slide (= of its rendered image),
so a finding can be drawn on the render. Shapes inside groups are mapped to slide coordinates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE

EMU_PER_PT = 12700
MAX_TEXT = 2000  # characters of text kept per shape


def inspect_pptx(path: Path) -> dict[str, Any]:
    prs = Presentation(str(path))
    width, height = slide_size(prs)
    slides = []
    for number, slide in enumerate(prs.slides, start=1):
        shapes = [_shape(sh, width, height, _IDENTITY) for sh in slide.shapes]
        notes = ""
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text
        layout = None
        try:
            layout = slide.slide_layout.name
        except (KeyError, AttributeError):  # a layout whose part or relationship is missing
            layout = None
        slides.append(
            {
                "number": number,
                "layout": layout,
                "hidden": slide._element.get("show") == "0",
                "shapes": shapes,
                "notes": notes,
            }
        )
    return {
        "slide_width_pt": round(width / EMU_PER_PT, 2),
        "slide_height_pt": round(height / EMU_PER_PT, 2),
        "slide_count": len(slides),
        "layouts": sorted({layout.name for master in prs.slide_masters for layout in master.slide_layouts}),
        "slides": slides,
    }


def slide_size(prs) -> tuple[int, int]:
    """The slide size in EMU; PowerPoint's default 10 x 7.5 in when <p:sldSz> is missing."""
    return prs.slide_width or 9144000, prs.slide_height or 6858000


_IDENTITY = (1.0, 0.0, 1.0, 0.0)  # x' = ax*x + bx ; y' = ay*y + by  (group child → slide)


def _shape(sh, slide_w: int, slide_h: int, transform: tuple[float, float, float, float]) -> dict[str, Any]:
    ax, bx, ay, by = transform
    left, top, w, h = (sh.left or 0), (sh.top or 0), (sh.width or 0), (sh.height or 0)
    x0, y0 = ax * left + bx, ay * top + by
    x1, y1 = x0 + ax * w, y0 + ay * h
    info: dict[str, Any] = {
        "id": sh.shape_id,
        "name": sh.name,
        "type": _shape_type(sh),
        "left_pt": round(x0 / EMU_PER_PT, 2),
        "top_pt": round(y0 / EMU_PER_PT, 2),
        "width_pt": round((x1 - x0) / EMU_PER_PT, 2),
        "height_pt": round((y1 - y0) / EMU_PER_PT, 2),
        "box_1000": {
            "x_min": round(1000 * x0 / slide_w),
            "y_min": round(1000 * y0 / slide_h),
            "x_max": round(1000 * x1 / slide_w),
            "y_max": round(1000 * y1 / slide_h),
        },
    }
    rotation = getattr(sh, "rotation", 0.0)
    if rotation:
        info["rotation"] = rotation
    if sh.is_placeholder:
        try:
            fmt = sh.placeholder_format
            info["placeholder"] = {"type": str(fmt.type).split(".")[-1].split(" ")[0].lower(), "idx": fmt.idx}
        except (ValueError, AttributeError):
            pass
    if sh.has_text_frame:
        tf = sh.text_frame
        text = tf.text
        info["text"] = text[:MAX_TEXT] + ("…" if len(text) > MAX_TEXT else "")
        sizes = sorted({r.font.size.pt for p in tf.paragraphs for r in p.runs if r.font.size is not None})
        info["font_sizes_pt"] = sizes
        if any(r.font.size is None for p in tf.paragraphs for r in p.runs if r.text.strip()):
            info["font_size_inherited"] = True  # some runs take their size from the layout/master
        fonts = sorted({r.font.name for p in tf.paragraphs for r in p.runs if r.font.name})
        if fonts:
            info["fonts"] = fonts
        autofit = _autofit(tf)
        if autofit:
            info["autofit"] = autofit
    if getattr(sh, "has_table", False) and sh.has_table:
        table = sh.table
        info["table"] = {
            "rows": len(table.rows),
            "cols": len(table.columns),
            "cells": [[cell.text for cell in row.cells] for row in list(table.rows)[:50]],
        }
    if getattr(sh, "has_chart", False) and sh.has_chart:
        info["chart"] = _chart(sh)
    if shape_kind(sh) == MSO_SHAPE_TYPE.PICTURE:
        try:
            info["image"] = {"content_type": sh.image.content_type, "px": list(sh.image.size)}
        except Exception:  # linked or missing image part
            info["image"] = {"missing": True}
    if shape_kind(sh) == MSO_SHAPE_TYPE.GROUP:
        info["children"] = [_shape(child, slide_w, slide_h, _group_transform(sh, transform)) for child in sh.shapes]
    return info


def _chart(sh) -> dict[str, Any]:
    try:
        chart = sh.chart
    except (ValueError, KeyError):  # a chart frame whose <c:chart> or chart part is missing
        return {"missing": True}
    found: dict[str, Any] = {"type": str(chart.chart_type).split(".")[-1].split(" ")[0]}
    if chart.has_title and chart.chart_title.has_text_frame:
        found["title"] = chart.chart_title.text_frame.text
    return found


def _group_transform(group, outer: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """Map child coordinates (the group's chOff/chExt space) to slide coordinates."""
    xfrm = group._element.grpSpPr.find("{http://schemas.openxmlformats.org/drawingml/2006/main}xfrm")
    if xfrm is None:
        return outer
    ns = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
    off, ext, ch_off, ch_ext = (xfrm.find(ns + t) for t in ("off", "ext", "chOff", "chExt"))
    if None in (off, ext, ch_off, ch_ext):
        return outer
    sx = int(ext.get("cx")) / max(int(ch_ext.get("cx")), 1)
    sy = int(ext.get("cy")) / max(int(ch_ext.get("cy")), 1)
    # child → group-local: x_g = off.x + (x - chOff.x) * sx ; then apply the outer transform
    inner = (sx, int(off.get("x")) - int(ch_off.get("x")) * sx, sy, int(off.get("y")) - int(ch_off.get("y")) * sy)
    ax, bx, ay, by = outer
    return (ax * inner[0], ax * inner[1] + bx, ay * inner[2], ay * inner[3] + by)


def shape_kind(sh):
    """python-pptx's MSO_SHAPE_TYPE, or None where it has none: a <p:sp> with neither a preset nor a
    custom geometry and no text-box flag (its type comes from a layout, or it is just text) makes
    python-pptx raise NotImplementedError."""
    try:
        return sh.shape_type
    except NotImplementedError:
        return None


def _shape_type(sh) -> str:
    if sh.is_placeholder:
        return "placeholder"
    kind = shape_kind(sh)
    if kind is None:
        return "graphic_frame" if sh._element.tag.endswith("graphicFrame") else "shape"
    names = {
        MSO_SHAPE_TYPE.TEXT_BOX: "text_box",
        MSO_SHAPE_TYPE.PICTURE: "picture",
        MSO_SHAPE_TYPE.GROUP: "group",
        MSO_SHAPE_TYPE.TABLE: "table",
        MSO_SHAPE_TYPE.CHART: "chart",
        MSO_SHAPE_TYPE.LINE: "connector",
        MSO_SHAPE_TYPE.MEDIA: "media",
        MSO_SHAPE_TYPE.EMBEDDED_OLE_OBJECT: "ole_object",
        MSO_SHAPE_TYPE.LINKED_OLE_OBJECT: "ole_object",
        MSO_SHAPE_TYPE.FREEFORM: "freeform",
    }
    if kind in names:
        return names[kind]
    if kind == MSO_SHAPE_TYPE.AUTO_SHAPE:
        try:
            return f"auto_shape:{str(sh.auto_shape_type).split('.')[-1].split(' ')[0].lower()}"
        except (ValueError, NotImplementedError):
            return "auto_shape"
    return str(kind).split(".")[-1].split(" ")[0].lower()


def _autofit(tf) -> dict[str, Any] | None:
    body_pr = tf._txBody.find("{http://schemas.openxmlformats.org/drawingml/2006/main}bodyPr")
    if body_pr is None:
        return None
    for child in body_pr:
        tag = child.tag.split("}")[-1]
        if tag == "normAutofit":
            scale = child.get("fontScale")
            return {"mode": "shrink_text_on_overflow", "font_scale": int(scale) / 100000 if scale else 1.0}
        if tag == "spAutoFit":
            return {"mode": "resize_shape_to_fit_text"}
        if tag == "noAutofit":
            return {"mode": "none"}
    return None
