"""The document worker: the only process that parses a document's bytes, run inside the jail.

Started by tools.documents.jailed as `python -I -c LAUNCHER` with entry `tools.documents.worker`,
after the launcher has set its limits and dropped its privileges. Its home is a scratch folder
the host made for this one request:

```
in/<n>/<name>          the documents (read-only under bwrap); in/<n>/extra/ other files an edit needs
tmp/.cache/            its cache, seeded by the host with what it already has for these documents
out/<n>/               what it produces for item n; out/result.json: one result per item
```

The request comes on stdin: {"op": ..., "items": [{...}, ...]}. Each item gets {"ok": true, ...}
or {"ok": false, "error": "one line"}; one bad item never sinks the others. Renders and checks
of many files go through LibreOffice together (several files per start), and each file is drawn
as soon as it is converted; out/result.json is rewritten after every item, so the agent can show
progress. What comes back is plain: JSON and files the host copies out and checks without
parsing documents.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Iterator

from tools.documents.formats import DocumentError

Result = dict[str, Any]


def _render(item: dict, out: Path) -> Result:
    from tools.documents.cache import cache_root
    from tools.documents.formats import sniff
    from tools.documents.pages import plan_pages, read_pages_meta
    from tools.documents.render import file_sha256, render_into_cache

    path = Path(item["input"])
    fmt = sniff(path).format
    digest = file_sha256(path)
    render_into_cache(path, fmt, digest, item["dpi"], item.get("pages"), item["max_pages"])
    wanted, _ = plan_pages(read_pages_meta(cache_root() / "renders" / digest), item.get("pages"), item["max_pages"], "")
    return {"digest": digest, "format": fmt, "pages": len(wanted)}


def _inspect(item: dict, out: Path) -> Result:
    from tools.documents.inspect import inspect_document

    return {"inspection": inspect_document(Path(item["input"]), recalculate=item.get("recalculate", True))}


def _read_text(item: dict, out: Path) -> Result:
    from tools.documents.text import read_text

    return {"text": read_text(Path(item["input"]), max_chars=item["max_chars"])}


def _check(item: dict, out: Path) -> Result:
    from tools.documents.check import annotate, check_document
    from tools.documents.render import file_sha256

    path = Path(item["input"])
    report = check_document(path, out / "work", render=item.get("render", True), dpi=item["dpi"])
    result = {"report": report.to_dict(), "digest": file_sha256(path), "page_numbers": report.page_numbers}
    if item.get("annotate") and report.pages:
        annotate(report, out / "findings.png")
        result["annotated"] = "findings.png"
    return result


def _edit(item: dict, out: Path) -> Result:
    from pydantic import TypeAdapter

    from tools.documents.formats import detect_format

    kind = item["format"]
    src = Path(item["input"])
    found = detect_format(src)
    if found != kind:
        raise DocumentError(
            f"{item['shown']} is a {found.upper()} file; use edit_{found} for it"
            if found in EDITORS
            else f"{item['shown']} is a {found.upper()} file; only DOCX, PPTX, XLSX and PDF can be edited"
        )
    op_type, apply = EDITORS[kind]()
    operations = TypeAdapter(list[op_type]).validate_python(item["operations"])
    dest = out / item["output_name"]
    before = set(os.listdir(out))
    if kind == "pdf":
        extras = item.get("extras", {})
        done = apply(src, dest, operations, resolve=lambda name: Path(extras[name]))
    else:
        done = apply(src, dest, operations)
    written = sorted(set(os.listdir(out)) - before)
    return {"done": done, "written": written}


def _edit_docx():
    from tools.documents.edit_docx import edit_docx
    from tools.documents.edit_ops import DocxOp

    return DocxOp, edit_docx


def _edit_pptx():
    from tools.documents.edit_ops import PptxOp
    from tools.documents.edit_pptx import edit_pptx

    return PptxOp, edit_pptx


def _edit_xlsx():
    from tools.documents.edit_ops import XlsxOp
    from tools.documents.edit_xlsx import edit_xlsx

    return XlsxOp, edit_xlsx


def _edit_pdf():
    from tools.documents.edit_pdf import PdfOp, edit_pdf

    return PdfOp, edit_pdf


EDITORS: dict[str, Callable] = {"docx": _edit_docx, "pptx": _edit_pptx, "xlsx": _edit_xlsx, "pdf": _edit_pdf}


def _prepare_profile(item: dict, out: Path) -> Result:
    """Start LibreOffice once on a document of our own, so its fresh profile can be kept as a template."""
    from tools.documents.convert import DEFAULT_TIMEOUT, claim_profile, run_soffice

    sample = out / "profile.txt"
    sample.write_text("profile\n", encoding="utf-8")
    with claim_profile() as profile:
        run_soffice([sample], "pdf", out, profile, DEFAULT_TIMEOUT)
    return {}


OPS: dict[str, Callable[[dict, Path], Result]] = {
    "render": _render,
    "inspect": _inspect,
    "read_text": _read_text,
    "check": _check,
    "edit": _edit,
    "prepare_profile": _prepare_profile,
}


def main() -> int:
    request = json.loads(sys.stdin.buffer.read() or b"{}")
    op = OPS[request["op"]]
    items = request["items"]
    results: list[Result | None] = [None] * len(items)
    for n, failed in _in_order_of_readiness(request["op"], items):
        out = Path("out") / str(n)
        out.mkdir(parents=True, exist_ok=True)
        try:
            if failed is not None:
                raise failed
            results[n] = {"ok": True, **op(items[n], out)}
        except DocumentError as exc:
            results[n] = {"ok": False, "error": str(exc)}
        except (
            Exception
        ) as exc:  # a library's own failure on a malformed file: one line for the user, the trace for the record
            traceback.print_exc()
            name = Path(items[n].get("input", "?")).name
            results[n] = {"ok": False, "error": f"{name}: cannot be processed ({type(exc).__name__}: {str(exc)[:200]})"}
        _write_results(results)
    if not items:
        _write_results(results)
    return 0


def _in_order_of_readiness(op: str, items: list[dict]) -> Iterator[tuple[int, DocumentError | None]]:
    """(item index, conversion error or None) for every item. Renders and checks go through
    LibreOffice together, several files per start, and each item comes as soon as its PDF is
    there, so its pages are drawn while the next file converts."""
    needing = [n for n, item in enumerate(items) if op == "render" or (op == "check" and item.get("render", True))]
    yield from ((n, None) for n in range(len(items)) if n not in set(needing))
    if needing:
        from tools.documents.render import pdfs_as_ready

        for k, failed in pdfs_as_ready([Path(items[n]["input"]) for n in needing]):
            yield needing[k], failed


def _write_results(results: list[Result]) -> None:
    """After every item, so a worker killed halfway still reports what it finished (null: not yet),
    and the agent, reading it as it changes, can show progress."""
    tmp = Path("out/.result.json.tmp")
    tmp.write_text(json.dumps({"results": results}), encoding="utf-8")
    os.replace(tmp, "out/result.json")


if __name__ == "__main__":
    sys.exit(main())
