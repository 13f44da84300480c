"""Attacks on `agent mcp`'s way in: a client (or a model driving one) naming files by path.

add_file takes a file from the server's --root and nothing else. Each attack runs against a real
`agent mcp` subprocess through the MCP SDK's client, one server for the module: every attack must
come back as an error result naming the refusal, with no byte of the target in any result or in
the session's home, and the session must go on serving (the last test checks it still works).
The attacks are rows of sandbox/attacks.py (the meta test in test_escape_suite.py checks that).
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from PIL import Image

from agent.files import RootFileError, copy_from_root
from sandbox.attacks import BY_ID
from tests.mcp_common import SECRET, images_of, mcp_server, text_of

PROJECT = Path(__file__).resolve().parents[1]
SECRET_RGB = (13, 222, 177)


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    base = tmp_path_factory.mktemp("mcp-escape")
    root, outside = base / "work", base / "outside"
    root.mkdir()
    outside.mkdir()
    shutil.copy(PROJECT / "examples" / "gauge" / "gauge.png", root / "gauge.png")
    Image.new("RGB", (40, 30), SECRET_RGB).save(outside / "secret.png")
    (outside / "secret.txt").write_text(SECRET)
    return root, outside, base / "runs"


@pytest.fixture(scope="module")
def client(layout):
    root, _, runs = layout
    with mcp_server(root, runs, "--sandbox", "process") as client:
        yield client


def refused(client, path: str, why: str) -> None:
    result = client.call("add_file", {"path": path})
    text = text_of(result)
    assert result.is_error, text
    assert why in text, text
    assert images_of(result) == []
    assert SECRET not in text


def no_secret_in_any_home(runs: Path) -> None:
    for home_file in runs.glob("*/home/inputs/*"):
        assert home_file.name == "gauge.png" or SECRET.encode() not in home_file.read_bytes()
    for image in runs.glob("*/images/*.png"):
        with Image.open(image) as im:
            assert im.convert("RGB").getpixel((0, 0)) != SECRET_RGB


def test_attacks_are_in_the_table():
    for attack_id in (
        "mcp_add_file_outside_root",
        "mcp_add_file_dotdot",
        "mcp_add_file_symlink_out_of_root",
        "mcp_add_file_proc_self_environ",
        "mcp_add_file_fifo",
        "mcp_add_file_link_swapped_during_the_check",
    ):
        assert BY_ID[attack_id].verdict("bwrap", True) == BY_ID[attack_id].verdict("process", False) == "stopped"


def test_mcp_add_file_outside_root(client, layout):
    _, outside, runs = layout
    refused(client, str(outside / "secret.png"), "outside the allowed folder")
    refused(client, "~/secret.png", "outside the allowed folder")
    refused(client, "/etc/hostname.txt", "outside the allowed folder")
    no_secret_in_any_home(runs)


def test_mcp_add_file_dotdot(client, layout):
    _, _, runs = layout
    refused(client, "../outside/secret.png", "outside the allowed folder")
    refused(client, "photos/../../outside/secret.png", "outside the allowed folder")
    refused(client, "./../outside/secret.txt", "outside the allowed folder")
    no_secret_in_any_home(runs)


def test_mcp_add_file_symlink_out_of_root(client, layout):
    root, outside, runs = layout
    (root / "innocent.png").symlink_to(outside / "secret.png")
    (root / "shared").symlink_to(outside, target_is_directory=True)
    (root / "hop.png").symlink_to(root / "innocent.png")  # a link to a link that leads out
    (root / "relative.txt").symlink_to(Path("..") / "outside" / "secret.txt")
    for name in ("innocent.png", "shared/secret.png", "hop.png", "relative.txt"):
        refused(client, name, "outside the allowed folder")
    no_secret_in_any_home(runs)


def test_mcp_add_file_proc_self_environ(client, layout):
    root, _, runs = layout
    refused(client, "/proc/self/environ", "outside the allowed folder")
    (root / "env.txt").symlink_to("/proc/self/environ")
    refused(client, "env.txt", "outside the allowed folder")
    (root / "mem.png").symlink_to("/dev/zero")
    refused(client, "mem.png", "outside the allowed folder")
    no_secret_in_any_home(runs)


def test_mcp_add_file_fifo(client, layout):
    root, _, _ = layout
    os.mkfifo(root / "pipe.png")
    os.mkfifo(root / "pipe.pdf")
    # a FIFO opened for reading would block until a writer came: refused without hanging
    refused(client, "pipe.png", "not a regular file")
    refused(client, "pipe.pdf", "not a regular file")
    refused(client, ".", "is a folder")


def test_mcp_add_file_link_swapped_during_the_check(tmp_path):
    """A link inside the root flipped between a file in the root and one outside it, as fast as a
    thread can, while add_file's copy-in runs over and over: no copy ever holds the outside bytes."""
    root, outside = tmp_path / "work", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "fine.txt").write_text("inside")
    (outside / "secret.txt").write_text(SECRET)
    stop = threading.Event()

    def flip() -> None:
        link, spare = root / "flip.txt", root / ".flip.tmp"
        targets = [root / "fine.txt", outside / "secret.txt"]
        n = 0
        while not stop.is_set():
            spare.unlink(missing_ok=True)
            spare.symlink_to(targets[n % 2])
            os.replace(spare, link)  # atomic: the name always exists
            n += 1

    flipper = threading.Thread(target=flip)
    flipper.start()
    copied = refusals = 0
    try:
        for i in range(1500):
            dest = tmp_path / "copy.txt"
            try:
                copy_from_root(root, "flip.txt", dest)
            except RootFileError as exc:
                assert "outside the allowed folder" in str(exc) or "not found" in str(exc)
                refusals += 1
                continue
            assert dest.read_text() == "inside", f"attempt {i} copied the file outside the root"
            copied += 1
    finally:
        stop.set()
        flipper.join()
    assert copied and refusals  # both sides of the race were reached


def test_the_session_still_serves_after_the_attacks(client, layout):
    _, _, runs = layout
    added = client.call("add_file", {"path": "gauge.png"})
    assert not added.is_error, text_of(added)
    assert images_of(client.call("zoom", {"image": "img1", "x_min": 0, "y_min": 0, "x_max": 500, "y_max": 500}))
    no_secret_in_any_home(runs)
