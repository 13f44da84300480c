"""Past runs: finding, listing, reading and pruning run directories.

A run directory was written by an earlier run, in part by the jailed code that run executed.
So everything here reads it as untrusted: files are opened without following links
(sandbox.confined), read up to a size cap and checked against the shape they should have. A
run whose files are not what they should be is refused with one line (`RunError`); in a
listing it shows as `corrupt` and the others are still listed.

A run directory is a real folder (not a link) holding a regular task.json or answer.json. The
runs folder holds them directly (`agent run`) or one level down (`agent batch` puts its runs in
RUNS_DIR/<results name>/<job id>), and nothing else here is ever taken for one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from agent.errors import UsageError
from sandbox.confined import ConfinedDir, ConfinedPathError

MAX_JSON_BYTES = 8 << 20  # task.json, answer.json (answer.json lists every image of the run)
MAX_TRANSCRIPT_BYTES = 64 << 20
MAX_CASSETTE_BYTES = 64 << 20
RECORD_FILES = ("task.json", "answer.json")


class RunError(UsageError):
    """No run matches, or the run's files cannot be read as a run's (exit 2)."""


@dataclass
class RunInfo:
    """What `agent runs` shows of one run."""

    path: Path
    name: str  # relative to the runs folder, e.g. 20261128-233050-read-the-gauge or results/job-7
    started: datetime  # timezone-aware
    status: str  # answer.json's status; "unfinished" (no answer.json yet) or "corrupt"
    task: str = ""
    model: str | None = None
    steps: int | None = None
    cost_usd: float | None = None
    answer: str | None = None
    problem: str | None = None  # why the run is corrupt

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "started_at": self.started.isoformat(timespec="seconds"),
            "status": self.status,
            "model": self.model,
            "steps": self.steps,
            "cost_usd": self.cost_usd,
            "task": self.task,
            "answer": self.answer,
            **({"problem": self.problem} if self.problem else {}),
        }


# -- finding -----------------------------------------------------------------------------------


def is_run_dir(path: Path) -> bool:
    """A real folder (not a link) holding a regular task.json or answer.json."""
    st = _lstat(path)
    if st is None or not stat.S_ISDIR(st.st_mode):
        return False
    files = ConfinedDir(path)
    return any(files.is_file(name) for name in RECORD_FILES)


def find_runs(runs_dir: Path) -> list[tuple[Path, str]]:
    """(path, name) of every run directory in `runs_dir` and in its folders of batch runs."""
    found = []
    for entry in _subfolders(Path(runs_dir)):
        if is_run_dir(entry):
            found.append((entry, entry.name))
            continue
        for inner in _subfolders(entry):
            if is_run_dir(inner):
                found.append((inner, f"{entry.name}/{inner.name}"))
    return found


def _subfolders(folder: Path) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield Path(entry.path)


def list_runs(runs_dir: Path) -> list[RunInfo]:
    """Every run in `runs_dir`, newest first."""
    runs = [read_run_info(path, name) for path, name in find_runs(runs_dir)]
    return sorted(runs, key=lambda r: (r.started, r.name), reverse=True)


def resolve_run(spec: str, runs_dir: Path) -> Path:
    """The run `spec` names: `last` (the newest), a run directory's path, its name in `runs_dir`
    (batch runs: RESULTS/JOB or JOB) or a unique prefix of the name."""
    runs_dir = Path(runs_dir)
    as_path = Path(spec).expanduser()
    if as_path.is_dir() and is_run_dir(as_path.resolve()):  # a path the user typed may go through a link
        return as_path.resolve()
    if not runs_dir.is_dir():
        raise RunError(f"no runs folder {runs_dir}, so no run {spec!r} (--runs-dir names another folder)")
    if spec == "last":
        runs = list_runs(runs_dir)
        if not runs:
            raise RunError(f"no runs in {runs_dir} (--runs-dir names another folder)")
        return runs[0].path
    candidates = find_runs(runs_dir)
    for test in (lambda name: spec in (name, name.rsplit("/", 1)[-1]), lambda name: _has_prefix(name, spec)):
        matches = [path for path, name in candidates if test(name)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            shown = ", ".join(str(p.relative_to(runs_dir)) for p in matches[:4]) + (" …" if len(matches) > 4 else "")
            raise RunError(f"{spec!r} matches {len(matches)} runs in {runs_dir} ({shown}); give more of the name")
    if as_path.is_dir():
        raise RunError(f"{spec} is not a run directory (it has no task.json or answer.json)")
    raise RunError(f"no run {spec!r} in {runs_dir} (`agent runs` lists them; --runs-dir names another folder)")


def _has_prefix(name: str, prefix: str) -> bool:
    return name.startswith(prefix) or name.rsplit("/", 1)[-1].startswith(prefix)


# -- reading -----------------------------------------------------------------------------------


def read_json(run: Path, name: str, required: bool = True) -> dict | None:
    """A JSON object from the run directory; None when it is absent and not `required`."""
    files = ConfinedDir(run)
    if not files.is_file(name):
        if files.lstat(name) is not None:
            raise RunError(f"{run}: {name} is not a regular file")
        if required:
            raise RunError(f"{run}: no {name}; the run did not get that far, or this is not a run directory")
        return None
    try:
        data = json.loads(files.read_bytes(name, MAX_JSON_BYTES))
    except ConfinedPathError as exc:
        raise RunError(f"{run}: {exc}") from None
    except (ValueError, RecursionError):
        raise RunError(f"{run}: {name} is not valid JSON; the run directory is damaged") from None
    if not isinstance(data, dict):
        raise RunError(f"{run}: {name} is not a JSON object; the run directory is damaged")
    return data


def read_run_info(path: Path, name: str | None = None) -> RunInfo:
    """One run's summary; a run that cannot be read is `corrupt`, with the reason."""
    name = name or path.name
    try:
        task = read_json(path, "task.json", required=False) or {}
        answer = read_json(path, "answer.json", required=False)
    except RunError as exc:
        return RunInfo(path, name, _mtime(path) or _EPOCH, "corrupt", problem=str(exc))
    started = _parse_time(task.get("started_at")) or _mtime(path / "task.json") or _mtime(path) or _EPOCH
    info = RunInfo(path, name, started, "unfinished", task=_str(task.get("task")) or "", model=_str(task.get("model")))
    if answer is not None:
        info.status = _str(answer.get("status")) or "corrupt"
        info.model = _str(answer.get("model")) or info.model
        info.steps = _int(answer.get("steps"))
        info.cost_usd = _number(answer.get("cost_usd"))
        info.answer = _str(answer.get("answer"))
    return info


def read_transcript(run: Path) -> list:
    """The run's messages, each checked to be what the loop writes."""
    from agent.transcript import Message

    files = ConfinedDir(run)
    if not files.is_file("transcript.jsonl"):
        raise RunError(f"{run}: no transcript.jsonl")
    try:
        raw = files.read_bytes("transcript.jsonl", MAX_TRANSCRIPT_BYTES)
    except ConfinedPathError as exc:
        raise RunError(f"{run}: {exc}") from None
    messages = []
    for number, line in enumerate(raw.decode("utf-8", "replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            message = Message.from_dict(json.loads(line))
            _check_message(message)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            raise RunError(f"{run}: transcript.jsonl line {number} is not a message ({_reason(exc)})") from None
        messages.append(message)
    return messages


def _check_message(message) -> None:
    from agent.transcript import Image, Text, Thought, ToolCall, ToolResult

    if message.role not in ("user", "model", "tool") or not isinstance(message.parts, list):
        raise ValueError("unknown role or no parts")
    for p in message.parts:
        if isinstance(p, (Text, Thought)):
            ok = isinstance(p.text, str)
        elif isinstance(p, Image):
            ok = isinstance(p.image_id, str)
        elif isinstance(p, ToolCall):
            ok = isinstance(p.name, str) and isinstance(p.args, dict)
        elif isinstance(p, ToolResult):
            ok = isinstance(p.text, str) and isinstance(p.image_ids, list)
            ok = ok and all(isinstance(i, str) for i in p.image_ids)
        else:
            ok = False
        if not ok:
            raise ValueError(f"a {getattr(p, 'type', '?')} part has fields of the wrong type")


def copy_cassette(run: Path, dest: Path) -> None:
    """The run's cassette (its model's replies), copied to `dest` (a path the caller owns)."""
    from agent.loop import CASSETTE_NAME

    files = ConfinedDir(run)
    if not files.is_file(CASSETTE_NAME):
        raise RunError(
            f"{run} has no {CASSETTE_NAME} to replay (runs recorded before cassettes were kept, "
            "and `agent call` runs, have none)"
        )
    try:
        files.copy_out(CASSETTE_NAME, dest, limit=MAX_CASSETTE_BYTES)
    except ConfinedPathError as exc:
        raise RunError(f"{run}: {exc}") from None


# -- pruning -----------------------------------------------------------------------------------


def run_bytes(run: Path) -> int:
    """What the run directory holds: the apparent size of its regular files, each file once
    (an input image is linked into images/, not copied)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for entry in ConfinedDir(run).regular_files():
        key = (entry.stat.st_dev, entry.stat.st_ino)
        if key not in seen:
            seen.add(key)
            total += entry.stat.st_size
    return total


def remove_run(run: Path) -> None:
    """Delete one run directory. Only a run directory (checked again here), never through a
    link: shutil.rmtree works from descriptors and refuses a link. Folders jailed code left
    without write permission are opened up so their contents can go."""
    if not is_run_dir(run):
        raise RunError(f"{run} is not a run directory; not removed")

    def open_up(function: Callable, path: str, error: BaseException) -> None:
        parent = Path(path).parent
        st = _lstat(parent)
        if isinstance(error, PermissionError) and st is not None and stat.S_ISDIR(st.st_mode):
            os.chmod(parent, 0o700)
            function(path)
            return
        raise error

    if sys.version_info >= (3, 12):
        shutil.rmtree(run, onexc=open_up)
    else:
        shutil.rmtree(run, onerror=lambda function, path, exc_info: open_up(function, path, exc_info[1]))


# -- times -------------------------------------------------------------------------------------

_EPOCH = datetime.fromtimestamp(0, timezone.utc)
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_AGE_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_when(text: str, flag: str) -> datetime:
    """A point in time from an age (`30d`, `12h`, `2w`, `90m`: that long ago) or a date
    (`2026-11-28`, `2026-11-28T10:00`, local time unless it says otherwise)."""
    match = _AGE.match(text)
    if match:
        seconds = float(match.group(1)) * _AGE_UNITS[match.group(2).lower()]
        return datetime.now(timezone.utc) - timedelta(seconds=seconds)
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{flag} {text!r}: give an age (30d, 12h, 2w, 90m) or a date (2026-11-28, 2026-11-28T10:00)"
        ) from None
    return when if when.tzinfo else when.astimezone()


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.astimezone()


def _mtime(path: Path) -> datetime | None:
    st = _lstat(path)
    return datetime.fromtimestamp(st.st_mtime, timezone.utc) if st else None


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


# -- checked values ----------------------------------------------------------------------------


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _reason(exc: BaseException) -> str:
    return "nested too deeply" if isinstance(exc, RecursionError) else (str(exc)[:120] or type(exc).__name__)
