"""Trust boundary, class 2: host-side tools following links the jail planted (issue 9).

Jailed code can put a symlink (or a FIFO) anywhere in the home's writable parts, pointing at any
host path: bwrap cannot stop a link whose target it does not show. The host-side tools then build
paths of their own inside the home (render and check scratch folders, default edit outputs,
outputs/ itself, the export of outputs/) and, as the agent, follow them.

Attack catalogue:
- tmp/renders/<stem>, tmp/renders, tmp/ and tmp/check/<stem> → a host folder, then render/check;
- tmp/renders/<stem>/document.pdf and page-001.png → host files, then render;
- outputs/ swapped for a link to a host folder holding a secret text and image, from inside
  run_python (so the call's own listing sees it), then run_python again, the export
  (sandbox.home.export_outputs) and `agent run --out`;
- outputs/ → host folder, then edit_docx with the default and an explicit output;
- outputs/<stem>.edited.pptx → a host file, outputs/sub → a host folder, then edit_pptx;
- FIFOs at outputs/x.png and at a document path, then every document tool and the export;
- skills/ (and a guide) replaced by links to host files, then list_skills/read_skill.
Property: no byte is written outside the home (the host folder's listing and contents are
unchanged), no host file's content reaches a tool's text or images, the export copies no host
file, and nothing hangs.
"""

from __future__ import annotations

import shutil

import pytest

from agent.loop import Agent
from agent.models.base import ModelReply, Usage
from agent.models.cassette import RecordingModel
from agent.models.scripted import ScriptedModel
from agent.transcript import ToolCall
from sandbox.home import export_outputs
from tests.documents_builders import make_docx, make_pptx
from tests.trust_common import (
    LEVELS,
    NEED_BWRAP,
    SECRET,
    agent_cli,
    call,
    colour_pixels,
    host_tools,
    make_ctx,
    make_home,
    make_host_dir,
    simple_pdf,
    snapshot,
)
from tools.registry import ToolSettings


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENT_CACHE_DIR", str(tmp_path / "render-cache"))


@pytest.fixture
def host(tmp_path):
    return make_host_dir(tmp_path)


@pytest.fixture
def home(tmp_path):
    files = tmp_path / "user-files"
    files.mkdir()
    return make_home(
        tmp_path, simple_pdf(files / "report.pdf"), make_docx(files / "memo.docx"), make_pptx(files / "deck.pptx")
    )


def plant_link(link, target) -> None:
    """What jailed code does with os.symlink: replace whatever is at `link` by a link to `target`."""
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.is_dir():
        shutil.rmtree(link)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)


def assert_nothing_leaked(result, ctx, host_before, host) -> None:
    """The host folder is unchanged and none of its content reached the model."""
    assert snapshot(host) == host_before, "a tool wrote into the host folder through a planted link: " + ", ".join(
        sorted(set(snapshot(host)) ^ set(host_before)) or ["(contents changed)"]
    )
    assert SECRET not in result.text and "secret.txt" not in result.text, result.text
    for image_id in result.image_ids:
        assert colour_pixels(ctx.images.path(image_id)) < 50, f"{image_id} shows the host's secret image"


@pytest.mark.parametrize("link", ["tmp/renders/report", "tmp/renders", "tmp"])
def test_render_scratch_folder_link(home, host, link):
    """Class 2: render_document writes its pages under the home's tmp/; with tmp/renders/<stem>,
    tmp/renders or tmp/ itself a link to a host folder, no byte lands in the host folder."""
    plant_link(home / link, host)
    before = snapshot(host)
    ctx = make_ctx(home)
    result = call(ctx, "render_document", path="inputs/report.pdf")
    assert_nothing_leaked(result, ctx, before, host)


def test_render_file_links(home, host):
    """Class 2: links at the exact files render_document writes (tmp/renders/<stem>/document.pdf,
    page-001.png, contact-sheet.png → host files) are never written through."""
    scratch = home / "tmp" / "renders" / "report"
    scratch.mkdir(parents=True)
    (host / "victim.pdf").write_bytes(b"host pdf, must stay")
    for name, target in (
        ("document.pdf", "victim.pdf"),
        ("page-001.png", "secret.png"),
        ("contact-sheet.png", "secret.txt"),
    ):
        (scratch / name).symlink_to(host / target)
    before = snapshot(host)
    ctx = make_ctx(home)
    result = call(ctx, "render_document", path="inputs/report.pdf")
    assert not result.is_error, result.text
    assert_nothing_leaked(result, ctx, before, host)


def test_check_scratch_folder_link(home, host):
    """Class 2: check_document's scratch folder tmp/check/<stem> → a host folder: nothing is
    written there and the host image is not shown."""
    plant_link(home / "tmp" / "check" / "report", host)
    before = snapshot(host)
    ctx = make_ctx(home)
    result = call(ctx, "check_document", path="inputs/report.pdf")
    assert_nothing_leaked(result, ctx, before, host)


SWAP_OUTPUTS = "import os, shutil\nshutil.rmtree('outputs')\nos.symlink({target!r}, 'outputs')\nprint('swapped')\n"


@pytest.mark.parametrize("level", LEVELS)
def test_outputs_swapped_for_host_folder(home, host, tmp_path, level):
    """Class 2: run_python replaces outputs/ by a link to a host folder (secret text and image).
    Neither that call's result nor the next one's shows or lists the host files, and the export
    of outputs/ (what `agent run --out` does) copies none of them."""
    before = snapshot(host)
    ctx = make_ctx(home, level)
    swap = call(ctx, "run_python", code=SWAP_OUTPUTS.format(target=str(host)))
    assert "swapped" in swap.text, swap.text
    follow = call(ctx, "run_python", code="print('hi')")
    for result in (swap, follow):
        assert_nothing_leaked(result, ctx, before, host)
        assert "secret.png" not in result.text, result.text
    dest = tmp_path / "exported"
    try:
        copied = export_outputs(home, dest)
    except OSError:
        copied = []  # refusing to export a linked outputs/ is fine
    leaked = [
        p for p in copied if p.read_bytes() in ((host / "secret.txt").read_bytes(), (host / "secret.png").read_bytes())
    ]
    assert not leaked, f"the export copied host files: {leaked}"


def test_outputs_link_then_edit(home, host):
    """Class 2: with outputs/ a link to a host folder, edit_docx (default output, then an explicit
    outputs/ path) writes nothing into the host folder."""
    plant_link(home / "outputs", host)
    before = snapshot(host)
    ctx = make_ctx(home)
    op = [{"op": "replace_text", "find": "Body", "replace": "Edited"}]
    for args in ({}, {"output": "outputs/memo-fixed.docx"}):
        result = call(ctx, "edit_docx", path="inputs/memo.docx", operations=op, **args)
        assert_nothing_leaked(result, ctx, before, host)


def test_edit_output_links(home, host):
    """Class 2: outputs/deck.edited.pptx (the default edit output) → a host file, and
    outputs/sub → a host folder: edit_pptx with the default and with output='outputs/sub/deck.pptx'
    leaves the host file and folder unchanged."""
    victim = host / "victim.pptx"
    victim.write_bytes(b"host file, must stay")
    (home / "outputs" / "deck.edited.pptx").symlink_to(victim)
    (home / "outputs" / "sub").symlink_to(host)
    before = snapshot(host)
    ctx = make_ctx(home)
    op = [{"op": "set_notes", "slide": 1, "text": "edited"}]
    for args in ({}, {"output": "outputs/sub/deck.pptx"}):
        result = call(ctx, "edit_pptx", path="inputs/deck.pptx", operations=op, **args)
        assert_nothing_leaked(result, ctx, before, host)


@pytest.mark.parametrize("level", LEVELS)
def test_run_python_listing_ignores_planted_links(home, host, level):
    """Class 2: links run_python plants inside outputs/ (outputs/sub → host folder, outputs/leak.png →
    host image) are neither shown as new images nor listed with the host's files."""
    before = snapshot(host)
    ctx = make_ctx(home, level)
    plant = (
        "import os\n"
        f"os.symlink({str(host)!r}, 'outputs/sub')\n"
        f"os.symlink({str(host / 'secret.png')!r}, 'outputs/leak.png')\n"
        f"os.symlink({str(host / 'secret.txt')!r}, 'outputs/leak.txt')\n"
        "open('outputs/own.txt', 'w').write('mine')\n"
    )
    for code in (plant, "open('outputs/own2.txt', 'w').write('mine too')"):
        result = call(ctx, "run_python", code=code)
        assert_nothing_leaked(result, ctx, before, host)
        assert "secret.png" not in result.text
    assert "own2.txt" in result.text  # the listing itself still works


def test_export_copies_regular_files_only(home, host, tmp_path):
    """Class 2: export_outputs copies the run's own files and nothing a link inside outputs/ points at."""
    (home / "outputs" / "own.txt").write_text("mine")
    (home / "outputs" / "sub").symlink_to(host)
    (home / "outputs" / "leak.txt").symlink_to(host / "secret.txt")
    copied = export_outputs(home, tmp_path / "exported")
    assert [p.name for p in copied] == ["own.txt"]


@NEED_BWRAP
def test_agent_run_out_copies_no_host_file(tmp_path, host):
    """Class 2, CLI: `agent run ... --out DIR` after the model's code swapped outputs/ for a link to a
    host folder copies no host file into DIR."""
    cassette = tmp_path / "swap.cassette.jsonl"
    task = "tidy up the outputs folder"
    reply = ModelReply(
        [
            ToolCall("c1", "run_python", {"code": SWAP_OUTPUTS.format(target=str(host))}),
            ToolCall("c2", "final_answer", {"answer": "done"}),
        ],
        Usage(),
        "tool_calls",
    )
    recorder = RecordingModel(ScriptedModel([reply]), cassette, source="hand-written", note="trust-boundary attack")
    Agent(recorder, runs_dir=tmp_path / "recording-runs", settings=ToolSettings(isolation="bwrap")).run(task)
    dest = tmp_path / "out"
    proc = agent_cli(
        "run",
        task,
        "--model",
        f"replay:{cassette}",
        "--sandbox",
        "bwrap",
        "--out",
        str(dest),
        "--runs-dir",
        str(tmp_path / "runs"),
        "-q",
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    copied = sorted(p.name for p in dest.rglob("*")) if dest.exists() else []
    assert "secret.txt" not in copied and "secret.png" not in copied, f"--out copied host files: {copied}"


@pytest.mark.parametrize("level", LEVELS)
def test_fifos_do_not_hang_tools(home, tmp_path, level):
    """Class 2: FIFOs run_python plants at outputs/x.png and at document paths (outputs/doc.pdf,
    outputs/doc.docx, the render scratch page) make no tool block: every call returns in bounded time."""
    plant = (
        "import os\n"
        "os.mkfifo('outputs/x.png')\nos.mkfifo('outputs/doc.pdf')\nos.mkfifo('outputs/doc.docx')\n"
        "os.makedirs('tmp/renders/report', exist_ok=True)\nos.mkfifo('tmp/renders/report/page-001.png')\n"
        "print('planted')\n"
    )
    calls = [
        ("run_python", {"code": plant}),
        ("run_python", {"code": "print('next')"}),
        ("render_document", {"path": "outputs/doc.pdf"}),
        ("inspect_document", {"path": "outputs/doc.docx"}),
        ("read_text", {"path": "outputs/doc.pdf"}),
        ("check_document", {"path": "outputs/doc.docx"}),
        ("edit_pdf", {"path": "outputs/doc.pdf", "operations": [{"op": "rotate", "pages": "all", "degrees": 90}]}),
        ("render_document", {"path": "inputs/report.pdf"}),
    ]
    run = host_tools(home, calls, level, timeout=90, env={"AGENT_CACHE_DIR": str(tmp_path / "host-cache")})
    assert not run.timed_out, f"a tool blocked on a FIFO: {run.describe()}"
    assert run.survived and len(run.results) == len(calls), run.describe()
    slow = [(r["tool"], r["seconds"]) for r in run.results if r["seconds"] > 20]
    assert not slow, slow
    assert "planted" in run.results[0]["text"] and "next" in run.results[1]["text"]
    assert not run.results[-1]["is_error"], run.results[-1]["text"]


@pytest.mark.parametrize("level", LEVELS)
def test_skills_link_shows_no_host_file(home, host, level):
    """Class 2: run_python replaces a guide (skills/vision/skill.md → a host file), then skills/
    itself (→ a host folder with a guide of its own); list_skills/read_skill never show host content."""
    (host / "evil").mkdir()
    (host / "evil" / "skill.md").write_text(f"---\nname: evil\ndescription: {SECRET}\n---\n{SECRET}\n")
    swap_guide = (
        "import os\n"
        "try:\n"
        f"    os.unlink('skills/vision/skill.md'); os.symlink({str(host / 'secret.txt')!r}, 'skills/vision/skill.md')\n"
        "    print('guide swapped')\n"
        "except OSError as exc:\n    print('guide refused', exc)\n"
    )
    swap_folder = (
        "import os\n"
        "try:\n"
        f"    os.rename('skills', 'tmp/old-skills'); os.symlink({str(host)!r}, 'skills')\n"
        "    print('skills swapped')\n"
        "except OSError as exc:\n    print('skills refused', exc)\n"
    )
    ctx = make_ctx(home, level)
    checks = {
        swap_guide: [("read_skill", {"name": "vision"}), ("list_skills", {})],
        swap_folder: [("read_skill", {"name": "evil"}), ("list_skills", {})],
    }
    for code, reads in checks.items():
        print(call(ctx, "run_python", code=code).text)
        for name, args in reads:
            result = call(ctx, name, **args)
            assert SECRET not in result.text, f"{name}{args} showed a host file: {result.text[:200]}"
