"""run_python and the skills tools as the model uses them; `agent sandbox`; the share/ scripts in the jail."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from sandbox.home import create_home
from sandbox.jail import choose_isolation
from tools.code import TOOLS as CODE_TOOLS
from tools.images import ImageStore
from tools.registry import Toolbox, ToolContext, ToolSettings
from tools.skills import TOOLS as SKILL_TOOLS

PROJECT = Path(__file__).resolve().parents[1]
DECK = PROJECT / "examples" / "deck" / "deck.pptx"
HAS_BWRAP = shutil.which("bwrap") is not None
LEVELS = [
    pytest.param("bwrap", marks=pytest.mark.skipif(not HAS_BWRAP and not os.environ.get("CI"), reason="no bwrap")),
    "process",
]
NEED_SOFFICE = pytest.mark.skipif(
    shutil.which("soffice") is None and not os.environ.get("CI"), reason="LibreOffice is not installed"
)


@pytest.fixture
def ctx(tmp_path, request):
    home = tmp_path / "home"
    image = tmp_path / "photo.png"
    Image.new("RGB", (40, 30), "red").save(image)
    create_home(home, [image])
    level = getattr(request, "param", None) or choose_isolation(None)
    return ToolContext(
        images=ImageStore(tmp_path / "images"), home=home, settings=ToolSettings(isolation=level, python_timeout=20)
    )


def call(ctx, tool_name, **args):
    return Toolbox(CODE_TOOLS + SKILL_TOOLS).call(tool_name, args, ctx)


@pytest.mark.parametrize("ctx", LEVELS, indirect=True)
def test_images_written_to_outputs_come_back_as_ids(ctx):
    (ctx.home / "outputs" / "old.png").parent.mkdir(exist_ok=True)
    Image.new("RGB", (8, 8)).save(ctx.home / "outputs" / "old.png")
    Image.new("RGB", (8, 8)).save(ctx.home / "outputs" / "untouched.png")
    code = (
        "from PIL import Image\nimport cv2, numpy as np\n"
        "img = cv2.imread('inputs/photo.png')\n"
        "cv2.imwrite('outputs/gray.png', cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))\n"
        "Image.new('RGB', (16, 12), 'blue').save('outputs/old.png')\n"
        "open('outputs/notes.csv', 'w').write('a,b\\n1,2\\n')\n"
        "print('mean', int(img[..., 2].mean()))"
    )
    result = call(ctx, "run_python", code=code)
    assert not result.is_error, result.text
    assert "mean 255" in result.text
    assert len(result.image_ids) == 2  # gray.png (new) and old.png (modified); untouched.png is not news
    records = [ctx.images.record(i) for i in result.image_ids]
    assert sorted(r.params["file"] for r in records) == ["outputs/gray.png", "outputs/old.png"]
    assert all(r.op == "run_python" and r.parent is None for r in records)
    assert {(r.width, r.height) for r in records} == {(40, 30), (16, 12)}
    assert "outputs/notes.csv (8 bytes)" in result.text
    assert f"{ctx.settings.isolation} isolation" in result.text


def test_errors_show_the_models_own_code_and_the_run_goes_on(ctx):
    result = call(ctx, "run_python", code="x = 1\ny = x / 0\n")
    assert result.is_error
    assert "exited with status 1" in result.text
    assert (
        'File "<run_python>", line 2' in result.text
        and "y = x / 0" in result.text
        and "ZeroDivisionError" in result.text
    )
    assert "_cfg" not in result.text  # the launcher stays out of the model's traceback
    again = call(ctx, "run_python", code="print('next call works')")
    assert not again.is_error and "next call works" in again.text


def test_long_output_is_truncated_with_a_note(ctx):
    result = call(ctx, "run_python", code="for i in range(200000):\n    print(f'line {i}')")
    assert not result.is_error
    assert "line 0\n" in result.text and "line 199999" in result.text
    assert "bytes of output left out" in result.text and len(result.text) < 30_000


def test_fifo_and_symlink_in_outputs_are_never_opened(ctx, tmp_path):
    outside = tmp_path / "outside.png"
    Image.new("RGB", (5, 5)).save(outside)
    code = (
        f"import os\nos.mkfifo('outputs/trap.png')\nos.symlink({str(outside)!r}, 'outputs/link.png')\n"
        "open('outputs/ok.txt', 'w').write('fine')"
    )
    result = call(ctx, "run_python", code=code)
    assert not result.is_error, result.text
    assert result.image_ids == [] and "outputs/ok.txt" in result.text and "trap" not in result.text


def test_a_broken_image_is_listed_not_shown(ctx):
    result = call(ctx, "run_python", code="open('outputs/broken.png', 'wb').write(b'not a png')")
    assert not result.is_error and result.image_ids == []
    assert "outputs/broken.png (not shown" in result.text


def test_process_level_says_it_is_weaker(ctx):
    ctx.settings = ToolSettings(isolation="process", python_timeout=20)
    result = call(ctx, "run_python", code="print(1)")
    assert "warning: process isolation" in result.text and "does not stop" in result.text
    if HAS_BWRAP:
        ctx.settings = ToolSettings(isolation="bwrap", python_timeout=20)
        assert "warning" not in call(ctx, "run_python", code="print(1)").text


def test_skills_tools(ctx):
    listing = call(ctx, "list_skills")
    assert "5 skills guides" in listing.text and "- slides:" in listing.text
    guide = call(ctx, "read_skill", name="slides")
    assert not guide.is_error and guide.text.startswith("skills/slides/skill.md:") and "slides_test.py" in guide.text
    missing = call(ctx, "read_skill", name="../../etc/passwd")
    assert missing.is_error and "available: docs, pdfs, slides, spreadsheets, vision" in missing.text


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_sandbox_init(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    home = tmp_path / "made"
    done = run_cli("sandbox", "init", str(home), str(notes), str(notes))
    assert done.returncode == 0, done.stderr
    assert "inputs/notes.txt" in done.stdout and "inputs/notes-2.txt" in done.stdout
    assert (home / "skills" / "vision" / "skill.md").is_file() and (home / "outputs").is_dir()
    again = run_cli("sandbox", "init", str(home))
    assert again.returncode == 2 and "already exists" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    missing = run_cli("sandbox", "init", str(tmp_path / "other"), str(tmp_path / "nope.txt"))
    assert missing.returncode == 2 and "not found" in missing.stderr and not (tmp_path / "other").exists()


def test_sandbox_check_reports_levels_and_gaps():
    done = run_cli("sandbox", "check", "--json")
    assert done.returncode == 0
    report = json.loads(done.stdout)
    assert report["default"] == ("bwrap" if HAS_BWRAP else "process")
    assert report["levels"]["bwrap"]["does_not_stop"] == []
    gaps = {a["id"] for a in report["levels"]["process"]["does_not_stop"]}
    assert {"double_fork", "localhost", "read_user_home", "write_outside"} <= gaps
    text = run_cli("sandbox", "check").stdout
    assert "does NOT stop" in text and "daemonise" in text


def test_without_bwrap_the_default_is_process_and_asking_for_bwrap_is_exit_2(tmp_path):
    no_bwrap = {"PATH": str(tmp_path)}  # an empty PATH: bwrap cannot be found
    check = run_cli("sandbox", "check", "--json", env=no_bwrap)
    report = json.loads(check.stdout)
    assert report["default"] == "process" and not report["levels"]["bwrap"]["available"]
    assert "apt-get install -y bubblewrap" in report["levels"]["bwrap"]["reason"]
    probe = subprocess.run(
        [sys.executable, "-c", "from sandbox.jail import choose_isolation as c; print(c(None)); c('bwrap')"],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        env={**os.environ, **no_bwrap},
    )
    assert probe.stdout.strip() == "process"
    assert (
        "IsolationUnavailable: --sandbox bwrap: bubblewrap is not installed; install it with: sudo apt-get install -y bubblewrap"
        in probe.stderr
    )


@NEED_SOFFICE
def test_share_scripts_in_the_jail(tmp_path):
    home = tmp_path / "home"
    create_home(home, [DECK])
    ctx = ToolContext(
        images=ImageStore(tmp_path / "images"),
        home=home,
        settings=ToolSettings(isolation=choose_isolation(None), python_timeout=240),
    )
    code = (
        "import subprocess, sys\n"
        "def run(*cmd):\n"
        "    p = subprocess.run([sys.executable, *cmd], capture_output=True, text=True)\n"
        "    print(cmd[0], 'exit', p.returncode)\n"
        "    print(p.stdout, p.stderr)\n"
        "run('share/slides/render_slides.py', 'inputs/deck.pptx', '--out', 'outputs/slides', '--width', '800', '--height', '450')\n"
        "open('outputs/slides/zz-broken.png', 'wb').write(b'junk')\n"
        "run('share/slides/create_montage.py', 'outputs/slides', '--out', 'outputs/montage.png', '--columns', '3', '--labels', 'name')\n"
        "run('share/slides/slides_test.py', 'inputs/deck.pptx')\n"
        "run('share/docs/render_docx.py', 'inputs/deck.pptx', '--out', 'outputs/pages', '--dpi', '30', '--pages', '1-2')\n"
        "run('share/slides/render_slides.py', 'inputs/missing.pptx')\n"
    )
    result = call(ctx, "run_python", code=code)
    text = result.text
    assert "render_slides.py exit 0" in text and "create_montage.py exit 0" in text and "render_docx.py exit 0" in text
    slides = sorted((home / "outputs" / "slides").glob("slide-*.png"))
    assert len(slides) == 4
    for png in slides:
        w, h = Image.open(png).size
        assert w <= 800 and h <= 450 and (w == 800 or h == 450)  # fitted into the box
    assert not (home / "outputs" / "slides" / ".render").exists()
    with Image.open(home / "outputs" / "montage.png") as sheet:
        assert sheet.width > 3 * 300  # three columns of 300 px cells
        # the broken file is drawn as a red "unreadable" tile rather than silently dropped
        colors = sheet.convert("RGB").getcolors(1 << 22)
        assert any(r > 180 and g < 60 and b < 60 for _, (r, g, b) in colors)
    assert "slides_test.py exit 1" in text and "slide 3:" in text and "text-overflow" in text
    assert sorted(p.name for p in (home / "outputs" / "pages").glob("page-*.png")) == ["page-001.png", "page-002.png"]
    assert "render_slides: error: no such file: inputs/missing.pptx" in text and text.count("exit 2") == 1
    assert "outputs/montage.png" in {ctx.images.record(i).params["file"] for i in result.image_ids}


def test_share_scripts_say_plainly_when_the_project_is_not_importable(tmp_path):
    # -I -S: no site-packages, no PYTHONPATH, so neither the project nor Pillow can be imported
    home = tmp_path / "home"
    create_home(home, [])
    for script in (
        "slides/render_slides.py",
        "slides/create_montage.py",
        "slides/slides_test.py",
        "docs/render_docx.py",
    ):
        done = subprocess.run(
            [sys.executable, "-I", "-S", str(home / "share" / script), "x"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={"PATH": os.environ["PATH"]},
        )
        assert done.returncode == 2, (script, done.stderr)
        assert "not available here" in done.stderr and len(done.stderr.strip().splitlines()) == 1
