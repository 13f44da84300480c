"""The first Python that runs inside the jail: limits and privileges before anything else.

It is started as `python -I -c LAUNCHER CONFIG` with `/` as its working directory. `-I`
(isolated mode) keeps PYTHON* variables, the user's site-packages and the working directory
off `sys.path`, so the only modules it can import come from the read-only Python install:
nothing jailed code wrote (a `json.py` in the home, a `.pth`, a `sitecustomize.py`) is
imported before the code is confined. In order, it
1. sets the resource limits (hard = soft, so they cannot be raised again);
2. becomes `nobody` (bwrap started as root) or drops every capability (process level),
   then sets no_new_privs, so no set-uid program gives anything back;
3. at the process level, asks to be killed with the agent (PR_SET_PDEATHSIG) and stays behind
   as a small guardian that takes the whole process group down when the agent dies;
4. only then enters the home and puts it (and the project's packages) on `sys.path`,
   and runs the model's code from stdin or the named module.
"""

from __future__ import annotations

LAUNCHER = r"""
import json, os, resource, sys
_cfg = json.loads(sys.argv[1])
for _name, _value in _cfg["limits"].items():
    _which = getattr(resource, _name)
    _hard = resource.getrlimit(_which)[1]
    if _hard != resource.RLIM_INFINITY:
        _value = min(_value, _hard - 1 if _name == "RLIMIT_CPU" else _hard)  # never above what we were given
    # CPU: the soft limit sends SIGXCPU (a clear cause of death); at the hard one the kernel sends SIGKILL
    resource.setrlimit(_which, (_value, _value + 1 if _name == "RLIMIT_CPU" else _value))
_code = None
if _cfg["entry"] == "stdin":
    # the code comes on stdin; the code itself then reads an empty stdin, as a script would
    _code = sys.stdin.buffer.read().decode("utf-8")
    _null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(_null, 0)
    os.close(_null)
import ctypes
_libc = ctypes.CDLL(None, use_errno=True)
if _cfg["drop"] == "setuid":
    os.setgroups([])
    os.setgid(_cfg["uid"])
    os.setuid(_cfg["uid"])
    if os.getuid() == 0 or os.geteuid() == 0:
        raise SystemExit("jail: could not leave uid 0")
elif _cfg["drop"] == "capdrop":
    with open("/proc/sys/kernel/cap_last_cap") as _fh:
        _last = int(_fh.read())
    for _cap in range(_last + 1):
        _libc.prctl(24, _cap, 0, 0, 0)  # PR_CAPBSET_DROP: nothing exec'd later gets capabilities back
    _header = (ctypes.c_uint32 * 2)(0x20080522, 0)
    _data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable: all empty
    if _libc.capset(_header, _data) != 0:
        raise SystemExit("jail: cannot drop capabilities")
if _libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
    raise SystemExit("jail: cannot set no_new_privs")
if _cfg["guardian"]:
    import signal
    # the guardian: when the agent dies (its death signal; cleared by a change of user, so set
    # after the drop), the whole process group dies with it
    signal.signal(signal.SIGTERM, lambda *_: os.killpg(0, signal.SIGKILL))
    _libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != _cfg["parent_pid"]:
        os.killpg(0, signal.SIGKILL)
    _guardian = os.getpid()
    _child = os.fork()
    if _child:
        _status = os.waitpid(_child, 0)[1]
        if os.WIFSIGNALED(_status):
            signal.signal(os.WTERMSIG(_status), signal.SIG_DFL)
            os.kill(os.getpid(), os.WTERMSIG(_status))
        os._exit(os.waitstatus_to_exitcode(_status))
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # and the code dies with its guardian
    if os.getppid() != _guardian:
        os._exit(137)
os.chdir(_cfg["home"])
sys.path[:0] = ["", *_cfg["paths"]]
del ctypes, _libc
if _cfg["entry"] != "stdin":
    import runpy
    sys.argv = [_cfg["entry"]]
    del json, resource, _cfg
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    raise SystemExit(0)
import linecache
_name = "<run_python>"
linecache.cache[_name] = (len(_code), None, _code.splitlines(True), _name)
sys.argv = [_name]
_globals = {"__name__": "__main__", "__builtins__": __builtins__}
_compiled = compile(_code, _name, "exec")
del json, resource, linecache, _cfg, _code
try:
    exec(_compiled, _globals)
except SystemExit:
    raise
except BaseException as _exc:
    import traceback
    # the interpreter's own hook reads source lines from disk; this one shows the model its code
    traceback.print_exception(type(_exc), _exc, _exc.__traceback__.tb_next)
    sys.exit(1)
"""
