"""Structured edits of an XLSX with openpyxl: values, formulas, number formats, column widths,
sheets. Cells are A1 references; sheets are named (default: the first sheet).

openpyxl writes formulas without their computed values, so a reader that does not recalculate
(pandas, previewers, openpyxl data_only) would see blanks. After the edit the workbook is
recalculated with LibreOffice and the results are written back into the file as the formulas'
cached values; the formulas and formatting openpyxl wrote are kept as they are."""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import openpyxl
from lxml import etree
from openpyxl.formula import Tokenizer
from openpyxl.utils import column_index_from_string, get_column_letter, range_boundaries
from openpyxl.utils.exceptions import CellCoordinatesException

from tools.documents.edit_common import EditError, save_verified
from tools.documents.edit_ops import (
    AddSheet,
    RenameSheet,
    SetColumnWidth,
    SetFormula,
    SetNumberFormat,
    SetValue,
)  # noqa: F401 (re-exported)

SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


def edit_xlsx(src: Path, dest: Path, operations: list, recalculate: bool = True) -> list[str]:
    """Apply `operations` in order to `src`, write `dest` atomically; one line per operation done
    (plus one about recalculation)."""
    src = Path(src)
    try:
        wb = openpyxl.load_workbook(str(src), keep_vba=src.suffix.lower() == ".xlsm")
    except Exception as exc:
        raise EditError(f"{src.name}: not a readable XLSX ({type(exc).__name__}: {exc})") from None
    done = []
    for n, op in enumerate(operations, 1):
        try:
            done.append(_APPLY[type(op)](wb, op))
        except EditError as exc:
            raise EditError(f"operation {n} ({op.op}): {exc}") from None
    if _has_drawings(src):
        done.append(
            "warning: the workbook had charts or images, which openpyxl does not keep; they are not in the output"
        )
    note: list[str] = []

    def write(tmp: Path) -> None:
        wb.save(str(tmp))
        if recalculate:
            note.append(_recalculate_into(tmp))

    save_verified(dest, write, lambda tmp: openpyxl.load_workbook(str(tmp), data_only=True))
    return done + note


def _sheet(wb, name: str | None):
    if name is None:
        return wb.worksheets[0]
    if name not in wb.sheetnames:
        raise EditError(f"no sheet {name!r}; sheets: {', '.join(repr(n) for n in wb.sheetnames)}")
    return wb[name]


def _cell(ws, ref: str):
    try:
        return ws[ref.replace("$", "")]
    except (ValueError, CellCoordinatesException, KeyError):
        raise EditError(f"{ref!r} is not a cell reference like 'B7'") from None


def _single_cell(ws, ref: str):
    cell = _cell(ws, ref)
    if isinstance(cell, tuple):
        raise EditError(f"{ref!r} is a range; give one cell like 'B7'")
    return cell


def _set_value(wb, op: SetValue) -> str:
    if isinstance(op.value, str) and op.value.startswith("="):
        raise EditError("the value starts with '='; use the set_formula operation for formulas")
    ws = _sheet(wb, op.sheet)
    _single_cell(ws, op.cell).value = op.value
    return f"{ws.title}!{op.cell.upper()} = {op.value!r}"


def _set_formula(wb, op: SetFormula) -> str:
    formula = op.formula.strip()
    if not formula.startswith("="):
        raise EditError(f"a formula starts with '=': got {formula!r}")
    try:
        Tokenizer(formula)
    except Exception as exc:
        raise EditError(f"formula {formula!r} does not parse: {exc}") from None
    if formula.count("(") != formula.count(")"):
        raise EditError(f"formula {formula!r} has unbalanced parentheses")
    ws = _sheet(wb, op.sheet)
    _single_cell(ws, op.cell).value = formula
    return f"{ws.title}!{op.cell.upper()} = {formula}"


def _set_number_format(wb, op: SetNumberFormat) -> str:
    ws = _sheet(wb, op.sheet)
    try:
        min_col, min_row, max_col, max_row = range_boundaries(op.range.replace("$", "").upper())
    except (ValueError, TypeError):
        raise EditError(f"{op.range!r} is not a cell or range like 'B2:B8'") from None
    count = 0
    for row in ws.iter_rows(min_row=min_row, max_row=max_row, min_col=min_col, max_col=max_col):
        for cell in row:
            cell.number_format = op.format
            count += 1
    return f"{ws.title}!{op.range.upper()}: number format {op.format!r} on {count} cell(s)"


def _set_column_width(wb, op: SetColumnWidth) -> str:
    ws = _sheet(wb, op.sheet)
    first, _, last = op.columns.upper().partition(":")
    try:
        a, b = column_index_from_string(first), column_index_from_string(last or first)
    except ValueError:
        raise EditError(f"{op.columns!r} is not a column like 'B' or 'B:D'") from None
    for index in range(min(a, b), max(a, b) + 1):
        ws.column_dimensions[get_column_letter(index)].width = op.width
    return f"{ws.title}: column(s) {op.columns.upper()} width {op.width:g}"


_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def _check_sheet_name(wb, name: str) -> None:
    if _BAD_SHEET_CHARS.search(name) or name.startswith("'") or name.endswith("'"):
        raise EditError(f"sheet name {name!r} may not contain [ ] : * ? / \\ or start/end with an apostrophe")
    if name.lower() in (n.lower() for n in wb.sheetnames):
        raise EditError(f"a sheet named {name!r} already exists")


def _add_sheet(wb, op: AddSheet) -> str:
    _check_sheet_name(wb, op.name)
    index = None if op.position is None else min(op.position - 1, len(wb.sheetnames))
    wb.create_sheet(op.name, index)
    return f"added sheet {op.name!r} at position {wb.sheetnames.index(op.name) + 1}"


def _sheet_ref(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name) else "'" + name.replace("'", "''") + "'"


def _rename_sheet(wb, op: RenameSheet) -> str:
    ws = _sheet(wb, op.sheet)
    _check_sheet_name(wb, op.new_name)
    old_refs = {f"{_sheet_ref(op.sheet)}!", f"'{op.sheet}'!"}
    new_ref = f"{_sheet_ref(op.new_name)}!"
    pattern = re.compile("|".join(re.escape(r) for r in sorted(old_refs, key=len, reverse=True)))
    updated = 0
    for sheet in wb.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith("=") and pattern.search(cell.value):
                    cell.value = pattern.sub(new_ref, cell.value)
                    updated += 1
    for defined in wb.defined_names.values():
        if defined.attr_text and pattern.search(defined.attr_text):
            defined.attr_text = pattern.sub(new_ref, defined.attr_text)
    ws.title = op.new_name
    return f"renamed sheet {op.sheet!r} to {op.new_name!r} ({updated} formula(s) updated)"


_APPLY = {
    SetValue: _set_value,
    SetFormula: _set_formula,
    SetNumberFormat: _set_number_format,
    SetColumnWidth: _set_column_width,
    AddSheet: _add_sheet,
    RenameSheet: _rename_sheet,
}


def _has_drawings(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.startswith(("xl/drawings/", "xl/charts/")) for n in zf.namelist())
    except zipfile.BadZipFile:
        return False


# -- cached values -------------------------------------------------------------------------


def _recalculate_into(path: Path) -> str:
    """Recalculate `path` with LibreOffice and store the results as its formulas' cached values."""
    if shutil.which("soffice") is None:
        return "note: formulas have no cached values (LibreOffice is not installed to recalculate them)"
    from tools.documents.convert import convert_to

    with tempfile.TemporaryDirectory(prefix="recalc-") as work:
        recalculated = convert_to(path, "xlsx", Path(work))
        values = openpyxl.load_workbook(str(recalculated), data_only=True)
        filled = fill_cached_values(path, {ws.title: ws for ws in values.worksheets})
    return f"recalculated with LibreOffice: {filled} formula value(s) stored"


def fill_cached_values(path: Path, values_by_sheet: dict) -> int:
    """Write `<v>` values into the formula cells of `path` (an openpyxl-written xlsx), in place."""
    with zipfile.ZipFile(path) as zf:
        parts = {i.filename: zf.read(i.filename) for i in zf.infolist()}
        infos = zf.infolist()
    sheet_parts = _sheet_part_names(parts)
    filled = 0
    for title, part_name in sheet_parts.items():
        source = values_by_sheet.get(title)
        if source is None or part_name not in parts:
            continue
        root = etree.fromstring(parts[part_name])
        for c in root.iter(f"{{{SHEET_NS}}}c"):
            if c.find(f"{{{SHEET_NS}}}f") is None:
                continue
            value = source[c.get("r")].value
            old = c.find(f"{{{SHEET_NS}}}v")
            if old is not None:
                c.remove(old)
            if value is None:
                continue
            v = etree.SubElement(c, f"{{{SHEET_NS}}}v")
            if isinstance(value, bool):
                c.set("t", "b")
                v.text = "1" if value else "0"
            elif isinstance(value, (int, float)):
                c.attrib.pop("t", None)
                v.text = repr(value) if isinstance(value, float) else str(value)
            elif isinstance(value, str) and value.startswith("#"):
                c.set("t", "e")
                v.text = value
            else:
                c.set("t", "str")
                v.text = str(value)
            filled += 1
        parts[part_name] = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    tmp = path.with_name(path.name + ".cached")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        for info in infos:
            out.writestr(info, parts[info.filename])
    tmp.replace(path)
    return filled


def _sheet_part_names(parts: dict[str, bytes]) -> dict[str, str]:
    workbook = etree.fromstring(parts["xl/workbook.xml"])
    rels = etree.fromstring(parts["xl/_rels/workbook.xml.rels"])
    targets = {r.get("Id"): r.get("Target") for r in rels.iter(f"{{{PKG_REL_NS}}}Relationship")}
    names = {}
    for sheet in workbook.iter(f"{{{SHEET_NS}}}sheet"):
        target = targets.get(sheet.get(f"{{{REL_NS}}}id"), "")
        names[sheet.get("name")] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    return names
