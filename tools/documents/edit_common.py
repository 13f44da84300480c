"""What every structured edit shares: the error type, page/slide selections, and the
verified atomic write (temp file, re-open, then rename), so a failed edit leaves nothing behind."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from sandbox.files import atomic_output
from tools.documents.formats import DocumentError


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
            raise EditError(f"the edited file did not re-open cleanly ({type(exc).__name__}: {exc}); nothing was written") from exc


def parse_pages(spec: str | list[int], count: int) -> list[int]:
    """'1-3,5' or [1, 2] (1-based; 'all' for every page) → sorted 0-based indices, checked against `count`."""
    if isinstance(spec, list):
        numbers = list(spec)
    elif spec.strip().lower() == "all":
        numbers = list(range(1, count + 1))
    else:
        numbers = []
        for part in spec.replace(" ", "").split(","):
            if not part:
                continue
            try:
                if "-" in part:
                    lo, hi = part.split("-", 1)
                    a, b = int(lo), int(hi) if hi else count
                    if a > b:
                        raise EditError(f"page range {part!r} runs backwards")
                    numbers.extend(range(a, b + 1))
                else:
                    numbers.append(int(part))
            except ValueError:
                raise EditError(f"page list {spec!r} is not like '1-3,5'") from None
    bad = [n for n in numbers if not 1 <= n <= count]
    if bad:
        raise EditError(f"page {bad[0]} is out of range: the document has {count} page(s), numbered from 1")
    return sorted({n - 1 for n in numbers})
