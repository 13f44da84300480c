"""The one retry policy every model adapter uses.

An adapter makes one attempt at a call and, when it fails, says whether the failure is
transient by raising `TransientError` (408, 429, 500, 502, 503, 504, a timeout, a dropped
connection, a garbled reply), with the server's own hint of how long to wait when it gave
one. Everything else about retrying lives here: exponential backoff with jitter, the
server's hint honoured as a minimum, a cap on attempts and on the total time spent waiting,
and the process-wide rate gate (`agent.ratelimit.GATE`), so that when the provider says
"slow down" to one job, every job in a batch backs off together. Every retry is announced
(on stderr by default): what failed, why, and how long until the next attempt, so a slow
run is never a silent one. When the cap is reached the last error is raised as `ModelError`
(the run ends with status model_error, exit code 3).

A refused connection is not transient: nothing listens at that address, and waiting will
not start the server. `connection_refused` tells the adapters so they fail at once.
"""

from __future__ import annotations

import email.utils
import os
import random
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, TypeVar

from agent.models.base import ModelError
from agent.ratelimit import GATE, RateGate

T = TypeVar("T")

# 408 request timeout, 429 rate limit, 500/502/503/504 the server or a gateway in front of it
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class TransientError(Exception):
    """One attempt failed in a way that may succeed if tried again later."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after  # seconds the server asked us to wait, if it said


@dataclass
class RetryPolicy:
    max_attempts: int = 6
    max_total_wait: float = 300.0  # seconds spent waiting between attempts, in all
    base_delay: float = 1.0
    max_delay: float = 60.0
    gate: RateGate = field(default_factory=lambda: GATE)
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = random.random
    announce: Callable[[str], None] = field(default_factory=lambda: _to_stderr)

    @classmethod
    def from_env(cls, **overrides: Any) -> "RetryPolicy":
        """Defaults, adjusted by AGENT_RETRY_ATTEMPTS, AGENT_RETRY_MAX_WAIT, AGENT_RETRY_BASE_DELAY."""
        env = {
            "max_attempts": ("AGENT_RETRY_ATTEMPTS", int),
            "max_total_wait": ("AGENT_RETRY_MAX_WAIT", float),
            "base_delay": ("AGENT_RETRY_BASE_DELAY", float),
        }
        values: dict[str, Any] = {}
        for name, (var, kind) in env.items():
            raw = os.environ.get(var)
            if raw:
                try:
                    values[name] = kind(raw)
                except ValueError:
                    raise ValueError(f"{var}={raw!r} is not a number") from None
        values.update(overrides)
        return cls(**values)

    def backoff(self, attempt: int) -> float:
        """Delay after the `attempt`-th failure: exponential, with half of it jittered."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return ceiling / 2 + self.random() * ceiling / 2

    def call(self, attempt_once: Callable[[], T], what: str = "model call") -> T:
        """Run `attempt_once` until it succeeds, retrying each TransientError within the caps."""
        waited = 0.0
        for attempt in range(1, self.max_attempts + 1):
            self.gate.wait()
            try:
                return attempt_once()
            except TransientError as exc:
                last = exc
            if attempt == self.max_attempts:
                break
            delay = self.backoff(attempt)
            asked = last.retry_after is not None and last.retry_after >= delay
            if last.retry_after is not None:
                delay = max(delay, last.retry_after)
            if waited + delay > self.max_total_wait:
                raise ModelError(
                    f"{what} failed after {attempt} attempts; the next retry would pass the "
                    f"{self.max_total_wait:g}s wait limit: {last}"
                ) from last
            waited += delay
            why = " as the server asked" if asked else ""
            self.announce(
                f"agent: {what} failed: {_one_line(last)}; retrying in {delay:.1f}s{why} (attempt {attempt + 1} of {self.max_attempts})"
            )
            if last.status == 429:
                self.gate.pause(delay)  # every caller waits it out, at the next gate.wait()
            else:
                self.sleep(delay)
        raise ModelError(f"{what} failed after {self.max_attempts} attempts: {last}") from last


def connection_refused(exc: BaseException) -> bool:
    """Whether `exc` (or an exception it was raised from) is a refused TCP connection."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, ConnectionRefusedError):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:199] + "…"


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """An HTTP Retry-After header (seconds, or an HTTP date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def retry_info_delay(error_body: Any) -> float | None:
    """The delay in a google.rpc.RetryInfo detail of a Google API error body, e.g. "17s"."""
    error = error_body.get("error", error_body) if isinstance(error_body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = re.fullmatch(r"(\d+(?:\.\d+)?)s", str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None
