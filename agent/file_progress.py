"""Progress over many files on stderr, for `agent render` and `agent check` with several files.

On a terminal: one bar redrawn in place (files done of total, pages so far, elapsed time), with
each failure and note printed above it. Otherwise (a pipe, a log file, CI): one line per file
as it finishes. Nothing ever goes to stdout, which carries the results.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class FileProgress:
    def __init__(self, total: int, verb: str, stream: TextIO | None = None):
        self.total = total
        self.verb = verb  # "rendered", "checked"
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.done = 0
        self.pages = 0
        self.failed = 0
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.bar = None
        if self.tty:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn(verb.removesuffix("ed") + "ing"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("files · {task.fields[pages]} pages · {task.fields[failed]} failed"),
                TimeElapsedColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self.task = self.bar.add_task(verb, total=total, pages=0, failed=0)
            self.bar.start()

    def file_done(self, shown: str, pages: int, detail: str = "", notes: list[str] | None = None) -> None:
        """A file finished: `pages` rendered or checked; `detail` ends its line; `notes` follow it."""
        with self.lock:
            self.done += 1
            self.pages += pages
            if self.bar is not None:
                for note in notes or []:
                    self._say(note)
                self.bar.update(self.task, advance=1, pages=self.pages, failed=self.failed)
            else:
                self._say(f"[{self.done}/{self.total}] {shown}: {detail}")
                for note in notes or []:
                    self._say(note)

    def file_failed(self, line: str) -> None:
        """A file could not be done; `line` names it and says why."""
        with self.lock:
            self.done += 1
            self.failed += 1
            self._say(line)
            if self.bar is not None:
                self.bar.update(self.task, advance=1, pages=self.pages, failed=self.failed)

    def close(self) -> float:
        """Take the bar down; returns the seconds since the start."""
        if self.bar is not None:
            self.bar.stop()
        return time.monotonic() - self.started

    def _say(self, line: str) -> None:
        if self.bar is not None:
            self.bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            print(line, file=self.stream, flush=True)
