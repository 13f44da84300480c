"""Trust boundary, class 5: limits that do not add up (issue 9).

Each limit holds for what it was written against and is walked around by a neighbour: memory is
capped per process, not for the jail's process tree; the home cap counts allocated blocks (sparse
files and inodes pass) and only while jailed code runs; the render cache grows without end; a tool
result may carry a dozen 89-MP images; font resolution runs once per named family; the host walks
the home recursively; jailed code outlives a killed agent at the process level.

Attack catalogue:
(a) 8 children each touching 400 MiB under python_memory_bytes = 512 MiB;
(b) 100 GB of sparse files (200 x 500 MiB, under the per-file limit) under a 1 GiB home cap;
(b') the same sparse files in outputs/, then the export of outputs/ (`agent run --out`);
(c) 20 000 empty files and folders against python_home_inodes = 5 000 (the issue: 200 000 against
    the default 100 000, scaled down: creating and removing inodes is slow on a shared disk);
(d) a host-side edit whose output takes the home past python_home_bytes;
(e) renders of many distinct documents with AGENT_CACHE_MAX=20M (and in plain bytes);
(f) run_python writing 12 PNGs of 9450 x 9450 (89.3 MP, just under Pillow's bomb limit);
(g) a DOCX naming 5 000 font families;
(h) a 1 100-level folder tree in outputs/ and tmp/;
(i) the agent killed (SIGKILL) while the jailed code and its child sleep;
(j) 2 GB written into /dev/shm under bwrap.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from sandbox.home import export_outputs
from sandbox.jail import Limits
from tests.trust_common import (
    GIB,
    LEVELS,
    MIB,
    NEED_SOFFICE,
    PROJECT,
    SECRET,
    call,
    host_tools,
    make_ctx,
    make_home,
    many_fonts_docx,
    remove_tree,
)


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class TreeMemoryWatcher:
    """Samples the summed RSS of every process below this one (the jail's whole tree) every 20 ms."""

    def __init__(self):
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        me = os.getpid()
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(rss_bytes(p) for p in descendants(me)))
            time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


@pytest.fixture
def home(tmp_path):
    return make_home(tmp_path)


def says_home_over_cap(result) -> bool:
    """The result tells the model the home is past its cap: as the error, or as a line of its own
    (not the process level's standing warning, which mentions the user's home directory)."""
    lines = [line.lower() for line in result.text.splitlines() if not line.startswith("warning: process isolation")]
    return any("home" in line and ("cap" in line or "limit" in line) for line in lines)


@pytest.mark.parametrize("level", LEVELS)
def test_memory_cap_covers_the_process_tree(home, level):
    """Class 5a: with python_memory_bytes = 512 MiB, 8 children that each touch 400 MiB never hold
    more than ~512 MiB together (peak RSS of the jail's tree, sampled by the test), and the result
    says the code was stopped for memory."""
    code = (
        "import os, time\n"
        "kids = []\n"
        "for i in range(8):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        try:\n"
        "            block = bytearray(400 << 20)\n"
        "            for offset in range(0, len(block), 4096):\n"
        "                block[offset] = 1\n"
        "            open(f'outputs/held-{i}', 'w').close()\n"
        "            time.sleep(3)\n"
        "        except MemoryError:\n"
        "            open(f'outputs/refused-{i}', 'w').close()\n"
        "        os._exit(0)\n"
        "    kids.append(pid)\n"
        "for pid in kids:\n"
        "    os.waitpid(pid, 0)\n"
        "print('held', sum(n.startswith('held') for n in os.listdir('outputs')))\n"
    )
    ctx = make_ctx(home, level, python_memory_bytes=512 * MIB, python_timeout=30)
    with TreeMemoryWatcher() as watcher:
        result = call(ctx, "run_python", code=code)
    assert watcher.peak < 768 * MIB, (
        f"the jail's processes held {watcher.peak / MIB:.0f} MiB together under a 512 MiB cap"
    )
    assert result.is_error and "memory" in result.text.lower(), result.text


@pytest.mark.parametrize("level", LEVELS)
def test_sparse_files_count_at_apparent_size(home, level):
    """Class 5b: 200 sparse files of 500 MiB each (100 GB apparent, no blocks; each under the per-file
    limit) in a home capped at 1 GiB: the result says the home is past its cap (as the error, or as a
    line of its own when the code finished before the watcher looked)."""
    code = (
        "for i in range(200):\n"
        "    with open(f'tmp/sparse-{i:03d}.bin', 'wb') as fh:\n"
        "        fh.truncate(500 << 20)\n"
        "print('made 100 GB')\n"
    )
    ctx = make_ctx(home, level, python_home_bytes=GIB)
    try:
        result = call(ctx, "run_python", code=code)
        assert says_home_over_cap(result), result.text
    finally:
        for path in (home / "tmp").glob("sparse-*.bin"):
            path.unlink()


@pytest.mark.parametrize("level", LEVELS)
def test_inode_flood_is_caught(home, level):
    """Class 5c: 10 000 empty files and 10 000 empty folders (~0 bytes) in a home whose inode cap
    (python_home_inodes) is 5 000: the result says the home is past its cap. (The issue's
    200 000 against the default of 100 000 is the same attack, scaled down to keep the test quick.)"""
    code = (
        "import os\n"
        "os.makedirs('tmp/flood', exist_ok=True)\n"
        "for i in range(10_000):\n"
        "    os.mkdir(f'tmp/flood/d{i}')\n"
        "    open(f'tmp/flood/f{i}', 'w').close()\n"
        "print('made 20000')\n"
    )
    ctx = make_ctx(home, level, python_timeout=60, python_home_inodes=5_000)
    try:
        result = call(ctx, "run_python", code=code)
        assert says_home_over_cap(result), result.text
    finally:
        shutil.rmtree(home / "tmp" / "flood", ignore_errors=True)


# heavy on the disk today (~10 s): the export writes 2.5 GB of zeros before the test removes them
def test_export_is_bounded_by_the_home_cap(home, tmp_path):
    """Class 5b, found while writing these: sparse files jailed code leaves in outputs/ (5 x 500 MiB
    apparent, each under the per-file limit, no blocks, written faster than the watcher looks) take
    the home past its default cap. The export of outputs/ (what `agent run --out` does, with the
    default limits) must not write more to the user's disk than the home may hold: today it writes
    every byte densely (200 such files would be 100 GB)."""
    cap = Limits().home_bytes
    for n in range(5):
        with open(home / "outputs" / f"sparse-{n}.bin", "wb") as fh:
            fh.truncate(500 * MIB)
    assert 5 * 500 * MIB > cap
    dest = tmp_path / "exported"
    try:
        try:
            export_outputs(home, dest)
        except (OSError, ValueError):
            pass  # refusing to export a home past its cap is fine
        used = sum(os.lstat(os.path.join(p, n)).st_blocks * 512 for p, _, names in os.walk(dest) for n in names)
        assert used <= cap, f"the export wrote {used / MIB:,.0f} MiB to disk from a home capped at {cap / MIB:,.0f} MiB"
    finally:
        shutil.rmtree(dest, ignore_errors=True)
        for path in (home / "outputs").glob("sparse-*.bin"):
            path.unlink()


def apparent_size(folder: Path) -> int:
    return sum(os.lstat(os.path.join(p, n)).st_size for p, _, names in os.walk(folder) for n in names)


def test_host_side_write_respects_home_cap(tmp_path):
    """Class 5d: the home cap holds for what host-side tools write too. An edit whose output
    (a ~1.5 MB DOCX) would take the home past python_home_bytes fails with an error and writes nothing."""
    import docx
    from docx.shared import Inches

    noise = tmp_path / "noise.png"
    Image.frombytes("RGB", (700, 700), os.urandom(700 * 700 * 3)).save(noise)
    document = docx.Document()
    document.add_paragraph("Body text with a big picture.")
    document.add_picture(str(noise), width=Inches(4))
    source = tmp_path / "user-files" / "big.docx"
    source.parent.mkdir()
    document.save(source)
    home = make_home(tmp_path, source)
    assert source.stat().st_size > 1_000_000
    cap = apparent_size(home) + 500_000  # room for a third of the output
    ctx = make_ctx(home, python_home_bytes=cap)
    before = sorted(os.listdir(home / "outputs"))
    result = call(
        ctx,
        "edit_docx",
        path="inputs/big.docx",
        operations=[{"op": "replace_text", "find": "Body", "replace": "Edited"}],
    )
    assert result.is_error, (
        f"the edit took the home to {apparent_size(home):,} bytes past its {cap:,}-byte cap: {result.text}"
    )
    assert sorted(os.listdir(home / "outputs")) == before
    assert apparent_size(home) <= cap


def tree_bytes(folder: Path) -> int:
    return sum(os.lstat(os.path.join(p, n)).st_size for p, _, names in os.walk(folder) for n in names)


@pytest.mark.parametrize("setting, limit", [("20M", 20 * MIB), ("20000000", 20_000_000)])
def test_render_cache_is_capped(tmp_path, setting, limit):
    """Class 5e: with AGENT_CACHE_MAX (20M, or plain bytes) rendering 8 distinct noise PDFs
    (~45 MB of pages and PDFs in all) leaves the render cache (AGENT_CACHE_DIR) under the limit,
    and every render still works."""
    files = tmp_path / "user-files"
    files.mkdir()
    docs = []
    for n in range(8):
        image = Image.frombytes("RGB", (500, 500), os.urandom(500 * 500 * 3))
        docs.append(files / f"noise-{n}.pdf")
        image.save(docs[-1], "PDF", resolution=72)
    home = make_home(tmp_path, *docs)
    cache = tmp_path / "cache"
    run = host_tools(
        home,
        [("render_document", {"path": f"inputs/{d.name}", "dpi": 200}) for d in docs],
        env={"AGENT_CACHE_DIR": str(cache), "AGENT_CACHE_MAX": setting},
        timeout=300,
    )
    assert run.survived and not any(r["is_error"] for r in run.results), run.describe()
    assert tree_bytes(cache) <= limit, (
        f"the render cache holds {tree_bytes(cache) / 1e6:.1f} MB with AGENT_CACHE_MAX={setting}"
    )


PNG_WRITER = r"""
import struct, zlib
side = 9450  # 89.3 MP: just under Pillow's decompression-bomb limit, so each one is "valid"
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
row = b"\x00" + bytes((40, 90, 200)) * side
packer = zlib.compressobj(1)
body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
for n in range(12):
    open(f"outputs/big-{n:02d}.png", "wb").write(png)
print("wrote 12 PNGs of", len(png), "bytes")
"""


# slow today (~40 s): the host decodes and re-encodes all twelve 89-MP images
def test_huge_images_do_not_flood_the_host(tmp_path):
    """Class 5f: run_python writes 12 PNGs of 9450 x 9450: the agent process stays under ~1.5 GB RSS,
    and the result names every image it did not show."""
    home = make_home(tmp_path)
    run = host_tools(home, [("run_python", {"code": PNG_WRITER})], timeout=300, python_timeout=60)
    assert run.survived, run.describe()
    [result] = run.results
    assert "wrote 12 PNGs" in result["text"], result["text"]
    peak = run.done["maxrss_kib"] * 1024
    assert peak < 1_500_000_000, f"the agent process reached {peak / 1e9:.2f} GB RSS"
    shown = len(result["image_ids"])
    if shown < 12:
        unnamed = [f"big-{n:02d}.png" for n in range(12) if f"big-{n:02d}.png" not in result["text"]]
        assert not unnamed, f"{shown} images shown, the others not named: {unnamed}"


# slow today (~85 s): one fc-match per named family, and a result as long as the font list
@NEED_SOFFICE
def test_thousands_of_font_families(tmp_path):
    """Class 5g: a DOCX naming 5 000 font families: render_document and check_document each finish
    in bounded time (< 120 s) with a result of bounded size or a clear error."""
    files = tmp_path / "user-files"
    files.mkdir()
    home = make_home(tmp_path, many_fonts_docx(files / "fonts.docx"))
    run = host_tools(
        home,
        [("render_document", {"path": "inputs/fonts.docx"}), ("check_document", {"path": "inputs/fonts.docx"})],
        env={"AGENT_CACHE_DIR": str(tmp_path / "cache")},
        timeout=260,
    )
    assert run.survived and len(run.results) == 2, run.describe()
    for result in run.results:
        assert result["seconds"] < 120, f"{result['tool']} took {result['seconds']}s"
        assert len(result["text"]) < 100_000, (
            f"{result['tool']} returned {len(result['text']):,} characters to the model"
        )


@pytest.mark.parametrize("level", LEVELS)
def test_deep_folder_tree(home, level):
    """Class 5h: run_python builds a 1 100-level folder tree in outputs/ and in tmp/ (deeper than
    PATH_MAX there); that call and the next run_python call still work, and the next call's new
    image is still listed."""
    ctx = make_ctx(home, level)
    deep = (
        "import os\n"
        "for top, name in (('outputs', 'd'), ('tmp', 'dddd')):\n"
        "    os.chdir(top)\n"
        "    for i in range(1100):\n"
        "        os.mkdir(name)\n"
        "        os.chdir(name)\n"
        "    os.chdir(os.environ['HOME'])\n"
        "print('deep')\n"
    )
    try:
        made = call(ctx, "run_python", code=deep)
        assert "deep" in made.text, made.text
        follow = call(
            ctx,
            "run_python",
            code="from PIL import Image\nImage.new('RGB', (20, 20)).save('outputs/after.png')\nprint('hi')",
        )
        assert not follow.is_error and "hi" in follow.text, follow.text
        assert "outputs/after.png" in follow.text and follow.image_ids, follow.text
    finally:  # pytest's own clean-up of old temporary folders recurses and would fail on these trees
        for top, name in (("outputs", "d"), ("tmp", "dddd")):
            if (home / top / name).exists():
                remove_tree(home / top / name)


KILL_CHILD_MARK = "trust-boundary-orphan-" + SECRET[-10:]


@pytest.mark.parametrize("level", LEVELS)
def test_jailed_code_dies_with_the_agent(home, level, tmp_path):
    """Class 5i: the agent process is killed (SIGKILL) while run_python's code and a child it started
    sleep: both are gone within a few seconds."""
    code = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)  # {KILL_CHILD_MARK}'])\n"
        "open('outputs/started', 'w').close()\n"
        "time.sleep(120)\n"
    )
    host = subprocess.Popen(
        [sys.executable, "-c", HOST_ONE_CALL, str(home), level],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=PROJECT,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )
    host.stdin.write(code)
    host.stdin.close()
    jailed: set[int] = set()
    try:
        deadline = time.monotonic() + 30
        while not (home / "outputs" / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (home / "outputs" / "started").exists(), "the jailed code never started"
        children = marked_processes()
        assert children, "the jailed code's child is not running"
        jailed = set(children) | {parent_of(p) for p in children}
        host.kill()
        host.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(alive(p) for p in jailed):
            time.sleep(0.1)
        survivors = [p for p in jailed if alive(p)]
        assert not survivors, f"jailed processes outlived the killed agent: {survivors}"
    finally:
        for pid in jailed | set(marked_processes()):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if host.poll() is None:
            host.kill()


HOST_ONE_CALL = r"""
import sys
from pathlib import Path
from tools import default_tools
from tools.images import ImageStore
from tools.registry import ToolContext, Toolbox
home = Path(sys.argv[1])
ctx = ToolContext(images=ImageStore(home.parent / "images"), home=home,
                  settings={"isolation": sys.argv[2], "python_timeout": 120})
Toolbox(default_tools()).call("run_python", {"code": sys.stdin.read()}, ctx)
"""


def marked_processes() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if KILL_CHILD_MARK.encode() in fh.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[1])


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("level", LEVELS)
def test_dev_shm_is_capped(home, level):
    """Class 5j, bwrap: writing 2 GB into /dev/shm (16 files of 128 MiB, each under the per-file limit)
    is stopped well short of 2 GB. At the process level /dev/shm is the machine's: `agent sandbox
    check` must say so (and the attack is not run there)."""
    if level == "process":
        from sandbox.jail import isolation_report

        gaps = {a["id"] for a in isolation_report()["levels"]["process"]["does_not_stop"]}
        assert "dev_shm_is_capped" in gaps
        return
    code = (
        "import os\nwritten = 0\n"
        "try:\n"
        "    for i in range(16):\n"
        "        with open(f'/dev/shm/fill-{i}', 'wb') as fh:\n"
        "            for _ in range(8):\n"
        "                fh.write(b'x' * (16 << 20)); fh.flush(); written += 16 << 20\n"
        "except OSError as exc:\n"
        "    print('stopped:', exc.strerror)\n"
        "print('written', written)\n"
        "for i in range(16):\n"
        "    try:\n        os.unlink(f'/dev/shm/fill-{i}')\n    except OSError:\n        pass\n"
    )
    result = call(make_ctx(home, "bwrap", python_tmp_bytes=64 * MIB, python_timeout=60), "run_python", code=code)
    written = re.search(r"written (\d+)", result.text)
    assert written, result.text
    assert int(written.group(1)) < GIB, f"{int(written.group(1)) / GIB:.1f} GiB written into /dev/shm"
