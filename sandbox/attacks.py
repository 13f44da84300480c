"""What each isolation level stops, attack by attack.

This table is what `agent sandbox check` prints and answer.json records. tests/test_escape_*.py
runs every attack at every level: one the table says is stopped must be contained, and one it
says is not stopped must be listed as such (and, where it is safe to try, must really get through),
so the table can neither pretend nor undersell.

Verdicts: "stopped", "not stopped", or for the process level a pair (as root, as another user),
because the kernel exempts root from the process-count limit and root stays root.
"""
from __future__ import annotations

from dataclasses import dataclass

S, N = "stopped", "not stopped"


@dataclass(frozen=True)
class Attack:
    id: str
    attack: str  # what model-written code (or a model's tool call) tries
    bwrap: str
    process: str | tuple[str, str]  # (as root, as another user) when they differ
    how: str  # what stops it where it is stopped
    gap: str = ""  # why the process level does not stop it, where it does not

    def verdict(self, level: str, as_root: bool) -> str:
        value = getattr(self, level)
        if isinstance(value, tuple):
            return value[0] if as_root else value[1]
        return value


ATTACKS: list[Attack] = [
    Attack("env_api_key", "read the API key from its own environment", S, S,
           "the child's environment is built from nothing; no variable of the caller passes through"),
    Attack("parent_environ", "read the parent's environment (/proc/<ppid>/environ), where the API key is", S, (S, N),
           "bwrap: own PID namespace, the parent seen is bwrap's init with the scrubbed environment. process as root: "
           "the code has no capabilities, and the kernel will not show it the environment of a process that has more",
           gap="same user and same capabilities as the agent: /proc/<ppid>/environ (and the shell's) is readable"),
    Attack("system_secrets", "read system secrets (/etc/shadow)", S, N,
           "/etc is not mounted beyond fonts and linker files",
           gap="root (even without capabilities) still owns root's files"),
    Attack("read_user_home", "read a file in the user's home directory", S, N,
           "not mounted",
           gap="same file system and user as the agent"),
    Attack("read_checkout", "read the project checkout (source, .git, .env)", S, N,
           "only the tools and sandbox packages are mounted, read-only, at /opt/lookclosely",
           gap="same file system and user as the agent"),
    Attack("read_other_run", "read another run's home", S, N,
           "only this run's home is mounted",
           gap="same file system and user as the agent"),
    Attack("write_outside", "write a file outside the home", S, N,
           "everything but the home and a private /tmp is read-only or absent",
           gap="same file system and user as the agent"),
    Attack("write_inputs", "overwrite the copies of the user's files in inputs/", S, N,
           "inputs/, skills/ and share/ are mounted read-only (the user's originals are never touched by either level)",
           gap="the same user owns the copies (the originals stay untouched)"),
    Attack("symlink_in_inputs", "follow a symlink planted in inputs/ that points outside the home", S, N,
           "the target is not mounted, the link dangles",
           gap="the link is followed like any other"),
    Attack("zip_slip", "extract an archive whose entries climb out with ../", S, N,
           "the climbing entries land nowhere writable",
           gap="entries that climb out are written outside the home"),
    Attack("localhost", "connect to a server listening on 127.0.0.1 outside", S, N,
           "own network namespace with only a down loopback",
           gap="the machine's network is shared"),
    Attack("dns", "resolve a host name", S, N,
           "no network interfaces and no resolver configuration",
           gap="the machine's network and resolver are shared"),
    Attack("fork_bomb", "fork without end", S, (N, S),
           "the process-count limit; under bwrap a root caller's code runs as nobody so the kernel applies it",
           gap="the kernel does not apply the process-count limit to root"),
    Attack("memory_bomb", "allocate memory without end", S, S, "address-space limit"),
    Attack("cpu_spin", "spin the CPU forever", S, S, "CPU-time limit, then the wall-clock timeout"),
    Attack("disk_fill_file", "fill the disk with one huge file", S, S, "file-size limit"),
    Attack("disk_fill_many", "fill the disk with many files, each under the size limit", S, S,
           "the home's size is watched while the code runs; past its cap the code is killed"),
    Attack("tmp_fill", "fill /tmp", S, N,
           "/tmp is a private tmpfs with a size cap",
           gap="/tmp is the machine's"),
    Attack("output_flood", "print without end", S, S,
           "only the head and tail of each stream are kept, with a note of how much was left out"),
    Attack("sleep_timeout", "sleep past the timeout", S, S, "wall-clock timeout kills the process group"),
    Attack("ignore_sigterm", "start a child that ignores SIGTERM", S, S,
           "the jail kills with SIGKILL, which cannot be ignored"),
    Attack("background_process", "leave a process running in the background after the code returns", S, S,
           "bwrap: the PID namespace dies with the code; process: the process group is killed when the call returns"),
    Attack("double_fork", "daemonise (double fork and setsid) to outlive the call", S, N,
           "the PID namespace dies with the code",
           gap="setsid leaves the process group that is killed; the result says when such a process still holds its output"),
    Attack("kill_parent", "signal or kill the agent process (or every process it can: kill -1)", S, N,
           "the agent is not in the PID namespace",
           gap="the same user may signal the agent"),
    Attack("raise_limits", "raise its own limits or regain privileges with ctypes (setrlimit, prctl, setuid)", S, S,
           "the limits are hard limits; the code has no capabilities (nobody under bwrap, capabilities dropped under process)"),
    Attack("os_system", "run shell commands with os.system / subprocess", S, S,
           "shell children inherit the same environment, limits, process group and namespaces"),
    Attack("tool_dotdot", "give a tool a path with '..' that climbs out of the home", S, S, "tool paths are resolved inside the home"),
    Attack("tool_absolute", "give a tool an absolute path", S, S, "tool paths must be relative to the home"),
    Attack("tool_symlink", "give a tool a path through a symlink that leads out", S, S, "symlinks are resolved before the check"),
    Attack("tool_nul", "give a tool a path with a NUL byte", S, S, "refused before it reaches the OS"),
]

BY_ID = {a.id: a for a in ATTACKS}


def stopped_by(level: str, as_root: bool) -> list[dict[str, str]]:
    return [{"id": a.id, "attack": a.attack, "how": a.how} for a in ATTACKS if a.verdict(level, as_root) == S]


def not_stopped_by(level: str, as_root: bool) -> list[dict[str, str]]:
    return [{"id": a.id, "attack": a.attack, "why": a.gap} for a in ATTACKS if a.verdict(level, as_root) == N]
