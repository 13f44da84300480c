"""A clock that only moves when something sleeps on it: retry and rate-limit tests run instantly."""

from __future__ import annotations


class Clock:
    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
