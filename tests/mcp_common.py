"""`agent mcp` as a real subprocess, driven by the MCP SDK's own client (tests/test_mcp.py and
tests/test_escape_mcp.py). The client runs on an event loop in a thread (an anyio blocking
portal), so a test calls tools with plain function calls."""

from __future__ import annotations

import base64
import contextlib
import io
import sys
import uuid
from pathlib import Path
from typing import Any, Iterator

import anyio.from_thread
from mcp import ClientSession, StdioServerParameters, stdio_client
from PIL import Image

SECRET = "sk-mcp-secret-" + uuid.uuid4().hex[:10]


class McpClient:
    """A connected client session; every method blocks until the server answers."""

    def __init__(self, portal, session: ClientSession, stderr: Path):
        self.portal, self.session, self.stderr = portal, session, stderr

    def call(self, name: str, args: dict[str, Any] | None = None):
        return self.portal.call(self.session.call_tool, name, args or {})

    def list_tools(self):
        return self.portal.call(self.session.list_tools)

    def list_resources(self):
        return self.portal.call(self.session.list_resources)

    def read_resource(self, uri: str):
        return self.portal.call(self.session.read_resource, uri)


@contextlib.asynccontextmanager
async def _connect(params: StdioServerParameters, errlog):
    async with stdio_client(params, errlog=errlog) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session


@contextlib.contextmanager
def mcp_server(root: Path, runs: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[McpClient]:
    """`python -m agent.cli mcp --root ROOT --runs-dir RUNS ARGS…` started in ROOT, with an API key
    in its environment (SECRET), connected over stdio; closed (stdin shut, as clients do) on exit."""
    stderr = runs.parent / f"mcp-stderr-{uuid.uuid4().hex[:6]}.log"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "agent.cli", "mcp", "--root", str(root), "--runs-dir", str(runs), *args],
        cwd=str(root),
        env={"GEMINI_API_KEY": SECRET, "GOOGLE_API_KEY": SECRET, **(env or {})},
    )
    with open(stderr, "w") as errlog, anyio.from_thread.start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(_connect(params, errlog)) as session:
            yield McpClient(portal, session, stderr)


def text_of(result) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


def images_of(result) -> list[Image.Image]:
    """The result's image content, decoded (each must be a real PNG or JPEG)."""
    out = []
    for c in result.content:
        if c.type == "image":
            assert c.mime_type in ("image/png", "image/jpeg"), c.mime_type
            img = Image.open(io.BytesIO(base64.b64decode(c.data)))
            assert img.format == {"image/png": "PNG", "image/jpeg": "JPEG"}[c.mime_type]
            img.load()
            out.append(img)
    return out


def run_dirs(runs: Path) -> list[Path]:
    return sorted(p for p in runs.iterdir() if p.is_dir()) if runs.exists() else []
