"""`agent batch --runner ray`: each job a Ray task, on this machine or across a cluster.

Only this module imports Ray (an optional extra: `pip install 'lookclosely[ray]'`); the CLI
imports it only for `--runner ray`, since `import ray` alone takes most of a second.

- A job is one Ray task. On its worker it gets a folder of its own, holding the job's input
  files and its run directory with the sandbox home, and runs exactly as the local runner runs
  it (`JobWork`, the same jail). A retried attempt starts again in a fresh folder, so a job
  is idempotent.
- The input files travel with the task through Ray's object store (each file once per batch
  while jobs need it); no node needs the driver's file system. The finished run directory
  comes back as a tar in the object store, and the driver unpacks it into its own runs folder
  with sandbox/archive.py, which trusts nothing in it (no link, no name that climbs out, capped).
- The driver stays the only writer of the results file (`run_batch`), so crash safety and
  `--resume` are the local runner's.
- A worker process that dies mid-job (killed, out of memory, its node lost): Ray runs the
  task again, up to `max_retries` times; after that the job gets an `error` line. Never lost.
- The rate gate is one Ray actor: `--rpm` and the back-off after a 429 hold across every
  worker on every node (agent/ratelimit.py, `RateGate.share`).
- API keys and the model settings (the driver's variables named AGENT_*, GEMINI_*, GOOGLE_*,
  OPENAI_*, OLLAMA_*) reach the workers through the object store: one object, put once, whose
  reference each task gets nested in a list, so Ray never copies the values into a task's
  description; the worker sets them in its own environment (the worker serves this batch
  alone). Not through Ray's runtime_env: Ray writes that, values included, to its logs
  (runtime_env_agent.log). The keys land in no result, run record or log of ours either.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import socket
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import ray
from ray.exceptions import NodeDiedError, OutOfMemoryError, RayError, RayTaskError, WorkerCrashedError

from agent.batch import Job, JobRunner, JobWork, describe_exception, error_record, fresh_run_dir
from agent.errors import UsageError
from agent.files import input_paths
from agent.ratelimit import GATE, RateGate
from sandbox.archive import ArchiveRefused, pack_tree, unpack_tree
from sandbox.jail import IsolationUnavailable, Limits, choose_isolation

FORWARDED_ENV_PREFIXES = ("AGENT_", "GEMINI_", "GOOGLE_", "OPENAI_", "OLLAMA_")
FOLDER_PREFIX = "lookclosely-ray-"  # a job's folder on a worker: <prefix><host>-<pid>-<random>
RECORD_EXTRA_BYTES = 1 << 30  # a run record may hold this much beside its home: images, report, transcript
RECORD_EXTRA_FILES = 20_000


def check_address(address: str | None) -> None:
    """Refuse an address nothing answers at, at once: Ray itself would keep retrying for minutes."""
    if address in (None, "auto"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--address {address!r}: use auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except OSError as exc:
        raise UsageError(
            f"nothing answers at --address {address} ({exc.strerror or exc}); is the Ray head running there?"
        ) from None


@contextmanager
def ray_session(address: str | None) -> Iterator[str]:
    """Join the Ray cluster at `address` (`auto`: $RAY_ADDRESS or the one `ray start` started
    here; `host:port`; `ray://host:port`), or with None start a local Ray for this batch alone;
    disconnect (and stop a local Ray) at the end. Yields a line saying where the jobs run."""
    try:
        ray.init(address=address or "local", include_dashboard=False, logging_level="WARNING")
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"at {address}" if address else "(a local one)"
        raise UsageError(f"cannot start or reach Ray {where}: {_first_line(exc)}") from None
    try:
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        cpus = ray.cluster_resources().get("CPU", 0)
        yield f"ray: {cpus:g} CPUs on {len(nodes)} node(s){f' at {address}' if address else ''}"
    finally:
        ray.shutdown()


class _GateActor:
    """The batch's one rate gate, living in a Ray actor every worker asks."""

    def __init__(self, rpm: float | None):
        self.gate = RateGate(rpm)

    def reserve(self) -> float:
        return self.gate.reserve()

    def pause(self, seconds: float) -> None:
        self.gate.pause(seconds)


@dataclass
class ActorGate:
    """What a worker's GATE asks instead of keeping its own slots (agent.ratelimit.SharedGate)."""

    actor: object

    def reserve(self) -> float:
        return ray.get(self.actor.reserve.remote())

    def pause(self, seconds: float) -> None:
        ray.get(self.actor.pause.remote(seconds))


@dataclass(frozen=True)
class RecordCaps:
    """How large a run directory may come back: its home's caps plus room for the rest."""

    max_bytes: int
    max_files: int

    @classmethod
    def for_work(cls, work: JobWork) -> "RecordCaps":
        limits: Limits = work.settings.limits()
        return cls(limits.home_bytes + RECORD_EXTRA_BYTES, limits.home_inodes + RECORD_EXTRA_FILES)


class RayRunner(JobRunner):
    """Up to `concurrency` jobs in flight, each a Ray task reserving `cpus_per_job` CPUs
    (default: the cluster's CPUs shared by `concurrency` jobs, at most 1 each, since a job
    mostly waits on the model), spread over the nodes. A task whose worker dies is run again
    up to `max_retries` times. Needs a connected Ray (`ray_session`)."""

    def __init__(self, concurrency: int = 4, cpus_per_job: float | None = None, max_retries: int = 2):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self.cpus_per_job = cpus_per_job
        self.max_retries = max_retries

    def results(self, jobs, work, may_start):
        if not isinstance(work, JobWork):
            raise TypeError("the Ray runner runs JobWork (it rebuilds it on each worker)")
        cpus = self.cpus_per_job
        if cpus is None:  # Ray takes fractions of a CPU to 4 decimal places
            share = min(1.0, ray.cluster_resources().get("CPU", 1.0) / self.concurrency)
            cpus = max(0.0001, math.floor(share * 10_000) / 10_000)
        # SPREAD: jobs mostly wait on the model, so spreading them evens out the bursts of CPU
        # (tools, LibreOffice) instead of filling one node first.
        run_job = ray.remote(_run_job).options(
            num_cpus=cpus, max_retries=self.max_retries, scheduling_strategy="SPREAD"
        )
        gate = ActorGate(ray.remote(_GateActor).options(num_cpus=0).remote(GATE.rpm))
        caps = RecordCaps.for_work(work)
        shipped_work = ray.put(work)  # serialized once, not once per task
        settings = [ray.put({k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIXES)})]
        shipments = _Shipments()
        pending: dict = {}  # ObjectRef -> (job, its input paths, when it was submitted)
        jobs = iter(jobs)
        exhausted = False
        # Interrupted, the tasks still running are not cancelled here: they end with this driver's
        # Ray job when it disconnects (cancelling them as they finish can abort Ray's own driver).
        while True:
            while not exhausted and len(pending) < self.concurrency:
                job = next(jobs, None) if may_start() else None
                if job is None:
                    exhausted = True
                    break
                submitted = time.monotonic()
                try:  # the local runner's checks, on the driver: a file gone since validation
                    paths = input_paths(job.task, job.files, cwd=job.base_dir)
                    inputs = [(path, shipments.take(path)) for path in paths]
                except (UsageError, OSError) as exc:
                    yield error_record(job, describe_exception(exc), time.monotonic() - submitted)
                    continue
                pending[run_job.remote(shipped_work, job, inputs, settings, gate, caps)] = (job, paths, submitted)
            if not pending:
                return
            done, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)  # a timeout keeps Ctrl-C prompt
            for ref in done:
                job, paths, submitted = pending.pop(ref)
                for path in paths:
                    shipments.release(path)
                yield self._receive(ref, job, work, caps, submitted)

    def _receive(self, ref, job: Job, work: JobWork, caps: RecordCaps, submitted: float) -> dict:
        try:
            record, archive = ray.get(ref)
        except RayError as exc:
            return error_record(job, self._failure(exc), time.monotonic() - submitted)
        if archive is None:
            return record
        dest = fresh_run_dir(Path(work.runs_dir), job.id)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            unpack_tree(archive, dest, caps.max_bytes, caps.max_files)
        except ArchiveRefused as exc:
            return error_record(job, f"the run record the worker sent back was refused: {exc}", record["latency_s"])
        return {**record, "run_dir": str(dest)}

    def _failure(self, exc: RayError) -> str:
        if isinstance(exc, (WorkerCrashedError, NodeDiedError, OutOfMemoryError)):
            tries = self.max_retries + 1
            return (
                f"the Ray worker running this job died ({type(exc).__name__}), "
                f"{tries} time{'s' if tries > 1 else ''}; run it again with --resume --retry-errors"
            )
        if isinstance(exc, RayTaskError):
            cause = exc.cause if isinstance(exc.cause, BaseException) else exc
            return describe_exception(cause)
        return f"Ray: {type(exc).__name__}: {_first_line(exc)}"


class _Shipments:
    """Each input file put in the object store once while any submitted job needs it."""

    def __init__(self):
        self.refs: dict[Path, tuple[object, int]] = {}

    def take(self, path: Path):
        ref, users = self.refs.get(path) or (ray.put(path.read_bytes()), 0)
        self.refs[path] = (ref, users + 1)
        return ref

    def release(self, path: Path) -> None:
        ref, users = self.refs[path]
        if users > 1:
            self.refs[path] = (ref, users - 1)
        else:
            del self.refs[path]


# -- on the worker -------------------------------------------------------------------------------


def _run_job(
    work: JobWork, job: Job, inputs: list, settings: list, gate: ActorGate, caps: RecordCaps
) -> tuple[dict, bytes | None]:
    """One job in a folder of its own on this worker; returns its record and its run directory as a tar.
    `settings`: [a reference to the driver's model variables] (see the module's docstring)."""
    os.environ.update(ray.get(settings[0]))
    try:  # the driver chose the jail for its own machine; this node must have it too
        choose_isolation(work.settings.isolation)
    except IsolationUnavailable as exc:
        return error_record(job, f"on Ray node {socket.gethostname()}: {exc}", 0.0), None
    _remove_abandoned_folders()
    folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{_host()}-{os.getpid()}-"))
    try:
        staged = []
        for number, (original, ref) in enumerate(inputs):
            copy = folder / "inputs" / str(number) / original.name
            copy.parent.mkdir(parents=True)
            copy.write_bytes(ray.get(ref))
            staged.append((original, copy))
        GATE.share(gate)
        try:
            record = replace(work, runs_dir=folder / "runs")(job, staged)
        finally:
            GATE.share(None)
        if not record.get("run_dir"):
            return record, None
        try:
            return record, pack_tree(Path(record["run_dir"]), caps.max_bytes, caps.max_files)
        except ArchiveRefused as exc:
            return error_record(job, f"its run record is too large to send back: {exc}", record["latency_s"]), None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_abandoned_folders() -> None:
    """Folders of jobs whose worker was killed (no `finally` ran): their process is gone."""
    pattern = re.compile(rf"{re.escape(FOLDER_PREFIX)}{re.escape(_host())}-(\d+)-")
    for folder in Path(tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*"):
        match = pattern.match(folder.name)
        if match and not _alive(int(match.group(1))):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())[:40]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
