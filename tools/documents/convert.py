"""Office → PDF (or → another office format) with LibreOffice headless.

Each conversion runs in a LibreOffice user profile that no other conversion is using at the
same time: two soffice processes sharing a profile fail silently (the second hands its job to
the first and exits 0 with no output). Profiles are slots under the cache directory, claimed
with an exclusive file lock, so threads and separate processes can convert concurrently.
Every profile is set to recalculate formulas on load (LibreOffice's default keeps the cached
values stored in the file, so a cell whose inputs changed would render its old result), and
hardened against what a hostile document asks for: no linked image, sound or other resource
outside the document is fetched or read (`BlockUntrustedRefererLinks`: http:// and file://
links alike), macros never run, and links are never updated on load. This is the second layer;
the first is that conversions run in the jailed document worker, which has no network and sees
only its own files (tools.documents.jailed).

A conversion that runs past its timeout is killed with its whole process group.
Several files can go through one soffice start (`to_pdf_many`): startup costs more than a
typical conversion.
"""

from __future__ import annotations

import fcntl
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from tools.documents.cache import cache_root
from tools.documents.formats import DocumentError, sniff

DEFAULT_TIMEOUT = 120.0  # seconds per file
MAX_PROFILES = 16
SOFFICE_MEMORY_KB = 6_000_000  # address-space limit for the converter
INSTALL_HINT = "sudo apt-get install -y libreoffice-writer libreoffice-calc libreoffice-impress"

# LibreOffice export filters by target extension; the bare extension picks the importer's default.
TARGETS = {
    "pdf": "pdf",
    "docx": "docx:MS Word 2007 XML",
    "xlsx": "xlsx:Calc MS Excel 2007 XML",
    "pptx": "pptx:Impress MS PowerPoint 2007 XML",
    "odt": "odt",
    "ods": "ods",
    "odp": "odp",
}

# (path, property, value) set in every profile: recalculation on load, then the hardening.
PROFILE_SETTINGS = [
    ("/org.openoffice.Office.Calc/Formula/Load", "OOXMLRecalcMode", "0"),  # 0: always recalculate
    ("/org.openoffice.Office.Calc/Formula/Load", "ODFRecalcMode", "0"),
    ("/org.openoffice.Office.Common/Misc", "FirstRun", "false"),
    ("/org.openoffice.Office.Common/Security/Scripting", "BlockUntrustedRefererLinks", "true"),
    ("/org.openoffice.Office.Common/Security/Scripting", "MacroSecurityLevel", "3"),  # 3: very high
    ("/org.openoffice.Office.Common/Security/Scripting", "DisableMacrosExecution", "true"),
    ("/org.openoffice.Office.Calc/Content/Update", "Link", "1"),  # 1: never update links on load
    ("/org.openoffice.Office.Writer/Content/Update", "Link", "0"),  # 0: never
    ("/org.openoffice.Office.Java/VirtualMachine", "Enable", "false"),  # no Java: nothing needs it, less to start
]
PROFILE_XCU = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
    + "".join(
        f'<item oor:path="{path}"><prop oor:name="{name}" oor:op="fuse"><value>{value}</value></prop></item>\n'
        for path, name, value in PROFILE_SETTINGS
    )
    + "</oor:items>\n"
)


def soffice_binary() -> str:
    """The LibreOffice executable, or a DocumentError that says how to install it."""
    override = os.environ.get("AGENT_SOFFICE")
    if override:
        if shutil.which(override) is None:
            raise DocumentError(f"AGENT_SOFFICE={override!r} is not an executable")
        return override
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    raise DocumentError(
        f"LibreOffice (soffice) is not installed; it is needed to render office files. Install it: {INSTALL_HINT}"
    )


# -- profiles --------------------------------------------------------------------------------


def ensure_hardened_profile(profile: Path) -> None:
    """Give the profile our settings (recalculation, hardening). LibreOffice rewrites this file
    on exit, keeping our items; a profile missing any of them gets a fresh file."""
    xcu = profile / "user" / "registrymodifications.xcu"
    if xcu.exists():
        text = xcu.read_text(encoding="utf-8", errors="replace")
        if all(
            f'<item oor:path="{path}"><prop oor:name="{name}" oor:op="fuse"><value>{value}</value>' in text
            for path, name, value in PROFILE_SETTINGS
        ):
            return
    xcu.parent.mkdir(parents=True, exist_ok=True)
    tmp = xcu.with_suffix(".tmp")
    tmp.write_text(PROFILE_XCU, encoding="utf-8")
    os.replace(tmp, xcu)


@contextmanager
def claim_profile(wait: float = 600.0) -> Iterator[Path]:
    """An exclusive LibreOffice profile directory for the duration of the block."""
    base = cache_root() / "lo-profiles"
    base.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    while True:
        for slot in range(MAX_PROFILES):
            fd = os.open(base / f"p{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                profile = base / f"p{slot}"
                ensure_hardened_profile(profile)
                yield profile
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            return
        if time.monotonic() > deadline:
            raise DocumentError(f"all {MAX_PROFILES} LibreOffice profiles stayed busy for {wait:.0f}s")
        time.sleep(0.2)


# -- running soffice -------------------------------------------------------------------------


def run_soffice(
    inputs: list[Path],
    target: str,
    outdir: Path,
    profile: Path,
    timeout: float,
    on_finished: Callable[[int], None] | None = None,
) -> str:
    """Run one soffice conversion of `inputs` into `outdir`; return its output. Kills the group on timeout.

    soffice converts its inputs one after another and prints `convert <input> -> ...` as it starts
    storing each; an input's output is complete once the next input is announced. `on_finished(k)`
    is called then, from a reader thread, for input k (the last one is known only at exit: the
    caller looks at what is left)."""
    cmd = [
        soffice_binary(),
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--invisible",
        "--nologo",
        "--nodefault",
        "--norestore",
        "--nolockcheck",
        "--convert-to",
        TARGETS[target],
        "--outdir",
        str(outdir),
        *[str(p) for p in inputs],
    ]
    # ulimit in a shell keeps the limit off this (possibly threaded) Python process
    wrapped = ["/bin/sh", "-c", f'ulimit -v {SOFFICE_MEMORY_KB} 2>/dev/null; exec "$@"', "soffice", *cmd]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI", "GOOGLE", "OPENAI"))}
    proc = subprocess.Popen(
        wrapped,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
    )
    announcements = {f"convert {p} ": k for k, p in enumerate(inputs)}
    lines: list[str] = []

    def read() -> None:
        storing = None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            lines.append(line)
            k = next((k for prefix, k in announcements.items() if line.startswith(prefix)), None)
            if k is None:
                continue
            if storing is not None and on_finished is not None:
                on_finished(storing)
            storing = k

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        reader.join(timeout)
        if reader.is_alive():
            _kill_group(proc)
            reader.join(10)  # no callback may run after this returns
            raise TimeoutError(f"LibreOffice did not finish within {timeout:.0f}s")
        proc.wait()
    except BaseException:
        _kill_group(proc)
        raise
    # soffice may leave helpers (oosplash children) behind in its group
    _kill_group(proc)
    return "".join(lines)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _stage(path: Path, fmt: str, folder: Path, index: int) -> Path:
    """Copy the input under a unique name with the extension of its real format.

    A unique stem keeps same-named inputs apart in one output folder, and the right extension
    keeps LibreOffice from trusting a wrong one."""
    staged = folder / f"doc{index:04d}.{fmt}"
    shutil.copyfile(path, staged)
    return staged


def _reserve(out_dir: Path, stem: str, ext: str) -> Path:
    """A new file name in out_dir that no other file (or concurrent conversion) has: stem.ext, stem-2.ext, ..."""
    out_dir.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        candidate = out_dir / (f"{stem}.{ext}" if n == 1 else f"{stem}-{n}.{ext}")
        try:
            fd = os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            n += 1
            continue
        os.close(fd)
        return candidate


def _convert_batch(
    jobs: list[tuple[Path, str]],
    target: str,
    out_dir: Path,
    timeout: float,
    on_converted: Callable[[int, Path], None] | None = None,
) -> list[Path | DocumentError]:
    """Convert (path, format) jobs in one soffice run into out_dir; a result per job.
    `on_converted(k, path)` is called as soon as job k's output is complete (from another thread)."""
    work = Path(tempfile.mkdtemp(prefix="lo-convert-"))
    try:
        staged = [_stage(p, fmt, work, i) for i, (p, fmt) in enumerate(jobs)]
        produced_dir = work / "out"
        produced_dir.mkdir()
        results: list[Path | DocumentError | None] = [None] * len(jobs)

        def take(k: int) -> None:
            produced = produced_dir / f"{staged[k].stem}.{target}"
            if results[k] is None and produced.exists() and produced.stat().st_size > 0:
                dest = _reserve(out_dir, jobs[k][0].stem, target)
                os.replace(produced, dest) if _same_fs(produced, dest) else shutil.move(str(produced), dest)
                results[k] = dest
                if on_converted is not None:
                    on_converted(k, dest)

        log = ""
        error: str | None = None
        with claim_profile() as profile:
            try:
                log = run_soffice(staged, target, produced_dir, profile, timeout * len(jobs), on_finished=take)
            except TimeoutError as exc:
                error = str(exc)
        for k, (src, _) in enumerate(jobs):
            take(k)
            if results[k] is None:
                reason = (
                    error
                    or _failure_reason(log)
                    or "no output (the file may be corrupt or of a kind LibreOffice cannot open)"
                )
                results[k] = DocumentError(
                    f"{src.name}: LibreOffice could not convert it to {target.upper()}: {reason}"
                )
        return results  # type: ignore[return-value]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _same_fs(a: Path, b: Path) -> bool:
    return a.parent.stat().st_dev == b.parent.stat().st_dev


def _failure_reason(log: str) -> str | None:
    for line in log.splitlines():
        if line.lower().startswith("error"):
            return line.strip()
    return None


def convert_to(path: str | Path, fmt: str, out_dir: str | Path, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Convert a document with LibreOffice to `fmt` ("pdf", "xlsx", "docx", "pptx", "odt", ...).

    Converting an XLSX to "xlsx" gives a copy whose cached values are recalculated. The result
    gets a new name in out_dir (name.fmt, else name-2.fmt, ...): nothing there is overwritten.
    """
    path = Path(path)
    if fmt not in TARGETS:
        raise DocumentError(f"cannot convert to {fmt!r}; supported: {', '.join(TARGETS)}")
    found = sniff(path).format
    if found == "pdf":
        raise DocumentError(f"{path.name}: is a PDF already; LibreOffice does not convert PDFs back to office formats")
    [result] = _convert_batch([(path, found)], fmt, Path(out_dir), timeout)
    if isinstance(result, DocumentError):
        raise result
    return result


def to_pdf(path: str | Path, out_dir: str | Path, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Convert an office document to PDF in out_dir (a PDF input is copied). Never overwrites."""
    path = Path(path)
    if sniff(path).format == "pdf":
        dest = _reserve(Path(out_dir), path.stem, "pdf")
        shutil.copyfile(path, dest)
        return dest
    return convert_to(path, "pdf", out_dir, timeout)


def to_pdf_many(
    paths: list[str | Path],
    out_dir: str | Path,
    workers: int | None = None,
    batch_size: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    on_result: Callable[[int, Path | DocumentError], None] | None = None,
) -> list[Path | DocumentError]:
    """Convert many documents to PDF: `workers` soffice processes at once, each with its own
    profile, each converting up to `batch_size` files per start (default: its whole share, up to
    8). Results keep the input order; a file that fails gives its DocumentError in its place (a
    failed batch is retried file by file so one bad file does not sink the others).
    `on_result(i, result)` is called for each file as soon as it is final, from worker threads:
    a batch's files one by one as LibreOffice finishes them."""
    paths = [Path(p) for p in paths]
    out_dir = Path(out_dir)
    workers = workers or max(1, min(os.cpu_count() or 1, 4))
    results: list[Path | DocumentError | None] = [None] * len(paths)

    def settle(i: int, result: Path | DocumentError) -> None:
        results[i] = result
        if on_result is not None:
            on_result(i, result)

    office: list[tuple[int, Path, str]] = []
    for i, p in enumerate(paths):
        try:
            fmt = sniff(p).format
            if fmt == "pdf":
                settle(i, to_pdf(p, out_dir))
            else:
                office.append((i, p, fmt))
        except DocumentError as exc:
            settle(i, exc)
    # spread files so every worker gets a share, then cut each share into batches
    shares = [office[w::workers] for w in range(workers)]
    size = batch_size or min(8, max(1, -(-len(office) // workers)))
    tasks: queue.Queue = queue.Queue()
    for share in shares:
        for k in range(0, len(share), size):
            tasks.put(share[k : k + size])

    def work() -> None:
        while True:
            try:
                batch = tasks.get_nowait()
            except queue.Empty:
                return
            produced = _convert_batch(
                [(p, fmt) for _, p, fmt in batch],
                "pdf",
                out_dir,
                timeout,
                on_converted=lambda k, path, batch=batch: settle(batch[k][0], path),
            )
            for (i, p, fmt), r in zip(batch, produced):
                if isinstance(r, DocumentError):
                    if len(batch) > 1:
                        [r] = _convert_batch([(p, fmt)], "pdf", out_dir, timeout)
                    settle(i, r)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(min(workers, max(1, tasks.qsize())))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results  # type: ignore[return-value]
