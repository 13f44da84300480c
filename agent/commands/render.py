"""`agent render FILE...`: pages of DOCX/PPTX/XLSX/ODF/PDF files as PNG images, plus contact sheets.

Several files go through one jailed worker: LibreOffice converts them together and each file's
pages are drawn as soon as it is converted; files whose pages are all cached start no worker.
The document modules are imported inside the command, so a cached render starts fast."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from agent.errors import UsageError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "render",
        help="render documents' pages to PNG images and contact sheets",
        description="Render DOCX, PPTX, XLSX, ODF, legacy Office (via LibreOffice) and PDF files to one PNG "
        "per page/slide/sheet page, plus contact-sheet.png with page numbers. Pages are cached by content and DPI. "
        "Several files are converted together, with progress on stderr; each gets its own folder in --out. "
        "Exit status: 0 every file rendered, 2 a file could not be rendered (the others still are) or bad usage.",
        epilog="examples: agent render report.docx --pages 1-3,7 --out report_pages; "
        "agent render a.docx b.pptx c.xlsx --out pages  (pages/a/, pages/b/, pages/c/)",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="the documents")
    p.add_argument("--dpi", type=int, default=None, help="resolution in dots per inch (default 110)")
    p.add_argument("--pages", default=None, help="pages to render of each file, e.g. 1-3,7 (default: all)")
    p.add_argument(
        "--out",
        default=None,
        help="output folder (one file: its pages go here, default ./<name>_pages; several: a subfolder "
        "<name> per file here, default ./<name>_pages each; a repeated name gets -2, -3, ...)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON (several files: a list)")
    p.set_defaults(func=render_command)


def warn_if_documents_unjailed() -> None:
    """Say once, when bubblewrap is missing, that documents are parsed at the process level."""
    from sandbox.jail import choose_isolation
    from tools.documents import jailed

    note = jailed.document_isolation_note(choose_isolation(None))
    if note:
        print(f"agent: warning: {note}", file=sys.stderr)


def check_inputs(files: list[str]) -> list[Path]:
    """The files as paths; bad usage (a missing file, a folder) is refused before any work."""
    paths = [Path(name) for name in files]
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file")
        if path.is_dir():
            raise UsageError(f"{path}: is a directory, not a document")
    return paths


def output_folders(paths: list[Path], out: str | None) -> list[Path]:
    """Where each file's pages go. One file: --out itself (default ./<name>_pages). Several: a
    folder per file named after it, in --out or beside the current folder's <name>_pages; a name
    already taken (same name from another folder, deck.pptx and deck.pdf) gets -2, -3, ..."""
    from agent.files import check_out_dir

    if out is not None:
        check_out_dir(out, "--out")  # a file there, or nowhere to make it: refused before any work
    if len(paths) == 1:
        folders = [Path(out) if out else Path(f"{paths[0].stem}_pages")]
    else:
        taken: set[str] = set()
        folders = []
        for path in paths:
            stem, n = path.stem or "document", 1
            while (name := stem if n == 1 else f"{stem}-{n}").casefold() in taken:
                n += 1
            taken.add(name.casefold())
            folders.append(Path(out) / name if out else Path(f"{name}_pages"))
    for folder in folders:
        if out is None or folder != Path(out):
            check_out_dir(folder, "output folder")  # pages/deck a file, deck_pages a file: refused too
    return folders


def failure_line(path: Path, error: Exception) -> str:
    """One line naming the file as the user gave it: the worker's messages start with the bare name."""
    message = " ".join(str(error).split())
    message = message.removeprefix(f"{path.name}: ") if message.startswith(f"{path.name}: ") else message
    return f"agent: error: {path}: {message}"


def render_command(args) -> int:
    from agent.file_progress import FileProgress
    from tools.documents import DocumentError, jailed
    from tools.documents.pages import DEFAULT_DPI, check_dpi, parse_page_spec

    paths = check_inputs(args.files)
    folders = output_folders(paths, args.out)
    dpi = DEFAULT_DPI if args.dpi is None else args.dpi
    try:
        check_dpi(dpi)
        parse_page_spec(args.pages)
    except DocumentError as exc:
        raise UsageError(str(exc)) from None
    many = len(paths) > 1
    progress = FileProgress(len(paths), "rendered") if many else None

    def done(i: int, result) -> None:
        if progress is None:
            return
        if isinstance(result, DocumentError):
            progress.file_failed(failure_line(paths[i], result))
            return
        notes = [f"warning: {paths[i]}: {w}" for w in result.warnings] + _font_notes(paths[i], result)
        detail = f"{plural(len(result.pages), 'page')} → {folders[i]}" + (" (cached)" if result.cached else "")
        progress.file_done(str(paths[i]), len(result.pages), detail, notes)

    try:
        results = jailed.render_many(
            [jailed.Source.from_path(p) for p in paths], folders, dpi=dpi, pages=args.pages, on_done=done
        )
    finally:
        seconds = progress.close() if progress else 0.0
    if not all(isinstance(r, jailed.RenderResult) and r.cached for r in results):
        warn_if_documents_unjailed()  # only a worker parses documents; a cached render started none
    failed = [i for i, r in enumerate(results) if isinstance(r, DocumentError)]
    if not many:
        return _report_one(paths[0], folders[0], results[0], args.json)
    if args.json:
        print(
            json.dumps(
                [
                    {"source": str(p), "error": str(r)} if isinstance(r, DocumentError) else r.to_json()
                    for p, r in zip(paths, results)
                ],
                indent=1,
            )
        )
    else:
        for r in results:
            if not isinstance(r, DocumentError):
                print("\n".join(str(page) for page in [*r.pages, r.contact_sheet]))
    pages = sum(len(r.pages) for r in results if not isinstance(r, DocumentError))
    where = f" into {args.out}" if args.out else ""
    print(
        f"rendered {len(paths) - len(failed)} of {len(paths)} files ({pages} pages) at {dpi} dpi{where} "
        f"in {seconds:.1f} s" + (f"; {len(failed)} failed" if failed else ""),
        file=sys.stderr,
    )
    return 2 if failed else 0


def _report_one(path: Path, out: Path, result, as_json: bool) -> int:
    from tools.documents import DocumentError

    if isinstance(result, DocumentError):
        raise UsageError(str(result))
    if as_json:
        print(json.dumps(result.to_json(), indent=1))
        return 0
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for sub in result.fonts_substituted or []:
        print(f"font substituted: {sub['requested']} → {sub['used']}", file=sys.stderr)
    for page in result.pages:
        print(page)
    print(result.contact_sheet)
    print(
        f"rendered {len(result.pages)} of {result.page_count} pages at {result.dpi} dpi into {out}"
        + (" (from cache)" if result.cached else ""),
        file=sys.stderr,
    )
    return 0


def _font_notes(path: Path, result) -> list[str]:
    subs = result.fonts_substituted or []
    return (
        [f"fonts substituted in {path}: " + ", ".join(f"{s['requested']} → {s['used']}" for s in subs)] if subs else []
    )


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")
