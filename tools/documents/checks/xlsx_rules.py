"""XLSX rules: formula errors after a LibreOffice recalculation, formulas stored without a
value, placeholder text in cells."""

from __future__ import annotations

from pathlib import Path

from openpyxl.worksheet.formula import ArrayFormula

from tools.documents.checks.findings import Finding, placeholder_matches, snippet
from tools.documents.checks.render_rules import PageText
from tools.documents.inspect_xlsx import existing_cells, load_workbook_robust

ERRORS = ("#DIV/0!", "#REF!", "#NAME?", "#VALUE!", "#N/A", "#NUM!", "#NULL!", "#SPILL!", "#CALC!")
ERROR_FIXES = {
    "#DIV/0!": 'the divisor is zero or empty: fill in the divisor cell, or guard the formula, e.g. =IF(B7=0,"",SUM(B2:B5)/B7)',
    "#REF!": "the formula points at a deleted cell or sheet: point it at cells that exist",
    "#NAME?": "an unknown function or name (often a typo, e.g. =SUMM): correct it",
    "#VALUE!": "an argument has the wrong type (text where a number is expected): fix the input cells or convert them",
    "#N/A": "a lookup found no match: check the lookup value and range, or wrap it in IFNA(...)",
    "#NUM!": "an impossible number (e.g. SQRT of a negative): check the inputs",
    "#NULL!": "two ranges that do not intersect: use a comma or colon instead of a space",
}
MAX_LISTED = 8


def _formula(value) -> str | None:
    if isinstance(value, ArrayFormula):
        return value.text
    if isinstance(value, str) and value.startswith("="):
        return value
    return None


def xlsx_findings(path: Path, recalculated: Path | None, texts: list[PageText]) -> list[Finding]:
    formulas_wb, mode = load_workbook_robust(path, data_only=False)
    read_only = mode == "read_only"
    cached_wb, cached_mode = load_workbook_robust(path, data_only=True)
    recalc_wb, recalc_mode = load_workbook_robust(recalculated, data_only=True) if recalculated else (None, None)
    out: list[Finding] = []
    hits_used: dict[str, int] = {}
    for ws in formulas_wb.worksheets:
        # only the cells the file has: a sheet with one cell at FOO100000 must not walk 446M empty ones
        cached = _values(cached_wb, ws.title, cached_mode)
        recalc = (
            _values(recalc_wb, ws.title, recalc_mode)
            if recalc_wb is not None and ws.title in recalc_wb.sheetnames
            else None
        )
        no_value = []
        for _r, _c, cell in existing_cells(ws, read_only):
            formula = _formula(cell.value)
            ref = f"{ws.title}!{cell.coordinate}"
            if formula is None:
                if isinstance(cell.value, str):
                    words = list(dict.fromkeys(placeholder_matches(cell.value)))
                    if words:
                        page, box = _locate(texts, words[0], hits_used)
                        out.append(
                            Finding(
                                "placeholder-text",
                                "error",
                                f"{ref} has placeholder text: {snippet(cell.value)!r}",
                                f"put the real value in {ref} (set_value)",
                                page=page,
                                box=box,
                                element=ref,
                            )
                        )
                continue
            key = (cell.row, cell.column)
            if cached.get(key) is None:
                no_value.append(cell.coordinate)
            value = recalc.get(key) if recalc is not None else cached.get(key)
            if isinstance(value, str) and value.strip() in ERRORS:
                error = value.strip()
                page, box = _locate(texts, error, hits_used)
                when = "after recalculation" if recalc is not None else "(cached value; not recalculated)"
                out.append(
                    Finding(
                        "formula-error",
                        "error",
                        f"{ref} {formula} evaluates to {error} {when}",
                        ERROR_FIXES.get(error, "fix the formula or its inputs")
                        + f" (set_formula / set_value on sheet {ws.title!r})",
                        page=page,
                        box=box,
                        element=ref,
                        evidence="render" if recalc is not None else "structure",
                    )
                )
        if no_value:
            listed = ", ".join(no_value[:MAX_LISTED]) + (
                f" and {len(no_value) - MAX_LISTED} more" if len(no_value) > MAX_LISTED else ""
            )
            out.append(
                Finding(
                    "formula-no-cached-value",
                    "warning",
                    f"sheet {ws.title!r}: {len(no_value)} formula(s) have no stored value ({listed}); programs that do not recalculate show them blank",
                    "save it once from a spreadsheet program, or edit it with edit_xlsx, which stores recalculated values",
                    element=f"{ws.title}!{no_value[0]}",
                )
            )
    return out


def _values(wb, title: str, mode: str) -> dict[tuple[int, int], object]:
    return {(r, c): cell.value for r, c, cell in existing_cells(wb[title], mode == "read_only")}


def _locate(texts: list[PageText], needle: str, used: dict[str, int]):
    """The next not yet used occurrence of `needle` on the rendered pages (cells print in order)."""
    n = used.get(needle, 0)
    for page in texts:
        hits = page.find(needle)
        if n < len(hits):
            used[needle] = used.get(needle, 0) + 1
            return page.number, page.box(hits[n])
        n -= len(hits)
    return None, None
