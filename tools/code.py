"""run_python: the model's code interpreter, run in the sandbox jail (see sandbox/jail.py).

Like a hosted code-execution tool: the code runs in the home with Pillow, OpenCV, NumPy and the
project's own `tools` package importable; what it prints comes back as text, and images it writes
under outputs/ come back as new image ids the model can look at.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated

from pydantic import Field

from sandbox.confined import ConfinedDir, ConfinedPathError
from sandbox.jail import choose_isolation
from sandbox.jail import run_python as run_in_jail
from tools.images import ImageInputError, open_image_checked
from tools.registry import ToolContext, ToolOutput, tool

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
MAX_NEW_IMAGES = 12  # more than this in one call are listed, not shown
MAX_IMAGE_PIXELS = 40_000_000  # one image the code wrote; bigger ones are listed, not shown
MAX_RESULT_PIXELS = 64_000_000  # all images of one call together (~200 MB decoded)
MAX_IMAGE_FILE_BYTES = 100 << 20
MAX_LISTED_FILES = 40


def run_python(
    ctx: ToolContext,
    code: Annotated[str, Field(min_length=1, max_length=200_000, description="Python 3 source to run as a script.")],
) -> ToolOutput:
    """Run Python code in your sandboxed home (cwd and HOME); returns stdout/stderr, and images it saves under outputs/ as new image ids.

    Pillow (PIL), OpenCV (cv2), NumPy and this project's document library (`tools.documents.render.render_document`,
    `tools.montage.make_contact_sheet`) are importable; the scripts in share/ can be run with subprocess.
    Read the user's files from inputs/, write results to outputs/ (PNG/JPEG files there come back as images you
    can see), scratch to tmp/. No network. Each call is a fresh process: variables do not persist between calls,
    files do. Long output is truncated; print what you need, not whole arrays.
    """
    home = ConfinedDir(ctx.home)
    isolation = ctx.settings.isolation or choose_isolation(None)
    limits = ctx.limits
    before = _snapshot(home)
    outcome = run_in_jail(code, Path(ctx.home), isolation, limits)
    after = _snapshot(home)
    changed = sorted(rel for rel, sig in after.items() if before.get(rel) != sig)

    image_ids, image_lines, other_files, skipped = [], [], [], []
    pixels_left = MAX_RESULT_PIXELS
    for name in changed:
        size = after[name][1]
        if Path(name).suffix.lower() not in IMAGE_SUFFIXES or len(image_ids) >= MAX_NEW_IMAGES:
            other_files.append(f"{name} ({size:,} bytes)")
            continue
        try:
            data = home.read_bytes(name, MAX_IMAGE_FILE_BYTES)
            img = open_image_checked(io.BytesIO(data), name=name, max_pixels=min(MAX_IMAGE_PIXELS, pixels_left))
        except (ImageInputError, ConfinedPathError) as exc:
            skipped.append(f"{name} (not shown: {str(exc).split(': ', 1)[-1]})")
            continue
        pixels_left -= img.width * img.height
        rec = ctx.images.add(img, parent=None, op="run_python", params={"file": name})
        image_ids.append(rec.id)
        image_lines.append(f"{rec.id}: {name} ({rec.width}x{rec.height} px)")

    failed = outcome.killed is not None or outcome.returncode != 0
    if outcome.killed == "timeout":
        head = f"error: the code was killed after the {limits.timeout:g}s time limit"
    elif outcome.killed == "memory":
        head = f"error: the code was killed: its processes together used more than the {limits.memory_bytes / 2**20:,.0f} MiB memory cap"
    elif outcome.killed == "home size":
        head = (
            f"error: the home grew past its {limits.home_bytes / 2**20:,.0f} MiB cap (counted at apparent size) "
            "and the code was stopped; delete files in outputs/ or tmp/ to go on"
        )
    elif outcome.killed == "home inodes":
        head = (
            f"error: the home grew past {limits.home_inodes:,} files and folders and the code was stopped; "
            "delete some to go on"
        )
    elif outcome.returncode is not None and outcome.returncode < 0:
        head = f"error: the code was killed by signal {-outcome.returncode} ({_signal_hint(-outcome.returncode)})"
    elif outcome.returncode:
        head = f"error: the code exited with status {outcome.returncode}"
    else:
        head = "ran the code"
    # no elapsed time in what the model reads (it is in `data`): a tool's text must be the same
    # every time the same code runs, or a recorded run could never be replayed
    lines = [f"{head} ({isolation} isolation)"]
    if outcome.stdout:
        lines += ["stdout:", outcome.stdout.rstrip("\n")]
    if outcome.stderr:
        lines += ["stderr:", outcome.stderr.rstrip("\n")]
    if not outcome.stdout and not outcome.stderr:
        lines.append("(no output)")
    if image_lines:
        lines.append("new images: " + "; ".join(image_lines))
    listed = other_files + skipped
    if listed:
        more = len(listed) - MAX_LISTED_FILES
        lines.append(
            "files written: " + ", ".join(listed[:MAX_LISTED_FILES]) + (f", and {more} more" if more > 0 else "")
        )
    lines += [f"warning: {w}" for w in outcome.warnings]
    return ToolOutput(
        "\n".join(lines),
        image_ids=image_ids,
        is_error=failed,
        data={
            "isolation": isolation,
            "returncode": outcome.returncode,
            "killed": outcome.killed,
            "seconds": round(outcome.seconds, 3),
            "files": changed,
            "stdout_bytes": outcome.stdout_bytes,
            "stderr_bytes": outcome.stderr_bytes,
        },
    )


def _snapshot(home: ConfinedDir) -> dict[str, tuple[int, int, int]]:
    """Regular files under outputs/ (never through a link) → (inode, size, mtime)."""
    return {e.path: (e.stat.st_ino, e.stat.st_size, e.stat.st_mtime_ns) for e in home.regular_files("outputs")}


def _signal_hint(signum: int) -> str:
    return {
        9: "SIGKILL: out of a limit or killed",
        24: "SIGXCPU: CPU time limit",
        25: "SIGXFSZ: file size limit",
        11: "SIGSEGV: crashed",
        6: "SIGABRT: aborted",
    }.get(signum, "signal")


TOOLS = [tool(run_python)]
