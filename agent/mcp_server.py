"""`agent mcp`: the tools as a Model Context Protocol server, over stdio or streamable HTTP.

Built on the official `mcp` SDK's low-level `Server`: our tools already carry JSON schemas
(tools/registry.py), which it takes as they are, where FastMCP would derive new ones from
Python signatures. Tools are listed and called; the skills guides are resources
(`skill://<name>`). Each client session is an `McpSession` (agent/mcp_session.py): its own run
record and sandboxed home, made at its first tool call and finished when the session ends.

Over stdio one process serves one client, so it has one session. Over HTTP each session the
SDK opens (the `Mcp-Session-Id` the client got at initialize) has its own; it ends when the
client closes it (HTTP DELETE) or the server stops. The 2026 per-request era has no sessions,
so over HTTP the server does not offer it (`server/discover` is refused) and clients use the
handshake instead.

Tool calls run in worker threads (the tools block: LibreOffice, the jail); one session runs its
calls one at a time. Nothing but the protocol goes to stdout in stdio mode: the SDK points fd 1
at stderr while it serves, and everything this module says goes to stderr.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any, Callable

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

from agent.context import ContextPolicy
from agent.errors import UsageError
from agent.mcp_session import McpSession, session_tools
from sandbox.home import HOME_TEMPLATE, parse_skill, read_skill, skill_index
from tools.registry import ToolSettings

RESOURCE_NOT_FOUND = -32002  # the MCP spec's code for resources/read of an unknown URI
SKILL_SCHEME = "skill://"
INSTRUCTIONS = (
    "Tools that make a vision model look closely at images and office documents. Start with add_file(path) "
    "for each file (paths relative to the folder the server was started on): an image becomes an id (img1, …) "
    "the image tools take; a document lands in inputs/ for render_document, inspect_document, check_document and "
    "the edit tools. Edited documents are written to outputs/, and each result says where the copy is saved. "
    "The skills guides (resources skill://<name>, or read_skill) describe the workflows."
)


class Sessions:
    """The open client sessions, by key (None over stdio; the Mcp-Session-Id over HTTP)."""

    def __init__(self, runs_dir: Path, root: Path, settings: ToolSettings, policy: ContextPolicy):
        self.runs_dir, self.root, self.settings, self.policy = runs_dir, root, settings, policy
        self.tools = session_tools(root)
        self._open: dict[str | None, McpSession] = {}
        self._lock = threading.Lock()

    def get(self, key: str | None, client: str) -> McpSession:
        with self._lock:
            session = self._open.get(key)
            if session is None:
                session = McpSession(self.runs_dir, self.root, self.settings, self.policy, client, self.tools)
                self._open[key] = session
                _say(f"session {key or 'stdio'}: run {session.run_dir}")
            return session

    def close(self, key: str | None, status: str = "session-ended", wait: float | None = None) -> None:
        with self._lock:
            session = self._open.pop(key, None)
        if session is not None:
            session.close(status, wait)
            _say(f"session {key or 'stdio'} ended ({session.calls} calls): {session.run_dir}/report.html")

    def close_all(self, status: str = "session-ended", wait: float | None = None) -> None:
        with self._lock:
            keys = list(self._open)
        for key in keys:
            self.close(key, status, wait)


def build_server(sessions: Sessions, session_key: Callable[[Any], str | None]) -> Server:
    """The protocol handlers. `session_key(ctx)` names the session a request belongs to; it
    raises LookupError when the request has none."""
    listed = [types.Tool(name=t.name, description=t.description, input_schema=t.schema()) for t in sessions.tools]

    async def list_tools(ctx, params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        try:
            key = session_key(ctx)
        except LookupError as exc:
            return _error(str(exc))
        try:
            session = await anyio.to_thread.run_sync(sessions.get, key, _client_name(ctx))
        except OSError as exc:
            return _error(f"error: could not start the session's run directory: {exc}")
        result = await anyio.to_thread.run_sync(session.call, params.name, params.arguments, abandon_on_cancel=True)
        content: list = [types.TextContent(text=result.text)]
        for _image_id, data, mime in result.images:
            content.append(types.ImageContent(data=base64.b64encode(data).decode("ascii"), mime_type=mime))
        return types.CallToolResult(content=content, is_error=result.is_error)

    async def list_resources(ctx, params) -> types.ListResourcesResult:
        return types.ListResourcesResult(
            resources=[
                types.Resource(uri=f"{SKILL_SCHEME}{name}", name=name, description=purpose, mime_type="text/markdown")
                for name, purpose in skill_index(HOME_TEMPLATE)
            ]
        )

    async def read_resource(ctx, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        uri = str(params.uri)
        try:
            if not uri.startswith(SKILL_SCHEME):
                raise KeyError(f"unknown resource {uri!r}; the resources are {SKILL_SCHEME}<name>")
            # the guides as shipped: a session's copy in its home is the jail's to change
            _meta, body = parse_skill(read_skill(HOME_TEMPLATE, uri.removeprefix(SKILL_SCHEME)))
        except KeyError as exc:
            raise MCPError(code=RESOURCE_NOT_FOUND, message=str(exc.args[0])) from None
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type="text/markdown", text=body)]
        )

    return Server(
        "lookclosely",
        version=_version(),
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
    )


def serve_stdio(sessions: Sessions) -> int:
    """Serve one client over stdin/stdout until it closes stdin (exit 0) or a signal (130)."""
    server = build_server(sessions, lambda ctx: None)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_end_on_signal, sessions)
            async with stdio_server() as (read_stream, write_stream):
                await server.run(read_stream, write_stream, server.create_initialization_options())
            tg.cancel_scope.cancel()

    anyio.run(main)
    sessions.close_all()
    return 0


async def _end_on_signal(sessions: Sessions) -> None:
    """SIGTERM or SIGINT: write the records, then exit at once. Stopping in order cannot be had:
    the transport's reader thread is blocked on stdin, which only the client can close. A client
    that stops a server waits a moment before it kills, so a call still running holds the record
    back for a second only; the jail's processes die with this one."""
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as received:
        async for _ in received:
            await anyio.to_thread.run_sync(sessions.close_all, "interrupted", 1.0)
            sys.stderr.flush()
            os._exit(130)


def serve_http(sessions: Sessions, host: str, port: int) -> int:
    """Serve streamable HTTP at http://HOST:PORT/mcp until interrupted."""
    import uvicorn

    def session_key(ctx) -> str:
        key = ctx.request.headers.get("mcp-session-id") if ctx.request is not None else None
        if not key:
            raise LookupError(
                "error: this server keeps a sandbox per session: connect with the initialize handshake, "
                "which gives the session its Mcp-Session-Id"
            )
        return key

    server = build_server(sessions, session_key)

    async def no_discover(ctx, params):
        raise MCPError(code=types.METHOD_NOT_FOUND, message="server/discover is not offered: use initialize")

    server.add_request_handler("server/discover", types.RequestParams, no_discover)
    # Sessions live until the client closes them or the server stops; the report is written then.
    # Results are plain JSON responses: an image result is often over the 1 MiB a client (the
    # SDK's own, by default) takes in one server-sent event, and no result needs a stream.
    app = server.streamable_http_app(host=host, session_idle_timeout=None, json_response=True)

    async def closing_sessions(scope, receive, send) -> None:
        await app(scope, receive, send)
        if scope["type"] == "http" and scope["method"] == "DELETE":
            key = dict(scope["headers"]).get(b"mcp-session-id")
            if key:
                await anyio.to_thread.run_sync(sessions.close, key.decode("latin-1"))

    try:
        sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {os.strerror(exc.errno) if exc.errno else exc}") from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    _say(f"MCP server on http://{shown}:{bound}/mcp")
    config = uvicorn.Config(closing_sessions, log_level="warning", access_log=False, lifespan="on")
    # uvicorn stops gracefully on SIGINT/SIGTERM and then raises the signal again for the handler
    # it found: ours turns SIGTERM into the same interruption as Ctrl-C, so the records are written.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        anyio.run(lambda: uvicorn.Server(config).serve(sockets=[sock]))
    except KeyboardInterrupt:
        return 130
    finally:
        sessions.close_all()
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _error(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)


def _client_name(ctx) -> str:
    params = ctx.session.client_params
    info = params.client_info if params is not None else None
    return f"{info.name} {info.version}".strip() if info is not None else "an MCP client"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lookclosely")
    except PackageNotFoundError:
        return ""


def _say(line: str) -> None:
    print(f"agent: {line}", file=sys.stderr, flush=True)
