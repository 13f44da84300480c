"""Structured edits of a PDF with pypdf: merge, split, rotate, delete pages, fill form fields,
stamp text. Pages are numbered from 1; page lists look like "1-3,5" or "all"."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject

from tools.documents.edit_common import EditError, parse_pages, save_verified
from tools.documents.edit_ops import DeletePages, FillForm, Merge, PdfOp, Rotate, Split, StampText  # noqa: F401 (re-exported)


def edit_pdf(src: Path, dest: Path, operations: list, resolve: Callable[[str], Path] = Path) -> list[str]:
    """Apply `operations` in order to `src` and write `dest` atomically (a final `split` writes
    `<dest stem>.part<N>.pdf` files next to `dest` instead). `resolve` maps the paths named in
    `merge` to files. One line per operation done."""
    writer = _open(Path(src))
    done, split = [], None
    for n, op in enumerate(operations, 1):
        if isinstance(op, Split):
            if n != len(operations):
                raise EditError(f"operation {n} (split): split must be the last operation")
            split = op
            continue
        try:
            done.append(_APPLY[type(op)](writer, op, resolve))
        except EditError as exc:
            raise EditError(f"operation {n} ({op.op}): {exc}") from None
    if split is None:
        save_verified(dest, lambda tmp: _write(writer, tmp), _verify)
        return done
    return done + _split(writer, split, Path(dest))


def _open(path: Path) -> PdfWriter:
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise EditError(f"{path.name}: encrypted PDF; decrypt it first")
        return PdfWriter(clone_from=reader)
    except EditError:
        raise
    except Exception as exc:
        raise EditError(f"{path.name}: not a readable PDF ({type(exc).__name__}: {exc})") from None


def _write(writer: PdfWriter, path: Path) -> None:
    with open(path, "wb") as fh:
        writer.write(fh)


def _verify(path: Path) -> None:
    reader = PdfReader(str(path), strict=False)
    if len(reader.pages) == 0:
        raise EditError("the result has no pages")
    for page in reader.pages:
        page.get_contents()


def _merge(writer: PdfWriter, op: Merge, resolve) -> str:
    count = len(writer.pages)
    position = count if op.position is None else op.position - 1
    if not 0 <= position <= count:
        raise EditError(f"position {op.position} is out of range: the document has {count} page(s)")
    added = 0
    for name in op.files:
        path = resolve(name)
        try:
            reader = PdfReader(str(path))
        except Exception as exc:
            raise EditError(f"{name}: not a readable PDF ({type(exc).__name__}: {exc})") from None
        if reader.is_encrypted:
            raise EditError(f"{name}: encrypted PDF; decrypt it first")
        writer.merge(position + added, reader)
        added += len(reader.pages)
    return (
        f"inserted {added} page(s) from {len(op.files)} file(s) at page {position + 1}; now {len(writer.pages)} page(s)"
    )


def _rotate(writer: PdfWriter, op: Rotate, resolve) -> str:
    indices = parse_pages(op.pages, len(writer.pages))
    for i in indices:
        writer.pages[i].rotate(op.degrees)
    return f"rotated {len(indices)} page(s) by {op.degrees} degrees clockwise"


def _delete_pages(writer: PdfWriter, op: DeletePages, resolve) -> str:
    indices = parse_pages(op.pages, len(writer.pages))
    if len(indices) == len(writer.pages):
        raise EditError("that would delete every page")
    for i in reversed(indices):
        writer.remove_page(i)
    return f"deleted {len(indices)} page(s); {len(writer.pages)} left"


def _fill_form(writer: PdfWriter, op: FillForm, resolve) -> str:
    existing = writer.get_fields() or {}
    if not existing:
        raise EditError("this PDF has no form fields")
    unknown = [name for name in op.fields if name not in existing]
    if unknown:
        raise EditError(f"no form field {unknown[0]!r}; fields: {', '.join(repr(n) for n in existing)}")
    writer.set_need_appearances_writer(True)
    for page in writer.pages:
        on_page = {a.get_object().get("/T") for a in page.get("/Annots", []) or []}
        values = {k: v for k, v in op.fields.items() if k in on_page}
        if values:
            writer.update_page_form_field_values(page, values, auto_regenerate=False)
    return f"filled {len(op.fields)} form field(s): {', '.join(op.fields)}"


def _stamp_text(writer: PdfWriter, op: StampText, resolve) -> str:
    try:
        encoded = op.text.encode("cp1252")
    except UnicodeEncodeError:
        raise EditError(
            "the stamp uses characters outside Latin-1/Windows-1252, which the standard Helvetica font cannot show"
        ) from None
    escaped = (
        encoded.replace(b"\\", b"\\\\")
        .replace(b"(", b"\\(")
        .replace(b")", b"\\)")
        .replace(b"\r", b"")
        .replace(b"\n", b" ")
    )
    r, g, b = (int(op.color[i : i + 2], 16) / 255 for i in (1, 3, 5))
    indices = parse_pages(op.pages, len(writer.pages))
    for i in indices:
        page = writer.pages[i]
        box = page.cropbox
        width, height = float(box.width), float(box.height)
        rotation = page.rotation % 360
        shown_w, shown_h = (height, width) if rotation in (90, 270) else (width, height)
        dx, dy = op.x / 1000 * shown_w, op.y / 1000 * shown_h + 0.8 * op.size_pt  # baseline below the top
        ux, uy = {0: (dx, height - dy), 90: (dy, dx), 180: (width - dx, dy), 270: (width - dy, height - dx)}[rotation]
        ux, uy = ux + float(box.left), uy + float(box.bottom)
        c, s = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
        font_name = _add_stamp_font(writer, page)
        stream = (
            (
                f"q {r:.3f} {g:.3f} {b:.3f} rg BT /{font_name} {op.size_pt:g} Tf "
                f"{c:.4f} {s:.4f} {-s:.4f} {c:.4f} {ux:.2f} {uy:.2f} Tm ("
            ).encode()
            + escaped
            + b") Tj ET Q"
        )
        _append_content(writer, page, stream)
    return f"stamped {op.text!r} on {len(indices)} page(s) at ({op.x:g}, {op.y:g})"


def _add_stamp_font(writer: PdfWriter, page) -> str:
    if "/Resources" not in page:
        page[NameObject("/Resources")] = DictionaryObject()
    resources = page["/Resources"].get_object()
    if "/Font" not in resources:
        resources[NameObject("/Font")] = DictionaryObject()
    fonts = resources["/Font"].get_object()
    name = "FStamp"
    while f"/{name}" in fonts and fonts[f"/{name}"].get_object().get("/BaseFont") != "/Helvetica":
        name += "x"
    fonts[NameObject(f"/{name}")] = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
            }
        )
    )
    return name


def _append_content(writer: PdfWriter, page, data: bytes) -> None:
    """Wrap the page's own content in q/Q (so a changed graphics state cannot leak) and add ours after it."""

    def stream(payload: bytes):
        obj = DecodedStreamObject()
        obj.set_data(payload)
        return writer._add_object(obj)

    contents = page.get("/Contents")
    existing = []
    if contents is not None:
        obj = contents.get_object()
        existing = list(obj) if isinstance(obj, ArrayObject) else [contents]
    page[NameObject("/Contents")] = ArrayObject([stream(b"q\n"), *existing, stream(b"\nQ\n" + data + b"\n")])


def _split(writer: PdfWriter, op: Split, dest: Path) -> list[str]:
    count = len(writer.pages)
    selections = [parse_pages(r, count) for r in op.ranges]
    written = []
    for n, indices in enumerate(selections, 1):
        part = PdfWriter()
        for i in indices:
            part.add_page(writer.pages[i])
        out = dest.with_name(f"{dest.stem}.part{n}.pdf")
        save_verified(out, lambda tmp, p=part: _write(p, tmp), _verify)
        written.append(f"wrote {out.name} with page(s) {op.ranges[n - 1]} ({len(indices)} page(s))")
    return written


_APPLY = {
    Merge: _merge,
    Rotate: _rotate,
    DeletePages: _delete_pages,
    FillForm: _fill_form,
    StampText: _stamp_text,
}
