"""Trust boundary, class 4: document parsers running in the agent's own process (issue 9).

PDFium, openpyxl, python-docx/pptx and pypdf run inside the agent with no memory or time limit
of their own, so a small hostile file takes the whole agent down (PDFium aborts the process when
an allocation fails: exit 134).

Attack catalogue (generated here):
- a ~3 KB PDF of nested form XObjects (each draws the previous one 8 times, 12 levels deep);
- a ~1 MB PDF whose content stream is a flate bomb (inflates to 500 MB of drawing operators);
- a ~10 MB XLSX of 5 M cells, its sheet XML streamed into the zip.
Each goes through the tools in an agent-like process and through the CLI, both under a 3 GiB soft
address-space limit. Property: the agent process survives, the bomb gives a clear one-line error
(tool is_error; CLI exit 2) within bounded time, and the next tool call of the same run works.
And, whatever the fix: after the document tools ran on an ordinary file, none of the parser
libraries is loaded in the agent process at all.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.trust_common import (
    GIB,
    HOST_MEMORY,
    NEED_SOFFICE,
    agent_cli,
    flate_bomb_pdf,
    host_tools,
    make_home,
    many_cells_xlsx,
    nested_xobject_pdf,
    one_line_error,
    simple_docx,
    simple_pdf,
)

BOUND = 180  # seconds a single call may take before it counts as hanging
PARSERS = ("pypdfium2", "docx", "pptx", "openpyxl", "pypdf")
# The document worker's budget for these runs: the same property at any budget, and a bomb
# reaches 1 GiB in seconds where it takes half a minute to reach the default 3 GiB.
WORKER_BUDGET = {"AGENT_WORKER_MEMORY": "1G"}


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bombs")
    return {
        "nested": nested_xobject_pdf(folder / "nested.pdf"),
        "flate": flate_bomb_pdf(folder / "flate.pdf", inflated=500_000_000),
    }


@pytest.fixture(scope="module")
def big_xlsx(tmp_path_factory):
    return many_cells_xlsx(tmp_path_factory.mktemp("cells") / "cells.xlsx")


def test_bombs_are_small(bombs, big_xlsx):
    """The attack files are what the issue says: a few KB, about 1 MB, about 10 MB."""
    assert bombs["nested"].stat().st_size < 4_000
    assert bombs["flate"].stat().st_size < 1_200_000
    assert big_xlsx.stat().st_size < 16_000_000


def clear_error(result: dict) -> bool:
    text = result["text"]
    return (
        result["is_error"]
        and "\n" not in text.strip()
        and "MemoryError" not in text
        and "Traceback" not in text
        and len(text) < 600
    )


@pytest.mark.parametrize("bomb", ["nested", "flate"])
def test_pdf_bomb_through_tools(tmp_path, bombs, bomb):
    """Class 4, tools: render_document, inspect_document, read_text and check_document on a PDF bomb,
    in an agent process limited to 3 GiB: the process survives, each call is a clear one-line tool
    error within bounded time, and a following render of an ordinary PDF works."""
    files = tmp_path / "user-files"
    files.mkdir()
    home = make_home(tmp_path, bombs[bomb], simple_pdf(files / "fine.pdf"))
    name = f"inputs/{bombs[bomb].name}"
    calls = [
        ("render_document", {"path": name}),
        ("inspect_document", {"path": name}),
        ("read_text", {"path": name}),
        ("check_document", {"path": name}),
        ("render_document", {"path": "inputs/fine.pdf"}),
    ]
    run = host_tools(
        home,
        calls,
        memory=HOST_MEMORY,
        timeout=4 * BOUND,
        env={"AGENT_CACHE_DIR": str(tmp_path / "cache"), **WORKER_BUDGET},
    )
    assert run.survived, f"the agent process died: {run.describe()}"
    for result in run.results[:-1]:
        assert clear_error(result), f"{result['tool']}: not a clear one-line error: {result['text'][:300]}"
        assert result["seconds"] < BOUND, f"{result['tool']} took {result['seconds']}s"
    assert not run.results[-1]["is_error"], run.results[-1]["text"]


@pytest.mark.parametrize("bomb, command", [("nested", "render"), ("nested", "inspect"), ("flate", "check")])
def test_pdf_bomb_through_cli(tmp_path, bombs, bomb, command):
    """Class 4, CLI: `agent render|inspect|check BOMB.pdf` under a 3 GiB limit exits 2 with one line
    `agent: error: ...` within bounded time (today: killed by SIGABRT, exit 134)."""
    args = [command, str(bombs[bomb])] + (["--out", str(tmp_path / "pages")] if command == "render" else [])
    proc = agent_cli(
        *args,
        cwd=tmp_path,
        memory=HOST_MEMORY,
        timeout=BOUND,
        env={"AGENT_CACHE_DIR": str(tmp_path / "cache"), **WORKER_BUDGET},
    )
    assert proc.returncode == 2 and one_line_error(proc), f"exit {proc.returncode}: {proc.stderr[-400:]}"


# The slowest test of the set today (~100 s): openpyxl grows both processes to their limit before
# failing. The tool run and the CLI run go at the same time, and under 2 GiB rather than 3 GiB so
# today's failure comes sooner; an agent that parses nothing itself needs far less.
@NEED_SOFFICE
def test_many_cells_xlsx(tmp_path, big_xlsx):
    """Class 4, tools and CLI: inspect_document and read_text on a 5 M-cell XLSX in an agent process
    limited to 2 GiB survive, return within bounded time (an error must be a clear one-line budget
    error, not a MemoryError), and a following call on an ordinary document works; `agent inspect`
    of the same file exits 0 with a bounded result or 2 with one line, never a crash or traceback."""
    files = tmp_path / "user-files"
    files.mkdir()
    home = make_home(tmp_path, big_xlsx, simple_docx(files / "fine.docx"))
    calls = [
        ("inspect_document", {"path": "inputs/cells.xlsx"}),
        ("read_text", {"path": "inputs/cells.xlsx"}),
        ("read_text", {"path": "inputs/fine.docx"}),
    ]
    env = {"AGENT_CACHE_DIR": str(tmp_path / "cache")}
    with ThreadPoolExecutor(2) as pool:
        tools_run = pool.submit(host_tools, home, calls, memory=2 * GIB, timeout=3 * BOUND, env=env)
        cli_run = pool.submit(agent_cli, "inspect", str(big_xlsx), cwd=tmp_path, memory=2 * GIB, timeout=BOUND, env=env)
        run, proc = tools_run.result(), cli_run.result()
    problems = []
    if not run.survived:
        problems.append(f"the agent process died: {run.describe()}")
    for result in run.results[:-1]:
        if result["seconds"] >= BOUND:
            problems.append(f"{result['tool']} took {result['seconds']}s")
        if result["is_error"] and not clear_error(result):
            problems.append(f"{result['tool']}: not a clear error: {result['text'][:200]}")
    if len(run.results) == len(calls) and (run.results[-1]["is_error"] or "Paragraph 1" not in run.results[-1]["text"]):
        problems.append(f"the next call failed: {run.results[-1]['text'][:200]}")
    if not ((proc.returncode == 0 and len(proc.stdout) < 2_000_000) or (proc.returncode == 2 and one_line_error(proc))):
        problems.append(f"agent inspect: exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
    assert not problems, "; ".join(problems)


@NEED_SOFFICE
def test_agent_process_parses_no_document(tmp_path):
    """Class 4, the boundary itself: an agent process that has rendered, inspected, checked, read and
    edited an ordinary DOCX (and rendered a PDF) has none of pypdfium2, docx, pptx, openpyxl or
    pypdf loaded: every document's bytes were parsed elsewhere."""
    files = tmp_path / "user-files"
    files.mkdir()
    home = make_home(tmp_path, simple_docx(files / "memo.docx"), simple_pdf(files / "scan.pdf"))
    calls = [
        ("render_document", {"path": "inputs/memo.docx"}),
        ("inspect_document", {"path": "inputs/memo.docx"}),
        ("check_document", {"path": "inputs/memo.docx"}),
        ("read_text", {"path": "inputs/memo.docx"}),
        (
            "edit_docx",
            {
                "path": "inputs/memo.docx",
                "operations": [{"op": "replace_text", "find": "ordinary", "replace": "plain"}],
            },
        ),
        ("render_document", {"path": "inputs/scan.pdf"}),
        ("read_text", {"path": "inputs/scan.pdf"}),
    ]
    run = host_tools(home, calls, timeout=BOUND, env={"AGENT_CACHE_DIR": str(tmp_path / "cache")})
    assert run.survived, run.describe()
    failed = [(r["tool"], r["text"][:200]) for r in run.results if r["is_error"]]
    assert not failed, failed
    loaded = sorted({m.split(".")[0] for m in run.done["modules"]} & set(PARSERS))
    assert loaded == [], f"the agent process loaded document parsers: {loaded}"
