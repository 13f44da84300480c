"""PPTX rules from the slide structure (python-pptx), with text sizes resolved through the
placeholder/layout/master/theme inheritance the renderer applies. Each text shape's needed height
is estimated by wrapping its text with the real font metrics; `render_rules.RenderedPage`
replaces the estimate with the measured text position when the render is available."""

from __future__ import annotations

from dataclasses import dataclass, field

from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.opc.constants import RELATIONSHIP_TYPE as RT

from tools.documents.checks.findings import Box, Finding, placeholder_matches, snippet
from tools.documents.checks.text_fit import Run, wrap_paragraph
from tools.documents.inspect_pptx import shape_kind, slide_size

A = "http://schemas.openxmlformats.org/drawingml/2006/main"
NS = {"a": A, "p": "http://schemas.openxmlformats.org/presentationml/2006/main"}
EMU_PER_PT = 12700
MIN_SLIDE_FONT_PT = 10.0
TOLERANCE_PT = 2.0
DEFAULT_INSETS_PT = (7.2, 3.6, 7.2, 3.6)  # left, top, right, bottom: 0.1 in and 0.05 in


@dataclass
class TextShape:
    """A shape on a slide, in points (top-left origin), with what its text needs."""

    slide: int
    name: str
    shape_id: int
    left: float
    top: float
    width: float
    height: float
    text: str
    has_text: bool
    placeholder: bool
    min_font_pt: float | None = None
    text_height: float = 0.0  # estimated height the text needs (incl. insets)
    text_width: float = 0.0  # widest line (incl. insets)
    wraps: bool = True
    autofit: str | None = None  # None, "shape" (box grows to fit) or "shrink" (text shrinks to fit)
    anchor: str = "t"
    first_word: str | None = None
    last_word: str | None = None
    measured: tuple[float, float, float, float] | None = None  # rendered text extent (l, t, r, b)
    filled: bool = False

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    def label(self) -> str:
        return f"shape {self.name!r} (id {self.shape_id})"

    def text_extent(self) -> tuple[float, float, float, float]:
        """Where the text is drawn: measured on the render if known, else estimated from the anchor."""
        if self.measured is not None:
            return self.measured
        h = self.text_height
        if self.anchor == "ctr":
            top = self.top + (self.height - h) / 2
        elif self.anchor == "b":
            top = self.bottom - h
        else:
            top = self.top
        width = self.width if self.wraps else max(self.text_width, 1.0)
        return (self.left, top, self.left + width, top + h)


@dataclass
class SlideInfo:
    number: int
    shapes: list[TextShape] = field(default_factory=list)
    has_visual: bool = False


class _Styles:
    """Paragraph/run properties along the inheritance chain of one shape."""

    def __init__(self, prs, slide, shape):
        self.lst_styles = []  # elements holding lvlNpPr children, most specific first
        self.body_prs = []
        self.kind = "other"
        chain = [shape]
        if shape.is_placeholder:
            ph_type = str(shape.placeholder_format.type or "")
            self.kind = "title" if "TITLE" in ph_type and "SUB" not in ph_type else "body"
            node = shape
            for _ in range(2):
                node = getattr(node, "_base_placeholder", None)
                if node is None:
                    break
                chain.append(node)
        for s in chain:
            tx = s._element.find(".//p:txBody", NS)
            if tx is not None:
                lst = tx.find("a:lstStyle", NS)
                if lst is not None:
                    self.lst_styles.append(lst)
                body = tx.find("a:bodyPr", NS)
                if body is not None:
                    self.body_prs.append(body)
        master = slide.slide_layout.slide_master
        styles = master._element.find("p:txStyles", NS)
        if styles is not None and shape.is_placeholder:
            key = {"title": "p:titleStyle", "body": "p:bodyStyle"}[self.kind]
            el = styles.find(key, NS)
            if el is not None:
                self.lst_styles.append(el)
        default = prs.part._element.find("p:defaultTextStyle", NS)
        if default is not None:
            self.lst_styles.append(default)
        self.theme_fonts = _theme_fonts(master)

    def level_prop(self, level: int, path: str):
        for lst in self.lst_styles:
            found = lst.xpath(f"a:lvl{level + 1}pPr/{path}", namespaces=NS)
            if found:
                return found[0]
        return None

    def body_attr(self, name: str):
        for body in self.body_prs:
            if body.get(name) is not None:
                return body.get(name)
        return None

    def body_child(self, tag: str):
        for body in self.body_prs:
            found = body.find(f"a:{tag}", NS)
            if found is not None:
                return found
        return None

    def family(self, typeface: str | None) -> str:
        if not typeface:
            typeface = "+mj-lt" if self.kind == "title" else "+mn-lt"
        if typeface.startswith("+mj"):
            return self.theme_fonts[0]
        if typeface.startswith("+mn"):
            return self.theme_fonts[1]
        return typeface


def _theme_fonts(master) -> tuple[str, str]:
    try:
        theme = master.part.part_related_by(RT.THEME)
        from lxml import etree

        root = etree.fromstring(theme.blob)
        major = root.find(".//a:majorFont/a:latin", NS).get("typeface")
        minor = root.find(".//a:minorFont/a:latin", NS).get("typeface")
        return major or "Calibri", minor or "Calibri"
    except Exception:
        return "Calibri", "Calibri"


def _spacing(element, size_pt: float) -> float | None:
    """A spcBef/spcAft/lnSpc element → points (for lnSpc: a multiple if percentage)."""
    if element is None:
        return None
    pct = element.find("a:spcPct", NS)
    if pct is not None:
        return int(pct.get("val")) / 100000.0
    pts = element.find("a:spcPts", NS)
    if pts is not None:
        return -int(pts.get("val")) / 100.0  # negative marks an absolute value in points
    return None


def _measure(prs, slide, shape, info: TextShape) -> None:
    styles = _Styles(prs, slide, shape)
    frame = shape.text_frame
    body = frame._txBody.find("a:bodyPr", NS)

    def inset(name, default):
        v = body.get(name) if body is not None and body.get(name) is not None else styles.body_attr(name)
        return int(v) / EMU_PER_PT if v is not None else default

    l_ins, t_ins, r_ins, b_ins = (inset(n, d) for n, d in zip(("lIns", "tIns", "rIns", "bIns"), DEFAULT_INSETS_PT))
    wrap = (body.get("wrap") if body is not None and body.get("wrap") else styles.body_attr("wrap")) or "square"
    info.wraps = wrap != "none"
    info.anchor = (body.get("anchor") if body is not None and body.get("anchor") else styles.body_attr("anchor")) or "t"
    font_scale, spacing_cut = 1.0, 0.0
    for tag, mode in (("spAutoFit", "shape"), ("normAutofit", "shrink"), ("noAutofit", None)):
        el = body.find(f"a:{tag}", NS) if body is not None else None
        if el is None and (
            body is None
            or not any(body.find(f"a:{t}", NS) is not None for t in ("spAutoFit", "normAutofit", "noAutofit"))
        ):
            el = styles.body_child(tag)
        if el is not None:
            info.autofit = mode
            if tag == "normAutofit":
                font_scale = int(el.get("fontScale", "100000")) / 100000.0
                spacing_cut = int(el.get("lnSpcReduction", "0")) / 100000.0
            break
    inner_width = info.width - l_ins - r_ins
    total, widest, sizes = 0.0, 0.0, []
    for i, paragraph in enumerate(frame.paragraphs):
        level = paragraph.level
        ppr = paragraph._p.find("a:pPr", NS)

        def para(path):
            found = ppr.find(path, NS) if ppr is not None else None
            return found if found is not None else styles.level_prop(level, path)

        def para_attr(name, default=0):
            if ppr is not None and ppr.get(name) is not None:
                return int(ppr.get(name))
            lvl = styles.level_prop(level, ".")
            return int(lvl.get(name)) if lvl is not None and lvl.get(name) is not None else default

        default_rpr = styles.level_prop(level, "a:defRPr")
        default_size = int(default_rpr.get("sz")) / 100 if default_rpr is not None and default_rpr.get("sz") else 18.0
        latin = styles.level_prop(level, "a:defRPr/a:latin")
        default_family = styles.family(latin.get("typeface") if latin is not None else None)
        default_bold = default_rpr is not None and default_rpr.get("b") in ("1", "true")
        runs = []
        for r in paragraph.runs:
            size = r.font.size.pt if r.font.size is not None else default_size
            family = styles.family(r.font.name) if r.font.name else default_family
            bold = r.font.bold if r.font.bold is not None else default_bold
            runs.append(Run(r.text, size * font_scale, family, bool(bold), bool(r.font.italic)))
            if r.text.strip():
                sizes.append(size * font_scale)
        if not runs:
            end = paragraph._p.find("a:endParaRPr", NS)
            size = int(end.get("sz")) / 100 if end is not None and end.get("sz") else default_size
            runs = [Run("", size * font_scale, default_family)]
        margin = (para_attr("marL") + max(0, para_attr("indent"))) / EMU_PER_PT
        lines = wrap_paragraph(runs, inner_width - margin if info.wraps else None)
        ref = max(runs, key=lambda r: r.size_pt)
        spacing = _spacing(para("a:lnSpc"), ref.size_pt)
        if spacing is None:
            heights = sum(h for _, h in lines)
        elif spacing < 0:
            heights = -spacing * len(lines)
        else:
            heights = sum(h for _, h in lines) * max(0.1, spacing - spacing_cut)
        before = _spacing(para("a:spcBef"), ref.size_pt) if i > 0 else None
        after = _spacing(para("a:spcAft"), ref.size_pt)
        for extra in (before, after):
            if extra is not None:
                total += -extra if extra < 0 else extra * ref.size_pt * 1.2
        total += heights
        widest = max(widest, margin + max(w for w, _ in lines))
    info.text_height = total + t_ins + b_ins
    info.text_width = widest + l_ins + r_ins
    info.min_font_pt = min(sizes) if sizes else None


def _words(text: str) -> list[str]:
    return [w.strip(".,;:!?()[]\"'") for w in text.split() if len(w.strip(".,;:!?()[]\"'")) >= 2]


def _flatten(shapes, offset=(0.0, 0.0, 1.0, 1.0)):
    """Shapes with their slide-space boxes in points; group children are mapped through the group."""
    ox, oy, sx, sy = offset
    for shape in shapes:
        if shape.left is None or shape.width is None:
            box = None
        else:
            box = (
                ox + shape.left / EMU_PER_PT * sx,
                oy + shape.top / EMU_PER_PT * sy,
                shape.width / EMU_PER_PT * sx,
                shape.height / EMU_PER_PT * sy,
            )
        if shape_kind(shape) == MSO_SHAPE_TYPE.GROUP and box is not None:
            xfrm = shape._element.grpSpPr.find("a:xfrm", NS)
            ch_off, ch_ext = (None, None) if xfrm is None else (xfrm.find("a:chOff", NS), xfrm.find("a:chExt", NS))
            if ch_off is not None and ch_ext is not None and int(ch_ext.get("cx")) and int(ch_ext.get("cy")):
                csx = box[2] / (int(ch_ext.get("cx")) / EMU_PER_PT)
                csy = box[3] / (int(ch_ext.get("cy")) / EMU_PER_PT)
                inner = (
                    box[0] - int(ch_off.get("x")) / EMU_PER_PT * csx,
                    box[1] - int(ch_off.get("y")) / EMU_PER_PT * csy,
                    csx,
                    csy,
                )
                yield from _flatten(shape.shapes, inner)
                continue
        yield shape, box


def read_slides(path) -> tuple[list[SlideInfo], float, float]:
    """Every slide's shapes with geometry and text needs; plus the slide size in points."""
    prs = Presentation(str(path))
    slide_w, slide_h = (size / EMU_PER_PT for size in slide_size(prs))
    slides = []
    for number, slide in enumerate(prs.slides, 1):
        info = SlideInfo(number)
        for shape, box in _flatten(slide.shapes):
            text = ""
            if shape.has_text_frame:
                text = shape.text_frame.text
            elif getattr(shape, "has_table", False) and shape.has_table:
                text = "\n".join(c.text for row in shape.table.rows for c in row.cells)
            if (
                shape_kind(shape)
                in (
                    MSO_SHAPE_TYPE.PICTURE,
                    MSO_SHAPE_TYPE.CHART,
                    MSO_SHAPE_TYPE.TABLE,
                    MSO_SHAPE_TYPE.MEDIA,
                    MSO_SHAPE_TYPE.EMBEDDED_OLE_OBJECT,
                    MSO_SHAPE_TYPE.LINKED_PICTURE,
                )
                or getattr(shape, "has_chart", False)
                or getattr(shape, "has_table", False)
            ):
                info.has_visual = True
            filled = False
            try:
                filled = shape.fill.type is not None and not shape.is_placeholder
            except (AttributeError, TypeError, NotImplementedError):
                pass
            if box is None:
                continue
            if filled:
                info.has_visual = True
            words = _words(text)
            ts = TextShape(
                number,
                shape.name,
                shape.shape_id,
                *box,
                text=text,
                has_text=bool(text.strip()),
                placeholder=shape.is_placeholder,
                first_word=words[0] if words else None,
                last_word=words[-1] if words else None,
                filled=filled,
            )
            if shape.has_text_frame and ts.has_text:
                _measure(prs, slide, shape, ts)
            info.shapes.append(ts)
        slides.append(info)
    return slides, slide_w, slide_h


def pptx_findings(slides: list[SlideInfo], slide_w: float, slide_h: float) -> list[Finding]:
    findings: list[Finding] = []

    def box_of(l, t, r, b):
        return Box.from_points(l, t, r, b, slide_w, slide_h)

    for slide in slides:
        texts = [s for s in slide.shapes if s.has_text]
        if not texts and not slide.has_visual:
            findings.append(
                Finding(
                    "empty-slide",
                    "warning",
                    f"slide {slide.number} has no text and no pictures",
                    "delete the slide (delete_slide) or give it content",
                    page=slide.number,
                    box=Box(0, 0, 1000, 1000),
                )
            )
        for s in slide.shapes:
            findings.extend(_geometry(s, slide_w, slide_h, box_of))
            if not s.has_text:
                continue
            words = list(dict.fromkeys(placeholder_matches(s.text)))
            if words:
                findings.append(
                    Finding(
                        "placeholder-text",
                        "error",
                        f"{s.label()} still has placeholder text ({', '.join(repr(w) for w in words)}): {snippet(s.text)!r}",
                        "replace it with the real text (set_text) or delete the shape (delete_shape)",
                        page=s.slide,
                        box=box_of(*(s.measured or (s.left, s.top, s.right, s.bottom))),
                        element=s.name,
                        evidence="render" if s.measured else "structure",
                    )
                )
            if s.min_font_pt is not None and s.min_font_pt < MIN_SLIDE_FONT_PT - 0.05:
                findings.append(
                    Finding(
                        "small-font",
                        "warning",
                        f"{s.label()} has {s.min_font_pt:.1f} pt text; below {MIN_SLIDE_FONT_PT:g} pt is hard to read on a slide",
                        f"raise it to at least {MIN_SLIDE_FONT_PT:g} pt (set_font_size) and shorten the text if it then does not fit",
                        page=s.slide,
                        box=box_of(s.left, s.top, s.right, s.bottom),
                        element=s.name,
                    )
                )
        findings.extend(_overlaps(texts, box_of))
    return findings


def _geometry(s: TextShape, slide_w, slide_h, box_of) -> list[Finding]:
    out = []
    outside = max(0.0, -s.left) + max(0.0, -s.top) + max(0.0, s.right - slide_w) + max(0.0, s.bottom - slide_h)
    if outside > TOLERANCE_PT:
        whole = s.right <= 0 or s.bottom <= 0 or s.left >= slide_w or s.top >= slide_h
        out.append(
            Finding(
                "off-page",
                "error",
                f"{s.label()} is {'entirely' if whole else 'partly'} off the slide: box {s.left:.0f},{s.top:.0f} {s.width:.0f}x{s.height:.0f} pt on a {slide_w:.0f}x{slide_h:.0f} pt slide",
                f"move/resize it inside 0..{slide_w:.0f} x 0..{slide_h:.0f} pt (move_resize)"
                + (" or delete it" if whole else ""),
                page=s.slide,
                box=box_of(s.left, s.top, s.right, s.bottom),
                element=s.name,
            )
        )
    if not s.has_text:
        return out
    l, t, r, b = s.text_extent()
    how = "measured on the render" if s.measured else "estimated from font metrics"
    evidence = "render" if s.measured else "structure"
    if s.autofit == "shape":
        # The renderer grows the box to the text, so only the slide edge matters.
        if b > slide_h + TOLERANCE_PT or t < -TOLERANCE_PT:
            out.append(
                Finding(
                    "text-overflow",
                    "error",
                    f"{s.label()} grows to fit its text and runs off the slide: text spans {t:.0f}-{b:.0f} pt of {slide_h:.0f} pt ({how})",
                    "shorten the text, lower the font size (set_font_size) or move the box up (move_resize)",
                    page=s.slide,
                    box=box_of(l, max(t, 0), r, b),
                    element=s.name,
                    evidence=evidence,
                )
            )
        return out
    if s.autofit == "shrink" and s.measured is None:
        return out  # the renderer shrinks the text to fit; only a render can say otherwise
    over_bottom = b - s.bottom
    over_top = s.top - t
    over_right = (r - s.right) if not s.wraps else 0.0
    if max(over_bottom, over_top, over_right) > TOLERANCE_PT:
        beyond = " and runs off the slide" if b > slide_h + TOLERANCE_PT else ""
        if over_right > TOLERANCE_PT and max(over_bottom, over_top) <= TOLERANCE_PT:
            detail = f"its widest line needs {s.text_width:.0f} pt but the box is {s.width:.0f} pt wide (no wrapping)"
        else:
            detail = f"the text needs about {b - t:.0f} pt but the box is {s.height:.0f} pt tall ({how})"
        need = b - min(t, s.top) + (4.0 if s.measured else 0.0)
        out.append(
            Finding(
                "text-overflow",
                "error",
                f"{s.label()} overflows: {detail}{beyond}",
                f"make the box taller (move_resize height_pt ≥ {need:.0f}, keeping it on the slide), lower the font size (set_font_size), or cut text",
                page=s.slide,
                box=box_of(min(l, s.left), min(t, s.top), max(r, s.right), max(b, s.bottom)),
                element=s.name,
                evidence=evidence,
                extra={"needed_pt": round(need, 1), "box_pt": round(s.height, 1)},
            )
        )
    return out


def _intersection(a, b):
    l, t = max(a[0], b[0]), max(a[1], b[1])
    r, bt = min(a[2], b[2]), min(a[3], b[3])
    return (l, t, r, bt) if r - l > TOLERANCE_PT and bt - t > TOLERANCE_PT else None


def _overlaps(texts: list[TextShape], box_of) -> list[Finding]:
    out = []
    for i, a in enumerate(texts):
        for b in texts[i + 1 :]:
            boxes = _intersection((a.left, a.top, a.right, a.bottom), (b.left, b.top, b.right, b.bottom))
            if boxes is None:
                continue
            area = (boxes[2] - boxes[0]) * (boxes[3] - boxes[1])
            smaller = min(a.width * a.height, b.width * b.height) or 1.0
            text_hit = _intersection(a.text_extent(), b.text_extent())
            if text_hit is None and area < 0.05 * smaller:
                continue
            severity = "error" if text_hit else "warning"
            what = "their text collides" if text_hit else "the boxes overlap (their text does not touch yet)"
            out.append(
                Finding(
                    "text-overlap",
                    severity,
                    f"{a.label()} and {b.label()} overlap: {what}",
                    _apart(a, b),
                    page=a.slide,
                    box=box_of(*(text_hit or boxes)),
                    element=f"{a.name} / {b.name}",
                    evidence="render" if (a.measured and b.measured) else "structure",
                )
            )
    return out


def apply_render(slides: list[SlideInfo], pages, slide_w: float, slide_h: float) -> None:
    """Replace estimated text extents with the rendered ones: find the shape's first and last
    words on its slide's page, within the shape's columns, nearest where the estimate puts them."""
    by_number = {p.number: p for p in pages}
    for slide in slides:
        page = by_number.get(slide.number)
        if page is None or page.rotated:
            continue
        sx, sy = page.width / slide_w, page.height / slide_h
        for s in slide.shapes:
            if not s.has_text or not s.first_word or not s.last_word:
                continue
            est = s.text_extent()

            def nearest(word, target_y, pick):
                hits = [(l / sx, t / sy, r / sx, b / sy) for l, t, r, b in page.find(word)]
                hits = [h for h in hits if s.left - TOLERANCE_PT <= (h[0] + h[2]) / 2 <= s.right + TOLERANCE_PT]
                return min(hits, key=lambda h: abs(pick(h) - target_y)) if hits else None

            first = nearest(s.first_word, est[1], lambda h: h[1])
            last = nearest(s.last_word, est[3], lambda h: h[3])
            if first is None or last is None or last[3] < first[1]:
                continue
            left = min(s.left, first[0], last[0]) if not s.wraps else s.left
            right = max(s.right, first[2], last[2]) if not s.wraps else s.right
            s.measured = (left, first[1], right, last[3])


def _apart(a: TextShape, b: TextShape) -> str:
    upper, lower = (a, b) if a.top <= b.top else (b, a)
    return (
        f"move them apart (move_resize): {upper.name!r} spans {upper.top:.0f}-{upper.bottom:.0f} pt and {lower.name!r} starts at "
        f"{lower.top:.0f} pt, so end {upper.name!r} above {lower.top:.0f} pt (smaller top_pt/height_pt) "
        f"or start {lower.name!r} below {upper.bottom:.0f} pt"
    )
