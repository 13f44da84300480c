"""`agent mcp`: serve the tools to another agent over the Model Context Protocol."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agent.commands import add_sandbox_option
from agent.context import ContextPolicy
from agent.errors import UsageError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "mcp",
        help="serve the tools over the Model Context Protocol (stdio, or --http)",
        description="Serve the tools the model gets (zoom, enhance, annotate, measure, find_*, read_gauge, OCR, "
        "render/inspect/check/read_text, the edit tools, run_python in the jail) to an MCP client such as Claude "
        "Desktop, Claude Code or Cursor. Each client session gets its own run directory and sandboxed home; files "
        "come in with the add_file tool, by path, from --root only. Over stdio (the default) stdout carries the "
        "protocol and nothing else; messages go to stderr.",
        epilog="examples: agent mcp --root ~/work --runs-dir ~/work/runs\n"
        "          agent mcp --http --port 8765        # http://127.0.0.1:8765/mcp\n"
        "See docs/mcp.md for the client configuration.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    p.add_argument("--port", type=int, default=8765, help="HTTP port (default %(default)s; 0: any free port)")
    p.add_argument(
        "--host", default="127.0.0.1", help="HTTP address to listen on (default %(default)s: this machine only)"
    )
    p.add_argument(
        "--root",
        default=None,
        metavar="DIR",
        help="the folder files may be added from; nothing outside it (default: the working directory)",
    )
    p.add_argument("--runs-dir", default="runs", help="where session run directories go (default ./runs)")
    add_sandbox_option(p, "run_python and the document worker")
    p.add_argument(
        "--keep-images",
        type=int,
        default=ContextPolicy.keep_recent,
        help="images of one result sent in full; the rest are named for view (default %(default)s)",
    )
    p.add_argument("--no-context-policy", action="store_true", help="send every image at full resolution")
    p.set_defaults(func=mcp_command)


def mcp_command(args: argparse.Namespace) -> int:
    from sandbox.jail import IsolationUnavailable, choose_isolation, weakness_note
    from tools.registry import ToolSettings

    root = Path(args.root).expanduser() if args.root else Path.cwd()
    if not root.is_dir():
        raise UsageError(f"--root {root}: not a folder")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: not a port number")
    if args.keep_images < 0:
        raise UsageError("--keep-images must be 0 or more")
    runs_dir = Path(args.runs_dir).expanduser()
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--runs-dir {runs_dir}: {exc.strerror or exc}") from None
    try:
        isolation = choose_isolation(args.sandbox)
    except IsolationUnavailable as exc:
        raise UsageError(str(exc)) from None

    from agent.mcp_server import Sessions, serve_http, serve_stdio  # the SDK is loaded only for this command

    policy = ContextPolicy(keep_recent=args.keep_images, enabled=not args.no_context_policy)
    sessions = Sessions(runs_dir.resolve(), root.resolve(), ToolSettings(isolation=isolation), policy)
    print(
        f"agent: mcp · files from {root.resolve()} · runs in {runs_dir.resolve()} · sandbox {isolation}",
        file=sys.stderr,
        flush=True,
    )
    weakness = weakness_note(isolation)
    if weakness:
        print(f"agent: warning: {weakness}", file=sys.stderr, flush=True)
    if args.http:
        return serve_http(sessions, args.host, args.port)
    return serve_stdio(sessions)
