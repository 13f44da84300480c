"""The home layout, input copies, skills index and path confinement."""

from __future__ import annotations

import os

import pytest

from sandbox.confined import ConfinedDir, ConfinedPathError, split_relative
from sandbox.home import HomeError, create_home, read_skill, skill_index

SKILLS = {"vision", "docs", "slides", "spreadsheets", "pdfs"}


def test_layout_and_copies(tmp_path):
    a = tmp_path / "one" / "a.png"
    b = tmp_path / "two" / "a.png"
    for f, data in ((a, b"first"), (b, b"second")):
        f.parent.mkdir()
        f.write_bytes(data)
    home = tmp_path / "home"
    copies = create_home(home, [a, b, a])
    assert [c.name for c in copies] == ["a.png", "a-2.png", "a-3.png"]
    assert [c.read_bytes() for c in copies] == [b"first", b"second", b"first"]
    for name in ("inputs", "outputs", "tmp", "skills", "share"):
        assert (home / name).is_dir()
    for script in (
        "slides/render_slides.py",
        "slides/create_montage.py",
        "slides/slides_test.py",
        "docs/render_docx.py",
    ):
        assert (home / "share" / script).is_file()
    assert a.read_bytes() == b"first" and not list(tmp_path.glob("one/.*"))  # original untouched, nothing left over
    assert not list((home / "inputs").glob(".*"))


def test_symlinked_input_is_copied_as_bytes(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("content")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    [copy] = create_home(tmp_path / "home", [link])
    assert not copy.is_symlink() and copy.read_text() == "content"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.png", "not found"),
        (lambda p: p, "not a regular file"),
    ],
)
def test_bad_inputs_are_refused_before_anything_is_made(tmp_path, make, message):
    home = tmp_path / "home"
    with pytest.raises(HomeError, match=message):
        create_home(home, [make(tmp_path)])
    assert not home.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_input(tmp_path):
    f = tmp_path / "secret.txt"
    f.write_text("x")
    f.chmod(0)
    with pytest.raises(HomeError, match="not readable"):
        create_home(tmp_path / "home", [f])


def test_skill_index_names_every_guide_with_a_purpose(tmp_path):
    home = tmp_path / "home"
    create_home(home, [])
    index = dict(skill_index(home))
    assert set(index) == SKILLS
    assert all(len(purpose) > 20 and "\n" not in purpose for purpose in index.values())
    for name in SKILLS:
        text = read_skill(home, name)
        assert "QA checklist" in text and "- [ ]" in text and "## Tools" in text
    assert "render" in read_skill(home, "docs") and "inspected every rendered page" in read_skill(home, "docs")
    assert "Zero formula errors" in read_skill(home, "spreadsheets")
    with pytest.raises(KeyError, match="available: docs, pdfs"):
        read_skill(home, "../../etc")


def test_guides_name_only_tools_that_exist(tmp_path):
    """A guide that names a tool the model does not have sends it on a dead end."""
    import re

    from tools import default_tools
    from tools.vision import TOOLS as VISION

    names = {t.name for t in default_tools()} | {t.name for t in VISION}
    home = tmp_path / "home"
    create_home(home, [])
    for name in SKILLS:
        for cell in re.findall(r"^\|[^|]*\| (.+) \|$", read_skill(home, name), re.M):
            for tool_name in re.findall(r"`([a-z_]+)`", re.split(r"[:(]", cell)[0]):  # then come arguments, operations
                assert tool_name in names, f"skills/{name} names unknown tool {tool_name}"


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    create_home(home, [])
    (home / "outputs" / "a.png").write_bytes(b"x")
    return home


@pytest.mark.parametrize("path", ["outputs/a.png", "./outputs/a.png", "outputs//a.png"])
def test_plain_relative_paths_reach_the_file(home, path):
    assert ConfinedDir(home).read_bytes("/".join(split_relative(path)), 10) == b"x"


@pytest.mark.parametrize(
    "path, words",
    [
        ("../x", "climbs out"),
        ("outputs/../../x", "climbs out"),
        ("outputs/../outputs/a.png", "climbs out"),
        ("/etc/passwd", "absolute"),
        ("~/x", "absolute"),
        ("a\x00b", "NUL"),
        ("", "empty"),
    ],
)
def test_paths_outside_are_refused_naming_the_path(home, path, words):
    with pytest.raises(ConfinedPathError, match=words) as info:
        split_relative(path)
    if path:
        assert repr(path) in str(info.value)


def test_links_are_never_followed_out_or_in(home, tmp_path):
    (tmp_path / "secret.txt").write_text("outside")
    (home / "outputs" / "out").symlink_to(tmp_path)
    (home / "outputs" / "in").symlink_to(home / "inputs")
    (home / "outputs" / "file-link.txt").symlink_to(tmp_path / "secret.txt")
    files = ConfinedDir(home)
    for path in ("outputs/out/secret.txt", "outputs/in/x", "outputs/file-link.txt"):
        with pytest.raises(ConfinedPathError, match="link"):
            files.read_bytes(path, 100)
    with pytest.raises(ConfinedPathError, match="link"):
        files.write_bytes("outputs/out/new.txt", b"x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "secret.txt"]


def test_a_write_replaces_a_planted_link_instead_of_following_it(home, tmp_path):
    target = tmp_path / "host-file.txt"
    target.write_text("host")
    (home / "outputs" / "result.txt").symlink_to(target)
    ConfinedDir(home).write_bytes("outputs/result.txt", b"mine")
    assert target.read_text() == "host"
    assert (
        not (home / "outputs" / "result.txt").is_symlink() and (home / "outputs" / "result.txt").read_bytes() == b"mine"
    )


def test_usage_counts_sparse_files_at_their_size_and_every_inode(home):
    before = ConfinedDir(home).usage()
    with open(home / "tmp" / "sparse", "wb") as fh:
        fh.truncate(50 << 30)
    for i in range(30):
        (home / "tmp" / f"d{i}").mkdir()
    after = ConfinedDir(home).usage()
    assert after.bytes - before.bytes == 50 << 30
    assert after.inodes - before.inodes == 31
    assert "above the cap" in after.over(1 << 30, None)


def test_writes_that_would_pass_the_cap_are_refused(home):
    from sandbox.confined import QuotaExceeded

    files = ConfinedDir(home, max_bytes=ConfinedDir(home).usage().bytes + 100)
    files.write_bytes("outputs/small.txt", b"x" * 50)
    with pytest.raises(QuotaExceeded, match="cap"):
        files.write_bytes("outputs/big.txt", b"x" * 500)
    assert not (home / "outputs" / "big.txt").exists()


def test_export_outputs_copies_results_without_overwriting_or_following_links(tmp_path):
    from sandbox.home import create_home, export_outputs

    home = tmp_path / "home"
    create_home(home, [])
    (home / "outputs" / "plots").mkdir()
    (home / "outputs" / "report.txt").write_text("new")
    (home / "outputs" / "plots" / "a.png").write_bytes(b"png")
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the home")
    (home / "outputs" / "leak.txt").symlink_to(secret)
    (home / "outputs" / "linked").symlink_to(tmp_path)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "report.txt").write_text("old")
    copied = export_outputs(home, dest)
    assert sorted(p.relative_to(dest).as_posix() for p in copied) == ["plots/a.png", "report-2.txt"]
    assert (dest / "report.txt").read_text() == "old" and (dest / "report-2.txt").read_text() == "new"
    assert not (dest / "leak.txt").exists() and not (dest / "linked").exists()
