"""`inspect_document`: a document's structure as a JSON-able dict, and `format_inspection` as text.

Legacy and OpenDocument files, ISO Strict packages, and OOXML files the python readers reject
are first normalised to transitional OOXML by LibreOffice; the result says so
(`converted_from`). Workbooks with formulas are also recalculated by LibreOffice so the
inspection shows current values next to the cached ones.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, TypeVar

from tools.documents.convert import cache_root, convert_to, soffice_binary
from tools.documents.formats import OOXML_EQUIVALENT, DocumentError, sniff

logging.getLogger("pypdf").setLevel(logging.ERROR)

T = TypeVar("T")

# Exceptions the python readers raise on malformed packages (dangling relationships, bad XML,
# unexpected values). Anything else is a bug and propagates.
READER_ERRORS = (
    KeyError,
    ValueError,
    TypeError,
    AttributeError,
    IndexError,
    LookupError,
    OSError,
    EOFError,
    ZeroDivisionError,
)


def reader_errors() -> tuple[type[Exception], ...]:
    """READER_ERRORS and the readers' own: an element the schema requires is missing (python-docx,
    python-pptx), a part is not well-formed XML (lxml). Imported late: the agent process that
    formats inspections never loads the readers."""
    from docx.oxml.exceptions import XmlchemyError
    from lxml.etree import LxmlError
    from pptx.exc import PythonPptxError

    return READER_ERRORS + (XmlchemyError, PythonPptxError, LxmlError)


def _readers() -> dict[str, Callable[[Path], dict]]:
    from tools.documents.inspect_docx import inspect_docx
    from tools.documents.inspect_pdf import inspect_pdf
    from tools.documents.inspect_pptx import inspect_pptx
    from tools.documents.inspect_xlsx import inspect_xlsx

    return {"docx": inspect_docx, "pptx": inspect_pptx, "xlsx": inspect_xlsx, "pdf": inspect_pdf}


def inspect_document(path: str | Path, recalculate: bool = True) -> dict[str, Any]:
    """The structure of a DOCX/PPTX/XLSX/PDF (and, via LibreOffice, ODF and legacy Office) file."""
    path = Path(path)
    sniffed = sniff(path)
    result: dict[str, Any] = {"file": path.name, "format": sniffed.format, "size_bytes": path.stat().st_size}
    if sniffed.macros:
        result["macros"] = True
    readers = _readers()
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="inspect-") as tmp:
        body, _kind, converted_from = read_structure(
            path, lambda target, kind: _read(readers[kind], kind, target, recalculate, notes), Path(tmp), notes
        )
    if converted_from:
        result["converted_from"] = converted_from
    notes.extend(body.pop("notes", []))
    result.update(body)
    result["notes"] = notes
    return result


def read_structure(
    path: Path, read: Callable[[Path, str], T], scratch: Path, notes: list[str]
) -> tuple[T, str, str | None]:
    """Run `read(target, kind)` on a file the python readers can open: the file itself, or a
    LibreOffice conversion to transitional OOXML (ODF, legacy Office, ISO Strict). When the
    readers reject a malformed package, retry once on a repaired copy. Returns what `read`
    returned, the kind read ("docx", "pptx", "xlsx", "pdf") and what it was converted from
    (None when the file was read as it is); says what it did in `notes`."""
    sniffed = sniff(path)
    fmt = sniffed.format
    target, converted_from = path, None
    if fmt not in ("docx", "pptx", "xlsx", "pdf"):
        if fmt not in OOXML_EQUIVALENT:
            raise DocumentError(f"{path.name}: reading the structure of {fmt.upper()} files is not supported")
        target = _normalise(path, OOXML_EQUIVALENT[fmt], f"converted from {fmt.upper()} by LibreOffice for reading")
        converted_from = fmt
        notes.append(f"read from a LibreOffice conversion of the {fmt.upper()} file to {OOXML_EQUIVALENT[fmt].upper()}")
    elif sniffed.strict:
        target = _normalise(path, fmt, "ISO Strict package")
        converted_from = f"{fmt} (ISO Strict)"
        notes.append("ISO/IEC 29500 Strict package: read from a LibreOffice conversion to transitional OOXML")
    kind = OOXML_EQUIVALENT.get(fmt, fmt)
    try:
        return read(target, kind), kind, converted_from
    except DocumentError:
        raise
    except reader_errors() as exc:
        if kind == "pdf" or target is not path:
            raise DocumentError(
                f"{path.name}: cannot be read as {kind.upper()} ({type(exc).__name__}: {exc})"
            ) from None
        # a malformed package: drop relationships to parts that do not exist, else let
        # LibreOffice's more forgiving importer write a repaired copy
        repaired = drop_dangling_relationships(path, scratch / f"relinked.{kind}")
        if repaired is None:
            repaired = _normalise(path, kind, f"{type(exc).__name__}: {exc}")
        notes.append(f"the file is malformed ({type(exc).__name__}: {str(exc)[:120]}); read from a repaired copy")
        try:
            return read(repaired, kind), kind, f"{fmt} (repaired)"
        except DocumentError:
            raise
        except reader_errors() as exc2:
            raise DocumentError(
                f"{path.name}: cannot be read as {kind.upper()} even after repair ({type(exc2).__name__}: {exc2})"
            ) from None


def _read(reader, kind: str, target: Path, recalculate: bool, notes: list[str]) -> dict:
    if kind != "xlsx":
        return reader(target)
    recalculated = None
    if recalculate and has_formulas(target):
        try:
            soffice_binary()
            recalculated = cached_conversion(target, "xlsx")
        except DocumentError as exc:
            notes.append(f"not recalculated: {exc}")
    return reader(target, recalculated)


def has_formulas(path: Path) -> bool:
    import zipfile

    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                with zf.open(info) as fh:
                    while chunk := fh.read(1 << 20):
                        if b"<f>" in chunk or b"<f " in chunk or b"<x:f" in chunk:
                            return True
    return False


def drop_dangling_relationships(path: Path, dest: Path) -> Path | None:
    """A copy of the package without internal relationships whose target part is missing;
    None when there are none (so the problem is elsewhere)."""
    import posixpath
    import zipfile

    from lxml import etree

    changed = False
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        parts: dict[str, bytes] = {}
        for info in zf.infolist():
            data = zf.read(info)
            if info.filename.endswith(".rels"):
                root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
                folder = posixpath.dirname(posixpath.dirname(info.filename))  # "word/_rels/x.rels" → "word"
                for rel in list(root):
                    target = rel.get("Target", "")
                    if rel.get("TargetMode") == "External" or not target:
                        continue
                    resolved = (
                        target.lstrip("/")
                        if target.startswith("/")
                        else posixpath.normpath(posixpath.join(folder, target))
                    )
                    if resolved not in names:
                        root.remove(rel)
                        changed = True
                data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
            parts[info.filename] = data
    if not changed:
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in parts.items():
            out.writestr(name, data)
    return dest


def _normalise(path: Path, fmt: str, why: str) -> Path:
    try:
        soffice_binary()
    except DocumentError as exc:
        raise DocumentError(f"{path.name}: needs LibreOffice to be read ({why}); {exc}") from None
    out = cached_conversion(path, fmt)
    # the converted package must pass the same safety checks as any input
    sniff(out)
    return out


def cached_conversion(path: Path, fmt: str) -> Path:
    """LibreOffice's conversion of `path` to `fmt`, kept by content hash: inspecting the same
    file again (the model does, between edits) costs no LibreOffice start."""
    from tools.documents.render import file_sha256

    folder = cache_root() / "converted"
    folder.mkdir(parents=True, exist_ok=True)
    cached = folder / f"{file_sha256(path)}.{fmt}"
    if not cached.exists():
        with tempfile.TemporaryDirectory(dir=folder, prefix=".convert-") as tmp:
            os.replace(convert_to(path, fmt, tmp), cached)
    return cached


# -- text rendering of an inspection -------------------------------------------------------------


def format_inspection(d: dict[str, Any]) -> str:
    """A compact, readable text form of an inspection for a person or a model."""
    lines = [
        f"{d['file']}: {d['format'].upper()}, {d['size_bytes']:,} bytes"
        + (f" (converted from {d['converted_from']})" if d.get("converted_from") else "")
        + (", contains macros" if d.get("macros") else "")
    ]
    for note in d.get("notes", []):
        lines.append(f"note: {note}")
    if "slides" in d:
        _format_pptx(d, lines)
    elif "sheets" in d:
        _format_xlsx(d, lines)
    elif "paragraphs" in d:
        _format_docx(d, lines)
    elif "pages" in d:
        _format_pdf(d, lines)
    return "\n".join(lines)


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "…"


def _format_pptx(d: dict, lines: list[str]) -> None:
    lines.append(f"slide size {d['slide_width_pt']}x{d['slide_height_pt']} pt; {d['slide_count']} slides")

    def shape_lines(shapes: list[dict], indent: str) -> None:
        for s in shapes:
            b = s["box_1000"]
            desc = f"{indent}- [{s['id']}] {s['name']} ({s['type']}) at {s['left_pt']},{s['top_pt']} pt size {s['width_pt']}x{s['height_pt']} pt; box_1000 x {b['x_min']}-{b['x_max']} y {b['y_min']}-{b['y_max']}"
            if s.get("font_sizes_pt"):
                desc += f"; fonts {','.join(str(x) for x in s['font_sizes_pt'])} pt"
            if s.get("text"):
                desc += f'; text "{_one_line(s["text"])}"'
            if s.get("table"):
                desc += f"; table {s['table']['rows']}x{s['table']['cols']}"
            if s.get("chart"):
                desc += f"; chart {s['chart'].get('type')}"
            lines.append(desc)
            if s.get("children"):
                shape_lines(s["children"], indent + "  ")

    for slide in d["slides"]:
        lines.append(
            f"slide {slide['number']} (layout {slide['layout']}){' [hidden]' if slide['hidden'] else ''}: {len(slide['shapes'])} shapes"
        )
        shape_lines(slide["shapes"], "  ")
        if slide["notes"].strip():
            lines.append(f'  notes: "{_one_line(slide["notes"], 300)}"')


def _format_docx(d: dict, lines: list[str]) -> None:
    st = d["stats"]
    lines.append(
        f"{st['paragraphs']} paragraphs, {st['words']} words, {st['tables']} tables, {st['inline_images']} inline images, {st['comments']} comments"
    )
    for i, s in enumerate(d["sections"], 1):
        lines.append(
            f"section {i}: {s['page_width_pt']}x{s['page_height_pt']} pt {s['orientation']}, margins {s['margins_pt']}, {s['columns']} column(s)"
        )
    if d["outline"]:
        lines.append("outline:")
        for h in d["outline"]:
            lines.append(
                f"  {'  ' * max(h['level'] - 1, 0)}{h['level']}. {_one_line(h['text'], 120)} (paragraph {h['paragraph']})"
            )
    lines.append("paragraphs:")
    for p in d["paragraphs"]:
        sizes = f" {p['font_sizes_pt']}pt" if p.get("font_sizes_pt") else ""
        lines.append(f"  [{p['index']}] ({p['style']}{sizes}) {_one_line(p['text'])}")
    for t in d["tables"]:
        lines.append(
            f"table {t['index']}: {t['rows']}x{t['cols']} style {t['style']}; first row: {[_one_line(c, 40) for c in (t['cells'][0] if t['cells'] else [])]}"
        )
    for box in d["text_boxes"]:
        lines.append(f'text box: "{_one_line(box)}"')
    for c in d["comments"]:
        lines.append(f'comment {c["id"]} by {c["author"] or "?"}: "{_one_line(c["text"])}"')


def _format_xlsx(d: dict, lines: list[str]) -> None:
    lines.append(
        f"{d['sheet_count']} sheets, {d['formula_count']} formulas, recalculated: {'yes' if d['recalculated'] else 'no'}"
    )
    for n in d["defined_names"][:50]:
        lines.append(f"name {n['name']} = {n['value']} ({n['scope']})")
    for e in d["formula_errors"][:50]:
        lines.append(
            f"ERROR {e['sheet']}!{e['ref']}: {e['error']}" + (f" from {e['formula']}" if e.get("formula") else "")
        )
    for s in d["sheets"]:
        if s["kind"] == "chartsheet":
            lines.append(f"chartsheet {s['name']!r}: charts {[c.get('type') for c in s['charts']]}")
            continue
        extra = []
        if s.get("merged"):
            extra.append(f"merged {', '.join(s['merged'][:20])}")
        if s.get("charts"):
            extra.append(f"charts {[c.get('type') for c in s['charts']]}")
        if s.get("images"):
            extra.append(f"{s['images']} images")
        lines.append(
            f"sheet {s['name']!r} ({s['state']}): used range {s['used_range']}, {s['cell_count']} cells"
            + (f"; {'; '.join(extra)}" if extra else "")
        )
        for c in s["cells"]:
            if "formula" in c:
                shown = c.get("value", c.get("cached_value"))
                cached = (
                    f" (cached {c['cached_value']!r})"
                    if "value" in c and not _same_value(c["cached_value"], c["value"])
                    else ""
                )
                lines.append(f"  {c['ref']}: {c['formula']} = {shown!r}{cached}")
            else:
                lines.append(f"  {c['ref']}: {_one_line(repr(c['value']), 120)}")
        if s.get("cells_truncated"):
            lines.append(f"  … {s['cell_count'] - len(s['cells'])} more cells")


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _format_pdf(d: dict, lines: list[str]) -> None:
    enc = " encrypted (" + d["encryption"]["note"] + ")" if d.get("encrypted") and d.get("encryption") else ""
    lines.append(f"{d['page_count']} pages{enc}")
    for f in d.get("form_fields", []):
        lines.append(f"form field {f['name']!r} ({f['type']}) = {f['value']!r}")
    for p in d["pages"]:
        head = f"page {p['number']}: {p['width_pt']}x{p['height_pt']} pt, rotation {p['rotation']}"
        if "text" in p:
            head += f", {p['images']} images, {p['chars']} chars" + ("" if p["chars"] else " (no text layer)")
        lines.append(head)
        if p.get("text", "").strip():
            lines.append(f"  {_one_line(p['text'], 400)}")


def inspection_json(d: dict[str, Any]) -> str:
    return json.dumps(d, indent=1, ensure_ascii=False, default=str)
