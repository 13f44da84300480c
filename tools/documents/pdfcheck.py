"""Opening PDFs with PDFium, one caller at a time, with clear errors for encrypted or broken files."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Iterator

import pypdfium2 as pdfium

from tools.documents.formats import DocumentError

# PDFium is not thread-safe: every use in this process goes through this lock.
PDFIUM_LOCK = threading.RLock()

# PDFium's FPDF_GetLastError codes
_ERR_FORMAT, _ERR_PASSWORD, _ERR_SECURITY = 3, 4, 5


@contextlib.contextmanager
def open_pdf(path: Path) -> Iterator[pdfium.PdfDocument]:
    """A PdfDocument held under PDFIUM_LOCK; closed on exit."""
    path = Path(path)
    with PDFIUM_LOCK:
        try:
            doc = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as exc:
            raise _describe(path, exc) from None
        try:
            yield doc
        finally:
            doc.close()


def check_pdf(path: Path) -> int:
    """The page count, or DocumentError if PDFium cannot open the file without a password."""
    with open_pdf(path) as doc:
        return len(doc)


def _describe(path: Path, exc: pdfium.PdfiumError) -> DocumentError:
    code = getattr(exc, "err_code", None)
    if code == _ERR_PASSWORD:
        return DocumentError(
            f"{path.name}: encrypted PDF that needs a password to open; decrypt it first (e.g. qpdf --decrypt --password=PW in.pdf out.pdf)"
        )
    if code == _ERR_SECURITY:
        return DocumentError(f"{path.name}: PDF uses an unsupported security handler (encrypted)")
    return DocumentError(f"{path.name}: corrupt or truncated PDF that cannot be opened (PDFium: {exc})")
