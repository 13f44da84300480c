"""The jailed document worker seen from the agent: what crosses back into the agent's cache,
what the cache keeps, and what a budget does to a request."""

from __future__ import annotations

import json
import os
import struct
import time
import zlib
from pathlib import Path

import pytest

from sandbox.confined import ConfinedDir
from tests.documents_builders import make_docx, needs_soffice
from tools.documents import DocumentError, cache, jailed
from tools.documents.edit_common import parse_pages
from tools.documents.pages import parse_page_spec

DIGEST = "ab" * 32


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENT_CACHE_DIR", str(tmp_path / "agent-cache"))


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (the body is a single empty row: never decoded here)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def worker_scratch(tmp_path: Path) -> Path:
    scratch = tmp_path / "scratch"
    entry = scratch / "tmp/.cache/renders" / DIGEST
    (entry / "dpi-110").mkdir(parents=True)
    return scratch


def test_harvest_admits_only_what_the_cache_uses_and_checks_it(tmp_path):
    scratch = worker_scratch(tmp_path)
    entry = scratch / "tmp/.cache/renders" / DIGEST
    secret = tmp_path / "host-secret.txt"
    secret.write_text("root:x:0:0")
    (entry / "pages.json").write_text(json.dumps({"format": "pdf", "page_count": 2, "sizes": [[612, 792], [612, 792]]}))
    (entry / "document.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (entry / "dpi-110" / "page-001.png").write_bytes(png_header(935, 1210))
    (entry / "dpi-110" / "page-002.png").write_bytes(png_header(60_000, 60_000))  # 3.6 gigapixels
    (entry / "dpi-110" / "page-003.png").symlink_to(secret)
    (entry / "dpi-110" / "page-004.png").write_bytes(b"not a png")
    (entry / "fonts.json").write_text('{"substituted": "everything"}')
    (entry / "evil.sh").write_text("#!/bin/sh")
    other = scratch / "tmp/.cache/renders" / ("cd" * 32)  # another document's entry: never taken
    other.mkdir()
    (other / "document.pdf").write_bytes(b"%PDF-1.4 poisoned")

    cache.harvest(ConfinedDir(scratch), "tmp/.cache", DIGEST, seeded={})

    kept = cache.cache_root() / "renders" / DIGEST
    assert sorted(p.relative_to(kept).as_posix() for p in kept.rglob("*") if p.is_file()) == [
        "document.pdf",
        "dpi-110/page-001.png",
        "pages.json",
    ]
    assert not (cache.cache_root() / "renders" / ("cd" * 32)).exists()


def test_harvest_skips_what_was_seeded_unchanged_and_takes_what_changed(tmp_path):
    seeded_entry = cache.cache_root() / "renders" / DIGEST
    seeded_entry.mkdir(parents=True)
    (seeded_entry / "document.pdf").write_bytes(b"%PDF-1.4 agent's copy")
    scratch = worker_scratch(tmp_path)
    seeded = cache.seed(DIGEST, scratch / "tmp/.cache", dpi=110)
    assert set(seeded) == {"document.pdf"}
    entry = scratch / "tmp/.cache/renders" / DIGEST
    (entry / "pages.json").write_text(json.dumps({"format": "pdf", "page_count": 1, "sizes": [[612, 792]]}))
    cache.harvest(ConfinedDir(scratch), "tmp/.cache", DIGEST, seeded)
    assert (seeded_entry / "document.pdf").read_bytes() == b"%PDF-1.4 agent's copy"
    assert json.loads((seeded_entry / "pages.json").read_text())["page_count"] == 1


def test_the_cache_is_pruned_least_recently_used_first(tmp_path, monkeypatch):
    renders = cache.cache_root() / "renders"
    for n, age in enumerate((300, 200, 100)):
        entry = renders / f"{n:064d}"
        entry.mkdir(parents=True)
        (entry / "document.pdf").write_bytes(b"x" * 400_000)
        os.utime(entry, (time.time() - age, time.time() - age))
    monkeypatch.setenv("AGENT_CACHE_MAX", "1M")
    assert cache.cache_max() == 1 << 20
    freed = cache.prune()
    assert freed == 400_000
    assert sorted(p.name[-1] for p in renders.iterdir()) == ["1", "2"]  # the oldest went


@pytest.mark.parametrize("value", ["lots", "5X", "-1G"])
def test_a_bad_cache_cap_is_one_clear_error(monkeypatch, value):
    monkeypatch.setenv("AGENT_CACHE_MAX", value)
    with pytest.raises(DocumentError, match="AGENT_CACHE_MAX"):
        cache.cache_max()


def test_page_ranges_are_bounded_before_they_are_expanded():
    started = time.perf_counter()
    with pytest.raises(DocumentError, match="too long"):
        parse_page_spec("1-200000000")
    with pytest.raises(DocumentError, match="does not exist"):
        parse_pages("1-200000000", 12)
    assert time.perf_counter() - started < 0.5
    assert parse_page_spec("3,1-2,2") == [1, 2, 3]
    assert parse_pages("all", 3) == [0, 1, 2] and parse_pages("2-", 4) == [1, 2, 3]
    with pytest.raises(DocumentError, match="backwards"):
        parse_page_spec("5-2")


@needs_soffice
def test_a_cached_render_starts_no_worker_and_says_so(tmp_path):
    doc = make_docx(tmp_path / "memo.docx", ["A short memo.", "Second paragraph."])
    first = jailed.render(jailed.Source.from_path(doc), tmp_path / "a")
    again = jailed.render(jailed.Source.from_path(doc), tmp_path / "b")
    assert not first.cached and again.cached
    assert [p.read_bytes() for p in first.pages] == [p.read_bytes() for p in again.pages]


def nested_forms_pdf(path: Path, levels: int = 20, fan_out: int = 8) -> Path:
    """A few KB of PDF whose page draws a form that draws the one below it fan_out times, levels deep."""
    objs: dict[int, bytes] = {}
    for i in range(levels):
        n = 5 + i
        if i == 0:
            stream, resources = b"0 0 m 10 10 l S", b""
        else:
            stream = b" ".join(b"q 1 0 0 1 %d %d cm /X Do Q" % (k, k) for k in range(fan_out))
            resources = b"/Resources << /XObject << /X %d 0 R >> >>" % (n - 1)
        objs[n] = b"<< /Type /XObject /Subtype /Form /BBox [0 0 600 600] %s /Length %d >>\nstream\n%s\nendstream" % (
            resources,
            len(stream),
            stream,
        )
    objs[4] = b"<< /Length 5 >>\nstream\n/X Do\nendstream"
    objs[3] = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 600 600] /Contents 4 0 R /Resources << /XObject << /X %d 0 R >> >> >>"
        % (4 + levels)
    )
    objs[2] = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
    objs[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    out, offsets = bytearray(b"%PDF-1.4\n"), {}
    for n in sorted(objs):
        offsets[n] = len(out)
        out += b"%d 0 obj\n" % n + objs[n] + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1) + b"".join(
        b"%010d 00000 n \n" % offsets[n] for n in sorted(objs)
    )
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def test_a_bomb_in_a_batch_sinks_only_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENT_WORKER_MEMORY", "600M")
    bomb = nested_forms_pdf(tmp_path / "bomb.pdf")
    assert bomb.stat().st_size < 10_000
    good = tmp_path / "good.pdf"
    good.write_bytes(nested_forms_pdf(tmp_path / "tiny.pdf", levels=2, fan_out=2).read_bytes())
    results = jailed.render_many(
        [jailed.Source.from_path(bomb), jailed.Source.from_path(good)], [tmp_path / "out-bomb", tmp_path / "out-good"]
    )
    assert isinstance(results[0], DocumentError)
    message = str(results[0])
    assert "bomb.pdf" in message and "\n" not in message
    assert "600 MiB" in message or "crashed" in message
    assert not isinstance(results[1], DocumentError) and results[1].page_count == 1
