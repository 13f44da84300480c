"""A real Ray for the tests (tests/test_batch_ray.py, tests/test_escape_ray.py).

Import this module instead of `ray`: it fixes Ray's settings before Ray is first imported in
the process (Ray reads its authentication mode once, at import): no usage statistics, token
authentication with a token of this test session (never ~/.ray/auth_token). Subprocesses the
tests start (the CLI joining the cluster) inherit the same settings.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ["RAY_AUTH_MODE"] = "token"
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
os.environ.pop("RAY_ADDRESS", None)
# Ray's test Cluster records the head's address in $RAY_TMPDIR/ray/ray_current_cluster without
# creating that folder (/tmp/ray on a fresh machine does not exist): give this session its own.
# (Ray's own worker processes import this module too and inherit the driver's folder.)
if "RAY_TMPDIR" not in os.environ:
    _session_tmp = tempfile.mkdtemp(prefix="ray-session-", dir="/tmp")
    os.makedirs(os.path.join(_session_tmp, "ray"))
    os.environ["RAY_TMPDIR"] = _session_tmp
    atexit.register(shutil.rmtree, _session_tmp, ignore_errors=True)

try:
    import ray
    from ray.cluster_utils import Cluster
except ImportError:  # the test extra installs Ray; the tests skip without it unless CI is set
    ray = None
    Cluster = None

NEED_RAY = dict(
    condition=ray is None and not os.environ.get("CI"), reason="Ray is not installed (pip install 'lookclosely[ray]')"
)


def ray_temp_dir() -> str:
    """A short folder for Ray's sessions: its socket paths must fit in 107 bytes."""
    return tempfile.mkdtemp(prefix="ray-pt-", dir="/tmp")


def ray_processes(marker: str) -> list[int]:
    """Pids of live processes whose command line mentions `marker` (a Ray temp folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@contextmanager
def local_cluster(nodes: int) -> Iterator[tuple[object, str]]:
    """`nodes` Ray nodes on this machine (each its own raylet and object store, 1 CPU), this
    process connected as the driver; yields (cluster, its temp folder). Afterwards every Ray
    process of it is gone (checked), and its temp folder removed."""
    temp_dir = ray_temp_dir()
    cluster = Cluster(
        initialize_head=True,
        connect=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False, "temp_dir": temp_dir},
    )
    try:
        for _ in range(nodes - 1):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        yield cluster, temp_dir
    finally:
        ray.shutdown()
        cluster.shutdown()
    deadline = time.monotonic() + 30
    while ray_processes(temp_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not ray_processes(temp_dir), "Ray processes outlived the test cluster"
    shutil.rmtree(temp_dir, ignore_errors=True)
