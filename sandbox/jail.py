"""The jail model-written code (and the document worker) runs in.

Two levels:
- `bwrap`: bubblewrap. No network, its own PID/IPC/UTS namespaces, the system and the Python
  install read-only, the home the only writable place besides a private size-capped /tmp and
  /dev/shm, and nothing else of the disk visible. When started as root, the code runs as
  `nobody` (65534), so the process-count limit holds (the kernel exempts uid 0 from it) and
  nothing root owns is writable.
- `process`: a child process only. Same scrubbed environment, resource limits and wall-clock
  timeout, but it shares the network, the file system and the user id with the caller. As root
  it drops every capability, so it cannot raise its limits. What it cannot stop is listed in
  sandbox.attacks and printed by `agent sandbox check`.

In both, the child gets: an environment built from scratch (no API keys, nothing of the caller's),
the home as cwd and HOME, limits on CPU time, address space, file size, open files and processes,
set by an isolated launcher before anything the home can influence is imported (sandbox.launcher),
and, watched from the host for the whole process tree (sandbox.supervisor): a wall-clock
timeout, a memory cap, and caps on the home's apparent size and inode count.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.attacks import not_stopped_by, stopped_by
from sandbox.confined import ConfinedDir
from sandbox.launcher import LAUNCHER
from sandbox.supervisor import Capture, Watch, supervise

LEVELS = ("bwrap", "process")
BWRAP_INSTALL = "sudo apt-get install -y bubblewrap"
SANDBOX_UID = 65534  # nobody
HOME_IN_JAIL = "/home/sandbox"
PACKAGES_IN_JAIL = "/opt/lookclosely"
PROJECT_PACKAGES = ("tools", "sandbox")  # importable inside the jail; `agent` is not
READ_ONLY_IN_HOME = ("inputs", "skills", "share")  # mounted read-only inside the bwrap jail
ETC_ENTRIES = (
    "fonts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "localtime",
    "mime.types",
    "libreoffice",
    "ImageMagick-6",
    "ssl/openssl.cnf",
)


class IsolationUnavailable(RuntimeError):
    """The isolation level asked for cannot be had on this machine."""


@dataclass
class Limits:
    timeout: float = 60.0  # wall-clock seconds; the whole process group is killed after it
    cpu_seconds: int = 60
    memory_bytes: int = 4 << 30  # resident memory of the whole process tree
    address_space_bytes: int | None = None  # per process (RLIMIT_AS); None: memory_bytes
    file_size_bytes: int = 512 << 20  # largest file the code may write
    open_files: int = 1024
    processes: int = 256  # threads and processes, on top of those the user already runs
    tmp_bytes: int = 512 << 20  # size of the private /tmp and /dev/shm (bwrap)
    home_bytes: int = 2 << 30  # the home's apparent size; the code is killed when it grows past this
    home_inodes: int = 100_000  # files and folders in the home
    output_bytes: int = 24_000  # kept of each of stdout and stderr (head and tail)


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
    killed: str | None = None  # why the jail killed it: "timeout", "memory", "home size", "home inodes"
    warnings: list[str] = field(default_factory=list)
    detail: str = ""  # what was over the limit, when killed for one
    peak_memory: int = 0  # largest resident memory of the whole tree seen, bytes


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
    hint = (
        ""
        if _is_root()
        else " (unprivileged user namespaces may be disabled: sysctl kernel.unprivileged_userns_clone=1, or on Ubuntu 24.04+ kernel.apparmor_restrict_unprivileged_userns=0)"
    )
    return False, f"bwrap is installed ({path}) but a jailed Python failed: {detail}{hint}"


def isolation_report() -> dict:
    """What this machine supports and what each level stops: for `agent sandbox check` and answer.json."""
    ok, why = bwrap_status()
    root = _is_root()
    return {
        "default": "bwrap" if ok else "process",
        "running_as_root": root,
        "child_user": (
            f"nobody ({SANDBOX_UID}) under bwrap; root without capabilities under process"
            if root
            else f"the calling user ({os.getuid()})"
        ),
        "unprivileged_user_namespaces": _userns_status(),
        "levels": {
            "bwrap": {
                "available": ok,
                "reason": why,
                "stops": stopped_by("bwrap", root),
                "does_not_stop": not_stopped_by("bwrap", root),
            },
            "process": {
                "available": True,
                "reason": "always available: a child process with limits, a scrubbed environment and a timeout",
                "stops": stopped_by("process", root),
                "does_not_stop": not_stopped_by("process", root),
            },
        },
    }


def weakness_note(isolation: str) -> str | None:
    """A one-line warning for results produced under a weaker level, or None."""
    if isolation == "bwrap":
        return None
    gaps = not_stopped_by(isolation, _is_root())
    return (
        f"{isolation} isolation: the code shares this machine's network, files and user; it does not stop: "
        + "; ".join(a["attack"] for a in gaps[:4])
        + ("; ..." if len(gaps) > 4 else "")
        + " (install bubblewrap: "
        + BWRAP_INSTALL
        + ")"
    )


# -- running ----------------------------------------------------------------------------------------


def run_python(code: str, home: Path, isolation: str, limits: Limits | None = None) -> Outcome:
    """Run `code` with the jail's Python, in `home`. The code arrives on stdin, never as a file."""
    return run_in_jail("stdin", home, isolation, limits or Limits(), stdin=code.encode("utf-8"))


def run_in_jail(
    entry: str,
    home: Path,
    isolation: str,
    limits: Limits,
    stdin: bytes = b"",
    read_only: tuple[str, ...] = READ_ONLY_IN_HOME,
) -> Outcome:
    """Run the model's code from stdin (`entry="stdin"`) or a module of the project's packages
    (`entry="tools.documents.worker"`) as the jailed process, with `home` as its home.

    `read_only`: folders of the home mounted read-only under bwrap. The home's usage is watched
    against limits.home_bytes/home_inodes, and the tree's memory against limits.memory_bytes."""
    if isolation not in LEVELS:
        raise ValueError(f"unknown isolation level {isolation!r}")
    home = Path(home).resolve()
    root = _is_root()
    drop = ("setuid" if isolation == "bwrap" else "capdrop") if root else "none"
    if drop == "setuid":
        _hand_home_to(home, SANDBOX_UID, read_only)
    child_uid = SANDBOX_UID if drop == "setuid" else os.getuid()
    home_inside = HOME_IN_JAIL if isolation == "bwrap" else str(home)
    config = {
        "drop": drop,
        "uid": SANDBOX_UID,
        "entry": entry,
        "home": home_inside,
        "paths": [PACKAGES_IN_JAIL if isolation == "bwrap" else str(_project_root())],
        "guardian": isolation == "process",
        "parent_pid": os.getpid(),
        "limits": {
            "RLIMIT_CPU": limits.cpu_seconds,
            "RLIMIT_AS": limits.address_space_bytes or limits.memory_bytes,
            "RLIMIT_FSIZE": limits.file_size_bytes,
            "RLIMIT_NOFILE": limits.open_files,
            "RLIMIT_NPROC": _threads_of(child_uid) + limits.processes,
            "RLIMIT_CORE": 0,
        },
    }
    env = child_environment(home_inside, isolation)
    # -I: isolated mode; nothing of the home or the environment is on the launcher's path
    argv = [sys.executable, "-I", "-c", LAUNCHER, json.dumps(config)]
    identity_fds: list[int] = []
    if isolation == "bwrap":
        argv = bwrap_argv(home, limits, as_root=root, read_only=read_only) + argv
        # programs such as LibreOffice abort when their uid has no passwd entry; give them one line each
        for dest, text in _identity_files(child_uid).items():
            read_end, write_end = os.pipe()
            os.write(write_end, text.encode())
            os.close(write_end)
            identity_fds.append(read_end)
            argv[argv.index("--") : argv.index("--")] = ["--perms", "0644", "--ro-bind-data", str(read_end), dest]
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd="/",
            start_new_session=True,
            close_fds=True,
            pass_fds=identity_fds,
        )
    finally:
        for fd in identity_fds:
            os.close(fd)
    threading.Thread(target=_feed, args=(proc.stdin, stdin), daemon=True).start()
    out, err = Capture(limits.output_bytes), Capture(limits.output_bytes)
    watch = Watch(
        memory_bytes=limits.memory_bytes, home=home, home_bytes=limits.home_bytes, home_inodes=limits.home_inodes
    )
    seen = supervise(proc, {proc.stdout: out, proc.stderr: err}, limits.timeout, watch)
    seconds = time.monotonic() - started
    warnings = []
    if seen.held_open:
        warnings.append(
            "a process started by the code left its process group and is still running; "
            f"{isolation} isolation cannot stop it" + ("" if isolation == "bwrap" else " (bwrap can)")
        )
    stripped = strip_set_id_bits(home)
    if stripped:
        warnings.append(f"removed the set-user/group-id bit from {len(stripped)} file(s): " + ", ".join(stripped[:5]))
    returncode = proc.returncode
    if isolation == "bwrap" and returncode is not None and returncode > 128:
        returncode = 128 - returncode  # bwrap reports a child killed by signal N as exit status 128 + N
    note = weakness_note(isolation)
    if note:
        warnings.append(note)
    return Outcome(
        isolation,
        returncode,
        out.text(),
        err.text(),
        out.total,
        err.total,
        seconds,
        seen.killed,
        warnings,
        seen.detail,
        seen.peak_memory,
    )


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
        "PYTHONPATH": packages,  # for the Pythons the code starts; the launcher itself ignores it (-I)
        "PYTHONIOENCODING": "utf-8",
        "PYTHONUNBUFFERED": "1",  # output written before a kill is not lost in a buffer
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",  # every BLAS/OpenMP thread counts against the process limit
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "AGENT_CACHE_DIR": f"{home_inside}/tmp/.cache",
    }


def bwrap_argv(home: Path, limits: Limits, as_root: bool, read_only: tuple[str, ...] = READ_ONLY_IN_HOME) -> list[str]:
    """The bubblewrap command line that shows the child only the system, Python, our packages and the home."""
    argv = [
        "bwrap",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-net",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "sandbox",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
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
    argv += [
        "--perms",
        "0755",
        "--dir",
        "/var",
        "--perms",
        "0755",
        "--dir",
        "/var/cache",
        "--ro-bind-try",
        "/var/cache/fontconfig",
        "/var/cache/fontconfig",
    ]
    # /tmp and /dev/shm are memory: each gets a size cap (--dev alone would leave /dev/shm uncapped)
    argv += [
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--perms",
        "1777",
        "--size",
        str(limits.tmp_bytes),
        "--tmpfs",
        "/dev/shm",
        "--perms",
        "1777",
        "--size",
        str(limits.tmp_bytes),
        "--tmpfs",
        "/tmp",
    ]
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
    for name in read_only:
        st = ConfinedDir(home).lstat(name)
        if st is not None and stat.S_ISDIR(st.st_mode):
            argv += ["--ro-bind", str(home / name), f"{HOME_IN_JAIL}/{name}"]
    argv += ["--chdir", "/"]
    if as_root:
        # the launcher needs these two to become nobody; everything else is gone before user code runs
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return argv + ["--"]


def python_dirs() -> list[str]:
    """The Python install the child needs, read-only: the prefixes and site-packages, nothing around them."""
    candidates = [
        sys.base_prefix,
        sys.prefix,
        *(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")),
    ]
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


def strip_set_id_bits(home: Path) -> list[str]:
    """Clear set-user-id and set-group-id bits on every file in the home (relative paths of those
    changed). Each file is opened without following links and changed through its descriptor."""
    changed = []
    for entry in ConfinedDir(home).regular_files():
        if not entry.stat.st_mode & (stat.S_ISUID | stat.S_ISGID):
            continue
        try:
            fd = os.open(entry.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=entry.dir_fd)
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode):
                os.fchmod(fd, stat.S_IMODE(st.st_mode) & ~(stat.S_ISUID | stat.S_ISGID))
                changed.append(entry.path)
        finally:
            os.close(fd)
    return changed


# -- internals ------------------------------------------------------------------------------------------


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


def _hand_home_to(home: Path, uid: int, read_only: tuple[str, ...]) -> None:
    """Make the writable parts of the home belong to the child's user; never follow a link out."""
    os.lchown(home, uid, uid)
    os.chmod(home, 0o755)  # bwrap, root without capabilities, must still be able to enter it
    for entry in ConfinedDir(home).walk():
        if entry.path.split("/", 1)[0] in read_only or entry.stat.st_uid == uid:
            continue
        try:
            os.chown(entry.name, uid, uid, dir_fd=entry.dir_fd, follow_symlinks=False)
        except OSError:
            continue


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
    for knob in (
        "/proc/sys/kernel/unprivileged_userns_clone",
        "/proc/sys/user/max_user_namespaces",
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
    ):
        try:
            knobs.append(f"{Path(knob).name}={Path(knob).read_text().strip()}")
        except OSError:
            continue
    needed = "not needed: bwrap runs as root" if _is_root() else "needed: bwrap runs unprivileged"
    return f"{needed}; " + (", ".join(knobs) or "no sysctl knobs found")
