"""`agent batch --runner ray` on a real Ray: a two-node cluster on this machine (one CPU per
node, started once for the module), and a local Ray the CLI starts itself. Jobs run with
scripted models, cassettes, or the real google-genai client against the local fake API.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from agent.batch import Job, JobWork, ResultsFile, run_batch
from agent.models.base import ModelReply, ModelRequest, Usage
from agent.models.retry import RetryPolicy, TransientError
from agent.models.scripted import ScriptedModel, say
from agent.ratelimit import GATE
from tests.fake_gemini import FakeGemini, reply, text, usage
from tests.ray_cluster import NEED_RAY, local_cluster, ray, ray_processes, ray_temp_dir
from tests.test_batch_cli import agent_cmd, make_batch, result_lines
from tools.answer import FINAL_ANSWER

pytestmark = pytest.mark.skipif(**NEED_RAY)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "batch"


@pytest.fixture(scope="module")
def cluster():
    """Two Ray nodes on this machine, one CPU each, shared by the tests of this module."""
    with local_cluster(nodes=2) as running:
        yield running


def ray_runner(**kw):
    from agent.ray_runner import RayRunner

    return RayRunner(**kw)


def cli(*args: str, cwd: Path, extra_env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(extra_env or {})}
    return subprocess.run(agent_cmd(*args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def leftover_job_folders() -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob("lookclosely-ray-*"))


# -- models built on the workers (picklable: Ray ships them by reference to this module) ----------


@dataclass
class NodeReporter:
    """Answers with the Ray node the job ran on."""

    def __call__(self, job: Job) -> ScriptedModel:
        def answer(request: ModelRequest) -> ModelReply:
            node = ray.get_runtime_context().get_node_id()
            return say(f"{job.id} ran on {node}")

        return ScriptedModel([answer])


@dataclass
class Victim:
    """Job `victim` writes its worker's pid to `marker` and hangs, the first time only."""

    marker: Path

    def __call__(self, job: Job) -> ScriptedModel:
        def turn(request: ModelRequest) -> ModelReply:
            if job.id == "victim" and not self.marker.exists():
                self.marker.with_suffix(".tmp").write_text(str(os.getpid()))
                self.marker.with_suffix(".tmp").rename(self.marker)
                time.sleep(300)
            return say(f"answer {job.id}")

        return ScriptedModel([turn])


@dataclass
class LoggedProvider:
    """A provider stand-in going through the shared retry policy (and so the rate gate), as real
    adapters do; each attempt appends its wall-clock time to `log`. `together`: the jobs first
    wait until that many are ready, then all ask at once. `refuse`: job j0's first attempt is
    refused with a 429 (Retry-After 0.8 s), and the other jobs ask only once the gate holds the pause."""

    log: Path
    together: int = 0
    refuse: bool = False

    def __call__(self, job: Job):
        return _Provider(self, job.id)


class _MarkAfterPause:
    """The rate gate as the refused job's retry policy sees it: `marker` appears once a pause is recorded."""

    def __init__(self, gate, marker: Path):
        self.gate, self.marker = gate, marker

    def wait(self) -> float:
        return self.gate.wait()

    def pause(self, seconds: float) -> None:
        self.gate.pause(seconds)
        self.marker.touch()


class _Provider:
    name = "logged"

    def __init__(self, spec: LoggedProvider, job_id: str):
        self.spec, self.job_id = spec, job_id
        self.fail = spec.refuse and job_id == "j0"
        self.policy = RetryPolicy(max_attempts=3, base_delay=0.01)
        if self.fail:  # the others go once the shared gate holds the pause, not merely once the 429 came
            self.policy.gate = _MarkAfterPause(self.policy.gate, spec.log.with_name("refused"))

    def complete(self, request: ModelRequest) -> ModelReply:
        log = self.spec.log
        log.with_name(f"ready-{self.job_id}").touch()
        if self.spec.together:
            wait_until(lambda: len(list(log.parent.glob("ready-*"))) >= self.spec.together)
        if self.spec.refuse and not self.fail:
            wait_until(log.with_name("refused").exists)
        return self.policy.call(self._attempt)

    def cost_usd(self, usage: Usage) -> float | None:
        return None

    def _attempt(self) -> ModelReply:
        failing, self.fail = self.fail, False
        with open(self.spec.log, "a") as fh:
            fh.write(json.dumps({"t": time.time(), "failed": failing}) + "\n")
        if failing:
            raise TransientError("429 resource exhausted", status=429, retry_after=0.8)
        return say(f"ok from {ray.get_runtime_context().get_node_id()}")


def wait_until(condition, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


def image_jobs(folder: Path, n: int) -> list[Job]:
    jobs = []
    for i in range(n):
        image = folder / f"pic{i}.png"
        Image.new("RGB", (40 + i, 30), (200, 10 * i, 10)).save(image)
        jobs.append(Job(f"j{i}", "what is in the picture?", [image], folder, i + 1))
    return jobs


# -- the tests -----------------------------------------------------------------------------------


def test_the_example_batch_on_a_local_ray_gets_the_local_runners_results(tmp_path):
    """The CLI starts a local Ray of its own (this machine's 2 CPUs), runs the example batch
    (images and office documents, the real tools and jail) and stops that Ray again."""
    runs = {}
    ray_tmp = ray_temp_dir()
    for runner in ("local", "ray"):
        folder = tmp_path / runner
        folder.mkdir()
        proc = cli(
            "batch",
            str(EXAMPLE / "jobs.jsonl"),
            "-o",
            "results.jsonl",
            "--model",
            f"replay:{EXAMPLE / 'cassettes'}/",
            "--runner",
            runner,
            "--json",
            cwd=folder,
            extra_env={"RAY_TMPDIR": ray_tmp},
        )
        written = result_lines(folder / "results.jsonl") if (folder / "results.jsonl").exists() else []
        not_ok = [r for r in written if r["status"] not in ("ok", "failed")]
        assert proc.returncode == 0, (runner, not_ok, proc.stderr[-2000:])
        runs[runner] = ({r["id"]: r for r in result_lines(folder / "results.jsonl")}, json.loads(proc.stdout))
    (local, local_summary), (on_ray, ray_summary) = runs["local"], runs["ray"]
    assert ray_summary["status"] == local_summary["status"] == {"ok": 6, "failed": 1, "error": 0, "not_run": 0}
    assert ray_summary["accuracy"] == local_summary["accuracy"]
    keep = ("status", "answer", "correct", "agent_status", "steps", "error", "model")
    assert {i: [r[k] for k in keep] for i, r in on_ray.items()} == {i: [r[k] for k in keep] for i, r in local.items()}
    for job_id, record in on_ray.items():
        run_dir = Path(record["run_dir"])
        assert run_dir == tmp_path / "ray" / "runs" / "results" / job_id  # the driver's runs folder
        mine = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file())
        theirs_dir = Path(local[job_id]["run_dir"])
        theirs = sorted(p.relative_to(theirs_dir).as_posix() for p in theirs_dir.rglob("*") if p.is_file())
        assert mine == theirs, job_id
        assert json.loads((run_dir / "answer.json").read_text())["answer"] == record["answer"]
    task = json.loads((tmp_path / "ray" / "runs" / "results" / "meter" / "task.json").read_text())
    assert task["files"] == [str(EXAMPLE / "files" / "meter.png")]  # the original, not the worker's copy
    assert not ray_processes(ray_tmp), "the local Ray outlived the batch"
    shutil.rmtree(ray_tmp)


def test_jobs_spread_over_both_nodes_with_their_inputs_and_run_records_coming_back(cluster, tmp_path):
    jobs = image_jobs(tmp_path, 6)
    work = JobWork(tmp_path / "runs", model_factory=NodeReporter(), tools=[FINAL_ANSWER])
    outcome = run_batch(jobs, ResultsFile(tmp_path / "out.jsonl"), work, ray_runner(concurrency=4))
    records = outcome.records
    assert sorted(records) == [j.id for j in jobs] and all(r["status"] == "ok" for r in records.values())
    nodes = {r["answer"].split(" ran on ")[1] for r in records.values()}
    assert len(nodes) == 2, nodes  # both nodes ran jobs
    for job in jobs:
        run_dir = Path(records[job.id]["run_dir"])
        assert run_dir == tmp_path / "runs" / job.id
        copy = run_dir / "home" / "inputs" / job.files[0].name
        assert copy.read_bytes() == job.files[0].read_bytes()  # the input travelled to the worker intact
        assert (run_dir / "images" / "img1.png").is_file() and (run_dir / "report.html").is_file()
    assert not leftover_job_folders()
    assert len(result_lines(tmp_path / "out.jsonl")) == 6


def test_rpm_holds_across_workers_on_both_nodes(cluster, tmp_path):
    log = tmp_path / "requests.log"
    work = JobWork(tmp_path / "runs", model_factory=LoggedProvider(log, together=6), tools=[FINAL_ANSWER])
    GATE.set_rpm(600)  # one request every 0.1 s, across the whole cluster
    try:
        outcome = run_batch(
            image_jobs(tmp_path, 6), ResultsFile(tmp_path / "out.jsonl"), work, ray_runner(concurrency=6)
        )
    finally:
        GATE.set_rpm(None)
    assert all(r["status"] == "ok" for r in outcome.records.values()), outcome.records
    assert len({r["answer"] for r in outcome.records.values()}) == 2  # "ok from <node>": both nodes
    # All six asked at the same moment; the gate let them through one per 0.1 s. Each is logged
    # a little after its slot was granted (another process, another node), so allow that jitter.
    times = sorted(json.loads(line)["t"] for line in log.read_text().splitlines())
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(times) == 6 and min(gaps) >= 0.05 and times[-1] - times[0] >= 0.5 - 0.03, gaps


def test_a_429_on_one_worker_backs_off_every_worker(cluster, tmp_path):
    log = tmp_path / "requests.log"
    work = JobWork(tmp_path / "runs", model_factory=LoggedProvider(log, refuse=True), tools=[FINAL_ANSWER])
    outcome = run_batch(image_jobs(tmp_path, 4), ResultsFile(tmp_path / "out.jsonl"), work, ray_runner(concurrency=4))
    assert all(r["status"] == "ok" for r in outcome.records.values()), outcome.records
    attempts = [json.loads(line) for line in log.read_text().splitlines()]
    refused_at = next(a["t"] for a in attempts if a["failed"])
    later = [a["t"] for a in attempts if not a["failed"]]
    assert len(later) == 4 and min(later) >= refused_at + 0.8 - 0.01


def kill_when_marked(marker: Path) -> threading.Thread:
    def kill() -> None:
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(int(marker.read_text()), signal.SIGKILL)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def test_a_worker_killed_mid_job_is_retried_and_its_job_written_once(cluster, tmp_path):
    marker = tmp_path / "victim.pid"
    jobs = [Job("victim", "x", [], tmp_path, 1)] + [Job(f"j{i}", "x", [], tmp_path, i + 2) for i in range(3)]
    work = JobWork(tmp_path / "runs", model_factory=Victim(marker), tools=[FINAL_ANSWER])
    killer = kill_when_marked(marker)
    outcome = run_batch(jobs, ResultsFile(tmp_path / "out.jsonl"), work, ray_runner(concurrency=2, max_retries=1))
    killer.join(5)
    lines = result_lines(tmp_path / "out.jsonl")
    assert sorted(r["id"] for r in lines) == ["j0", "j1", "j2", "victim"]  # one line per job
    victim = outcome.records["victim"]
    assert (victim["status"], victim["answer"]) == ("ok", "answer victim")  # the second attempt, in a fresh folder
    assert Path(victim["run_dir"]) == tmp_path / "runs" / "victim"
    assert not leftover_job_folders()  # the killed attempt's folder was cleared by a later task


def test_a_worker_killed_with_no_retry_left_is_an_error_line_not_a_lost_job(cluster, tmp_path):
    marker = tmp_path / "victim.pid"
    jobs = [Job("victim", "x", [], tmp_path, 1)] + [Job(f"j{i}", "x", [], tmp_path, i + 2) for i in range(2)]
    work = JobWork(tmp_path / "runs", model_factory=Victim(marker), tools=[FINAL_ANSWER])
    killer = kill_when_marked(marker)
    outcome = run_batch(jobs, ResultsFile(tmp_path / "out.jsonl"), work, ray_runner(concurrency=2, max_retries=0))
    killer.join(5)
    lines = result_lines(tmp_path / "out.jsonl")
    assert sorted(r["id"] for r in lines) == ["j0", "j1", "victim"]
    victim = outcome.records["victim"]
    assert victim["status"] == "error" and "worker running this job died" in victim["error"]
    assert "--resume --retry-errors" in victim["error"]
    assert all(outcome.records[i]["status"] == "ok" for i in ("j0", "j1"))


def test_resume_after_the_driver_is_killed_gives_exactly_one_line_per_job(cluster, tmp_path):
    nodes, _ = cluster
    ids = [f"job{i:02d}" for i in range(16)]
    jobs = make_batch(tmp_path, {i: f"{int(i[3:]) % 5} squares" for i in ids})
    out = tmp_path / "results.jsonl"
    args = [
        "batch",
        str(jobs),
        "-o",
        str(out),
        "--model",
        f"replay:{tmp_path / 'cassettes'}/",
        "--runner",
        "ray",
        "--address",
        nodes.address,
        "-c",
        "2",
        "-q",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen(
        agent_cmd(*args), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while first.poll() is None and time.monotonic() < deadline:
        if out.exists() and len(out.read_bytes().splitlines()) >= 4:
            first.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    first.wait(30)
    assert first.returncode == -signal.SIGKILL
    written = result_lines(out)
    assert 4 <= len(written) < len(ids)
    resumed = cli(*args, "--resume", "--json", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["already_done"] == len(written)
    records = result_lines(out)
    assert sorted(r["id"] for r in records) == ids  # none lost, none twice
    assert all(r["status"] == "ok" for r in records)


def test_ctrl_c_stops_the_driver_with_exit_130_and_resume_finishes(cluster, tmp_path):
    nodes, _ = cluster
    ids = [f"job{i:02d}" for i in range(12)]
    jobs = make_batch(tmp_path, {i: "1" for i in ids})
    out = tmp_path / "results.jsonl"
    args = ["batch", str(jobs), "-o", str(out), "--model", f"replay:{tmp_path / 'cassettes'}/"]
    args += ["--runner", "ray", "--address", nodes.address, "-c", "1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        agent_cmd(*args), cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_until(lambda: proc.poll() is not None or (out.exists() and out.stat().st_size > 0))
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "--resume" in stderr and "Traceback" not in stderr
    written = result_lines(out)
    assert 0 < len(written) < len(ids)
    done = cli(*args, "--resume", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(r["id"] for r in result_lines(out)) == ids


def test_api_keys_reach_the_workers_and_no_log_result_or_run_record(cluster, tmp_path):
    nodes, temp_dir = cluster
    key = "AIza-ray-secret-" + secrets.token_hex(8)
    Image.new("RGB", (30, 20), "blue").save(tmp_path / "blue.png")
    (tmp_path / "jobs.jsonl").write_text(
        "".join(json.dumps({"id": f"q{i}", "task": "what colour is blue.png?"}) + "\n" for i in range(2))
    )
    with FakeGemini() as fake:
        fake.add(*[reply(text("Blue."), usage=usage(100, 3)) for _ in range(2)])
        proc = cli(
            "batch",
            "jobs.jsonl",
            "-o",
            "out.jsonl",
            "--model",
            "gemini:gemini-3.8-flash",
            "--runner",
            "ray",
            "--address",
            nodes.address,
            "--json",
            cwd=tmp_path,
            extra_env={"GEMINI_API_KEY": key, "GOOGLE_GEMINI_BASE_URL": fake.url, "AGENT_RETRY_BASE_DELAY": "0.01"},
        )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"]["ok"] == 2
    # The workers had this key: the cluster was started before it existed.
    assert [r.headers.get("x-goog-api-key") for r in fake.requests] == [key, key]
    leaks = [proc.stdout, proc.stderr]
    leaks += [p.read_bytes().decode("utf-8", "replace") for p in tmp_path.rglob("*") if p.is_file()]
    assert not any(key in text for text in leaks), "the key is in the output, the results or a run record"
    logs = [p for p in Path(temp_dir).rglob("*") if p.is_file()]
    assert logs and not [p for p in logs if key.encode() in p.read_bytes()], "the key is in Ray's logs"


def test_usage_errors_are_one_line_without_ray_or_with_a_wrong_address(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    (tmp_path / "jobs.jsonl").write_text('{"id": "a", "task": "look at a.png"}\n')
    no_ray = "import sys; sys.modules['ray'] = None; from agent.cli import main; sys.exit(main())"
    args = ["batch", "jobs.jsonl", "--model", "replay:x.jsonl", "--runner", "ray"]
    proc = subprocess.run(
        [sys.executable, "-c", no_ray, *args],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]  # one line
    assert "pip install 'lookclosely[ray]'" in proc.stderr and proc.stderr.startswith("agent: error: --runner ray")
    helped = (
        "import sys\nfrom agent.cli import main\ntry:\n    main()\nexcept SystemExit:\n    print('ray' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", helped, "batch", "--help"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "--runner" in proc.stdout and proc.stdout.strip().endswith("False")  # --help stays fast: no Ray
    wrong = cli("batch", "jobs.jsonl", "--address", "auto", cwd=tmp_path)
    assert wrong.returncode == 2 and "--address works with --runner ray" in wrong.stderr
    with socket.socket() as probe:  # a port nothing listens on: Ray alone would retry for minutes
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    for address, said in ((f"127.0.0.1:{closed}", "nothing answers at"), ("head", "use auto, HOST:PORT")):
        proc = cli("batch", "jobs.jsonl", "--runner", "ray", "--address", address, cwd=tmp_path, timeout=60)
        assert proc.returncode == 2 and said in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
