"""The corpus sweep: every real-world file either inspects, renders and checks, or fails with a
clear one-line DocumentError. No traceback, no hang (conversions have timeouts). Through the
jailed document worker, as the agent and the CLI run them."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest

from tests.documents_builders import needs_soffice
from tools.documents import DocumentError, jailed
from tools.documents.inspect import format_inspection

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
FILES = sorted(p for p in CORPUS.glob("*/*") if p.is_file()) if CORPUS.is_dir() else []
# Files that cannot work without a password or are damaged beyond repair: they must say why.
MUST_EXPLAIN = {"encrypt": "encrypted", "password": "encrypted", "empty file": "empty", "0 bytes": "empty"}


def _notes() -> dict[str, str]:
    manifest = CORPUS / "MANIFEST.tsv"
    if not manifest.exists():
        return {}
    with open(manifest, newline="") as fh:
        return {row["file"]: row.get("notes", "") for row in csv.DictReader(fh, delimiter="\t")}


NOTES = _notes()


@pytest.fixture(scope="module", autouse=True)
def shared_cache(tmp_path_factory):
    old = os.environ.get("AGENT_CACHE_DIR")
    os.environ["AGENT_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    if FILES and shutil.which("soffice"):
        # one worker converts them all together, as `agent render` with many files does; failures surface per file below
        warm = tmp_path_factory.mktemp("warm")
        jailed.render_many(
            [jailed.Source.from_path(p) for p in FILES], [warm / str(i) for i in range(len(FILES))], dpi=40, max_pages=4
        )
    yield
    if old is None:
        del os.environ["AGENT_CACHE_DIR"]
    else:
        os.environ["AGENT_CACHE_DIR"] = old


def _expected_error(rel: str) -> str | None:
    notes = NOTES.get(rel, "").lower()
    if notes.startswith("empty file") or "(0 bytes)" in notes:
        return "empty"
    if notes.startswith(("password-encrypted", "encrypted pdf", "aes-256")) or "needing user password" in notes:
        return "encrypted"
    return None


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus folder {CORPUS} is absent")
@needs_soffice
@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name}" for p in FILES])
def test_corpus_file_works_or_fails_clearly(path, tmp_path):
    rel = f"{path.parent.name}/{path.name}"
    expected = _expected_error(rel)
    source = jailed.Source.from_path(path)
    try:
        found = jailed.inspect(source)
        text = format_inspection(found)
        rendered = jailed.render(source, tmp_path / "pages", dpi=40, max_pages=4)
        report = jailed.check(source, tmp_path / "check").report
    except DocumentError as exc:
        message = str(exc)
        assert message.strip() and "\n" not in message, message
        assert path.name in message or "LibreOffice" in message, message
        if expected:
            assert expected in message.lower(), message
        # the files in the main folders are valid: they must work, only odd/ may fail
        assert path.parent.name == "odd", f"{rel} should work but failed: {message}"
        return
    assert expected is None, f"{rel} should have been refused ({expected}) but worked"
    assert text.splitlines()[0].startswith(path.name)
    assert rendered.cached, "the batched warm-up should have rendered these pages"
    assert rendered.pages and all(p.stat().st_size > 0 for p in rendered.pages)
    assert rendered.contact_sheet.exists()
    assert report.format_text().startswith(path.name) and all(f.rule and f.severity for f in report.findings)
