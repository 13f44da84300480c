"""Reading a jobs file: every bad line is reported with its number before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from agent.batch import check_models, load_jobs, model_spec_for
from agent.errors import UsageError
from agent.models import load_model


def write_jobs(path: Path, *lines) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def test_every_invalid_line_is_reported_with_its_number(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "ok.png")
    (tmp_path / "fake.png").write_text("not an image")
    jobs = write_jobs(
        tmp_path / "jobs.jsonl",
        {"id": "a", "task": "look at ok.png"},  # 1 fine
        "{not json",  # 2
        {"task": "no id"},  # 3
        {"id": "b"},  # 4
        {"id": "a", "task": "again"},  # 5 duplicate
        {"id": "c", "task": "x", "files": ["missing.pdf"]},  # 6
        {"id": "d", "task": "read the gauge in ok.png, save it as gone.jpg"},  # 7 mentioned, missing: a warning
        {"id": "e", "task": "x", "files": ["fake.png"]},  # 8 not an image
        {"id": "f", "task": "x", "expected": "y", "match": "fuzzy"},  # 9
        {"id": "g", "task": "x", "max_steps": 0},  # 10
        "",  # 11 blank lines are fine
        [1, 2],  # 12
        {"id": "h", "task": "x", "files": ["ok.png"], "expected": 12, "tolerance": "1%"},  # 13 fine
    )
    jf = load_jobs(jobs)
    assert [j.id for j in jf.jobs] == ["a", "d", "h"]
    by_line = {p.line: p.message for p in jf.problems}
    assert sorted(by_line) == [2, 3, 4, 5, 6, 8, 9, 10, 12]
    assert "not valid JSON" in by_line[2]
    assert by_line[3] == "missing id"
    assert by_line[4] == "missing task"
    assert "duplicate id 'a' (first on line 1)" in by_line[5]
    assert "missing.pdf" in by_line[6]
    assert [(w.line, "gone.jpg is mentioned in the task but does not exist" in w.message) for w in jf.warnings] == [
        (7, True)
    ]
    assert "fake.png" in by_line[8]
    assert "fuzzy" in by_line[9]
    assert "max_steps" in by_line[10]
    assert "JSON object" in by_line[12]
    assert jf.problems[0].describe(jobs) == f"{jobs}:2: {by_line[2]}"


def test_files_are_relative_to_the_jobs_file_not_the_current_folder(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "img").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(data / "img" / "a.png")
    jobs = write_jobs(data / "jobs.jsonl", {"id": 7, "task": "x", "files": "img/a.png", "tags": "easy"})
    monkeypatch.chdir(tmp_path)
    (job,) = load_jobs(jobs).jobs
    assert job.id == "7" and job.files == [data / "img" / "a.png"] and job.base_dir == data and job.tags == ["easy"]


def test_unknown_fields_are_warnings_not_errors(tmp_path):
    jf = load_jobs(write_jobs(tmp_path / "j.jsonl", {"id": "a", "task": "x", "expect": "typo"}))
    assert [j.id for j in jf.jobs] == ["a"] and not jf.problems
    assert "'expect'" in jf.warnings[0].message


def test_missing_or_empty_jobs_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        load_jobs(tmp_path / "none.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(UsageError, match="no jobs"):
        load_jobs(tmp_path / "empty.jsonl")


def test_replay_model_paths_and_the_per_job_cassette_rule(tmp_path):
    (tmp_path / "cassettes").mkdir()
    jobs = write_jobs(
        tmp_path / "jobs.jsonl",
        {"id": "q1", "task": "x", "model": "replay:cassettes/special.jsonl"},
        {"id": "q2", "task": "x"},
    )
    q1, q2 = load_jobs(jobs).jobs
    assert q1.model == f"replay:{tmp_path / 'cassettes' / 'special.jsonl'}"
    default = f"replay:{tmp_path / 'cassettes'}/"
    assert model_spec_for(q1, default) == q1.model
    assert model_spec_for(q2, default) == f"replay:{tmp_path / 'cassettes' / 'q2.cassette.jsonl'}"
    assert (
        model_spec_for(q2, f"replay:{tmp_path / 'cassettes'}")
        == f"replay:{tmp_path / 'cassettes' / 'q2.cassette.jsonl'}"
    )


def test_a_missing_cassette_is_a_problem_on_its_line(tmp_path):
    (tmp_path / "cassettes").mkdir()
    header = {"format": "lookclosely-cassette/1", "source": "hand-written", "model": "x"}
    (tmp_path / "cassettes" / "q1.cassette.jsonl").write_text(json.dumps(header) + "\n")
    jobs = write_jobs(tmp_path / "jobs.jsonl", {"id": "q1", "task": "x"}, {"id": "q2", "task": "x"})
    problems, unpriced = check_models(load_jobs(jobs).jobs, f"replay:{tmp_path / 'cassettes'}/", load_model)
    assert [(p.line, "q2.cassette.jsonl" in p.message) for p in problems] == [(2, True)]
    assert unpriced  # a replayed model has no price


def test_a_default_model_that_cannot_be_loaded_is_one_usage_error(tmp_path):
    jobs = write_jobs(tmp_path / "jobs.jsonl", {"id": "a", "task": "x"}, {"id": "b", "task": "y"})
    with pytest.raises(UsageError, match="telepathy"):
        check_models(load_jobs(jobs).jobs, "telepathy:brain", load_model)


def test_a_model_whose_price_is_unknown_is_reported_as_unpriced(tmp_path):
    class Priced:
        name = "p"

        def cost_usd(self, usage):
            return 0.001

    class PriceUnknown(Priced):
        def cost_usd(self, usage):
            return None  # e.g. a Gemini model missing from the price table

    jobs = write_jobs(
        tmp_path / "jobs.jsonl",
        {"id": "a", "task": "x", "model": "x:priced"},
        {"id": "b", "task": "x", "model": "x:unknown"},
    )
    problems, unpriced = check_models(
        load_jobs(jobs).jobs, None, lambda spec: Priced() if spec == "x:priced" else PriceUnknown()
    )
    assert not problems and unpriced == ["x:unknown"]


def test_a_job_carries_its_own_run_budget_checked_like_the_flags(tmp_path):
    jf = load_jobs(
        write_jobs(
            tmp_path / "j.jsonl",
            {"id": "a", "task": "x", "max_tokens": 5000, "max_cost": 0.25, "timeout": 90},  # 1 fine
            {"id": "b", "task": "x", "max_cost": 0},  # 2
            {"id": "c", "task": "x", "timeout": "soon"},  # 3
            {"id": "d", "task": "x", "max_tokens": 1.5},  # 4
            {"id": "e", "task": "x", "timeout": True},  # 5
        )
    )
    (job,) = jf.jobs
    assert (job.max_tokens, job.max_cost, job.timeout) == (5000, 0.25, 90)
    by_line = {p.line: p.message for p in jf.problems}
    assert by_line == {
        2: "max_cost must be a number more than 0 (US dollars)",
        3: "timeout must be a number more than 0 (seconds)",
        4: "max_tokens must be a whole number of at least 1",
        5: "timeout must be a number more than 0 (seconds)",
    }


def test_a_truncated_image_passes_the_header_check_and_fails_its_job_alone(tmp_path):
    # Validation reads only headers, so each image is decoded once, when its job runs.
    from agent.batch import JobWork
    from agent.models.scripted import ScriptedModel, say

    Image.new("RGB", (64, 64), "red").save(tmp_path / "cut.png")
    data = (tmp_path / "cut.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    jf = load_jobs(write_jobs(tmp_path / "j.jsonl", {"id": "a", "task": "what colour?", "files": ["cut.png"]}))
    assert not jf.problems
    record = JobWork(tmp_path / "runs", model_factory=lambda job: ScriptedModel([say("red")]))(jf.jobs[0])
    assert record["status"] == "error" and "cut.png" in record["error"] and "not a readable image" in record["error"]
