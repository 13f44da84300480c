"""The escape suite: model-written code (and model tool calls) trying to get out, at each isolation level.

For every attack and level, sandbox.attacks says "stopped" or "not stopped". Stopped: the attack
runs for real and must be contained, with the run going on and a clear tool result. Not stopped:
`agent sandbox check` (isolation_report) and the tool's result must say so, and where it is safe
to try, the attack must really get through, so the table cannot pretend in either direction.
Nothing here needs the network; a local server stands in for "the network".
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from sandbox.attacks import ATTACKS, BY_ID
from sandbox.home import create_home
from sandbox.jail import isolation_report
from tools.code import TOOLS as CODE_TOOLS
from tools.doc_tools import TOOLS as DOC_TOOLS
from tools.images import ImageStore
from tools.registry import Toolbox, ToolContext, ToolSettings

PROJECT = Path(__file__).resolve().parents[1]
SECRET = "sk-test-secret-" + uuid.uuid4().hex[:8]
AS_ROOT = os.geteuid() == 0
NEED_BWRAP = pytest.mark.skipif(
    shutil.which("bwrap") is None and not os.environ.get("CI"), reason="bubblewrap is not installed (required in CI)"
)
LEVELS = [pytest.param("bwrap", marks=NEED_BWRAP), "process"]


@pytest.fixture(autouse=True)
def api_key_in_env(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)
    monkeypatch.setenv("GOOGLE_API_KEY", SECRET)


@pytest.fixture(params=LEVELS)
def level(request):
    return request.param


@pytest.fixture
def home(tmp_path):
    original = tmp_path / "user-files" / "notes.txt"
    original.parent.mkdir()
    original.write_text("the user's original")
    home = tmp_path / "run" / "home"
    create_home(home, [original])
    return home


def make_ctx(home: Path, level: str, **settings) -> ToolContext:
    base = {"isolation": level, "python_timeout": 5, "python_memory_bytes": 1 << 30, "python_home_bytes": 200 << 20}
    return ToolContext(
        images=ImageStore(home.parent / "images"), home=home, settings=ToolSettings(**{**base, **settings})
    )


def run_code(home: Path, level: str, code: str, **settings):
    return Toolbox(CODE_TOOLS).call("run_python", {"code": code}, make_ctx(home, level, **settings))


def stopped(attack_id: str, level: str) -> bool:
    return BY_ID[attack_id].verdict(level, AS_ROOT) == "stopped"


def admits(attack_id: str, level: str, result=None) -> None:
    """The level does not stop this attack: the check report must say so, and so must the tool result."""
    gaps = {a["id"] for a in isolation_report()["levels"][level]["does_not_stop"]}
    assert attack_id in gaps, f"{level} does not stop {attack_id} but the report does not say so"
    if result is not None:
        assert f"{level} isolation" in result.text and "does not stop" in result.text


def host_run(home: Path, level: str, code: str, timeout: float = 5) -> dict:
    """Run the code from a separate agent-like process whose own environment holds the API key."""
    host = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from sandbox.jail import Limits, run_python\n"
        f"out = run_python(sys.stdin.read(), Path({str(home)!r}), {level!r}, Limits(timeout={timeout}))\n"
        "print(json.dumps({'stdout': out.stdout, 'stderr': out.stderr, 'returncode': out.returncode}))\n"
    )
    env = {**os.environ, "GEMINI_API_KEY": SECRET, "PYTHONPATH": str(PROJECT)}
    proc = subprocess.run(
        [sys.executable, "-c", host], input=code, capture_output=True, text=True, env=env, cwd=PROJECT, timeout=60
    )
    return {"host_exit": proc.returncode, **(json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout else {})}


HEARTBEAT = """
import os, sys, time
def beat(path):
    while True:
        with open(path + ".tmp", "w") as fh:
            fh.write(str(time.time()))
        os.replace(path + ".tmp", path)
        time.sleep(0.05)
"""


def assert_no_heartbeat(path: Path) -> None:
    """Whatever wrote `path` every 50 ms is dead."""
    assert path.exists(), "the background writer never started"
    first = path.read_text()
    time.sleep(0.6)
    assert path.read_text() == first, "a process the code started is still running after the call"


# -- secrets ----------------------------------------------------------------------------------------


def test_env_api_key(home, level):
    result = run_code(home, level, "import os, json; print(json.dumps(dict(os.environ)))")
    env = json.loads(result.text.split("stdout:\n", 1)[1].split("\n", 1)[0])
    assert SECRET not in result.text
    assert not any(k.startswith(("GEMINI", "GOOGLE", "OPENAI", "AWS", "SSH")) for k in env)
    assert set(env) <= {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "TMPDIR",
        "LANG",
        "TERM",
        "PYTHONPATH",
        "PYTHONIOENCODING",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "MPLBACKEND",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "AGENT_CACHE_DIR",
        "LC_CTYPE",
        "PWD",
    }


def test_parent_environ(home, level):
    code = (
        "import os\n"
        "for pid in (os.getppid(), 1):\n"
        "    try:\n"
        "        print(open(f'/proc/{pid}/environ', 'rb').read().decode(errors='replace'))\n"
        "    except OSError as exc:\n"
        "        print('refused', pid, type(exc).__name__)\n"
    )
    out = host_run(home, level, code)
    assert out["host_exit"] == 0
    if stopped("parent_environ", level):
        assert SECRET not in out["stdout"] + out["stderr"]
    else:
        admits("parent_environ", level)
        assert SECRET in out["stdout"], "the table says the parent's environment is readable; it should be"


def test_system_secrets(home, level):
    result = run_code(home, level, "print(open('/etc/shadow').read()[:20])")
    if stopped("system_secrets", level):
        assert result.is_error and ("FileNotFoundError" in result.text or "PermissionError" in result.text)
    else:
        admits("system_secrets", level, result)
        if AS_ROOT and Path("/etc/shadow").exists():
            assert not result.is_error and "root" in result.text


# -- the disk outside the home ------------------------------------------------------------------------


def test_read_user_home(home, level):
    secret = Path.home() / f".lookclosely-escape-{uuid.uuid4().hex}"
    secret.write_text(SECRET)
    try:
        result = run_code(home, level, f"print(open({str(secret)!r}).read())")
    finally:
        secret.unlink()
    if stopped("read_user_home", level):
        assert result.is_error and SECRET not in result.text
    else:
        admits("read_user_home", level, result)
        assert SECRET in result.text


def test_read_checkout(home, level):
    code = (
        f"import os\nprint(os.path.exists({str(PROJECT / 'agent' / 'loop.py')!r}), os.path.exists({str(PROJECT / '.git')!r}))\n"
        "try:\n    import agent\n    print('agent importable')\nexcept ImportError:\n    print('agent missing')\n"
        "import tools.montage\nprint('tools importable')"
    )
    result = run_code(home, level, code)
    assert "tools importable" in result.text, result.text
    if stopped("read_checkout", level):
        assert "False False" in result.text and "agent missing" in result.text
    else:
        admits("read_checkout", level, result)
        assert "True True" in result.text


def test_read_other_run(home, level, tmp_path):
    other = tmp_path / "other-run" / "home"
    create_home(other, [])
    (other / "outputs" / "answer.txt").write_text(SECRET)
    result = run_code(home, level, f"print(open({str(other / 'outputs' / 'answer.txt')!r}).read())")
    if stopped("read_other_run", level):
        assert result.is_error and SECRET not in result.text
    else:
        admits("read_other_run", level, result)
        assert SECRET in result.text


def test_write_outside(home, level, tmp_path):
    target = tmp_path / "outside.txt"
    code = f"import os\nos.makedirs({str(tmp_path)!r}, exist_ok=True)\nopen({str(target)!r}, 'w').write('escaped')\nprint('wrote')"
    if level == "bwrap":  # system places only where the jail is meant to hold: the weaker level would really write them
        code += (
            "\nfor p in ('/usr/escaped', '/etc/escaped', '/opt/lookclosely/tools/escaped'):\n"
            "    try:\n        open(p, 'w').write('x')\n        print('wrote', p)\n"
            "    except OSError as exc:\n        print('refused', p, exc.strerror)\n"
        )
    result = run_code(home, level, code)
    if stopped("write_outside", level):
        assert not target.exists()  # it went to the jail's private /tmp, which is gone
        assert "refused /usr/escaped Read-only file system" in result.text
        assert "refused /opt/lookclosely/tools/escaped Read-only file system" in result.text
        assert "wrote /" not in result.text
    else:
        admits("write_outside", level, result)
        assert target.read_text() == "escaped"


def test_write_inputs(home, level):
    result = run_code(home, level, "open('inputs/notes.txt', 'w').write('overwritten')")
    original = home.parent.parent / "user-files" / "notes.txt"
    assert original.read_text() == "the user's original"  # the user's file is never reached at any level
    if stopped("write_inputs", level):
        assert result.is_error and "Read-only file system" in result.text
        assert (home / "inputs" / "notes.txt").read_text() == "the user's original"
    else:
        admits("write_inputs", level, result)
        assert (home / "inputs" / "notes.txt").read_text() == "overwritten"


def test_symlink_in_inputs(home, level, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    (home / "inputs" / "planted").symlink_to(secret)
    result = run_code(home, level, "print(open('inputs/planted').read())")
    if stopped("symlink_in_inputs", level):
        assert result.is_error and SECRET not in result.text
    else:
        admits("symlink_in_inputs", level, result)
        assert SECRET in result.text


def test_zip_slip(home, level, tmp_path):
    name = f"slipped-{uuid.uuid4().hex}.txt"
    with zipfile.ZipFile(home / "outputs" / "evil.zip", "w") as zf:
        zf.writestr("fine.txt", "ok")
        zf.writestr(f"../../{name}", "escaped")  # outputs/../../ is the run directory, outside the home
    code = (
        "import os, zipfile\n"
        "with zipfile.ZipFile('outputs/evil.zip') as zf:\n"
        "    for info in zf.infolist():\n"
        "        dest = os.path.join('outputs', info.filename)\n"
        "        try:\n"
        "            with open(dest, 'wb') as fh:\n"
        "                fh.write(zf.read(info))\n"
        "            print('extracted', info.filename)\n"
        "        except OSError as exc:\n"
        "            print('refused', info.filename, type(exc).__name__)\n"
    )
    result = run_code(home, level, code)
    assert "extracted fine.txt" in result.text
    landed = home.parent / name
    if stopped("zip_slip", level):
        assert not landed.exists()
    else:
        admits("zip_slip", level, result)
        assert landed.read_text() == "escaped"


# -- network ----------------------------------------------------------------------------------------------


def test_localhost(home, level):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(5)
    port = server.getsockname()[1]
    accepted = []

    def accept():
        try:
            conn, _ = server.accept()
            accepted.append(conn.recv(100))
            conn.close()
        except OSError:
            pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    code = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\ns.sendall(b'hello')\nprint('connected')"
    result = run_code(home, level, code)
    server.close()
    thread.join(2)
    if stopped("localhost", level):
        assert result.is_error and "connected" not in result.text.split("stdout:")[-1].split("stderr:")[0]
        assert not accepted
    else:
        admits("localhost", level, result)
        assert accepted == [b"hello"]


def test_dns(home, level):
    code = (
        "import os, socket\n"
        "print('interfaces', sorted(n for _, n in socket.if_nameindex()))\n"
        "print('resolv.conf', os.path.exists('/etc/resolv.conf'))\n"
        "try:\n    socket.getaddrinfo('example.com', 80)\n    print('resolved')\n"
        "except OSError as exc:\n    print('no dns', type(exc).__name__)\n"
    )
    result = run_code(home, level, code)
    if stopped("dns", level):
        assert "interfaces ['lo']" in result.text and "resolv.conf False" in result.text and "no dns" in result.text
    else:
        admits("dns", level, result)  # this machine may be offline anyway: nothing further to show


# -- resources ----------------------------------------------------------------------------------------------


def test_fork_bomb(home, level):
    if not stopped("fork_bomb", level):
        admits("fork_bomb", level)
        return  # root is exempt from the process limit: running it would take the machine down
    code = (
        "import os, time\n"
        "while True:\n"
        "    try:\n"
        "        os.fork()\n"
        "    except OSError:\n"
        "        open('outputs/limit-hit', 'w').close()\n"
        "        time.sleep(0.05)\n"
    )
    result = run_code(home, level, code, python_processes=64, python_timeout=4)
    assert result.is_error and "time limit" in result.text
    assert (home / "outputs" / "limit-hit").exists(), "the process limit was never reached"
    time.sleep(0.2)
    assert not processes_working_in(home), "fork bomb processes outlived the call"


def processes_working_in(home: Path) -> list[int]:
    """Processes whose working directory is this home (seen through /proc, across namespaces);
    other sessions' jails on the same machine are not counted."""
    target = os.stat(home)
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                st = os.stat(f"/proc/{name}/cwd")
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
                found.append(int(name))
    return found


def test_memory_bomb(home, level):
    code = "chunks = []\nwhile True:\n    chunks.append(bytearray(64 << 20))"
    result = run_code(home, level, code, python_memory_bytes=512 << 20)
    assert result.is_error and "MemoryError" in result.text
    follow = run_code(home, level, "print('still here')")
    assert "still here" in follow.text


def test_cpu_spin(home, level):
    started = time.monotonic()
    result = run_code(home, level, "while True:\n    pass", python_timeout=20, python_cpu_seconds=1)
    assert result.is_error and "CPU time limit" in result.text
    assert time.monotonic() - started < 10


def test_disk_fill_file(home, level):
    code = "with open('outputs/big.bin', 'wb') as fh:\n    while True:\n        fh.write(b'x' * (1 << 20))"
    result = run_code(home, level, code, python_file_size_bytes=8 << 20)
    assert result.is_error and "File too large" in result.text
    assert (home / "outputs" / "big.bin").stat().st_size <= 8 << 20


def test_disk_fill_many(home, level):
    code = "i = 0\nwhile True:\n    open(f'tmp/fill-{i}.bin', 'wb').write(b'x' * (4 << 20))\n    i += 1"
    result = run_code(home, level, code, python_home_bytes=64 << 20, python_timeout=30)
    assert result.is_error and "grew past" in result.text
    used = sum(p.stat().st_size for p in home.rglob("*") if p.is_file())
    assert used < (64 << 20) + (512 << 20), used  # stopped soon after crossing the cap
    assert result.data["killed"] == "home size"


def test_tmp_fill(home, level):
    code = (
        "import os\nn = 0\ntry:\n    with open('/tmp/fill.bin', 'wb') as fh:\n        while n < (48 << 20):\n"
        "            fh.write(b'x' * (1 << 20)); fh.flush(); n += 1 << 20\n    print('wrote', n)\n"
        "except OSError as exc:\n    print('stopped at', n, exc.strerror)\nfinally:\n"
        "    os.path.exists('/tmp/fill.bin') and os.unlink('/tmp/fill.bin')\n"
    )
    result = run_code(home, level, code, python_tmp_bytes=16 << 20)
    if stopped("tmp_fill", level):
        assert "No space left on device" in result.text
    else:
        admits("tmp_fill", level, result)
        assert f"wrote {48 << 20}" in result.text


def test_output_flood(home, level):
    result = run_code(home, level, "import sys\nsys.stdout.write('A' * 30_000_000)\nprint('END')")
    assert not result.is_error
    assert len(result.text) < 80_000
    assert "bytes of output left out" in result.text and "END" in result.text
    assert result.data["stdout_bytes"] >= 30_000_000


def test_sleep_timeout(home, level):
    started = time.monotonic()
    result = run_code(home, level, "import time\ntime.sleep(300)", python_timeout=1.5)
    assert result.is_error and "time limit" in result.text
    assert time.monotonic() - started < 6


def test_ignore_sigterm(home, level):
    code = HEARTBEAT + (
        "import signal, subprocess\n"
        "child = 'import signal, sys; signal.signal(signal.SIGTERM, signal.SIG_IGN); exec(sys.argv[1]); beat(\"outputs/hb\")'\n"
        "subprocess.Popen([sys.executable, '-c', child, " + repr(HEARTBEAT) + "])\n"
        "time.sleep(300)\n"
    )
    result = run_code(home, level, code, python_timeout=2)
    assert result.is_error and "time limit" in result.text
    assert_no_heartbeat(home / "outputs" / "hb")


def test_background_process(home, level):
    code = HEARTBEAT + (
        "import subprocess\n"
        "subprocess.Popen([sys.executable, '-c', " + repr(HEARTBEAT + "beat('outputs/hb')") + "],"
        " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "deadline = time.time() + 3\n"
        "while not os.path.exists('outputs/hb') and time.time() < deadline:\n    time.sleep(0.02)\n"
        "print('returning')\n"
    )
    result = run_code(home, level, code)
    assert not result.is_error and "returning" in result.text
    assert_no_heartbeat(home / "outputs" / "hb")


def test_double_fork(home, level):
    code = HEARTBEAT + (
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        open('outputs/daemon.pid', 'w').write(str(os.getpid()))\n"
        "        beat('outputs/hb')\n"
        "    os._exit(0)\n"
        "deadline = time.time() + 3\n"
        "while not os.path.exists('outputs/hb') and time.time() < deadline:\n    time.sleep(0.02)\n"
        "print('returning')\n"
    )
    result = run_code(home, level, code)
    try:
        if stopped("double_fork", level):
            assert_no_heartbeat(home / "outputs" / "hb")
        else:
            admits("double_fork", level, result)
            assert "left its process group and is still running" in result.text
            hb = home / "outputs" / "hb"
            before = hb.read_text()
            time.sleep(0.3)
            assert hb.read_text() != before, "the table says a daemon survives; it should"
    finally:
        if level == "process":  # clean up what the weaker level let escape
            try:
                os.kill(int((home / "outputs" / "daemon.pid").read_text()), 9)
            except (OSError, ValueError):
                pass


def test_kill_parent(home, level):
    # the "parent" is a throwaway agent-like process; -1 (everything we may signal) only where it is contained.
    # At the process level the code runs under a guardian process, so the agent is its grandparent.
    agent = (
        "os.getppid()"
        if level == "bwrap"
        else "int(open(f'/proc/{os.getppid()}/stat').read().rsplit(')', 1)[1].split()[1])"
    )
    targets = f"{agent}, os.getppid(), 1, -1" if level == "bwrap" else f"{agent},"  # never the machine's init
    code = (
        "import os, signal\n"
        f"for pid in ({targets}):\n"
        "    try:\n        os.kill(pid, signal.SIGKILL)\n        print('signalled', pid)\n"
        "    except OSError as exc:\n        print('refused', pid, type(exc).__name__)\n"
    )
    sibling = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        out = host_run(home, level, code)
        sibling_alive = sibling.poll() is None
    finally:
        sibling.kill()
        sibling.wait()
    assert sibling_alive
    if stopped("kill_parent", level):
        assert out["host_exit"] == 0, "the agent process was killed from inside the jail"
    else:
        admits("kill_parent", level)
        assert out["host_exit"] == -9


def test_raise_limits(home, level):
    code = (
        "import ctypes, os, resource\n"
        "try:\n    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))\n    print('raised AS')\n"
        "except (ValueError, OSError) as exc:\n    print('AS refused')\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "class RLimit(ctypes.Structure):\n    _fields_ = [('cur', ctypes.c_ulong), ('max', ctypes.c_ulong)]\n"
        "r = RLimit(2**64 - 1, 2**64 - 1)\n"
        "print('ctypes setrlimit', libc.setrlimit(7, ctypes.byref(r)))\n"  # RLIMIT_NOFILE
        "print('ctypes setuid', libc.setuid(0), libc.setresuid(0, 0, 0))\n"
        "print('CapEff', open('/proc/self/status').read().split('CapEff:')[1].split()[0])\n"
        "print('limits', resource.getrlimit(resource.RLIMIT_AS), resource.getrlimit(resource.RLIMIT_NOFILE))\n"
    )
    result = run_code(home, level, code)
    assert "AS refused" in result.text and "raised AS" not in result.text
    assert "ctypes setrlimit -1" in result.text
    assert "CapEff 0000000000000000" in result.text
    assert f"limits ({1 << 30}, {1 << 30}) (1024, 1024)" in result.text


def test_os_system(home, level):
    code = (
        "import os\n"
        "os.system('env > outputs/env.txt')\n"
        "os.system('(while true; do date +%s%N > outputs/hb; sleep 0.05; done) &')\n"
        "import time; time.sleep(0.3)\nprint('done')\n"
    )
    result = run_code(home, level, code)
    assert "done" in result.text
    env = (home / "outputs" / "env.txt").read_text()
    assert SECRET not in env and "GEMINI" not in env
    assert_no_heartbeat(home / "outputs" / "hb")


# -- tool paths -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, named",
    [
        ("../../etc/passwd", "'../../etc/passwd'"),
        ("outputs/../../secret.txt", "'outputs/../../secret.txt'"),
    ],
)
def test_tool_dotdot(home, path, named):
    result = Toolbox(DOC_TOOLS).call("read_text", {"path": path}, make_ctx(home, "process"))
    assert result.is_error and named in result.text and "climbs out" in result.text


def test_tool_absolute(home):
    inside = str(home / "inputs" / "notes.txt")
    for path in ("/etc/passwd", inside):
        result = Toolbox(DOC_TOOLS).call("read_text", {"path": path}, make_ctx(home, "process"))
        assert result.is_error and "absolute" in result.text
        assert str(home) not in result.text  # the model is never told where its home lies on the host


def test_tool_symlink(home, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    (home / "inputs" / "planted.txt").symlink_to(secret)
    (home / "outputs" / "dir-link").symlink_to(tmp_path)
    for path in ("inputs/planted.txt", "outputs/dir-link/secret.txt"):
        result = Toolbox(DOC_TOOLS).call("read_text", {"path": path}, make_ctx(home, "process"))
        assert result.is_error and repr(path) in result.text and "symlink" in result.text
        assert SECRET not in result.text


def test_tool_nul(home):
    result = Toolbox(DOC_TOOLS).call("read_text", {"path": "inputs/notes.txt\x00.pdf"}, make_ctx(home, "process"))
    assert result.is_error and "NUL" in result.text


def test_every_attack_has_a_test():
    import ast

    names = set()
    for path in (PROJECT / "tests").glob("test_escape*.py"):
        names |= {
            node.name[len("test_") :]
            for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
        }
    missing = sorted({a.id for a in ATTACKS} - names)
    assert not missing, f"attacks without a test named after them: {missing}"
    assert len(ATTACKS) >= 55


def test_docs_table_lists_every_attack_with_its_verdicts():
    doc = (PROJECT / "docs" / "sandbox.md").read_text()
    for a in ATTACKS:
        row = next((line for line in doc.splitlines() if f"| `{a.id}` |" in line), None)
        assert row is not None, f"docs/sandbox.md has no row for {a.id}"
        cells = [c.strip() for c in row.split("|")[3:6]]
        expected = [a.verdict("bwrap", True), a.verdict("process", True), a.verdict("process", False)]
        assert [c.strip("*") for c in cells] == expected, a.id
