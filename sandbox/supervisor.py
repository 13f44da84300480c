"""Watching a jailed process tree from the host: output, time, memory of the whole tree, the home.

Limits set with setrlimit hold per process; these hold for everything the code starts:
- memory: the resident anonymous and shared-memory pages of every process descended from the
  jail's first process are summed ten times a second, and the group is killed past the cap
  (RLIMIT_AS still caps each process, which bounds how far one poll can overshoot);
- the home: apparent bytes and inodes are counted every half second (more rarely when counting
  is slow); the code is killed when it takes the home past its cap, or past what it held when
  the code started if that was already more (so code can still run to clean up);
- time: a wall-clock timeout.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from sandbox.confined import Usage, tree_usage

ESCAPE_GRACE = 0.5  # seconds the output pipes may stay open after the code's group is killed
MEMORY_POLL = 0.1
HOME_POLL = 0.5


@dataclass
class Watch:
    """What the supervisor enforces besides time. None: not watched."""

    memory_bytes: int | None = None
    home: Path | None = None
    home_bytes: int | None = None
    home_inodes: int | None = None


class Capture:
    """Keeps the first and last `limit // 2` bytes of a stream, and counts all of it."""

    def __init__(self, limit: int):
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.half = max(1, limit // 2)
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail.append(chunk)
            self.tail_size += len(chunk)
            while self.tail_size - len(self.tail[0]) >= self.half:
                self.tail_size -= len(self.tail.popleft())

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        tail = b"".join(self.tail)
        if self.total <= len(self.head) + len(tail):
            return head + tail.decode("utf-8", "replace")
        tail = tail[-self.half :]
        dropped = self.total - len(self.head) - len(tail)
        return f"{head}\n[... {dropped:,} bytes of output left out; {self.total:,} bytes in all ...]\n" + tail.decode(
            "utf-8", "replace"
        )


@dataclass
class Supervised:
    killed: str | None  # "timeout", "memory", "home size", "home inodes" or None
    held_open: bool  # something outside the group still held the output pipes after the kill
    peak_memory: int  # largest tree memory seen, bytes
    detail: str = ""  # what was over, for the message


def supervise(proc: subprocess.Popen, captures: dict, timeout: float, watch: Watch) -> Supervised:
    """Collect output until the child is gone; kill its group past a limit.

    One poll loop, no reader threads: a process that escaped the group may hold the pipes
    forever, and it must not hold this call with them."""
    started = time.monotonic()
    pidfd = os.pidfd_open(proc.pid)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    by_fd = {}
    for stream, capture in captures.items():
        os.set_blocking(stream.fileno(), False)
        poller.register(stream.fileno(), select.POLLIN)
        by_fd[stream.fileno()] = capture
    home_base = tree_usage(watch.home) if watch.home is not None else None
    killed, detail, exited_at, peak = None, "", None, 0
    next_memory = started + MEMORY_POLL
    next_home = started + HOME_POLL
    try:
        while True:
            now = time.monotonic()
            if exited_at is None and killed is None:
                if now >= started + timeout:
                    killed = "timeout"
                if killed is None and watch.memory_bytes is not None and now >= next_memory:
                    used = tree_memory(proc.pid)
                    peak = max(peak, used)
                    if used > watch.memory_bytes:
                        killed, detail = "memory", f"{used:,} bytes in use by the code's processes"
                    next_memory = now + MEMORY_POLL
                if killed is None and home_base is not None and now >= next_home:
                    counted_at = time.monotonic()
                    over = home_over(watch, home_base)
                    if over:
                        killed, detail = over
                    next_home = now + max(HOME_POLL, 4 * (time.monotonic() - counted_at))
                if killed:
                    kill_group(proc.pid)
                wake = min(started + timeout, next_memory if watch.memory_bytes else next_home, next_home)
            else:
                if exited_at is None:
                    exited_at = now  # killed: give the pipes the same grace as after an exit
                if not by_fd or now >= exited_at + ESCAPE_GRACE:
                    if killed is None and home_base is not None:
                        # code that wrote faster than the watch looked is judged on what it left
                        killed, detail = home_over(watch, home_base) or (None, "")
                    return Supervised(killed, bool(by_fd), peak, detail)
                wake = exited_at + ESCAPE_GRACE
            for fd, _ in poller.poll(max(0, int((wake - now) * 1000)) + 1):
                if fd == pidfd:
                    proc.wait()
                    kill_group(proc.pid)  # whatever the code left running in its group goes with it
                    poller.unregister(pidfd)
                    exited_at = exited_at or time.monotonic()
                    continue
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                if chunk:
                    by_fd[fd].add(chunk)
                else:
                    poller.unregister(fd)
                    del by_fd[fd]
    finally:
        os.close(pidfd)
        for stream in captures:
            stream.close()
        if proc.returncode is None:
            kill_group(proc.pid)
            proc.wait()


def home_over(watch: Watch, base: Usage) -> tuple[str, str] | None:
    """(kind, detail) when the home grew past its caps (or past `base`, when that was higher)."""
    max_bytes = None if watch.home_bytes is None else max(watch.home_bytes, base.bytes)
    max_inodes = None if watch.home_inodes is None else max(watch.home_inodes, base.inodes)
    now = tree_usage(watch.home, max_bytes, max_inodes)
    if max_bytes is not None and now.bytes > max_bytes:
        return "home size", f"the home holds more than {max_bytes:,} bytes"
    if max_inodes is not None and now.inodes > max_inodes:
        return "home inodes", f"the home holds more than {max_inodes:,} files and folders"
    return None


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def tree_memory(root_pid: int) -> int:
    """Resident anonymous + shared-memory bytes of `root_pid` and every process below it."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: fields resume after the last ')'
        ppid = int(stat[stat.rindex(b")") + 2 :].split(None, 2)[1])
        children.setdefault(ppid, []).append(int(name))
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        total += _resident(pid)
        todo.extend(children.get(pid, ()))
    return total


def _resident(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            status = fh.read()
    except OSError:
        return 0
    total = 0
    for key in (b"RssAnon:", b"RssShmem:"):
        at = status.find(key)
        if at >= 0:
            total += int(status[at + len(key) :].split(None, 1)[0]) * 1024
    return total
