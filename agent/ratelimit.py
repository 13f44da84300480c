"""One gate in front of every model API call in this process.

A batch runs many agents at once against one provider. Its request rate (`--rpm`) and its
back-off after a 429 must be shared: when one job is told to slow down, all of them do.
The retry policy calls `GATE.wait()` before each attempt and `GATE.pause(seconds)` on a 429.
"""

from __future__ import annotations

import threading
import time


class RateGate:
    def __init__(self, rpm: float | None = None, clock=time.monotonic, sleep=time.sleep):
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep
        self._next_slot = 0.0
        self._paused_until = 0.0
        self.rpm = rpm

    def set_rpm(self, rpm: float | None) -> None:
        with self._lock:
            self.rpm = rpm

    def pause(self, seconds: float) -> None:
        """Hold every caller back for `seconds` (the provider said to slow down)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def wait(self) -> float:
        """Block until this caller may send a request; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                start = max(now, self._paused_until, self._next_slot if self.rpm else now)
                if start <= now:
                    if self.rpm:
                        self._next_slot = now + 60.0 / self.rpm
                    return waited
                delay = start - now
            self._sleep(delay)
            waited += delay


GATE = RateGate()
