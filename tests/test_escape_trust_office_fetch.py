"""Trust boundary, class 3: LibreOffice fetching what a document links to (issue 9).

LibreOffice converts documents for render/inspect/check. A document whose picture is linked
rather than embedded makes it fetch the link while loading: an http:// URL (SSRF from the agent's
machine, and a way out of the no-network jail for code that writes such a file) or a file:// path
(a host image drawn into a page the model sees).

Attack catalogue (every document generated here):
- DOCX, PPTX, XLSX drawings with relationship TargetMode="External" to http://127.0.0.1:PORT/… and
  to file:///…/host-secret.png; an ODT frame with xlink:href to both;
- an XLSX with =WEBSERVICE("http://127.0.0.1:PORT/ws"); an RTF and a DOCX with an INCLUDEPICTURE field;
- the same through render_document / inspect_document / check_document tools and through
  `agent render|inspect|check FILE`; and a linked DOCX written into outputs/ by run_python, then
  rendered by the model.
Property: the loopback server receives no request, and the host image's colour appears in no
rendered page.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.trust_common import (
    LEVELS,
    NEED_SOFFICE,
    SECRET_RGB,
    RecordingServer,
    agent_cli,
    b64,
    call,
    colour_pixels,
    formula_xlsx,
    includepicture_docx,
    includepicture_rtf,
    linked_image_docx,
    linked_image_odt,
    linked_image_pptx,
    linked_image_xlsx,
    make_ctx,
    make_home,
    png_bytes,
)

pytestmark = NEED_SOFFICE

BUILDERS = {"docx": linked_image_docx, "pptx": linked_image_pptx, "xlsx": linked_image_xlsx, "odt": linked_image_odt}
LEAK_PIXELS = 200  # a leaked 300x200 host image covers tens of thousands of pixels at any render size


@pytest.fixture(scope="module")
def server():
    srv = RecordingServer()
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("render-cache")  # LibreOffice profiles are reused across these tests


@pytest.fixture(autouse=True)
def cache_env(shared_cache, monkeypatch):
    monkeypatch.setenv("AGENT_CACHE_DIR", str(shared_cache))


@pytest.fixture
def host_image(tmp_path):
    """A host file outside any home, in a colour no render draws."""
    path = tmp_path / "host-side" / "host-secret.png"
    path.parent.mkdir()
    path.write_bytes(png_bytes((300, 200), SECRET_RGB))
    return path


def nonce() -> str:
    return uuid.uuid4().hex[:12]  # in each URL: no two documents share a cache entry, each hit names its test


def hits_for(server: RecordingServer, tag: str) -> list[str]:
    return [h for h in server.hits if tag in h]


def leaked_pixels(ctx, result) -> int:
    return max([colour_pixels(ctx.images.path(i)) for i in result.image_ids] or [0])


def attack_doc(folder: Path, kind: str, target: str, tag: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return BUILDERS[kind](folder / f"linked-{tag}.{kind}", target)


@pytest.mark.parametrize("kind", ["docx", "pptx", "xlsx", "odt"])
@pytest.mark.parametrize("scheme", ["http", "file"])
def test_linked_image_render_tool(tmp_path, server, host_image, kind, scheme):
    """Class 3: render_document on a DOCX/PPTX/XLSX/ODT whose picture is linked to a loopback URL or a
    host file: no request reaches the server and the host image is drawn into no page."""
    tag = nonce()
    target = server.url(f"{kind}.png?case={tag}") if scheme == "http" else host_image.as_uri()
    doc = attack_doc(tmp_path / "user-files", kind, target, tag)
    ctx = make_ctx(make_home(tmp_path, doc))
    result = call(ctx, "render_document", path=f"inputs/{doc.name}")
    assert hits_for(server, tag) == [], f"LibreOffice fetched {hits_for(server, tag)} while rendering"
    assert leaked_pixels(ctx, result) < LEAK_PIXELS, "the host image was drawn into the rendered page"


@pytest.mark.parametrize("tool", ["inspect_document", "check_document"])
@pytest.mark.parametrize("kind, scheme", [("odt", "http"), ("pptx", "file")])
def test_linked_image_inspect_and_check_tools(tmp_path, server, host_image, tool, kind, scheme):
    """Class 3: inspect_document (which converts ODF through LibreOffice) and check_document (which
    renders) on linked-image documents: no request, no host pixels in the annotated pages."""
    tag = nonce()
    target = server.url(f"{kind}.png?case={tag}") if scheme == "http" else host_image.as_uri()
    doc = attack_doc(tmp_path / "user-files", kind, target, tag)
    ctx = make_ctx(make_home(tmp_path, doc))
    result = call(ctx, tool, path=f"inputs/{doc.name}")
    assert hits_for(server, tag) == [], f"{tool} made LibreOffice fetch {hits_for(server, tag)}"
    assert leaked_pixels(ctx, result) < LEAK_PIXELS, f"{tool} showed the host image"


@pytest.mark.parametrize("field", ["xlsx-webservice", "rtf-includepicture", "docx-includepicture"])
def test_fetching_fields(tmp_path, server, field):
    """Class 3: fields that fetch when evaluated (=WEBSERVICE in a recalculated workbook, INCLUDEPICTURE
    in RTF and DOCX) through render_document, inspect_document and check_document: no request."""
    tag = nonce()
    folder = tmp_path / "user-files"
    folder.mkdir()
    if field == "xlsx-webservice":
        doc = formula_xlsx(folder / "ws.xlsx", f'=WEBSERVICE("{server.url("ws?case=" + tag)}")')
    elif field == "rtf-includepicture":
        doc = includepicture_rtf(folder / "field.rtf", server.url(f"rtf.png?case={tag}"))
    else:
        doc = includepicture_docx(folder / "field.docx", server.url(f"docx.png?case={tag}"))
    ctx = make_ctx(make_home(tmp_path, doc))
    for tool in ("render_document", "inspect_document", "check_document"):
        call(ctx, tool, path=f"inputs/{doc.name}")
        assert hits_for(server, tag) == [], f"{tool} fetched {hits_for(server, tag)}"


@pytest.mark.parametrize("command", ["render", "inspect", "check"])
def test_cli_linked_image(tmp_path, server, command):
    """Class 3, CLI: `agent render|inspect|check FILE` on an ODT whose picture is linked to a loopback
    URL: the server gets no request."""
    tag = nonce()
    doc = attack_doc(tmp_path / "docs", "odt", server.url(f"odt.png?case={tag}"), tag)
    args = [command, str(doc)] + (["--out", str(tmp_path / "pages")] if command == "render" else [])
    proc = agent_cli(*args, cwd=tmp_path, env={"AGENT_CACHE_DIR": str(tmp_path / "cli-cache")}, timeout=150)
    assert proc.returncode in (0, 1, 2), proc.stderr
    assert hits_for(server, tag) == [], f"`agent {command}` made LibreOffice fetch {hits_for(server, tag)}"


def test_cli_render_draws_no_host_file(tmp_path, host_image):
    """Class 3, CLI: `agent render` of a DOCX and a PPTX whose pictures link to a host file: the
    host image's colour is in none of the PNGs written."""
    for kind in ("docx", "pptx"):
        doc = attack_doc(tmp_path / "docs", kind, host_image.as_uri(), nonce())
        out = tmp_path / f"pages-{kind}"
        proc = agent_cli(
            "render",
            str(doc),
            "--out",
            str(out),
            cwd=tmp_path,
            env={"AGENT_CACHE_DIR": str(tmp_path / "cli-cache")},
            timeout=150,
        )
        assert proc.returncode in (0, 2), proc.stderr
        leaks = {p.name: colour_pixels(p) for p in out.glob("*.png")} if out.exists() else {}
        assert all(n < LEAK_PIXELS for n in leaks.values()), f"{kind}: host image drawn into {leaks}"


@pytest.mark.parametrize("level", LEVELS)
def test_jail_writes_linked_document(tmp_path, server, level):
    """Class 3, a way out of the no-network jail: run_python writes a DOCX whose picture links to a
    loopback URL into outputs/, the model renders it: the server still gets no request."""
    tag = nonce()
    doc = linked_image_docx(tmp_path / "made.docx", server.url(f"jail.png?case={tag}"))
    ctx = make_ctx(make_home(tmp_path), level)
    code = f"import base64\nopen('outputs/made.docx', 'wb').write(base64.b64decode({b64(doc.read_bytes())!r}))\nprint('written')"
    written = call(ctx, "run_python", code=code)
    assert "written" in written.text, written.text
    call(ctx, "render_document", path="outputs/made.docx")
    assert hits_for(server, tag) == [], f"a document written by jailed code made the host fetch {hits_for(server, tag)}"
