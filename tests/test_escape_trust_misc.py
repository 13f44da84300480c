"""Trust boundary, class 6: smaller holes (issue 9).

Attack catalogue:
- an OOXML part in UTF-16 without a byte-order mark, declaring a DTD: a "billion laughs" entity
  bomb, and an external entity naming a host file and a loopback URL (the DTD check looks for the
  bytes `<!DOCTYPE`, which UTF-16 spells differently, and only after a BOM does it decode);
- batch job ids "../../escape" and an absolute path, which become part of the cassette path under
  `--model replay:DIR/` and of the run folder;
- tool errors (missing file, corrupt document, bad path, an obstacle the jail planted where a tool
  writes, a run_python traceback through a module in the home) that print the home's host path.
Property: the bomb is refused or parsed safely (bounded, a clear one-line error, not an unhandled
exception); no cassette outside DIR is read and no run folder is made outside the runs folder
(`agent batch` exits 2 naming the line, or the id is sanitised); no error text carries the home's
host path.
"""

from __future__ import annotations

import json
import re
import zipfile

import pytest

from agent.loop import Agent
from agent.models.cassette import RecordingModel
from agent.models.scripted import ScriptedModel, say
from tests.documents_builders import make_docx
from tests.trust_common import (
    HOST_MEMORY,
    LEVELS,
    RecordingServer,
    _rewrite_zip,
    agent_cli,
    call,
    host_tools,
    make_ctx,
    make_home,
    one_line_error,
    simple_pdf,
    utf16_dtd_bomb_docx,
)

UNHANDLED = re.compile(r"failed: \w+(Error|Exception)\b")  # the toolbox's wrapper for an exception nobody handled


def xxe_docx(path, target: str):
    """A DOCX whose document part (UTF-16, no BOM) declares an external entity `target` and uses it."""
    import docx

    plain = path.with_suffix(".plain.docx")
    document = docx.Document()
    document.add_paragraph("placeholder")
    document.save(plain)
    ns = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    xml = (
        f'<?xml version="1.0" encoding="UTF-16" standalone="no"?>\n<!DOCTYPE w:document [<!ENTITY x SYSTEM "{target}">]>\n'
        f'<w:document xmlns:w="{ns}"><w:body><w:p><w:r><w:t>before &x; after</w:t></w:r></w:p><w:sectPr/></w:body></w:document>'
    )
    _rewrite_zip(plain, path, lambda name, old: xml.encode("utf-16-le") if name == "word/document.xml" else old)
    plain.unlink()
    return path


def test_utf16_entity_bomb_through_tools(tmp_path):
    """Class 6: a DOCX whose UTF-16 (no BOM) document part declares a billion-laughs DTD, through
    read_text, inspect_document, render_document and check_document in a 3 GiB agent process: each is
    a clear one-line error (or a bounded result), never an unhandled exception, within bounded time."""
    bomb = utf16_dtd_bomb_docx(tmp_path / "laughs.docx")
    home = make_home(tmp_path, bomb)
    calls = [
        (tool, {"path": "inputs/laughs.docx"})
        for tool in ("read_text", "inspect_document", "render_document", "check_document")
    ]
    run = host_tools(home, calls, memory=HOST_MEMORY, timeout=400, env={"AGENT_CACHE_DIR": str(tmp_path / "cache")})
    assert run.survived, run.describe()
    problems = []
    for result in run.results:
        text = result["text"]
        if result["seconds"] > 120:
            problems.append(f"{result['tool']} took {result['seconds']}s")
        if text.count("lol") > 1000:
            problems.append(f"{result['tool']} expanded the entities")
        if result["is_error"] and (UNHANDLED.search(text) or "\n" in text.strip()):
            problems.append(f"{result['tool']}: not a clear error: {text[:160]}")
    assert not problems, "; ".join(problems)


def test_utf16_entity_bomb_through_cli(tmp_path):
    """Class 6, CLI: `agent inspect` of the UTF-16 entity bomb exits 2 with one line, or 0 without
    expanding it; never a traceback."""
    bomb = utf16_dtd_bomb_docx(tmp_path / "laughs.docx")
    proc = agent_cli(
        "inspect",
        str(bomb),
        cwd=tmp_path,
        memory=HOST_MEMORY,
        timeout=120,
        env={"AGENT_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert (proc.returncode == 2 and one_line_error(proc)) or (
        proc.returncode == 0 and proc.stdout.count("lol") < 1000
    ), f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"


def test_utf16_external_entity(tmp_path):
    """Class 6: a UTF-16 (no BOM) document part with external entities naming a host file and a
    loopback URL: read_text, inspect_document and render_document neither fetch the URL nor show
    the host file."""
    secret = tmp_path / "host-side" / "note.txt"
    secret.parent.mkdir()
    secret.write_text("HOST-FILE-CONTENT-7f3a")
    server = RecordingServer()
    try:
        docs = [
            xxe_docx(tmp_path / "xxe-file.docx", secret.as_uri()),
            xxe_docx(tmp_path / "xxe-http.docx", server.url("xxe")),
        ]
        home = make_home(tmp_path, *docs)
        ctx = make_ctx(home)
        for doc in docs:
            for tool in ("read_text", "inspect_document", "render_document"):
                result = call(ctx, tool, path=f"inputs/{doc.name}")
                assert "HOST-FILE-CONTENT" not in result.text, f"{tool} showed a host file through an external entity"
        assert server.hits == [], f"external entities were fetched: {server.hits}"
    finally:
        server.close()


def record_answer(cassette, task: str, answer: str, runs) -> None:
    model = RecordingModel(ScriptedModel([say(answer)]), cassette, source="hand-written", note="trust-boundary attack")
    Agent(model, runs_dir=runs).run(task)


def test_batch_job_ids_stay_in_their_folders(tmp_path):
    """Class 6, `agent batch`: job ids "../../escape" and an absolute path must not make
    `--model replay:cassettes/` read a cassette outside cassettes/, nor put a run folder outside the
    runs folder: exit 2 naming the lines, or ids sanitised so the planted cassettes are never played."""
    batch = tmp_path / "batch"
    (batch / "cassettes").mkdir(parents=True)
    task = "say which planted cassette answered"
    outside_abs = tmp_path / "elsewhere" / "abs"
    planted = {
        "../../escape": tmp_path / "escape.cassette.jsonl",  # cassettes/../../ is tmp_path
        str(outside_abs): outside_abs.with_name("abs.cassette.jsonl"),
    }
    for job_id, cassette in planted.items():
        record_answer(cassette, task, f"ESCAPED via {job_id}", tmp_path / "recording-runs")
    record_answer(batch / "cassettes" / "fine.cassette.jsonl", task, "fine", tmp_path / "recording-runs")
    jobs = batch / "jobs.jsonl"
    jobs.write_text("".join(json.dumps({"id": i, "task": task}) + "\n" for i in [*planted, "fine"]))
    before = {p for p in tmp_path.rglob("*") if p.is_dir()}
    proc = agent_cli(
        "batch",
        "jobs.jsonl",
        "-o",
        "results.jsonl",
        "--model",
        "replay:cassettes/",
        "--runs-dir",
        "runs",
        "--sandbox",
        "process",
        "-q",
        cwd=batch,
        timeout=180,
    )
    results = batch / "results.jsonl"
    answers = [json.loads(line).get("answer") for line in results.read_text().splitlines()] if results.exists() else []
    escaped = [a for a in answers if a and a.startswith("ESCAPED")]
    new_dirs = {p for p in tmp_path.rglob("*") if p.is_dir()} - before
    stray = [p for p in new_dirs if not p.is_relative_to(batch / "runs")]
    refused = (
        proc.returncode == 2
        and re.search(r"jobs\.jsonl:1\b|line 1\b", proc.stderr)
        and re.search(r"jobs\.jsonl:2\b|line 2\b", proc.stderr)
    )
    assert refused or (not escaped and not stray), (
        f"exit {proc.returncode}; answers from planted cassettes: {escaped}; run folders outside runs/: {stray}"
    )


# -- the home's host path in error texts ---------------------------------------------------------------------


def host_path_leaks(home, text: str) -> bool:
    return str(home.parent) in text or str(home.resolve().parent) in text


@pytest.fixture
def doc_home(tmp_path):
    files = tmp_path / "user-files"
    files.mkdir()
    (files / "broken.docx").write_bytes(b"PK\x03\x04" + b"\x00" * 40)  # a zip header and nothing behind it
    with zipfile.ZipFile(files / "hollow.docx", "w") as zf:  # a package that names a main part it does not have
        zf.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        zf.writestr(
            "_rels/.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
        )
    pdf = simple_pdf(files / "cut.pdf").read_bytes()
    (files / "cut.pdf").write_bytes(pdf[: len(pdf) // 2])
    (files / "photo.docx").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    return make_home(
        tmp_path,
        files / "broken.docx",
        files / "hollow.docx",
        files / "cut.pdf",
        files / "photo.docx",
        make_docx(files / "memo.docx"),
        simple_pdf(files / "scan.pdf"),
    )


def test_error_texts_hide_the_home_path(doc_home, tmp_path, monkeypatch):
    """Class 6: missing files, corrupt documents and bad paths, through every document tool: no error
    text names the home's host path."""
    monkeypatch.setenv("AGENT_CACHE_DIR", str(tmp_path / "cache"))
    ctx = make_ctx(doc_home)
    (doc_home / "outputs" / "out-link.docx").symlink_to(tmp_path / "user-files" / "memo.docx")
    edit = [{"op": "replace_text", "find": "a", "replace": "b"}]
    leaks = []
    for path in (
        "inputs/nope.docx",
        "inputs/broken.docx",
        "inputs/hollow.docx",
        "inputs/cut.pdf",
        "inputs/photo.docx",
        "../escape.docx",
        "/etc/passwd",
        "outputs/../../x.docx",
        "outputs/out-link.docx",
        "inputs",
    ):
        for tool, args in (
            ("read_text", {}),
            ("inspect_document", {}),
            ("render_document", {}),
            ("check_document", {}),
            ("edit_docx", {"operations": edit}),
        ):
            result = call(ctx, tool, path=path, **args)
            if host_path_leaks(doc_home, result.text):
                leaks.append(f"{tool}({path}): {result.text[:200]}")
    assert not leaks, "\n".join(leaks)


def test_error_texts_hide_the_home_path_with_planted_obstacles(doc_home, tmp_path, monkeypatch):
    """Class 6: the jail leaves regular files where host tools make folders (tmp/renders/<stem>,
    tmp/check/<stem>) and a file in place of outputs/: render, check and edit fail without naming
    the home's host path."""
    monkeypatch.setenv("AGENT_CACHE_DIR", str(tmp_path / "cache"))
    ctx = make_ctx(doc_home)
    for rel in ("tmp/renders/scan", "tmp/check/scan", "tmp/renders/memo"):
        (doc_home / rel).parent.mkdir(parents=True, exist_ok=True)
        (doc_home / rel).write_text("in the way")
    for entry in (doc_home / "outputs").iterdir():
        entry.unlink()
    (doc_home / "outputs").rmdir()
    (doc_home / "outputs").write_text("not a folder")
    leaks = []
    for tool, args in (
        ("render_document", {"path": "inputs/scan.pdf"}),
        ("check_document", {"path": "inputs/scan.pdf"}),
        ("render_document", {"path": "inputs/memo.docx"}),
        (
            "edit_docx",
            {"path": "inputs/memo.docx", "operations": [{"op": "replace_text", "find": "Body", "replace": "B"}]},
        ),
    ):
        result = call(ctx, tool, **args)
        if host_path_leaks(doc_home, result.text):
            leaks.append(f"{tool}({args['path']}): {result.text[:200]}")
    assert not leaks, "\n".join(leaks)


@pytest.mark.parametrize("level", LEVELS)
def test_run_python_traceback_hides_the_home_path(tmp_path, level):
    """Class 6: a run_python traceback through a module the model wrote in tmp/ does not show the
    home's host path."""
    home = make_home(tmp_path)
    ctx = make_ctx(home, level)
    code = (
        "import os, sys\n"
        "os.makedirs('tmp/lib', exist_ok=True)\n"
        "open('tmp/lib/helper.py', 'w').write('def boom():\\n    raise ValueError(\"from the helper\")\\n')\n"
        "sys.path.insert(0, os.path.abspath('tmp/lib'))\n"
        "import helper\n"
        "helper.boom()\n"
    )
    result = call(ctx, "run_python", code=code)
    assert result.is_error and "from the helper" in result.text, result.text
    assert not host_path_leaks(home, result.text), result.text
