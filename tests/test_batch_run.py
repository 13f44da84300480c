"""Running a batch: statuses, failures kept to their job, real overlap, rate limits, the budget."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from agent.batch import Job, JobWork, LocalRunner, ResultsFile, run_batch, summarize
from agent.models.base import ModelError, ModelReply, ModelRequest, Usage
from agent.models.retry import RetryPolicy, TransientError
from agent.models.scripted import ScriptedModel, call, say
from agent.ratelimit import GATE
from tools.answer import FINAL_ANSWER


def make_jobs(tmp_path: Path, n: int, **fields) -> list[Job]:
    return [Job(f"j{i}", f"task {i}", [], tmp_path, i + 1, **fields) for i in range(n)]


def run(tmp_path, jobs, factory, concurrency=4, **kw):
    work = JobWork(tmp_path / "runs", model_factory=factory, tools=[FINAL_ANSWER])
    out = tmp_path / "out.jsonl"
    outcome = run_batch(jobs, ResultsFile(out), work, LocalRunner(concurrency), resume=out.exists(), **kw)
    return outcome


def test_statuses_scores_and_one_failure_never_stops_the_others(tmp_path):
    img = tmp_path / "a.png"
    Image.new("RGB", (10, 10), "red").save(img)
    jobs = [
        Job("right", "what colour?", [img], tmp_path, 1, expected="red", tags=["colour"]),
        Job("wrong", "what colour?", [img], tmp_path, 2, expected="blue", tags=["colour"]),
        Job("loops", "what colour?", [img], tmp_path, 3, expected="red", max_steps=2),
        Job("crash", "what colour?", [img], tmp_path, 4, expected="red"),
        Job("api", "what colour?", [img], tmp_path, 5),
        Job("gone", "what colour?", [tmp_path / "deleted-after-validation.png"], tmp_path, 6),
        Job("unscored", "what colour?", [img], tmp_path, 7),
    ]

    def factory(job: Job):
        if job.id == "loops":
            return ScriptedModel(lambda req: call("final_answer", answer="x", evidence=["img9"]))
        if job.id == "crash":
            raise RuntimeError("adapter bug")
        if job.id == "api":
            return ScriptedModel([lambda req: (_ for _ in ()).throw(ModelError("503 after 6 attempts"))])
        return ScriptedModel([say("Red.")])

    outcome = run(tmp_path, jobs, factory)
    r = outcome.records
    assert (r["right"]["status"], r["right"]["correct"]) == ("ok", True)
    assert (r["wrong"]["status"], r["wrong"]["correct"]) == ("ok", False)
    assert (r["loops"]["status"], r["loops"]["correct"], r["loops"]["agent_status"]) == ("failed", False, "step_limit")
    assert (
        r["crash"]["status"] == "error"
        and "RuntimeError: adapter bug" in r["crash"]["error"]
        and r["crash"]["correct"] is None
    )
    assert r["api"]["status"] == "error" and r["api"]["error"] == "503 after 6 attempts"
    assert r["gone"]["status"] == "error" and "deleted-after-validation.png" in r["gone"]["error"]
    assert r["unscored"]["status"] == "ok" and "correct" not in r["unscored"]
    assert Path(r["right"]["run_dir"], "answer.json").exists() and r["right"]["steps"] == 1

    s = summarize(jobs, outcome.records)
    assert s["status"] == {"ok": 3, "failed": 1, "error": 3, "not_run": 0}
    assert s["accuracy"] == {"scored": 3, "correct": 1, "accuracy": 0.3333, "unscored_errors": 1}
    assert s["accuracy_by_tag"]["colour"]["accuracy"] == 0.5
    assert {(e["id"], e["status"]) for e in s["not_ok"]} == {
        ("crash", "error"),
        ("api", "error"),
        ("gone", "error"),
        ("loops", "failed"),
    }
    assert "step limit" in r["loops"]["error"]


def test_jobs_really_overlap_up_to_the_concurrency_and_no_further(tmp_path):
    # Jobs meet at a barrier of 3 instead of sleeping a fixed time: on a loaded machine a job may
    # take any time to start, but a round passes only when 3 are in their model call together.
    lock = threading.Lock()
    running, peak = [0], [0]
    together = threading.Barrier(3, timeout=60)

    def slow(req: ModelRequest) -> ModelReply:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        together.wait()
        with lock:
            running[0] -= 1
        return say("done")

    outcome = run(tmp_path, make_jobs(tmp_path, 9), lambda job: ScriptedModel(slow), concurrency=3)
    assert all(r["status"] == "ok" for r in outcome.records.values()) and len(outcome.records) == 9
    assert peak[0] == 3


class GatedModel:
    """A provider stand-in that goes through the shared retry policy, as real adapters do."""

    name = "gated"

    def __init__(
        self,
        log: list,
        fail_first_with_429: bool = False,
        retry_after: float = 0.0,
        refused: threading.Event | None = None,
    ):
        self.log, self.fail, self.retry_after, self.refused = log, fail_first_with_429, retry_after, refused
        self.policy = RetryPolicy(max_attempts=3, base_delay=0.01)

    def complete(self, request: ModelRequest) -> ModelReply:
        return self.policy.call(self._attempt)

    def cost_usd(self, usage: Usage) -> float | None:
        return None

    def _attempt(self) -> ModelReply:
        self.log.append((time.monotonic(), self.fail))
        if self.fail:
            self.fail = False
            if self.refused:
                self.refused.set()
            raise TransientError("429 resource exhausted", status=429, retry_after=self.retry_after)
        return say("ok")


@pytest.fixture
def gate():
    yield GATE
    GATE.set_rpm(None)


def test_rpm_spaces_model_requests_across_all_jobs(tmp_path, gate):
    log: list = []
    gate.set_rpm(600)  # one request every 0.1 s, whatever the concurrency
    outcome = run(tmp_path, make_jobs(tmp_path, 6), lambda job: GatedModel(log), concurrency=6)
    assert len(outcome.records) == 6
    times = sorted(t for t, _ in log)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(times) == 6 and min(gaps) >= 0.1 - 0.01


def test_a_429_backs_off_the_whole_batch(tmp_path, gate):
    log: list = []
    refused = threading.Event()

    def factory(job: Job):
        if job.id == "j0":
            return GatedModel(log, fail_first_with_429=True, retry_after=0.8, refused=refused)
        assert refused.wait(60)  # the others call after j0 has been told to slow down, however slow the machine
        return GatedModel(log)

    outcome = run(tmp_path, make_jobs(tmp_path, 4), factory, concurrency=4)
    assert all(r["status"] == "ok" for r in outcome.records.values())
    refused_at = next(t for t, failed in log if failed)
    later = [t for t, failed in log if not failed]
    assert len(later) == 4 and min(later) >= refused_at + 0.8 - 0.01


class PricedModel(ScriptedModel):
    def cost_usd(self, usage: Usage) -> float:
        return 0.01


def test_the_budget_stops_new_jobs_and_resume_with_more_budget_finishes(tmp_path):
    jobs = make_jobs(tmp_path, 8)
    outcome = run(tmp_path, jobs, lambda job: PricedModel([say("x")]), concurrency=1, max_cost=0.035)
    assert len(outcome.records) == 4 and outcome.not_started == [f"j{i}" for i in range(4, 8)]
    assert outcome.spent_usd == pytest.approx(0.04)
    outcome = run(tmp_path, jobs, lambda job: PricedModel([say("x")]), concurrency=1, max_cost=1.0)
    assert len(outcome.records) == 8 and not outcome.not_started and outcome.ran == 4
    assert summarize(jobs, outcome.records)["cost_usd"] == pytest.approx(0.08)


def test_the_budget_is_checked_as_each_job_ends_so_running_jobs_finish(tmp_path):
    # 3 start at $0; after 1 and 2 finish ($0.01, $0.02) one more starts each time; after the
    # third ($0.03 ≥ $0.025) none does, and the two still running finish and are recorded.
    jobs = make_jobs(tmp_path, 12)
    outcome = run(tmp_path, jobs, lambda job: PricedModel([say("x")]), concurrency=3, max_cost=0.025)
    assert len(outcome.records) == 5 and outcome.not_started == [f"j{i}" for i in range(5, 12)]


@pytest.mark.skipif(
    shutil.which("soffice") is None and not os.environ.get("CI"), reason="LibreOffice (soffice) is not installed"
)
def test_concurrent_jobs_render_documents_with_libreoffice_without_interfering(tmp_path):
    from docx import Document

    jobs = []
    for i in range(4):
        doc = Document()
        doc.add_paragraph(f"Document number {i}")
        doc.save(tmp_path / f"d{i}.docx")
        jobs.append(Job(f"d{i}", "render it", [tmp_path / f"d{i}.docx"], tmp_path, i + 1))
    seen: dict[str, str] = {}

    def factory(job: Job):
        def report(request: ModelRequest) -> ModelReply:
            (result,) = request.messages[-1].parts
            seen[job.id] = "error" if result.is_error else result.text
            return say("rendered")

        return ScriptedModel([call("render_document", path=f"inputs/{job.id}.docx"), report])

    work = JobWork(tmp_path / "runs", model_factory=factory)  # the default toolbox, as a user gets it
    outcome = run_batch(jobs, ResultsFile(tmp_path / "out.jsonl"), work, LocalRunner(4))
    assert all(r["status"] == "ok" for r in outcome.records.values())
    assert sorted(seen) == ["d0", "d1", "d2", "d3"]
    assert all(text.startswith("rendered 1 of 1 pages") for text in seen.values()), seen


def test_a_job_over_its_own_budget_fails_with_the_reason_and_the_others_keep_theirs(tmp_path):
    from agent.budget import Budget
    from agent.transcript import ToolCall

    def spender(req: ModelRequest) -> ModelReply:
        return ModelReply([ToolCall("c", "nothing", {})], Usage(input_tokens=600), "tool_calls")

    jobs = [Job("tight", "x", [], tmp_path, 1, max_tokens=1000), Job("loose", "x", [], tmp_path, 2)]
    work = JobWork(
        tmp_path / "runs",
        budget=Budget(max_steps=4),
        model_factory=lambda job: ScriptedModel(spender),
        tools=[FINAL_ANSWER],
    )
    outcome = run_batch(jobs, ResultsFile(tmp_path / "out.jsonl"), work, LocalRunner(2))
    tight, loose = outcome.records["tight"], outcome.records["loose"]
    assert (tight["status"], tight["agent_status"], tight["steps"]) == ("failed", "budget", 2)
    assert tight["error"] == "token budget reached: 1,200 tokens used of 1,000, after 2 step(s)"
    assert (loose["status"], loose["agent_status"], loose["steps"]) == ("failed", "step_limit", 4)
    assert work.budget_for(jobs[0]) == Budget(max_steps=4, max_tokens=1000)
