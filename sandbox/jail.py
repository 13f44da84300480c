"""The jail model-written code runs in.

Two levels:
- `bwrap`: bubblewrap. No network, its own PID/IPC/UTS namespaces, the system and the Python
  install read-only, the home the only writable place besides a private size-capped /tmp, and
  nothing else of the disk visible. When started as root, the code runs as `nobody` (65534), so
  the process-count limit holds (the kernel exempts uid 0 from it) and nothing root owns is
  writable.
- `process`: a child process only. Same scrubbed environment, resource limits and wall-clock
  timeout, but it shares the network, the file system and the user id with the caller. As root
  it drops every capability, so it cannot raise its limits. What it cannot stop is listed in
  sandbox.attacks and printed by `agent sandbox check`.

In both, the child gets: an environment built from scratch (no API keys, nothing of the caller's),
the home as cwd and HOME, limits on CPU time, address space, file size, open files and processes,
a wall-clock timeout that kills its whole process group, and a cap on the home's total size.
"""
from __future__ import annotations

import functools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.attacks import not_stopped_by, stopped_by

LEVELS = ("bwrap", "process")
BWRAP_INSTALL = "sudo apt-get install -y bubblewrap"
SANDBOX_UID = 65534  # nobody
ESCAPE_GRACE = 0.5  # seconds the output pipes may stay open after the code's group is killed
HOME_IN_JAIL = "/home/sandbox"
PACKAGES_IN_JAIL = "/opt/lookclosely"
PROJECT_PACKAGES = ("tools", "sandbox")  # importable inside the jail; `agent` is not
READ_ONLY_IN_HOME = ("inputs", "skills", "share")  # mounted read-only inside the bwrap jail
ETC_ENTRIES = ("fonts", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime",
               "mime.types", "libreoffice", "ImageMagick-6", "ssl/openssl.cnf")


class IsolationUnavailable(RuntimeError):
    """The isolation level asked for cannot be had on this machine."""


@dataclass
class Limits:
    timeout: float = 60.0  # wall-clock seconds; the whole process group is killed after it
    cpu_seconds: int = 60
    memory_bytes: int = 4 << 30  # address space per process
    file_size_bytes: int = 512 << 20  # largest file the code may write
    open_files: int = 1024
    processes: int = 256  # threads and processes, on top of those the user already runs
    tmp_bytes: int = 512 << 20  # size of the private /tmp (bwrap)
    home_bytes: int = 2 << 30  # the home's total size; the code is killed when it grows past this
    output_bytes: int = 24_000  # kept of each of stdout and stderr (head and tail)

    @classmethod
    def from_settings(cls, settings: dict) -> "Limits":
        names = {"python_timeout": "timeout", "python_cpu_seconds": "cpu_seconds",
                 "python_memory_bytes": "memory_bytes", "python_file_size_bytes": "file_size_bytes",
                 "python_open_files": "open_files", "python_processes": "processes",
                 "python_home_bytes": "home_bytes", "python_output_bytes": "output_bytes",
                 "python_tmp_bytes": "tmp_bytes"}
        limits = cls(**{field: settings[key] for key, field in names.items() if key in settings})
        if "python_timeout" in settings and "python_cpu_seconds" not in settings:
            limits.cpu_seconds = max(1, int(limits.timeout))
        return limits


@dataclass
class Outcome:
    """What a jailed run did."""

    isolation: str
    returncode: int | None  # negative: killed by that signal
    stdout: str
    stderr: str
    stdout_bytes: int  # total written, including what was dropped
    stderr_bytes: int
    seconds: float
    killed: str | None = None  # why the jail killed it: "timeout", "home size"
    warnings: list[str] = field(default_factory=list)


# -- choosing a level -----------------------------------------------------------------------------

def choose_isolation(requested: str | None) -> str:
    """The level to use: the one asked for, or the strongest available when None."""
    if requested not in (None, *LEVELS):
        raise ValueError(f"unknown isolation level {requested!r}; choose one of {', '.join(LEVELS)}")
    ok, why = bwrap_status()
    if requested == "bwrap" and not ok:
        raise IsolationUnavailable(f"--sandbox bwrap: {why}")
    if requested is None:
        return "bwrap" if ok else "process"
    return requested


@functools.lru_cache(maxsize=1)
def bwrap_status() -> tuple[bool, str]:
    """(usable, reason): bwrap is installed and a real jailed Python starts under it."""
    path = shutil.which("bwrap")
    if path is None:
        return False, f"bubblewrap is not installed; install it with: {BWRAP_INSTALL}"
    with tempfile.TemporaryDirectory(prefix="jail-probe-") as tmp:
        home = Path(tmp)
        for name in ("inputs", "outputs", "tmp", "skills", "share"):
            (home / name).mkdir()
        try:
            out = run_python("print('ok')", home, "bwrap", Limits(timeout=20))
        except OSError as exc:
            return False, f"bwrap is installed ({path}) but cannot start: {exc}"
    if out.returncode == 0 and out.stdout.strip() == "ok":
        return True, f"bubblewrap works ({path}, {_bwrap_version(path)})"
    detail = (out.stderr.strip().splitlines() or ["no output"])[-1]
    hint = "" if _is_root() else " (unprivileged user namespaces may be disabled: sysctl kernel.unprivileged_userns_clone=1, or on Ubuntu 24.04+ kernel.apparmor_restrict_unprivileged_userns=0)"
    return False, f"bwrap is installed ({path}) but a jailed Python failed: {detail}{hint}"


def isolation_report() -> dict:
    """What this machine supports and what each level stops: for `agent sandbox check` and answer.json."""
    ok, why = bwrap_status()
    root = _is_root()
    return {
        "default": "bwrap" if ok else "process",
        "running_as_root": root,
        "child_user": (f"nobody ({SANDBOX_UID}) under bwrap; root without capabilities under process"
                       if root else f"the calling user ({os.getuid()})"),
        "unprivileged_user_namespaces": _userns_status(),
        "levels": {
            "bwrap": {"available": ok, "reason": why,
                      "stops": stopped_by("bwrap", root), "does_not_stop": not_stopped_by("bwrap", root)},
            "process": {"available": True,
                        "reason": "always available: a child process with limits, a scrubbed environment and a timeout",
                        "stops": stopped_by("process", root), "does_not_stop": not_stopped_by("process", root)},
        },
    }


def weakness_note(isolation: str) -> str | None:
    """A one-line warning for results produced under a weaker level, or None."""
    if isolation == "bwrap":
        return None
    gaps = not_stopped_by(isolation, _is_root())
    return (f"{isolation} isolation: the code shares this machine's network, files and user; it does not stop: "
            + "; ".join(a["attack"] for a in gaps[:4]) + ("; ..." if len(gaps) > 4 else "")
            + " (install bubblewrap: " + BWRAP_INSTALL + ")")


# -- running ----------------------------------------------------------------------------------------

def run_python(code: str, home: Path, isolation: str, limits: Limits | None = None) -> Outcome:
    """Run `code` with the jail's Python, in `home`. The code arrives on stdin, never as a file."""
    return run_jailed(["-c", _LAUNCHER], home, isolation, limits or Limits(), stdin=code.encode("utf-8"))


def run_jailed(python_args: list[str], home: Path, isolation: str, limits: Limits,
               stdin: bytes = b"") -> Outcome:
    """Run the jail's Python with `python_args` (after the launcher's config) in `home`."""
    if isolation not in LEVELS:
        raise ValueError(f"unknown isolation level {isolation!r}")
    home = Path(home).resolve()
    root = _is_root()
    drop = ("setuid" if isolation == "bwrap" else "capdrop") if root else "none"
    if drop == "setuid":
        _hand_home_to(home, SANDBOX_UID)
    child_uid = SANDBOX_UID if drop == "setuid" else os.getuid()
    config = {
        "drop": drop, "uid": SANDBOX_UID,
        "limits": {
            "RLIMIT_CPU": limits.cpu_seconds,
            "RLIMIT_AS": limits.memory_bytes,
            "RLIMIT_FSIZE": limits.file_size_bytes,
            "RLIMIT_NOFILE": limits.open_files,
            "RLIMIT_NPROC": _threads_of(child_uid) + limits.processes,
            "RLIMIT_CORE": 0,
        },
    }
    home_inside = HOME_IN_JAIL if isolation == "bwrap" else str(home)
    env = child_environment(home_inside, isolation)
    argv = [sys.executable, *python_args[:2], json.dumps(config), *python_args[2:]]
    if isolation == "bwrap":
        argv = bwrap_argv(home, limits, as_root=root) + argv
    identity_fds: list[int] = []
    if isolation == "bwrap":
        # programs such as LibreOffice abort when their uid has no passwd entry; give them one line each
        for dest, text in _identity_files(child_uid).items():
            read_end, write_end = os.pipe()
            os.write(write_end, text.encode())
            os.close(write_end)
            identity_fds.append(read_end)
            argv[argv.index("--") : argv.index("--")] = ["--perms", "0644", "--ro-bind-data", str(read_end), dest]
    started = time.monotonic()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, cwd=home, start_new_session=True, close_fds=True, pass_fds=identity_fds)
    finally:
        for fd in identity_fds:
            os.close(fd)
    threading.Thread(target=_feed, args=(proc.stdin, stdin), daemon=True).start()
    out, err = _Capture(limits.output_bytes), _Capture(limits.output_bytes)
    killed, held_open = _supervise(proc, {proc.stdout: out, proc.stderr: err}, home, limits, started)
    seconds = time.monotonic() - started
    warnings = []
    if held_open:
        warnings.append("a process started by the code left its process group and is still running; "
                        f"{isolation} isolation cannot stop it" + ("" if isolation == "bwrap" else " (bwrap can)"))
    returncode = proc.returncode
    if isolation == "bwrap" and returncode is not None and returncode > 128:
        returncode = 128 - returncode  # bwrap reports a child killed by signal N as exit status 128 + N
    note = weakness_note(isolation)
    if note:
        warnings.append(note)
    return Outcome(isolation, returncode, out.text(), err.text(), out.total, err.total, seconds, killed, warnings)


def child_environment(home_inside: str, isolation: str) -> dict[str, str]:
    """The child's whole environment, built from nothing: no variable of the caller passes through."""
    python_bin = os.path.dirname(sys.executable)
    packages = PACKAGES_IN_JAIL if isolation == "bwrap" else str(_project_root())
    return {
        "PATH": ":".join(dict.fromkeys([python_bin, "/usr/local/bin", "/usr/bin", "/bin"])),
        "HOME": home_inside,
        "USER": "sandbox",
        "LOGNAME": "sandbox",
        "TMPDIR": "/tmp" if isolation == "bwrap" else f"{home_inside}/tmp",
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "PYTHONPATH": packages,
        "PYTHONIOENCODING": "utf-8",
        "PYTHONUNBUFFERED": "1",  # output written before a kill is not lost in a buffer
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",  # every BLAS/OpenMP thread counts against the process limit
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "AGENT_CACHE_DIR": f"{home_inside}/tmp/.cache",
    }


def bwrap_argv(home: Path, limits: Limits, as_root: bool) -> list[str]:
    """The bubblewrap command line that shows the child only the system, Python, our packages and the home."""
    argv = ["bwrap", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--hostname", "sandbox",
            "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        top = Path("/") / name
        if top.is_symlink():
            argv += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            argv += ["--ro-bind", str(top), str(top)]
    # bwrap gives the directories it makes on the way the host's modes, or 0700 where it cannot tell,
    # which would lock the unprivileged child out of what is mounted below them
    argv += ["--perms", "0755", "--dir", "/etc", "--perms", "0755", "--dir", "/etc/ssl"]
    for entry in ETC_ENTRIES:
        argv += ["--ro-bind-try", f"/etc/{entry}", f"/etc/{entry}"]
    argv += ["--perms", "0755", "--dir", "/var", "--perms", "0755", "--dir", "/var/cache",
             "--ro-bind-try", "/var/cache/fontconfig", "/var/cache/fontconfig"]
    argv += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"]
    made: set[str] = {"/", "/usr", "/tmp", "/proc", "/dev", "/etc", "/var"}

    def parents_of(dest: str) -> list[str]:
        out = []
        for parent in reversed(Path(dest).parents):
            if str(parent) not in made:
                made.add(str(parent))
                out += ["--perms", "0755", "--dir", str(parent)]
        made.add(dest)
        return out

    for path in python_dirs():
        argv += parents_of(path) + ["--ro-bind", path, path]
    for name in PROJECT_PACKAGES:
        dest = f"{PACKAGES_IN_JAIL}/{name}"
        argv += parents_of(dest) + ["--ro-bind", str(_project_root() / name), dest]
    argv += parents_of(HOME_IN_JAIL) + ["--bind", str(home), HOME_IN_JAIL]
    for name in READ_ONLY_IN_HOME:
        if (home / name).is_dir() and not (home / name).is_symlink():
            argv += ["--ro-bind", str(home / name), f"{HOME_IN_JAIL}/{name}"]
    argv += ["--chdir", HOME_IN_JAIL]
    if as_root:
        # the launcher needs these two to become nobody; everything else is gone before user code runs
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return argv + ["--"]


def python_dirs() -> list[str]:
    """The Python install the child needs, read-only: the prefixes and site-packages, nothing around them."""
    candidates = [sys.base_prefix, sys.prefix, *(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib"))]
    try:
        import site
        candidates += site.getsitepackages()
    except AttributeError:
        pass
    dirs: list[str] = []
    for raw in candidates:
        path = os.path.realpath(raw)
        if not os.path.isdir(path) or path == "/usr" or path.startswith("/usr/"):
            continue
        if any(path == d or path.startswith(d + "/") for d in dirs):
            continue
        dirs = [d for d in dirs if not d.startswith(path + "/")] + [path]
    # the interpreter may be a symlink into another install (a venv's python → the base install)
    exe = os.path.realpath(sys.executable)
    if not exe.startswith("/usr/") and not any(exe.startswith(d + "/") for d in dirs):
        dirs.append(os.path.dirname(exe))
    # a venv keeps sys.executable's own path as a symlink; bind the venv at its own path too
    for raw in (sys.prefix, os.path.dirname(os.path.dirname(sys.executable))):
        if os.path.isfile(os.path.join(raw, "pyvenv.cfg")) and raw not in dirs:
            dirs.append(raw)
    return dirs


# -- the launcher: runs inside the child before the model's code ------------------------------------

_LAUNCHER = r'''
import json, os, resource, sys
_cfg = json.loads(sys.argv[1])
for _name, _value in _cfg["limits"].items():
    # CPU: the soft limit sends SIGXCPU (a clear cause of death); at the hard one the kernel sends SIGKILL
    resource.setrlimit(getattr(resource, _name), (_value, _value + 1 if _name == "RLIMIT_CPU" else _value))
_code = sys.stdin.buffer.read().decode("utf-8")
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)
if _cfg["drop"] == "setuid":
    os.setgroups([])
    os.setgid(_cfg["uid"])
    os.setuid(_cfg["uid"])
elif _cfg["drop"] == "capdrop":
    import ctypes
    _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise SystemExit("jail: cannot set no_new_privs")
    with open("/proc/sys/kernel/cap_last_cap") as _fh:
        _last = int(_fh.read())
    for _cap in range(_last + 1):
        _libc.prctl(24, _cap, 0, 0, 0)  # PR_CAPBSET_DROP: nothing exec'd later gets capabilities back
    _header = (ctypes.c_uint32 * 2)(0x20080522, 0)
    _data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable: all empty
    if _libc.capset(_header, _data) != 0:
        raise SystemExit("jail: cannot drop capabilities")
    del ctypes, _libc, _header, _data, _last, _cap
import linecache
_name = "<run_python>"
linecache.cache[_name] = (len(_code), None, _code.splitlines(True), _name)
sys.argv = [_name]
_globals = {"__name__": "__main__", "__builtins__": __builtins__}
_compiled = compile(_code, _name, "exec")
del json, resource, linecache, _cfg, _value, _code, _null
try:
    exec(_compiled, _globals)
except SystemExit:
    raise
except BaseException as _exc:
    import traceback
    # the interpreter's own hook reads source lines from disk; this one shows the model its code
    traceback.print_exception(type(_exc), _exc, _exc.__traceback__.tb_next)
    sys.exit(1)
'''


# -- internals ------------------------------------------------------------------------------------------

class _Capture:
    """Keeps the first and last `limit // 2` bytes of a stream, and counts all of it."""

    def __init__(self, limit: int):
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.half = max(1, limit // 2)
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail.append(chunk)
            self.tail_size += len(chunk)
            while self.tail_size - len(self.tail[0]) >= self.half:
                self.tail_size -= len(self.tail.popleft())

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        tail = b"".join(self.tail)
        if self.total <= len(self.head) + len(tail):
            return head + tail.decode("utf-8", "replace")
        tail = tail[-self.half:]
        dropped = self.total - len(self.head) - len(tail)
        return (f"{head}\n[... {dropped:,} bytes of output left out; {self.total:,} bytes in all ...]\n"
                + tail.decode("utf-8", "replace"))


def _feed(stream, data: bytes) -> None:
    try:
        stream.write(data)
    except (BrokenPipeError, OSError):
        pass
    finally:
        try:
            stream.close()
        except OSError:
            pass


def _supervise(proc: subprocess.Popen, streams: dict, home: Path, limits: Limits,
               started: float) -> tuple[str | None, bool]:
    """Collect output until the child is gone; kill its group on timeout or when the home outgrows its cap.

    Returns (why it was killed or None, whether something outside the group still held the output
    pipes after the group was killed). One poll loop, no reader threads: a process that escaped
    the group may hold the pipes forever, and it must not hold this call with them.
    """
    pidfd = os.pidfd_open(proc.pid)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    by_fd = {}
    for stream, capture in streams.items():
        os.set_blocking(stream.fileno(), False)
        poller.register(stream.fileno(), select.POLLIN)
        by_fd[stream.fileno()] = capture
    killed, exited_at = None, None
    next_size_check = started + 0.5
    try:
        while True:
            now = time.monotonic()
            if exited_at is None:
                if now >= started + limits.timeout:
                    _kill_group(proc.pid)
                    killed = killed or "timeout"
                elif now >= next_size_check:
                    if _tree_size(home, limits.home_bytes) > limits.home_bytes:
                        _kill_group(proc.pid)
                        killed = "home size"
                    next_size_check = now + 0.5
                wake = min(started + limits.timeout, next_size_check)
            else:
                if not by_fd:
                    return killed, False
                if now >= exited_at + ESCAPE_GRACE:
                    return killed, True
                wake = exited_at + ESCAPE_GRACE
            for fd, _ in poller.poll(max(0, int((wake - now) * 1000)) + 1):
                if fd == pidfd:
                    proc.wait()
                    _kill_group(proc.pid)  # whatever the code left running in its group goes with it
                    poller.unregister(pidfd)
                    exited_at = time.monotonic()
                    continue
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                if chunk:
                    by_fd[fd].add(chunk)
                else:
                    poller.unregister(fd)
                    del by_fd[fd]
    finally:
        os.close(pidfd)
        for stream in streams:
            stream.close()


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _tree_size(root: Path, stop_above: int) -> int:
    total = 0
    stack = [str(root)]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    else:
                        total += entry.stat(follow_symlinks=False).st_blocks * 512
                except OSError:
                    continue
                if total > stop_above:
                    return total
    return total


def _hand_home_to(home: Path, uid: int) -> None:
    """Make the writable parts of the home belong to the child's user; never follow a link out."""
    os.lchown(home, uid, uid)
    os.chmod(home, 0o755)  # bwrap, root without capabilities, must still be able to enter it
    for entry in os.scandir(home):
        if entry.name in READ_ONLY_IN_HOME:
            continue
        os.lchown(entry.path, uid, uid)
        if entry.is_dir(follow_symlinks=False):
            for parent, dirs, files in os.walk(entry.path, followlinks=False):
                for name in dirs + files:
                    os.lchown(os.path.join(parent, name), uid, uid)


def _identity_files(uid: int) -> dict[str, str]:
    gid = SANDBOX_UID if uid == SANDBOX_UID else os.getgid()
    return {
        "/etc/passwd": f"root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:{uid}:{gid}:sandbox:{HOME_IN_JAIL}:/usr/sbin/nologin\n",
        "/etc/group": f"root:x:0:\nsandbox:x:{gid}:\n",
    }


def _threads_of(uid: int) -> int:
    """Threads the user already runs: the kernel counts them all against the process limit."""
    count = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status", "rb") as fh:
                status = fh.read()
        except OSError:
            continue
        uid_line = status.split(b"\nUid:", 1)[1].split(None, 1)[0] if b"\nUid:" in status else b""
        if uid_line == str(uid).encode():
            threads = status.split(b"\nThreads:", 1)[1].split(None, 1)[0] if b"\nThreads:" in status else b"1"
            count += int(threads)
    return count


def _project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def _is_root() -> bool:
    return os.geteuid() == 0


def _bwrap_version(path: str) -> str:
    try:
        return subprocess.run([path, "--version"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "version unknown"


def _userns_status() -> str:
    knobs = []
    for knob in ("/proc/sys/kernel/unprivileged_userns_clone", "/proc/sys/user/max_user_namespaces",
                 "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"):
        try:
            knobs.append(f"{Path(knob).name}={Path(knob).read_text().strip()}")
        except OSError:
            continue
    needed = "not needed: bwrap runs as root" if _is_root() else "needed: bwrap runs unprivileged"
    return f"{needed}; " + (", ".join(knobs) or "no sysctl knobs found")
