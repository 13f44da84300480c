"""Shared pieces of the trust-boundary attacks (tests/test_escape_trust_*.py, issue 9).

Everything hostile is generated here, at test time: linked-image office files, PDF bombs, huge
workbooks. The "host" an attack aims at is always a temporary folder, "the network" a loopback
server, and every process a test starts runs under a timeout (and, where an attack may grow it,
a soft address-space limit), so an attack that succeeds harms nothing.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import io
import json
import os
import resource
import shutil
import stat
import subprocess
import sys
import threading
import time
import uuid
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image

from sandbox.home import create_home
from tools import default_tools
from tools.images import ImageStore
from tools.registry import Toolbox, ToolContext

PROJECT = Path(__file__).resolve().parents[1]
SECRET = "sk-trust-secret-" + uuid.uuid4().hex[:10]
AS_ROOT = os.geteuid() == 0
NEED_BWRAP = pytest.mark.skipif(
    shutil.which("bwrap") is None and not os.environ.get("CI"), reason="bubblewrap is not installed (required in CI)"
)
NEED_SOFFICE = pytest.mark.skipif(
    shutil.which("soffice") is None and not os.environ.get("CI"),
    reason="LibreOffice (soffice) is not installed (required in CI)",
)
LEVELS = [pytest.param("bwrap", marks=NEED_BWRAP), "process"]
GIB = 1 << 30
MIB = 1 << 20
HOST_MEMORY = 3 * GIB  # soft address-space limit of an "agent process" that runs a hostile document
SECRET_RGB = (13, 222, 177)  # a colour no render of ours draws: a host image leaking into a page shows as this


# -- homes and tool calls ------------------------------------------------------------------------------


def make_home(tmp_path: Path, *files: Path) -> Path:
    home = tmp_path / "run" / "home"
    create_home(home, list(files))
    return home


def base_settings(level: str, **settings) -> dict:
    return {
        "isolation": level,
        "python_timeout": 20,
        "python_memory_bytes": GIB,
        "python_home_bytes": 512 * MIB,
        **settings,
    }


def make_ctx(home: Path, level: str = "process", **settings) -> ToolContext:
    return ToolContext(images=ImageStore(home.parent / "images"), home=home, settings=base_settings(level, **settings))


_TOOLBOX: Toolbox | None = None


def toolbox() -> Toolbox:
    global _TOOLBOX
    if _TOOLBOX is None:
        _TOOLBOX = Toolbox(default_tools())
    return _TOOLBOX


def call(ctx: ToolContext, tool_name: str, /, **args):
    """A tool call as the model makes it, in this (test) process."""
    return toolbox().call(tool_name, args, ctx)


HOST_SCRIPT = r"""
import json, os, resource, sys, time
spec = json.loads(sys.stdin.read())
if spec.get("memory"):
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    resource.setrlimit(resource.RLIMIT_AS, (spec["memory"], hard))  # soft only: the jail may still set its own
from pathlib import Path
from tools import default_tools
from tools.images import ImageStore
from tools.registry import ToolContext, Toolbox
home = Path(spec["home"])
ctx = ToolContext(images=ImageStore(Path(spec["images"])), home=home, settings=spec["settings"])
box = Toolbox(default_tools())
for name, args in spec["calls"]:
    started = time.monotonic()
    out = box.call(name, args, ctx)
    line = {"tool": name, "text": out.text, "is_error": out.is_error, "image_ids": out.image_ids,
            "images": [str(ctx.images.path(i)) for i in out.image_ids],
            "seconds": round(time.monotonic() - started, 3)}
    print("RESULT " + json.dumps(line), flush=True)
print("DONE " + json.dumps({"maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                            "modules": sorted(sys.modules)}), flush=True)
"""


class HostRun:
    """What a separate agent-like process did: its tool results in order, how it ended."""

    def __init__(self, proc_returncode: int | None, stdout: str, stderr: str, seconds: float, timed_out: bool):
        self.returncode = proc_returncode
        self.stderr = stderr
        self.seconds = seconds
        self.timed_out = timed_out
        self.results = [json.loads(line[7:]) for line in stdout.splitlines() if line.startswith("RESULT ")]
        done = [json.loads(line[5:]) for line in stdout.splitlines() if line.startswith("DONE ")]
        self.done = done[0] if done else None

    @property
    def survived(self) -> bool:
        return self.returncode == 0 and self.done is not None

    def describe(self) -> str:
        tail = (self.stderr.strip().splitlines() or ["(no stderr)"])[-1][:300]
        return (
            f"host exit {self.returncode}{' (timed out)' if self.timed_out else ''} after {self.seconds:.1f}s, "
            f"{len(self.results)} result(s); last stderr line: {tail}"
        )


def host_tools(
    home: Path,
    calls: list[tuple[str, dict]],
    level: str = "process",
    *,
    memory: int | None = None,
    env: dict | None = None,
    timeout: float = 180,
    **settings,
) -> HostRun:
    """Run tool calls in a fresh agent-like process whose environment holds the API key
    (so /proc/<pid>/environ of the agent has it), optionally under a soft address-space limit."""
    spec = {
        "home": str(home),
        "images": str(home.parent / "images"),
        "settings": base_settings(level, **settings),
        "calls": [list(c) for c in calls],
        "memory": memory,
    }
    full_env = {
        **os.environ,
        "GEMINI_API_KEY": SECRET,
        "GOOGLE_API_KEY": SECRET,
        "PYTHONPATH": str(PROJECT),
        **(env or {}),
    }
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", HOST_SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        cwd=PROJECT,
        start_new_session=True,
    )
    timed_out = False
    try:
        out, err = proc.communicate(json.dumps(spec), timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(proc.pid)
        out, err = proc.communicate()
    kill_group(proc.pid)  # nothing the host started outlives the test
    return HostRun(proc.returncode, out, err, time.monotonic() - started, timed_out)


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, 9)


def agent_cli(
    *args: str, cwd: Path, env: dict | None = None, memory: int | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    """`agent ARGS...` as a user runs it, optionally under a soft address-space limit; killed at `timeout`."""
    full_env = {**os.environ, "PYTHONPATH": str(PROJECT), "GEMINI_API_KEY": SECRET, **(env or {})}

    def limit():
        if memory:
            resource.setrlimit(resource.RLIMIT_AS, (memory, resource.getrlimit(resource.RLIMIT_AS)[1]))

    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", *args],
        cwd=cwd,
        env=full_env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=limit,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        out, err = proc.communicate()
        err += f"\n[killed by the test after {timeout:.0f}s]"
    kill_group(proc.pid)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def one_line_error(proc: subprocess.CompletedProcess) -> bool:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    return len(lines) == 1 and lines[0].startswith("agent: error:") and "Traceback" not in proc.stderr


# -- the "host": folders a successful attack would read or write ----------------------------------------


def make_host_dir(root: Path) -> Path:
    """A folder outside the home standing for the host's disk: a secret text and a secret image."""
    host = root / "host-dir"
    host.mkdir(parents=True)
    (host / "secret.txt").write_text(f"host secret {SECRET}\n")
    Image.new("RGB", (64, 48), SECRET_RGB).save(host / "secret.png")
    return host


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under `folder` (links not followed) with its kind and content: to prove nothing changed."""
    found: dict[str, tuple] = {}
    for parent, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs + files:
            path = os.path.join(parent, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, folder)
            if stat.S_ISLNK(st.st_mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                found[rel] = ("file", Path(path).read_bytes())
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = ("dir",)
            else:
                found[rel] = ("other", stat.S_IFMT(st.st_mode))
    return found


def setuid_root_files(folder: Path) -> list[str]:
    """Regular files under `folder` that are set-uid or set-gid and owned by root."""
    bad = []
    for parent, _dirs, files in os.walk(folder, followlinks=False):
        for name in files:
            path = os.path.join(parent, name)
            with contextlib.suppress(OSError):
                st = os.lstat(path)
                if stat.S_ISREG(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID) and st.st_uid == 0:
                    bad.append(os.path.relpath(path, folder))
    return bad


def defuse(folder: Path) -> None:
    """Clear set-uid/set-gid bits an attack may have left, so no such file stays on the disk."""
    for parent, _dirs, files in os.walk(folder, followlinks=False):
        for name in files:
            path = os.path.join(parent, name)
            with contextlib.suppress(OSError):
                st = os.lstat(path)
                if stat.S_ISREG(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
                    os.chmod(path, stat.S_IMODE(st.st_mode) & ~(stat.S_ISUID | stat.S_ISGID))


def colour_pixels(image_path: str | Path, rgb=SECRET_RGB, tolerance: int = 8) -> int:
    """How many pixels of the image are within `tolerance` of `rgb` on every channel."""
    import numpy as np

    with Image.open(image_path) as im:
        pixels = np.asarray(im.convert("RGB"), dtype=np.int16)
    close = np.abs(pixels - np.array(rgb, dtype=np.int16)) <= tolerance
    return int(close.all(axis=2).sum())


def png_bytes(size=(64, 48), rgb=SECRET_RGB) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, rgb).save(buf, "PNG")
    return buf.getvalue()


# -- "the network": a loopback server that records every request ---------------------------------------


class RecordingServer:
    """An HTTP server on 127.0.0.1 that answers every GET with a PNG in SECRET_RGB and records the path."""

    def __init__(self):
        hits = self.hits = []
        body = png_bytes((200, 150))

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_HEAD = do_GET
            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- hostile office files ---------------------------------------------------------------------------------


def _rewrite_zip(src: Path, dest: Path, transform, drop=lambda name: False, add: dict | None = None) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if drop(info.filename):
                continue
            zout.writestr(info.filename, transform(info.filename, zin.read(info)))
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    return dest


def _link_images(target_url: str, rels_dir: str, xml_prefix: str):
    """A transform making every image relationship under rels_dir External (pointing at
    `target_url`) and every blip that embedded it link to it instead."""
    import re

    def transform(name: str, data: bytes) -> bytes:
        if name.startswith(rels_dir) and name.endswith(".rels"):
            return re.sub(
                rb'(<Relationship [^>]*Type="[^"]*/image"[^>]*?)Target="[^"]*"',
                lambda m: m.group(1) + b'Target="' + target_url.encode() + b'" TargetMode="External"',
                data,
            )
        if name.startswith(xml_prefix) and name.endswith(".xml"):
            return data.replace(b"r:embed=", b"r:link=")
        return data

    return transform


def linked_image_docx(path: Path, url: str, text: str = "Linked picture below.") -> Path:
    """A DOCX whose only picture is linked (relationship TargetMode="External") to `url`, not embedded."""
    import docx
    from docx.shared import Inches

    document = docx.Document()
    document.add_paragraph(text)
    document.add_picture(io.BytesIO(png_bytes((120, 90), (255, 255, 255))), width=Inches(5))
    tmp = path.with_suffix(".embedded.docx")
    document.save(tmp)
    _rewrite_zip(
        tmp, path, _link_images(url, "word/_rels/", "word/document"), drop=lambda n: n.startswith("word/media/")
    )
    tmp.unlink()
    return path


def linked_image_pptx(path: Path, url: str) -> Path:
    """A PPTX whose slide picture is linked to `url`, not embedded."""
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[6])
    slide.shapes.add_picture(
        io.BytesIO(png_bytes((120, 90), (255, 255, 255))), Inches(1), Inches(1), Inches(8), Inches(5.5)
    )
    tmp = path.with_suffix(".embedded.pptx")
    prs.save(tmp)
    _rewrite_zip(
        tmp, path, _link_images(url, "ppt/slides/_rels/", "ppt/slides/slide"), drop=lambda n: n.startswith("ppt/media/")
    )
    tmp.unlink()
    return path


def linked_image_xlsx(path: Path, url: str, formula: str | None = None) -> Path:
    """An XLSX with a drawing whose picture is linked to `url`; optionally a formula in A1."""
    import openpyxl
    from openpyxl.drawing.image import Image as XlImage

    wb = openpyxl.Workbook()
    ws = wb.active
    ws["B2"] = "linked picture"
    if formula:
        ws["A1"] = formula
    picture = XlImage(io.BytesIO(png_bytes((300, 220), (255, 255, 255))))
    ws.add_image(picture, "B4")
    tmp = path.with_suffix(".embedded.xlsx")
    wb.save(tmp)
    _rewrite_zip(
        tmp,
        path,
        _link_images(url, "xl/drawings/_rels/", "xl/drawings/drawing"),
        drop=lambda n: n.startswith("xl/media/"),
    )
    tmp.unlink()
    return path


def formula_xlsx(path: Path, formula: str) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active["A1"] = formula
    wb.active["A2"] = "=LEN(A1)"
    wb.save(path)
    return path


ODF_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>
"""


def linked_image_odt(path: Path, url: str) -> Path:
    """An ODT whose frame shows an image by xlink:href to `url` (not in the package)."""
    content = f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" xmlns:xlink="http://www.w3.org/1999/xlink" office:version="1.2">
 <office:body><office:text>
  <text:p>Linked picture below.</text:p>
  <text:p><draw:frame draw:name="pic" text:anchor-type="as-char" svg:width="15cm" svg:height="11cm">
   <draw:image xlink:href="{url}" xlink:type="simple" xlink:show="embed" xlink:actuate="onLoad"/>
  </draw:frame></text:p>
 </office:text></office:body>
</office:document-content>
"""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        zf.writestr("META-INF/manifest.xml", ODF_MANIFEST, zipfile.ZIP_DEFLATED)
        zf.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return path


def includepicture_rtf(path: Path, url: str) -> Path:
    """An RTF whose INCLUDEPICTURE field names `url`."""
    path.write_text(
        "{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Arial;}}\\f0\\fs24 Picture field:\\par\n"
        '{\\field{\\*\\fldinst {INCLUDEPICTURE "' + url + '" \\\\d}}{\\fldrslt {}}}\\par\n}\n'
    )
    return path


def includepicture_docx(path: Path, url: str) -> Path:
    """A DOCX whose body holds an INCLUDEPICTURE field naming `url` (complex field, \\d: do not store)."""
    import docx

    document = docx.Document()
    document.add_paragraph("Picture field:")
    tmp = path.with_suffix(".plain.docx")
    document.save(tmp)
    field = (
        '<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        f'<w:r><w:instrText xml:space="preserve"> INCLUDEPICTURE "{url}" \\d </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>picture</w:t></w:r>'
        '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>'
    ).encode()

    def transform(name: str, data: bytes) -> bytes:
        if name == "word/document.xml":
            return data.replace(b"<w:sectPr", field + b"<w:sectPr", 1)
        return data

    _rewrite_zip(tmp, path, transform)
    tmp.unlink()
    return path


def simple_docx(path: Path, text: str = "An ordinary document.", paragraphs: int = 3) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Report", level=1)
    for i in range(paragraphs):
        document.add_paragraph(f"{text} Paragraph {i + 1}.")
    document.save(path)
    return path


def simple_pdf(path: Path, colour=(240, 240, 240), pages: int = 1, size_px=(200, 260)) -> Path:
    images = [Image.new("RGB", size_px, colour) for _ in range(pages)]
    images[0].save(path, "PDF", resolution=36, save_all=True, append_images=images[1:])
    return path


# -- PDFs that blow up a renderer ----------------------------------------------------------------------


def _pdf(objects: list[bytes], page_content_ref: int, resources: bytes, media=(0, 0, 200, 200)) -> bytes:
    """A PDF from numbered object bodies (objects[0] is object 3); 1 = catalog, 2 = pages, then a page."""
    page_no = 3 + len(objects)
    bodies = {1: b"<< /Type /Catalog /Pages 2 0 R >>", 2: b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % page_no}
    for i, body in enumerate(objects):
        bodies[3 + i] = body
    bodies[page_no] = b"<< /Type /Page /Parent 2 0 R /MediaBox [%d %d %d %d] /Resources %s /Contents %d 0 R >>" % (
        *media,
        resources,
        page_content_ref,
    )
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for n in sorted(bodies):
        offsets[n] = out.tell()
        out.write(b"%d 0 obj\n" % n + bodies[n] + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1))
    for n in sorted(bodies):
        out.write(b"%010d 00000 n \n" % offsets[n])
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(bodies) + 1, xref))
    return out.getvalue()


def _stream(data: bytes, extra: bytes = b"", compress: bool = False) -> bytes:
    if compress:
        data = zlib.compress(data, 9)
        extra += b" /Filter /FlateDecode"
    return b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def nested_xobject_pdf(path: Path, depth: int = 14, fanout: int = 12) -> Path:
    """A few-KB PDF of nested form XObjects: X0 fills a square, each Xi draws X(i-1) `fanout`
    times, the page draws X(depth-1): fanout**depth fills from a file of a few kilobytes."""
    objects: list[bytes] = []
    first = 3
    objects.append(_stream(b"0 0 1 1 re f", b" /Type /XObject /Subtype /Form /BBox [0 0 1 1]"))
    for level in range(1, depth):
        prev = first + level - 1
        ops = b"/X Do " * fanout
        objects.append(
            _stream(
                ops, b" /Type /XObject /Subtype /Form /BBox [0 0 8 8] /Resources << /XObject << /X %d 0 R >> >>" % prev
            )
        )
    top = first + depth - 1
    content_no = first + len(objects)
    objects.append(_stream(b"q 0.5 0 0 0.5 10 10 cm /X Do Q\n"))
    data = _pdf(objects, content_no, b"<< /XObject << /X %d 0 R >> >>" % top)
    path.write_bytes(data)
    return path


def flate_bomb_pdf(path: Path, inflated: int = 1_000_000_000) -> Path:
    """A PDF whose page content stream is ~1 MB of deflate that inflates to `inflated` bytes of
    drawing operators (written in pieces, never held whole)."""
    unit = b"0 0 1 1 re f\n"
    piece = unit * (MIB // len(unit))
    comp = zlib.compressobj(9)
    chunks = []
    done = 0
    while done < inflated:
        chunks.append(comp.compress(piece))
        done += len(piece)
    chunks.append(comp.flush())
    data = b"".join(chunks)
    stream = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"
    path.write_bytes(_pdf([stream], 3, b"<< >>"))
    return path


def many_cells_xlsx(path: Path, rows: int = 100_000, cols: int = 50) -> Path:
    """An XLSX with rows x cols numeric cells (5 M by default), the sheet XML streamed into the zip."""
    from openpyxl.utils import get_column_letter

    letters = [get_column_letter(c + 1) for c in range(cols)]
    parts = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            )
            for r in range(1, rows + 1):
                cells = "".join(f'<c r="{letters[c]}{r}"><v>{(r + c) % 10}</v></c>' for c in range(cols))
                sheet.write(f'<row r="{r}">{cells}</row>'.encode())
            sheet.write(b"</sheetData></worksheet>")
    return path


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def many_fonts_docx(path: Path, families: int = 5000) -> Path:
    """A DOCX whose runs name `families` distinct, uninstalled font families."""
    import docx

    document = docx.Document()
    document.add_paragraph("Fonts:")
    tmp = path.with_suffix(".plain.docx")
    document.save(tmp)
    runs = "".join(
        f'<w:r><w:rPr><w:rFonts w:ascii="Trust Family {n:05d}" w:hAnsi="Trust Family {n:05d}"/></w:rPr>'
        f'<w:t xml:space="preserve">f{n} </w:t></w:r>'
        for n in range(families)
    )

    def transform(name: str, data: bytes) -> bytes:
        if name == "word/document.xml":
            return data.replace(b"<w:sectPr", f"<w:p>{runs}</w:p>".encode() + b"<w:sectPr", 1)
        return data

    _rewrite_zip(tmp, path, transform)
    tmp.unlink()
    return path


def utf16_dtd_bomb_docx(path: Path, levels: int = 9) -> Path:
    """A DOCX whose word/document.xml is UTF-16 without a byte-order mark and declares a DTD with a
    "billion laughs" entity chain (10**levels copies of a word)."""
    import docx

    document = docx.Document()
    document.add_paragraph("placeholder")
    tmp = path.with_suffix(".plain.docx")
    document.save(tmp)
    names = [chr(ord("a") + i) for i in range(levels + 1)]
    entities = [f'<!ENTITY {names[0]} "lol lol lol lol lol lol lol lol lol lol ">']
    entities += [f'<!ENTITY {n} "{("&" + p + ";") * 10}">' for p, n in zip(names, names[1:])]
    ns = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    xml = (
        '<?xml version="1.0" encoding="UTF-16" standalone="yes"?>\n<!DOCTYPE w:document [\n'
        + "\n".join(entities)
        + f'\n]>\n<w:document xmlns:w="{ns}"><w:body><w:p><w:r><w:t>&{names[-1]};</w:t></w:r></w:p>'
        '<w:sectPr><w:pgSz w:w="12240" w:h="15840"/></w:sectPr></w:body></w:document>'
    )
    data = xml.encode("utf-16-le")  # no BOM
    _rewrite_zip(tmp, path, lambda name, old: data if name == "word/document.xml" else old)
    tmp.unlink()
    return path


def remove_tree(path: Path) -> None:
    """Remove a folder tree of any depth (deeper than PATH_MAX, where shutil.rmtree recurses past
    Python's limit), holding one descriptor at a time and never following a link."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    fd = os.open(path, flags)
    depth = 0
    while True:
        sub = None
        with os.scandir(fd) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    sub = entry.name
                    break
                os.unlink(entry.name, dir_fd=fd)
        if sub is not None:
            child = os.open(sub, flags, dir_fd=fd)
            os.close(fd)
            fd, depth = child, depth + 1
            continue
        if depth == 0:
            os.close(fd)
            break
        inode = os.fstat(fd).st_ino
        parent = os.open("..", flags, dir_fd=fd)
        os.close(fd)
        fd, depth = parent, depth - 1
        with os.scandir(fd) as entries:
            name = next(e.name for e in entries if e.inode() == inode)
        os.rmdir(name, dir_fd=fd)
    os.rmdir(path)
