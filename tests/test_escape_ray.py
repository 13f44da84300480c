"""Trust boundary: the run record a Ray worker sends back to the driver (agent/ray_runner.py).

On a worker, jailed code wrote the home; the worker packs the run directory into a tar and the
driver unpacks it into its runs folder (sandbox/archive.py). Two kinds of attack:
- through the real Ray runner: model-written code leaves links to host folders and files, and
  a FIFO, in the home, hoping the driver recreates or follows them;
- as a hostile worker would send them: archives whose names climb out, that hold links (and a
  file written through one), hard links, devices, FIFOs, or more bytes and members than the caps.
Property: nothing is written outside the new run folder, no host file's content is copied in,
no link exists in the driver's copy, and a refused archive leaves no run folder at all.
"""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.batch import Job, JobWork, ResultsFile, run_batch
from agent.models.scripted import ScriptedModel, call, say
from sandbox.archive import ArchiveRefused, pack_tree, unpack_tree
from tests.ray_cluster import NEED_RAY, local_cluster
from tests.trust_common import LEVELS, SECRET, make_host_dir, snapshot
from tools.registry import ToolSettings

MIB = 1 << 20

PLANT = """
import os
os.symlink({host!r}, "outputs/host-folder")
os.symlink({secret!r}, "outputs/secret.txt")
os.symlink("/etc", "outputs/etc")
os.symlink("../../../../../../..", "outputs/up")
os.mkfifo("outputs/pipe")
os.makedirs("outputs/sub")
os.symlink({host!r}, "outputs/sub/deeper")
open("outputs/kept.txt", "w").write("a plain output")
print("planted")
"""


@dataclass
class Planter:
    """Runs the planting code in the jail, then answers."""

    code: str

    def __call__(self, job: Job) -> ScriptedModel:
        return ScriptedModel([call("run_python", code=self.code), say("planted")])


@pytest.fixture(scope="module")
def one_node():
    if NEED_RAY["condition"]:
        pytest.skip(NEED_RAY["reason"])
    with local_cluster(nodes=1) as running:
        yield running


@pytest.mark.parametrize("level", LEVELS)
def test_ray_run_record_links_stay_on_the_worker(one_node, level, tmp_path):
    from agent.ray_runner import RayRunner

    host = make_host_dir(tmp_path)
    before = snapshot(host)
    code = PLANT.format(host=str(host), secret=str(host / "secret.txt"))
    work = JobWork(tmp_path / "runs", model_factory=Planter(code), settings=ToolSettings(isolation=level))
    outcome = run_batch(
        [Job("plant", "x", [], tmp_path, 1)], ResultsFile(tmp_path / "out.jsonl"), work, RayRunner(concurrency=1)
    )
    record = outcome.records["plant"]
    assert record["status"] == "ok", record
    run_dir = Path(record["run_dir"])
    results = [
        part
        for line in (run_dir / "transcript.jsonl").read_text().splitlines()
        for part in json.loads(line)["parts"]
        if part["type"] == "tool_result"
    ]
    assert not results[0]["is_error"] and "stdout:\nplanted" in results[0]["text"]  # the links were made
    outputs = run_dir / "home" / "outputs"
    assert (outputs / "kept.txt").read_text() == "a plain output"  # the home did come back
    assert sorted(p.name for p in outputs.iterdir()) == ["kept.txt", "sub"]  # links and the FIFO stayed behind
    assert not list((outputs / "sub").iterdir())
    for path in run_dir.rglob("*"):
        mode = os.lstat(path).st_mode
        assert stat.S_ISDIR(mode) or stat.S_ISREG(mode), f"{path} is neither a folder nor a file"
        if stat.S_ISREG(mode):
            assert SECRET.encode() not in path.read_bytes(), f"a host file's content is in {path}"
    assert snapshot(host) == before


# -- archives as a hostile worker would send them -------------------------------------------------


def tar_of(*members: tuple[tarfile.TarInfo, bytes | None], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, mode
    return info


def refused(data: bytes, tmp_path: Path, max_bytes: int = 10 * MIB, max_files: int = 1000) -> str:
    """Unpack into tmp_path/runs/job: it must be refused, leave no run folder and change nothing else."""
    runs = tmp_path / "runs"
    runs.mkdir(exist_ok=True)
    before = snapshot(tmp_path)
    with pytest.raises(ArchiveRefused) as caught:
        unpack_tree(data, runs / "job", max_bytes, max_files)
    assert snapshot(tmp_path) == before, "a refused archive changed something"
    return str(caught.value)


FILE = b"content"


@pytest.mark.parametrize(
    "name",
    ["../escape.txt", "home/../../escape.txt", "/tmp/absolute-escape.txt", "home/outputs/../../../../x", ".."],
)
def test_ray_run_record_names_stay_in_the_runs_folder(name, tmp_path):
    data = tar_of((member("home", tarfile.DIRTYPE, mode=0o755), None), (member(name), FILE))
    refused(data, tmp_path)
    assert not (tmp_path / "escape.txt").exists() and not Path("/tmp/absolute-escape.txt").exists()
    # A name given twice would let a second member replace what the first one wrote.
    twice = tar_of((member("home/a.txt"), FILE), (member("home/a.txt"), b"second"))
    assert "appears twice" in refused(twice, tmp_path)
    # GNU-format long names and a plain tree are accepted: the caps and rules are not overreaching.
    fine = tar_of((member("home", tarfile.DIRTYPE, mode=0o4755), None), (member("home/" + "n" * 200), FILE))
    unpack_tree(fine, tmp_path / "runs" / "ok", 10 * MIB, 1000)
    assert (tmp_path / "runs" / "ok" / "home" / ("n" * 200)).read_bytes() == FILE
    assert stat.S_IMODE((tmp_path / "runs" / "ok" / "home").stat().st_mode) == 0o755  # no set-uid bit kept


def test_ray_run_record_links_in_the_archive_are_refused(tmp_path):
    host = make_host_dir(tmp_path / "host-root")
    host_before = snapshot(host)
    attacks = {
        "symlink to a host folder, then a file through it": tar_of(
            (member("home/out", tarfile.SYMTYPE, link=str(host)), None),
            (member("home/out/planted.txt"), FILE),
        ),
        "relative symlink climbing out, then a file through it": tar_of(
            (member("home/up", tarfile.SYMTYPE, link="../../../host-root/host-dir"), None),
            (member("home/up/planted.txt"), FILE),
        ),
        "symlink to /etc": tar_of((member("home/etc", tarfile.SYMTYPE, link="/etc"), None)),
        "hard link to a host file": tar_of(
            (member("home/secret.txt", tarfile.LNKTYPE, link=str(host / "secret.txt")), None)
        ),
        "character device": tar_of((member("home/null", tarfile.CHRTYPE), None)),
        "FIFO": tar_of((member("home/pipe", tarfile.FIFOTYPE), None)),
    }
    for what, data in attacks.items():
        message = refused(data, tmp_path)
        assert "only folders and regular files" in message, (what, message)
    assert snapshot(host) == host_before


def test_ray_run_record_size_is_capped(tmp_path):
    big = tar_of((member("home/big.bin"), b"\0" * (3 * MIB)))
    assert "bytes" in refused(big, tmp_path, max_bytes=2 * MIB)
    many = tar_of(*[(member(f"home/f{i}"), b"x") for i in range(60)])
    assert "members" in refused(many, tmp_path, max_files=50)
    # A member that claims more bytes than the archive holds (cut short in transit or on purpose).
    cut = tar_of((member("home/a.bin"), b"y" * MIB))[: 512 * 3]
    refused(cut, tmp_path)
    assert "not a tar" in refused(b"\x7fELF not an archive at all" * 40, tmp_path)
    # The worker side too: a home past the cap is not packed at all.
    home = tmp_path / "worker-run" / "home"
    home.mkdir(parents=True)
    (home / "big.bin").write_bytes(b"z" * (2 * MIB))
    with pytest.raises(ArchiveRefused, match="bytes"):
        pack_tree(tmp_path / "worker-run", max_bytes=MIB, max_files=100)
    with pytest.raises(ArchiveRefused, match="files and folders"):
        pack_tree(tmp_path / "worker-run", max_bytes=10 * MIB, max_files=1)
