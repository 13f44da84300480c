"""Documents, as the agent process handles them: every parse and render in a jailed worker.

The agent never opens a document with a parser. For each request it makes a scratch folder
outside any home, copies the document in (from the user's path, or from a home without
following links), seeds the worker's cache with what the agent already has for that content,
runs tools.documents.worker in the jail (sandbox.jail: no network, only the scratch folder
visible, memory/CPU/time/output budgets for the whole process tree), and takes back plain
results: JSON it checks, and PNG pages and files it copies out without parsing. A render whose
pages are all cached is answered without starting a worker.

The budgets (`AGENT_WORKER_MEMORY`, `AGENT_WORKER_TIMEOUT` to change them) end a request with a
one-line DocumentError naming the budget, never the agent: a PDF of nested forms that would
take 12 GB, a flate bomb, a workbook with millions of cells.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.confined import ConfinedDir, ConfinedPathError
from sandbox.jail import Limits, choose_isolation, run_in_jail, weakness_note
from tools.documents import cache
from tools.documents.checks.findings import CheckReport
from tools.documents.formats import DocumentError
from tools.documents.pages import (
    DEFAULT_DPI,
    DEFAULT_MAX_PAGES,
    RenderResult,
    check_dpi,
    parse_page_spec,
    render_is_cached,
    result_from_cache,
)

WORKER = "tools.documents.worker"
MAX_DOCUMENT_BYTES = 512 << 20
MAX_RESULT_BYTES = 64 << 20
WORKER_CACHE = "tmp/.cache"  # the worker's cache folder inside its scratch (its AGENT_CACHE_DIR)
PROFILE_SLOTS = 4  # LibreOffice profiles a worker may use at once (tools.documents.convert)


def worker_limits(items: int = 1) -> Limits:
    """The worker's budgets: generous for real documents, fatal for bombs."""
    memory = cache.size_setting("AGENT_WORKER_MEMORY", 3 << 30)
    base = float(os.environ.get("AGENT_WORKER_TIMEOUT") or 180)
    timeout = base + 60 * (items - 1)
    return Limits(
        timeout=timeout,
        cpu_seconds=int(timeout) * 2,
        memory_bytes=memory,
        address_space_bytes=max(memory, 16 << 30),  # LibreOffice reserves far more than it uses
        file_size_bytes=1 << 30,
        open_files=4096,
        processes=256,
        tmp_bytes=1 << 30,
        home_bytes=4 << 30,
        home_inodes=100_000,
        output_bytes=64_000,
    )


@dataclass
class Source:
    """A document handed to the worker: a path the user named, or a file in a home."""

    name: str  # as shown in messages: the file name, or its path relative to the home
    path: Path | None = None
    home: ConfinedDir | None = None

    @classmethod
    def from_home(cls, home: ConfinedDir, rel: str) -> "Source":
        return cls(rel, home=home)

    @classmethod
    def from_path(cls, path: str | Path) -> "Source":
        path = Path(path)
        if not path.exists():
            raise DocumentError(f"{path}: no such file")
        if path.is_dir():
            raise DocumentError(f"{path}: is a directory, not a document")
        return cls(path.name, path=path)

    def copy_to(self, dest: Path) -> str:
        """Copy the bytes to `dest`; returns their sha256 (reading is not parsing)."""
        if self.home is not None:
            try:
                self.home.copy_out(self.name, dest, limit=MAX_DOCUMENT_BYTES)
            except ConfinedPathError as exc:
                raise DocumentError(str(exc)) from None
        else:
            if self.path.stat().st_size > MAX_DOCUMENT_BYTES:
                raise DocumentError(f"{self.name}: larger than the {MAX_DOCUMENT_BYTES >> 20} MiB limit")
            shutil.copyfile(self.path, dest)
        if dest.stat().st_size == 0:
            raise DocumentError(f"{Path(self.name).name}: empty file (0 bytes)")
        return _sha256(dest)


@dataclass
class WorkerCall:
    """One request to a worker: items with their documents, and what came back."""

    op: str
    items: list[dict[str, Any]]
    sources: list[Source]
    extras: list[dict[str, Source]] = field(default_factory=list)  # per item: name → other file it needs
    dpi: int | None = None  # pages to seed from the cache


def document_isolation_note(isolation: str) -> str | None:
    """One line to say once when documents are parsed without bwrap."""
    note = weakness_note(isolation)
    return None if note is None else "documents are parsed by a worker at the process level: " + note


# -- the operations -----------------------------------------------------------------------------------


def render(
    source: Source,
    out_dir: str | Path,
    dpi: int = DEFAULT_DPI,
    pages: list[int] | str | None = None,
    max_pages: int = DEFAULT_MAX_PAGES,
    isolation: str | None = None,
) -> RenderResult:
    [result] = render_many([source], [out_dir], dpi, pages, max_pages, isolation)
    if isinstance(result, DocumentError):
        raise result
    return result


def render_many(
    sources: list[Source],
    out_dirs: list[str | Path],
    dpi: int = DEFAULT_DPI,
    pages: list[int] | str | None = None,
    max_pages: int = DEFAULT_MAX_PAGES,
    isolation: str | None = None,
) -> list[RenderResult | DocumentError]:
    """Render documents into their out_dirs; one worker converts and draws all that is not cached.
    A document that fails gives its DocumentError in its place."""
    dpi = check_dpi(dpi)
    parse_page_spec(pages)  # a bad page list is the caller's mistake: say so before any work
    digests: dict[int, str] = {}
    errors: dict[int, DocumentError] = {}
    with _Scratch() as scratch:
        for i, source in enumerate(sources):
            try:
                digests[i] = scratch.stage(i, source)
            except DocumentError as exc:
                errors[i] = exc
        todo = [i for i, digest in digests.items() if not render_is_cached(digest, dpi, pages, max_pages)]
        if todo:
            items = [{"input": scratch.inputs[i], "dpi": dpi, "pages": pages, "max_pages": max_pages} for i in todo]
            outcomes = scratch.run(
                "render", items, [digests[i] for i in todo], [sources[i].name for i in todo], dpi, isolation
            )
            for i, outcome in zip(todo, outcomes):
                if isinstance(outcome, DocumentError):
                    errors[i] = outcome
    results: list[RenderResult | DocumentError] = []
    for i, (source, out_dir) in enumerate(zip(sources, out_dirs)):
        if i in errors:
            results.append(errors[i])
            continue
        try:
            result = result_from_cache(Path(source.name), digests[i], out_dir, dpi, pages, max_pages)
        except DocumentError as exc:
            results.append(exc)
            continue
        result.cached = i not in todo
        results.append(result)
    cache.prune()
    return results


def inspect(source: Source, recalculate: bool = True, isolation: str | None = None) -> dict[str, Any]:
    result = _single("inspect", source, {"recalculate": recalculate}, isolation)
    inspection = result.get("inspection")
    if not isinstance(inspection, dict):
        raise DocumentError(f"{source.name}: the document worker returned no structure")
    inspection["file"] = Path(source.name).name
    return inspection


def read_text(source: Source, max_chars: int = 200_000, isolation: str | None = None) -> str:
    result = _single("read_text", source, {"max_chars": max_chars}, isolation)
    text = result.get("text")
    if not isinstance(text, str):
        raise DocumentError(f"{source.name}: the document worker returned no text")
    return text


@dataclass
class CheckOutcome:
    report: CheckReport
    annotated: Path | None  # the contact sheet with findings boxed, when asked for


def check(
    source: Source,
    dest_dir: Path,
    render: bool = True,
    dpi: int = DEFAULT_DPI,
    annotate: bool = False,
    isolation: str | None = None,
) -> CheckOutcome:
    """Run the QA checks in the worker. The rendered pages (from the cache) and the annotated
    sheet are copied into `dest_dir`."""
    with _Scratch() as scratch:
        digest = scratch.stage(0, source)
        item = {"input": scratch.inputs[0], "render": render, "dpi": dpi, "annotate": annotate}
        [result] = scratch.run("check", [item], [digest], [source.name], dpi, isolation)
        if isinstance(result, DocumentError):
            raise result
        dest_dir.mkdir(parents=True, exist_ok=True)
        annotated = None
        if result.get("annotated") == "findings.png":
            annotated = dest_dir / "findings.png"
            scratch.copy_png("out/0/findings.png", annotated)
    try:
        report = CheckReport.from_dict(result.get("report"), Path(source.name))
    except (ValueError, TypeError, KeyError) as exc:
        raise DocumentError(f"{source.name}: the document worker's report could not be read ({exc})") from None
    numbers = [n for n in result.get("page_numbers", []) if isinstance(n, int)]
    if numbers:
        pages = result_from_cache(Path(source.name), digest, dest_dir / "pages", dpi, numbers, len(numbers))
        report.pages, report.page_numbers = pages.pages, pages.page_numbers
    cache.prune()
    return CheckOutcome(report, annotated)


@dataclass
class EditOutcome:
    done: list[str]
    written: list[Path]  # the files made, in a host folder, named as they should be placed


def edit(
    source: Source,
    kind: str,
    operations: list[dict],
    output_name: str,
    dest_dir: Path,
    extras: dict[str, Source] | None = None,
    isolation: str | None = None,
) -> EditOutcome:
    """Apply structured `operations` to a copy of `source` in the worker; the results are copied
    into `dest_dir` (a host folder) for the caller to place. `extras`: other files an operation
    names (PDFs to merge), by the name the operation uses."""
    with _Scratch() as scratch:
        scratch.stage(0, source)
        staged_extras = {name: scratch.stage_extra(0, k, src) for k, (name, src) in enumerate((extras or {}).items())}
        item = {
            "input": scratch.inputs[0],
            "shown": source.name,
            "format": kind,
            "operations": operations,
            "output_name": output_name,
            "extras": staged_extras,
        }
        [result] = scratch.run("edit", [item], [], [source.name], None, isolation)
        if isinstance(result, DocumentError):
            raise result
        written = []
        dest_dir.mkdir(parents=True, exist_ok=True)
        for name in result.get("written", []):
            if not isinstance(name, str) or not re.fullmatch(r"[^/\x00]{1,255}", name) or name.startswith("."):
                continue
            target = dest_dir / name
            try:
                scratch.files.copy_out(f"out/0/{name}", target, limit=MAX_DOCUMENT_BYTES)
            except ConfinedPathError as exc:
                raise DocumentError(f"{source.name}: the edited file could not be taken back ({exc})") from None
            written.append(target)
    done = [d for d in result.get("done", []) if isinstance(d, str)]
    return EditOutcome(done, written)


def _single(op: str, source: Source, args: dict, isolation: str | None) -> dict:
    with _Scratch() as scratch:
        digest = scratch.stage(0, source)
        [result] = scratch.run(op, [{"input": scratch.inputs[0], **args}], [digest], [source.name], None, isolation)
    if isinstance(result, DocumentError):
        raise result
    cache.prune()
    return result


# -- the scratch folder and the worker run ------------------------------------------------------------


def _open_folder(folder: Path) -> Path:
    """Make `folder` (and its parents in the scratch) readable by the worker's user (nobody, when
    run as root) whatever the umask is. Only the host writes under in/, so paths are safe here."""
    missing = [p for p in [folder, *folder.parents] if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    for path in missing:
        os.chmod(path, 0o755)
    return folder


class _Scratch:
    """A folder outside any home for one worker request; removed afterwards whatever it holds."""

    def __enter__(self) -> "_Scratch":
        self.root = Path(tempfile.mkdtemp(prefix="lookclosely-worker-"))
        os.chmod(self.root, 0o755)
        for name in ("in", "out", WORKER_CACHE):
            _open_folder(self.root / name)
        self.files = ConfinedDir(self.root)
        self.inputs: dict[int, str] = {}
        return self

    def __exit__(self, *exc) -> None:
        # rm handles trees of any depth and never follows links; shutil.rmtree recurses in Python
        subprocess.run(
            ["rm", "-rf", "--one-file-system", str(self.root)],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stage(self, index: int, source: Source) -> str:
        folder = _open_folder(self.root / "in" / str(index))
        name = _safe_name(Path(source.name).name)
        digest = source.copy_to(folder / name)
        os.chmod(folder / name, 0o644)
        self.inputs[index] = f"in/{index}/{name}"
        return digest

    def stage_extra(self, index: int, k: int, source: Source) -> str:
        folder = _open_folder(self.root / "in" / str(index) / "extra")
        dest = folder / f"{k}-{_safe_name(Path(source.name).name)}"
        source.copy_to(dest)
        os.chmod(dest, 0o644)
        return str(dest.relative_to(self.root))

    def copy_png(self, rel: str, dest: Path) -> None:
        tmp = dest.with_name(f".{dest.name}.tmp")
        try:
            self.files.copy_out(rel, tmp, limit=MAX_DOCUMENT_BYTES)
            width, height = cache.png_size(tmp)
            if width * height > cache.MAX_SHEET_PNG_PIXELS:
                raise ValueError("too many pixels")
            os.replace(tmp, dest)
        except (ConfinedPathError, ValueError) as exc:
            raise DocumentError(f"the document worker's image {rel} was not usable ({exc})") from None
        finally:
            tmp.unlink(missing_ok=True)

    def run(
        self, op: str, items: list[dict], digests: list[str], names: list[str], dpi: int | None, isolation: str | None
    ) -> list[dict | DocumentError]:
        """Run the worker on `items`; a result dict or a DocumentError per item. When the worker is
        killed with several items unfinished, each is tried again alone, so one bomb sinks only itself."""
        isolation = isolation or choose_isolation(None)
        results = self._run_once(op, items, digests, names, dpi, isolation)
        unfinished = [i for i, r in enumerate(results) if isinstance(r, _Unfinished)]
        if len(unfinished) > 1:
            for i in unfinished:
                results[i] = self._run_once(
                    op, [items[i]], [digests[i]] if digests else [], [names[i]], dpi, isolation
                )[0]
        return [DocumentError(str(r)) if isinstance(r, _Unfinished) else r for r in results]

    def _run_once(
        self, op: str, items: list[dict], digests: list[str], names: list[str], dpi: int | None, isolation: str
    ) -> list:
        worker_cache = self.root / WORKER_CACHE
        seeded = {digest: cache.seed(digest, worker_cache, dpi) for digest in digests}
        if op in ("render", "check", "inspect", "read_text", "edit"):
            _ensure_profile_template(isolation)
            cache.seed_profiles(worker_cache, min(PROFILE_SLOTS, len(items)))
        limits = worker_limits(len(items))
        request = json.dumps({"op": op, "items": items}).encode()
        outcome = run_in_jail(WORKER, self.root, isolation, limits, stdin=request, read_only=("in",))
        for digest in digests:
            cache.harvest(self.files, WORKER_CACHE, digest, seeded[digest])
        try:
            raw = json.loads(self.files.read_bytes("out/result.json", MAX_RESULT_BYTES))
            reported = raw["results"] if isinstance(raw, dict) and isinstance(raw.get("results"), list) else []
        except (ConfinedPathError, ValueError):
            reported = []
        why = _why_unfinished(outcome, limits)
        results: list = []
        for i, name in enumerate(names):
            got = reported[i] if i < len(reported) and isinstance(reported[i], dict) else None
            if got is None:
                results.append(_Unfinished(f"{Path(name).name}: {why}"))
            elif got.get("ok") is True:
                results.append(got)
            else:
                results.append(DocumentError(_one_line(str(got.get("error") or f"{name}: the document worker failed"))))
        return results


class _Unfinished(str):
    """An item the worker did not finish (killed or crashed); tried again alone when others shared its run."""


def _why_unfinished(outcome, limits: Limits) -> str:
    if outcome.killed == "memory":
        return (
            f"processing it needed more than {limits.memory_bytes >> 20:,} MiB of memory, the document worker's budget "
            "(a decompression bomb or an outsized file; AGENT_WORKER_MEMORY raises the budget)"
        )
    if outcome.killed == "timeout":
        return (
            f"processing it took longer than {limits.timeout:.0f} s, the document worker's time budget "
            "(AGENT_WORKER_TIMEOUT raises it)"
        )
    if outcome.killed in ("home size", "home inodes"):
        return "processing it wrote more than the document worker's disk budget allows"
    if outcome.returncode is not None and outcome.returncode < 0:
        return f"the document worker crashed (signal {-outcome.returncode}) while reading it; the file is probably corrupt or hostile"
    last = (outcome.stderr.strip().splitlines() or ["no output"])[-1]
    return f"the document worker failed ({_one_line(last)[:200]})"


_PROFILE_READY = False


def _ensure_profile_template(isolation: str) -> None:
    """Make the LibreOffice profile template once (a worker converting a file of our own):
    later workers start LibreOffice on a copy, about a second faster than on a fresh profile."""
    global _PROFILE_READY
    if _PROFILE_READY or cache.profile_template() is not None or shutil.which("soffice") is None:
        _PROFILE_READY = True
        return
    with _Scratch() as scratch:
        outcome = run_in_jail(
            WORKER,
            scratch.root,
            isolation,
            worker_limits(),
            stdin=json.dumps({"op": "prepare_profile", "items": [{}]}).encode(),
            read_only=("in",),
        )
        if outcome.returncode == 0:
            cache.keep_profile_template(scratch.files, f"{WORKER_CACHE}/lo-profiles/p0")
    _PROFILE_READY = True


def _safe_name(name: str) -> str:
    """A file name the worker's messages can show: the user's, with anything odd replaced."""
    cleaned = re.sub(r"[^\w.\- ]", "_", name)[:120].strip(" .") or "document"
    return cleaned


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
