"""The results file survives crashes: torn lines are repaired, resumed batches never duplicate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.batch import Job, JobWork, LocalRunner, ResultsFile, run_batch
from agent.errors import UsageError
from agent.models.scripted import ScriptedModel, say
from tools.answer import FINAL_ANSWER


def jobs_for(tmp_path: Path, n: int) -> list[Job]:
    return [Job(f"j{i}", f"say {i}", [], tmp_path, i + 1, expected=i) for i in range(n)]


def answering_work(tmp_path: Path, ran: list[str] | None = None) -> JobWork:
    def factory(job: Job):
        if ran is not None:
            ran.append(job.id)
        return ScriptedModel([say(f"The answer is {job.id[1:]}.")])

    return JobWork(tmp_path / "runs", model_factory=factory, tools=[FINAL_ANSWER])


def lines_of(path: Path) -> list[dict]:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.decode().splitlines()]


def test_each_result_is_one_whole_line(tmp_path):
    out = tmp_path / "out.jsonl"
    outcome = run_batch(jobs_for(tmp_path, 5), ResultsFile(out), answering_work(tmp_path), LocalRunner(3))
    records = lines_of(out)
    assert sorted(r["id"] for r in records) == [f"j{i}" for i in range(5)]
    assert all(r["status"] == "ok" and r["correct"] is True for r in records)
    assert outcome.ran == 5 and not outcome.not_started


def test_resume_after_a_crash_mid_write_reruns_only_the_torn_job(tmp_path):
    out = tmp_path / "out.jsonl"
    jobs = jobs_for(tmp_path, 6)
    run_batch(jobs[:4], ResultsFile(out), answering_work(tmp_path), LocalRunner(2))
    # A crash while the fourth line was being written: its tail never reached the disk.
    data = out.read_bytes()
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    out.write_bytes(data[: last_start + 25])
    torn_id = json.loads(data[last_start:])["id"]

    ran: list[str] = []
    outcome = run_batch(jobs, ResultsFile(out), answering_work(tmp_path, ran), LocalRunner(2), resume=True)
    assert sorted(ran) == sorted([torn_id, "j4", "j5"])
    assert any("torn last line" in note for note in outcome.notes)
    records = lines_of(out)
    assert sorted(r["id"] for r in records) == [f"j{i}" for i in range(6)]
    assert outcome.skipped == 3 and set(outcome.records) == {j.id for j in jobs}


def test_a_garbage_line_in_the_middle_is_dropped_and_its_job_reruns(tmp_path):
    out = tmp_path / "out.jsonl"
    good = {"id": "j0", "status": "ok", "answer": "The answer is 0."}
    out.write_text(json.dumps(good) + "\n" + '{"id": "j1", "sta\n' + json.dumps({**good, "id": "j2"}) + "\n")
    recovery = ResultsFile(out).recover()
    assert set(recovery.records) == {"j0", "j2"}
    assert [r["id"] for r in lines_of(out)] == ["j0", "j2"]
    assert any("line 2" in note for note in recovery.notes)


def test_retry_errors_removes_error_lines_so_those_jobs_run_again(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text(
        json.dumps({"id": "j0", "status": "error", "error": "model overloaded"})
        + "\n"
        + json.dumps({"id": "j1", "status": "ok", "answer": "The answer is 1."})
        + "\n"
    )
    ran: list[str] = []
    run_batch(
        jobs_for(tmp_path, 2),
        ResultsFile(out),
        answering_work(tmp_path, ran),
        LocalRunner(2),
        resume=True,
        rerun_statuses=["error"],
    )
    assert ran == ["j0"]
    assert [(r["id"], r["status"]) for r in lines_of(out)] == [("j1", "ok"), ("j0", "ok")]


def test_an_existing_results_file_is_never_overwritten_without_resume(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"id": "j0", "status": "ok"}) + "\n")
    with pytest.raises(UsageError, match="--resume"):
        run_batch(jobs_for(tmp_path, 1), ResultsFile(out), answering_work(tmp_path), LocalRunner(1))
    assert out.read_text().count("\n") == 1


def test_a_rerun_job_gets_a_fresh_run_directory(tmp_path):
    out = tmp_path / "out.jsonl"
    jobs = jobs_for(tmp_path, 1)
    run_batch(jobs, ResultsFile(out), answering_work(tmp_path), LocalRunner(1))
    out.write_bytes(b"")  # as if the line had never been written
    run_batch(jobs, ResultsFile(out), answering_work(tmp_path), LocalRunner(1), resume=True)
    (record,) = lines_of(out)
    assert record["run_dir"].endswith("j0@2") and (Path(record["run_dir"]) / "answer.json").exists()
    assert (tmp_path / "runs" / "j0" / "answer.json").exists()


def test_two_batches_never_write_one_results_file_at_once(tmp_path):
    out = tmp_path / "out.jsonl"
    results = ResultsFile(out)
    with results.exclusive():
        with pytest.raises(UsageError, match="another `agent batch` is writing"):
            run_batch(jobs_for(tmp_path, 1), ResultsFile(out), answering_work(tmp_path), LocalRunner(1), resume=True)
    run_batch(jobs_for(tmp_path, 1), ResultsFile(out), answering_work(tmp_path), LocalRunner(1), resume=True)
    assert [r["id"] for r in lines_of(out)] == ["j0"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".lock")] == []
