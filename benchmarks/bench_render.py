"""Render throughput: the project's pipeline against the plain approach, in the same run.

Plain: for each file, one `soffice --convert-to pdf` then `pdftoppm -png`, one after another.
In-process (the pipeline before the trust boundary moved): `render.render_many` in this process:
concurrent LibreOffice workers with their own profiles, several files per LibreOffice start,
PDFium drawing, the content-hash cache.
Jailed (what the agent runs now): `jailed.render_many`, the same pipeline inside the jailed
document worker, the cache crossing in and out; measured cold, then warm (no worker starts).
Also: one file at a time through the worker (what a tool call costs), and the worker's start-up.

Every side starts with warmed LibreOffice profiles, so none pays first-run profile creation.
Run: python3 benchmarks/bench_render.py [--files N] [--dpi 110] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.documents.convert import soffice_binary  # noqa: E402


def build_files(folder: Path, count: int) -> list[Path]:
    """A mixed set: multi-page DOCX, multi-slide PPTX, multi-sheet XLSX with formulas."""
    import docx
    import openpyxl
    from pptx import Presentation
    from pptx.util import Inches, Pt

    files = []
    for i in range(count):
        kind = ("docx", "pptx", "xlsx")[i % 3]
        path = folder / f"file{i:02d}.{kind}"
        if kind == "docx":
            d = docx.Document()
            for section in range(3):
                d.add_heading(f"Chapter {section + 1} of file {i}", level=1)
                for p in range(12):
                    d.add_paragraph(f"Paragraph {p} of chapter {section + 1}. " * 12)
                table = d.add_table(rows=6, cols=4)
                for r in range(6):
                    for c in range(4):
                        table.cell(r, c).text = f"{r * c + i}"
            d.save(path)
        elif kind == "pptx":
            prs = Presentation()
            for s in range(5):
                slide = prs.slides.add_slide(prs.slide_layouts[1])
                slide.shapes.title.text = f"Slide {s + 1} of deck {i}"
                slide.placeholders[1].text = "\n".join(f"Point {k}" for k in range(5))
                tb = slide.shapes.add_textbox(Inches(6), Inches(6), Inches(3), Inches(1))
                tb.text_frame.text = "footnote"
                tb.text_frame.paragraphs[0].runs[0].font.size = Pt(10)
            prs.save(path)
        else:
            wb = openpyxl.Workbook()
            for s in range(2):
                ws = wb.active if s == 0 else wb.create_sheet(f"Data{s}")
                for r in range(1, 60):
                    ws.cell(r, 1, r)
                    ws.cell(r, 2, r * 1.5 + i)
                    ws.cell(r, 3, f"=A{r}*B{r}")
            wb.save(path)
        files.append(path)
    return files


def plain(files: list[Path], out: Path, dpi: int, profile: Path) -> int:
    soffice = soffice_binary()
    pages = 0
    for n, f in enumerate(files):
        pdf_dir = out / f"{n:02d}"
        pdf_dir.mkdir(parents=True)
        subprocess.run(
            [
                soffice,
                f"-env:UserInstallation={profile.as_uri()}",
                "--headless",
                "--convert-to",
                "pdf",
                "--outdir",
                str(pdf_dir),
                str(f),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
        pdf = pdf_dir / f"{f.stem}.pdf"
        subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(pdf_dir / "page")], check=True, timeout=300)
        pages += len(list(pdf_dir.glob("page*.png")))
    return pages


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=12)
    ap.add_argument("--dpi", type=int, default=110)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=3)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-render-"))
    os.environ["AGENT_CACHE_DIR"] = str(work / "cache")
    from tools.documents.convert import to_pdf_many
    from tools.documents.render import render_many

    (work / "inputs").mkdir()
    (work / "warm").mkdir()
    files = build_files(work / "inputs", args.files)
    print(
        f"{len(files)} files ({', '.join(sorted({f.suffix for f in files}))}), {os.cpu_count()} cores, dpi {args.dpi}"
    )

    # warm every LibreOffice profile either side will use
    warm = build_files(work / "warm", args.workers)
    to_pdf_many(warm, work / "warm-out", workers=args.workers, batch_size=1)
    baseline_profile = work / "baseline-profile"
    subprocess.run(
        [
            soffice_binary(),
            f"-env:UserInstallation={baseline_profile.as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(work / "warm-out2"),
            str(warm[0]),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    shutil.rmtree(work / "cache" / "renders", ignore_errors=True)

    have_pdftoppm = shutil.which("pdftoppm") is not None
    if have_pdftoppm:
        t = time.perf_counter()
        plain_pages = plain(files, work / "plain", args.dpi, baseline_profile)
        plain_s = time.perf_counter() - t
        print(
            f"plain    (soffice per file + pdftoppm): {plain_pages} pages in {plain_s:6.2f} s = {plain_pages / plain_s:7.2f} pages/s"
        )
    else:
        print("plain baseline skipped: pdftoppm is not installed (apt-get install poppler-utils)")

    t = time.perf_counter()
    results = render_many(files, work / "inproc", dpi=args.dpi, workers=args.workers, batch_size=args.batch_size)
    inproc_s = time.perf_counter() - t
    if any(not hasattr(r, "pages") for r in results):
        print(f"in-process failures: {[r for r in results if not hasattr(r, 'pages')]}")
        return 1
    pages = sum(len(r.pages) for r in results)
    print(
        f"in-process pipeline (before; cold):     {pages} pages in {inproc_s:6.2f} s = {pages / inproc_s:7.2f} pages/s"
    )

    from tools.documents import jailed
    from tools.documents.render import file_sha256

    isolation = jailed.choose_isolation(None)
    jailed._ensure_profile_template(isolation)
    shutil.rmtree(work / "cache" / "renders", ignore_errors=True)
    sources = [jailed.Source.from_path(f) for f in files]
    t = time.perf_counter()
    results = jailed.render_many(sources, [work / "jailed" / f"{n:02d}" for n in range(len(files))], dpi=args.dpi)
    cold_s = time.perf_counter() - t
    failed = [r for r in results if not hasattr(r, "pages")]
    if failed:
        print(f"jailed failures: {failed}")
        return 1
    print(
        f"jailed worker ({isolation}; cold, one request): {pages} pages in {cold_s:6.2f} s = {pages / cold_s:7.2f} pages/s"
    )

    t = time.perf_counter()
    again = jailed.render_many(sources, [work / "jailed2" / f"{n:02d}" for n in range(len(files))], dpi=args.dpi)
    warm_s = time.perf_counter() - t
    assert all(r.cached for r in again), "a cached render started a worker"
    print(f"jailed, every page cached (no worker):  {pages} pages in {warm_s:6.2f} s = {pages / warm_s:7.2f} pages/s")

    shutil.rmtree(work / "cache" / "renders", ignore_errors=True)
    t = time.perf_counter()
    for n, source in enumerate(sources):
        jailed.render(source, work / "single" / f"{n:02d}", dpi=args.dpi)
    single_s = time.perf_counter() - t
    print(
        f"jailed, one file per request (tool calls): {pages} pages in {single_s:6.2f} s = {pages / single_s:7.2f} pages/s"
    )

    startups = []
    for _ in range(5):
        with jailed._Scratch() as scratch:
            t = time.perf_counter()
            jailed.run_in_jail(
                jailed.WORKER,
                scratch.root,
                isolation,
                jailed.worker_limits(),
                stdin=b'{"op": "render", "items": []}',
                read_only=("in",),
            )
            startups.append(time.perf_counter() - t)
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import tools.documents.worker"], check=True, cwd=Path(__file__).resolve().parents[1]
    )
    bare = time.perf_counter() - t
    print(
        f"worker start-up (empty request, median of 5): {sorted(startups)[2] * 1000:.0f} ms; "
        f"bare python importing the worker module: {bare * 1000:.0f} ms"
    )
    assert file_sha256(files[0])

    if have_pdftoppm:
        if pages != plain_pages:
            print(f"note: page counts differ (plain {plain_pages}, pipeline {pages})")
        plain_rate = plain_pages / plain_s
        print(f"ratio in-process/plain (before):   {(pages / inproc_s) / plain_rate:.2f}x")
        print(f"ratio jailed/plain (cold):         {(pages / cold_s) / plain_rate:.2f}x  (target >= 2x)")
        print(f"ratio jailed one-per-request/plain: {(pages / single_s) / plain_rate:.2f}x")
        print(f"ratio jailed cached/plain:         {(pages / warm_s) / plain_rate:.1f}x  (target >= 50x)")
    print(f"ratio jailed/in-process (cold):    {inproc_s / cold_s:.2f}x")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
