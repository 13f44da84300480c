"""Structured edits of a PPTX with python-pptx: text, font size, geometry, slides, notes.

Slides are numbered from 1. A shape is named by its name as shown by inspect/check
(e.g. "TextBox 3", "Title 1") or by its numeric shape id given as a string ("4").
Geometry is in points (1 pt = 1/72 in; a 16:9 slide is 960 x 540 pt at 13.33 in)."""

from __future__ import annotations

import copy
from pathlib import Path

from pptx import Presentation
from pptx.opc.constants import RELATIONSHIP_TYPE as RT
from pptx.opc.packuri import PackURI
from pptx.util import Emu, Pt

from tools.documents.edit_common import EditError, save_verified
from tools.documents.edit_ops import (
    AddSlide,
    DeleteShape,
    DeleteSlide,
    DuplicateSlide,
    MoveResize,
    MoveSlide,
    SetFontSize,
    SetNotes,
    SetText,
    ShapeOp,
)  # noqa: F401 (re-exported)

EMU_PER_PT = 12700


def edit_pptx(src: Path, dest: Path, operations: list) -> list[str]:
    """Apply `operations` in order to `src`, write `dest` atomically; one line per operation done."""
    try:
        prs = Presentation(str(src))
    except Exception as exc:
        raise EditError(f"{Path(src).name}: not a readable PPTX ({type(exc).__name__}: {exc})") from None
    done = []
    for n, op in enumerate(operations, 1):
        try:
            done.append(_APPLY[type(op)](prs, op))
        except EditError as exc:
            raise EditError(f"operation {n} ({op.op}): {exc}") from None
    _renumber(prs)
    save_verified(dest, lambda tmp: prs.save(str(tmp)), lambda tmp: [s.shapes for s in Presentation(str(tmp)).slides])
    return done


def _slide(prs, number: int):
    count = len(prs.slides)
    if not 1 <= number <= count:
        raise EditError(f"slide {number} does not exist: the deck has {count} slide(s), numbered from 1")
    return prs.slides[number - 1]


def find_shape(slide, key: str):
    matches = [s for s in slide.shapes if s.name == key or str(s.shape_id) == key]
    if not matches:
        listing = ", ".join(f"{s.name!r} (id {s.shape_id})" for s in slide.shapes) or "none"
        raise EditError(f"no shape {key!r} on this slide; its shapes: {listing}")
    if len(matches) > 1:
        raise EditError(
            f"{len(matches)} shapes are named {key!r}; use the id instead: {', '.join(str(s.shape_id) for s in matches)}"
        )
    return matches[0]


def _text_shape(prs, op: ShapeOp):
    shape = find_shape(_slide(prs, op.slide), op.shape)
    if not shape.has_text_frame:
        raise EditError(f"shape {op.shape!r} has no text (it is a {shape.shape_type})")
    return shape


def _set_paragraph_text(paragraph, text: str) -> None:
    runs = paragraph.runs
    if not runs:
        paragraph.add_run().text = text
        return
    runs[0].text = text
    for r in runs[1:]:
        r._r.getparent().remove(r._r)
    for br in paragraph._p.findall("{http://schemas.openxmlformats.org/drawingml/2006/main}br"):
        paragraph._p.remove(br)


def _set_text(prs, op: SetText) -> str:
    frame = _text_shape(prs, op).text_frame
    lines = op.text.split("\n")
    paragraphs = list(frame.paragraphs)
    for i, line in enumerate(lines):
        if i < len(paragraphs):
            _set_paragraph_text(paragraphs[i], line)
        else:
            new_p = copy.deepcopy(paragraphs[-1]._p)
            paragraphs[-1]._p.addnext(new_p)
            paragraphs = list(frame.paragraphs)
            _set_paragraph_text(paragraphs[i], line)
    for extra in list(frame.paragraphs)[len(lines) :]:
        extra._p.getparent().remove(extra._p)
    return f"slide {op.slide}: set the text of {op.shape!r} ({len(lines)} paragraph(s))"


def _set_font_size(prs, op: SetFontSize) -> str:
    frame = _text_shape(prs, op).text_frame
    for paragraph in frame.paragraphs:
        for run in paragraph.runs:
            run.font.size = Pt(op.size_pt)
        # The end-of-paragraph size sets the height of empty lines.
        paragraph._p.get_or_add_endParaRPr().set("sz", str(int(round(op.size_pt * 100))))
    return f"slide {op.slide}: set {op.shape!r} to {op.size_pt:g} pt"


def _move_resize(prs, op: MoveResize) -> str:
    shape = find_shape(_slide(prs, op.slide), op.shape)
    for attr, value in (("left", op.left_pt), ("top", op.top_pt), ("width", op.width_pt), ("height", op.height_pt)):
        if value is not None:
            setattr(shape, attr, Emu(int(round(value * EMU_PER_PT))))
    box = [v / EMU_PER_PT for v in (shape.left, shape.top, shape.width, shape.height)]
    return f"slide {op.slide}: {op.shape!r} now at left {box[0]:.0f}, top {box[1]:.0f}, {box[2]:.0f} x {box[3]:.0f} pt"


def _delete_shape(prs, op: DeleteShape) -> str:
    shape = find_shape(_slide(prs, op.slide), op.shape)
    shape._element.getparent().remove(shape._element)
    return f"slide {op.slide}: deleted shape {op.shape!r}"


def _layout(prs, key):
    layouts = list(prs.slide_layouts)
    if key is None:
        key = "Title and Content" if any(l.name == "Title and Content" for l in layouts) else 0
    if isinstance(key, int):
        if not 0 <= key < len(layouts):
            raise EditError(f"layout index {key} is out of range (0-{len(layouts) - 1})")
        return layouts[key]
    for layout in layouts:
        if layout.name == key:
            return layout
    raise EditError(f"no layout {key!r}; layouts: {', '.join(repr(l.name) for l in layouts)}")


def _move(prs, old_index: int, new_index: int) -> None:
    ids = prs.slides._sldIdLst
    element = list(ids)[old_index]
    ids.remove(element)
    ids.insert(new_index, element)


def _position(prs, position: int | None, default: int) -> int:
    count = len(prs.slides)
    if position is None:
        return default
    if not 1 <= position <= count:
        raise EditError(f"position {position} is out of range: after this operation the deck has {count} slide(s)")
    return position


def _renumber(prs) -> None:
    """Name slide parts slide1..N in deck order: python-pptx names a new slide slide<N+1>.xml,
    which after a deletion can be a name still in use (two parts, one name: a corrupt file)."""
    for i, slide in enumerate(prs.slides, 1):
        slide.part.partname = PackURI(f"/ppt/slides/slide{i}.xml")


def _add_slide(prs, op: AddSlide) -> str:
    _renumber(prs)
    slide = prs.slides.add_slide(_layout(prs, op.layout))
    if op.title is not None:
        if slide.shapes.title is None:
            raise EditError("this layout has no title placeholder")
        slide.shapes.title.text = op.title
    if op.body is not None:
        bodies = [p for p in slide.placeholders if p.placeholder_format.idx != 0 and p.has_text_frame]
        if not bodies:
            raise EditError("this layout has no body placeholder")
        bodies[0].text_frame.text = op.body
    target = _position(prs, op.position, len(prs.slides))
    _move(prs, len(prs.slides) - 1, target - 1)
    return f"added slide {target} (layout {slide.slide_layout.name!r})"


_REL_ATTRS = (
    "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}embed",
    "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}link",
    "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id",
)


def _duplicate_slide(prs, op: DuplicateSlide) -> str:
    source = _slide(prs, op.slide)
    _renumber(prs)
    copy_ = prs.slides.add_slide(source.slide_layout)
    tree = copy_.shapes._spTree
    for shape in list(copy_.shapes):
        tree.remove(shape._element)
    # Pictures, charts and links refer to the slide's relationships by id; give the copy its own.
    rid_map = {}
    for rid, rel in source.part.rels.items():
        if rel.reltype in (RT.SLIDE_LAYOUT, RT.NOTES_SLIDE):
            continue
        if rel.is_external:
            rid_map[rid] = copy_.part.relate_to(rel.target_ref, rel.reltype, is_external=True)
        else:
            rid_map[rid] = copy_.part.relate_to(rel.target_part, rel.reltype)
    for shape in source.shapes:
        element = copy.deepcopy(shape._element)
        for node in element.iter():
            for attr in _REL_ATTRS:
                if node.get(attr) in rid_map:
                    node.set(attr, rid_map[node.get(attr)])
        tree.append(element)
    background = source._element.cSld.bg
    if background is not None:
        copy_._element.cSld.insert(0, copy.deepcopy(background))
    if source.has_notes_slide:
        copy_.notes_slide.notes_text_frame.text = source.notes_slide.notes_text_frame.text
    target = _position(prs, op.position, op.slide + 1)
    _move(prs, len(prs.slides) - 1, target - 1)
    return f"duplicated slide {op.slide} as slide {target}"


def _delete_slide(prs, op: DeleteSlide) -> str:
    _slide(prs, op.slide)
    ids = prs.slides._sldIdLst
    element = list(ids)[op.slide - 1]
    prs.part.drop_rel(element.rId)
    ids.remove(element)
    return f"deleted slide {op.slide}; {len(prs.slides)} slide(s) left"


def _move_slide(prs, op: MoveSlide) -> str:
    _slide(prs, op.slide)
    _position(prs, op.to, op.to)
    _move(prs, op.slide - 1, op.to - 1)
    return f"moved slide {op.slide} to position {op.to}"


def _set_notes(prs, op: SetNotes) -> str:
    _slide(prs, op.slide).notes_slide.notes_text_frame.text = op.text
    return f"slide {op.slide}: set speaker notes ({len(op.text)} characters)"


_APPLY = {
    SetText: _set_text,
    SetFontSize: _set_font_size,
    MoveResize: _move_resize,
    DeleteShape: _delete_shape,
    AddSlide: _add_slide,
    DuplicateSlide: _duplicate_slide,
    DeleteSlide: _delete_slide,
    MoveSlide: _move_slide,
    SetNotes: _set_notes,
}
