"""XLSX structure: sheets, used ranges, cells (values, formulas, cached and recalculated values),
merged cells, charts, images, defined names, and formula errors.

A workbook's stored values are whatever the last program to save it computed; openpyxl never
calculates. The recalculated values come from a LibreOffice round-trip (the caller passes the
recalculated copy), so an inspection shows what the file will display after its inputs changed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import warnings
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter

ERROR_VALUES = {"#REF!", "#DIV/0!", "#NAME?", "#VALUE!", "#N/A", "#NUM!", "#NULL!", "#SPILL!", "#CALC!"}
MAX_CELLS_PER_SHEET = 400
MAX_CELLS_TOTAL = 4000
MAX_TEXT = 300


def load_workbook_robust(path: Path, data_only: bool):
    """(workbook, mode): "full"; "no_images" when an embedded image crashes Pillow (openpyxl only
    catches OSError there); "read_only" when the full reader rejects the file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about every unsupported extension it drops
        try:
            return openpyxl.load_workbook(str(path), data_only=data_only, keep_links=False), "full"
        except (TypeError, ValueError, KeyError, AttributeError, ZeroDivisionError, IndexError):
            pass
        try:
            with _images_disabled():
                return openpyxl.load_workbook(str(path), data_only=data_only, keep_links=False), "no_images"
        except (TypeError, ValueError, KeyError, AttributeError, ZeroDivisionError, IndexError):
            # some valid files (e.g. pivot caches openpyxl mis-parses) only load in read-only mode
            return openpyxl.load_workbook(str(path), data_only=data_only, keep_links=False, read_only=True), "read_only"


_IMAGES_LOCK = threading.Lock()


@contextlib.contextmanager
def _images_disabled():
    """openpyxl's own switch for "Pillow is not installed": drawings keep charts, drop images."""
    import openpyxl.reader.drawings as drawings

    with _IMAGES_LOCK:
        saved = drawings.PILImage
        drawings.PILImage = None
        try:
            yield
        finally:
            drawings.PILImage = saved


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    text = str(getattr(value, "text", value))  # ArrayFormula and friends keep their formula in .text
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def existing_cells(ws, read_only: bool):
    """(row, col, cell) for cells that exist in the file, without walking the empty grid between them."""
    if not read_only:
        for (r, c), cell in sorted(ws._cells.items()):
            yield r, c, cell
        return
    for row in ws.iter_rows():
        for cell in row:
            if getattr(cell, "value", None) is not None:
                yield cell.row, cell.column, cell


def inspect_xlsx(path: Path, recalculated: Path | None = None) -> dict[str, Any]:
    wb_formulas, mode = load_workbook_robust(path, data_only=False)
    read_only = mode == "read_only"
    wb_cached, _ = load_workbook_robust(path, data_only=True)
    wb_recalc = load_workbook_robust(recalculated, data_only=True)[0] if recalculated else None
    notes = {
        "full": [],
        "no_images": ["an embedded image could not be decoded: images are not counted"],
        "read_only": [
            "opened read-only (the full reader rejected part of the file): merged cells and charts not listed"
        ],
    }[mode]

    sheets = []
    errors: list[dict[str, str]] = []
    listed_total = 0
    formula_count = 0
    for ws in wb_formulas.worksheets:
        ws_cached = wb_cached[ws.title]
        ws_recalc = wb_recalc[ws.title] if wb_recalc is not None and ws.title in wb_recalc.sheetnames else None
        cached_values = {(r, c): cell.value for r, c, cell in existing_cells(ws_cached, read_only)}
        recalc_values = (
            {(r, c): cell.value for r, c, cell in existing_cells(ws_recalc, False)} if ws_recalc is not None else {}
        )
        cells = []
        min_r = min_c = None
        max_r = max_c = 0
        count = 0
        for r, c, cell in existing_cells(ws, read_only):
            value = cell.value
            if value is None:
                continue
            count += 1
            min_r = r if min_r is None else min(min_r, r)
            min_c = c if min_c is None else min(min_c, c)
            max_r, max_c = max(max_r, r), max(max_c, c)
            ref = f"{get_column_letter(c)}{r}"
            is_formula = getattr(cell, "data_type", None) == "f" or (isinstance(value, str) and value.startswith("="))
            entry: dict[str, Any] = {"ref": ref}
            if is_formula:
                formula_count += 1
                entry["formula"] = _jsonable(value)
                entry["cached_value"] = _jsonable(cached_values.get((r, c)))
                if ws_recalc is not None:
                    entry["value"] = _jsonable(recalc_values.get((r, c)))
                shown = entry.get("value", entry["cached_value"])
                if isinstance(shown, str) and shown in ERROR_VALUES:
                    errors.append({"sheet": ws.title, "ref": ref, "error": shown, "formula": entry["formula"]})
            else:
                entry["value"] = _jsonable(value)
                if isinstance(value, str) and value in ERROR_VALUES:
                    errors.append({"sheet": ws.title, "ref": ref, "error": value})
            if len(cells) < MAX_CELLS_PER_SHEET and listed_total < MAX_CELLS_TOTAL:
                cells.append(entry)
                listed_total += 1
        used = f"{get_column_letter(min_c)}{min_r}:{get_column_letter(max_c)}{max_r}" if min_r else None
        sheet: dict[str, Any] = {
            "name": ws.title,
            "kind": "worksheet",
            "state": ws.sheet_state,
            "used_range": used,
            "cell_count": count,
            "cells": cells,
        }
        if len(cells) < count:
            sheet["cells_truncated"] = True
        if not read_only:
            sheet["merged"] = [str(m) for m in ws.merged_cells.ranges]
            sheet["charts"] = [_chart(ch) for ch in getattr(ws, "_charts", [])]
            sheet["images"] = len(getattr(ws, "_images", []))
            if ws.freeze_panes:
                sheet["freeze_panes"] = ws.freeze_panes
            if ws.print_area:
                sheet["print_area"] = ws.print_area
        sheets.append(sheet)
    for cs in getattr(wb_formulas, "chartsheets", []):
        sheets.append(
            {
                "name": cs.title,
                "kind": "chartsheet",
                "state": cs.sheet_state,
                "charts": [_chart(ch) for ch in getattr(cs, "_charts", [])],
            }
        )
    if listed_total >= MAX_CELLS_TOTAL:
        notes.append(f"cell listing stopped at {MAX_CELLS_TOTAL} cells")
    if formula_count and wb_recalc is None:
        notes.append("formula values are the cached ones stored in the file (not recalculated)")
    return {
        "sheets": sheets,
        "sheet_count": len(sheets),
        "defined_names": _defined_names(wb_formulas),
        "formula_count": formula_count,
        "recalculated": wb_recalc is not None,
        "formula_errors": errors,
        "date_1904": bool(getattr(wb_formulas, "epoch", None) and wb_formulas.epoch.year == 1904),
        "notes": notes,
    }


def _chart(chart) -> dict[str, Any]:
    info: dict[str, Any] = {"type": getattr(chart, "tagname", type(chart).__name__)}
    title = _chart_title(chart)
    if title:
        info["title"] = title
    anchor = getattr(chart, "anchor", None)
    marker = getattr(anchor, "_from", None)
    if marker is not None:
        info["anchor"] = f"{get_column_letter(marker.col + 1)}{marker.row + 1}"
    return info


def _chart_title(chart) -> str | None:
    title = getattr(chart, "title", None)
    if title is None:
        return None
    if isinstance(title, str):
        return title
    try:
        runs = [r.t for p in title.tx.rich.p for r in (p.r or [])]
        return "".join(runs) or None
    except AttributeError:
        return None


def _defined_names(wb) -> list[dict[str, Any]]:
    names = []
    try:
        for name, dn in wb.defined_names.items():
            names.append({"name": name, "value": dn.attr_text, "scope": "workbook"})
        for ws in wb.worksheets:
            for name, dn in getattr(ws, "defined_names", {}).items():
                names.append({"name": name, "value": dn.attr_text, "scope": ws.title})
    except AttributeError:
        pass
    return names
