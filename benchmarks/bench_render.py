"""Render throughput: the project's pipeline against the plain approach, in the same run.

Plain: for each file, one `soffice --convert-to pdf` then `pdftoppm -png`, one after another.
Pipeline: `render_many`: concurrent LibreOffice workers with their own profiles, several files
per LibreOffice start, PDFium drawing, and the content-hash cache (measured cold, then warm).

Both sides start with warmed LibreOffice profiles, so neither pays first-run profile creation.
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
        subprocess.run([soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to", "pdf",
                        "--outdir", str(pdf_dir), str(f)], check=True, capture_output=True, timeout=300)
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
    print(f"{len(files)} files ({', '.join(sorted({f.suffix for f in files}))}), {os.cpu_count()} cores, dpi {args.dpi}")

    # warm every LibreOffice profile either side will use
    warm = build_files(work / "warm", args.workers)
    to_pdf_many(warm, work / "warm-out", workers=args.workers, batch_size=1)
    baseline_profile = work / "baseline-profile"
    subprocess.run([soffice_binary(), f"-env:UserInstallation={baseline_profile.as_uri()}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(work / "warm-out2"), str(warm[0])], check=True, capture_output=True, timeout=300)
    shutil.rmtree(work / "cache" / "renders", ignore_errors=True)

    have_pdftoppm = shutil.which("pdftoppm") is not None
    if have_pdftoppm:
        t = time.perf_counter()
        plain_pages = plain(files, work / "plain", args.dpi, baseline_profile)
        plain_s = time.perf_counter() - t
        print(f"plain    (soffice per file + pdftoppm): {plain_pages} pages in {plain_s:6.2f} s = {plain_pages / plain_s:7.2f} pages/s")
    else:
        print("plain baseline skipped: pdftoppm is not installed (apt-get install poppler-utils)")

    t = time.perf_counter()
    results = render_many(files, work / "pipeline", dpi=args.dpi, workers=args.workers, batch_size=args.batch_size)
    cold_s = time.perf_counter() - t
    failed = [r for r in results if not hasattr(r, "pages")]
    if failed:
        print(f"pipeline failures: {failed}")
        return 1
    pages = sum(len(r.pages) for r in results)
    print(f"pipeline (cold cache, {args.workers} workers, batches of {args.batch_size}): {pages} pages in {cold_s:6.2f} s = {pages / cold_s:7.2f} pages/s")

    t = time.perf_counter()
    again = render_many(files, work / "pipeline2", dpi=args.dpi, workers=args.workers, batch_size=args.batch_size)
    warm_s = time.perf_counter() - t
    assert all(r.cached for r in again)
    print(f"pipeline (cached re-render):            {pages} pages in {warm_s:6.2f} s = {pages / warm_s:7.2f} pages/s")

    if have_pdftoppm:
        if pages != plain_pages:
            print(f"note: page counts differ (plain {plain_pages}, pipeline {pages})")
        print(f"ratio pipeline/plain (cold): {(pages / cold_s) / (plain_pages / plain_s):.2f}x  (target >= 2x)")
        print(f"ratio cached/plain:          {(pages / warm_s) / (plain_pages / plain_s):.1f}x  (target >= 50x)")
    print(f"ratio cached/cold pipeline:  {cold_s / warm_s:.1f}x")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
