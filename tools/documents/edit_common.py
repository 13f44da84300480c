"""What every structured edit shares: the error type, page/slide selections, and the
verified atomic write (temp file, re-open, then rename), so a failed edit leaves nothing behind."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from sandbox.files import atomic_output
from tools.documents.formats import DocumentError
from tools.documents.pages import parse_page_spec


class EditError(DocumentError):
    """An operation that cannot be applied (unknown shape, page out of range...): one line for the user or model."""


def save_verified(dest: Path, write: Callable[[Path], None], verify: Callable[[Path], None]) -> None:
    """Write with `write(tmp)`, check with `verify(tmp)` (re-open it), then move it onto `dest`.

    `dest` may be the file the edit was read from: it is replaced only once the new file opens."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(dest) as tmp:
        write(tmp)
        try:
            verify(tmp)
        except Exception as exc:
            raise EditError(
                f"the edited file did not re-open cleanly ({type(exc).__name__}: {exc}); nothing was written"
            ) from exc


def parse_pages(spec: str | list[int], count: int) -> list[int]:
    """'1-3,5' or [1, 2] (1-based; 'all' for every page) → sorted 0-based indices, checked against
    `count` before any range is expanded (tools.documents.pages.parse_page_spec, shared with render)."""
    try:
        numbers = parse_page_spec(spec, count)
    except DocumentError as exc:
        raise EditError(str(exc)) from None
    if not numbers:
        raise EditError(f"page list {spec!r} names no page")
    return [n - 1 for n in numbers]
