"""One gate in front of every model API call in this process.

A batch runs many agents at once against one provider. Its request rate (`--rpm`) and its
back-off after a 429 must be shared: when one job is told to slow down, all of them do.
The retry policy calls `GATE.wait()` before each attempt and `GATE.pause(seconds)` on a 429.

When the jobs run in many processes (the Ray runner), each process's gate is pointed at one
shared gate with `share(...)`: anything with `reserve()` and `pause(seconds)`, such as a Ray
actor holding a `RateGate` (agent/ray_runner.py). Delays are durations, never clock readings,
so processes on machines whose clocks differ still share one rate.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class SharedGate(Protocol):
    def reserve(self) -> float: ...

    def pause(self, seconds: float) -> None: ...


class RateGate:
    def __init__(self, rpm: float | None = None, clock=time.monotonic, sleep=time.sleep):
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._shared: SharedGate | None = None
        self.rpm = rpm

    def set_rpm(self, rpm: float | None) -> None:
        with self._lock:
            self.rpm = rpm

    def share(self, shared: SharedGate | None) -> None:
        """Keep the slots and pauses in `shared` instead of here (None: here again)."""
        self._shared = shared

    def pause(self, seconds: float) -> None:
        """Hold every caller back for `seconds` (the provider said to slow down)."""
        if self._shared is not None:
            self._shared.pause(seconds)
            return
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def reserve(self) -> float:
        """Take the next request slot if it is free now (returns 0.0), else return the seconds
        until it may be; the caller waits that long and asks again."""
        with self._lock:
            now = self._clock()
            start = max(now, self._paused_until, self._next_slot if self.rpm else now)
            if start <= now:
                if self.rpm:
                    self._next_slot = now + 60.0 / self.rpm
                return 0.0
            return start - now

    def wait(self) -> float:
        """Block until this caller may send a request; returns the seconds waited."""
        waited = 0.0
        while True:
            shared = self._shared
            delay = shared.reserve() if shared is not None else self.reserve()
            if delay <= 0:
                return waited
            self._sleep(delay)
            waited += delay


GATE = RateGate()
