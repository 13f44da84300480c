"""Faults on the wire, through the real SDK: the one retry policy decides, then the run ends well.

Time is simulated: the policy and the rate gate share a fake clock, so a 429 that asks for a
30-second wait is honoured without the test waiting 30 seconds.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from agent.models.base import ModelError, ModelRequest
from agent.models.gemini import GeminiModel
from agent.models.retry import RetryPolicy, TransientError, parse_retry_after, retry_info_delay
from agent.ratelimit import RateGate
from agent.transcript import Message, Text
from tests.fake_clock import Clock
from tests.fake_gemini import FakeGemini, HttpError, rate_limited, reply, text
from tests.fake_server import Delay, RawBody


@pytest.fixture
def fake(monkeypatch):
    with FakeGemini() as server:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
        monkeypatch.setenv("GEMINI_API_KEY", "test-key-not-secret")
        monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
        yield server


def model(clock: Clock, attempts: int = 4, max_wait: float = 120.0, timeout: float = 30.0) -> GeminiModel:
    gate = RateGate(clock=clock, sleep=clock.sleep)
    policy = RetryPolicy(
        max_attempts=attempts, max_total_wait=max_wait, base_delay=1.0, gate=gate, sleep=clock.sleep, random=lambda: 0.5
    )
    return GeminiModel("gemini-3.8-flash", retry=policy, timeout=timeout, prices={})


def ask(m: GeminiModel):
    return m.complete(ModelRequest(system="s", messages=[Message("user", [Text("hello")])], tools=[]))


def test_429_with_retry_after_holds_every_caller_back_that_long_then_succeeds(fake):
    clock = Clock()
    fake.add(rate_limited(retry_after=30), reply(text("hi")))
    got = ask(model(clock))
    assert got.parts[0].text == "hi" and len(fake.requests) == 2
    assert sum(clock.sleeps) >= 30  # waited in the shared gate, not less than the server asked


def test_429_with_the_apis_retry_info_is_honoured(fake):
    clock = Clock()
    fake.add(rate_limited(retry_delay="17s"), reply(text("hi")))
    ask(model(clock))
    assert sum(clock.sleeps) >= 17


def test_500_then_success_backs_off_exponentially(fake):
    clock = Clock()
    fake.add(HttpError(500), HttpError(503), reply(text("hi")))
    got = ask(model(clock))
    assert got.parts[0].text == "hi" and len(fake.requests) == 3
    assert clock.sleeps == [0.75, 1.5]  # 1s then 2s ceilings, half jittered (random fixed at 0.5)


def test_a_timeout_is_retried(fake):
    clock = Clock()
    fake.add(Delay(3.0), reply(text("on time")))
    got = ask(model(clock, timeout=0.5))
    assert got.parts[0].text == "on time" and len(fake.requests) == 2


def test_a_malformed_body_is_retried(fake):
    clock = Clock()
    fake.add(RawBody(b"<html>502 Bad Gateway</html>"), reply(text("hi")))
    assert ask(model(clock)).parts[0].text == "hi"


def test_after_the_attempt_cap_the_last_error_is_a_model_error(fake):
    clock = Clock()
    fake.add(*[HttpError(503)] * 3)
    with pytest.raises(ModelError, match=r"failed after 3 attempts: 503 UNAVAILABLE"):
        ask(model(clock, attempts=3))
    assert len(fake.requests) == 3


def test_a_wait_longer_than_the_cap_gives_up_at_once(fake):
    clock = Clock()
    fake.add(rate_limited(retry_after=3600))
    with pytest.raises(ModelError, match="wait limit"):
        ask(model(clock, max_wait=60))
    assert len(fake.requests) == 1 and sum(clock.sleeps) == 0


def test_a_bad_request_is_not_retried(fake):
    clock = Clock()
    fake.add(
        HttpError(
            400,
            {
                "error": {
                    "code": 400,
                    "message": "Thinking level MINIMAL is not supported for this model.",
                    "status": "INVALID_ARGUMENT",
                }
            },
        )
    )
    with pytest.raises(ModelError, match="400 INVALID_ARGUMENT: Thinking level MINIMAL is not supported"):
        ask(model(clock))
    assert len(fake.requests) == 1


def test_the_gate_is_consulted_before_every_attempt():
    waits = []

    class CountingGate(RateGate):
        def wait(self):
            waits.append(1)
            return 0.0

    calls = iter([TransientError("boom", 500), TransientError("boom", 500), "ok"])

    def attempt():
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    assert RetryPolicy(gate=CountingGate(), sleep=lambda s: None).call(attempt) == "ok"
    assert len(waits) == 3


def test_retry_after_as_an_http_date_and_retry_info_parsing():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    later = (now + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(later, now=now) == 90
    assert parse_retry_after("12") == 12 and parse_retry_after("soon") is None
    body = {"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.5s"}]}}
    assert retry_info_delay(body) == 2.5 and retry_info_delay({"error": {}}) is None


def test_backoff_grows_and_is_capped():
    policy = RetryPolicy(base_delay=1, max_delay=8, random=lambda: 1.0)
    assert [policy.backoff(n) for n in range(1, 6)] == [1, 2, 4, 8, 8]
    low = RetryPolicy(base_delay=1, max_delay=8, random=lambda: 0.0)
    assert [low.backoff(n) for n in range(1, 4)] == [0.5, 1, 2]
