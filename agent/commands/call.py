"""`agent call TOOL`: run one tool without a model, on a fresh run record."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from agent.commands import add_sandbox_option

if TYPE_CHECKING:
    from agent.workspace import Workspace


def add_parser(sub) -> None:
    p = sub.add_parser(
        "call",
        help="run one tool directly, no model: agent call read_gauge --image dial.jpg",
        description="Run one tool without a model, on a fresh run directory laid out as `agent run` lays one out. "
        "Images given with --image become img1, img2, … in order; --file documents are copied into the home's "
        "inputs/. The tool's text goes to stdout (with --json: one object {text, data, images, is_error}); the "
        "images it made are saved in the run directory. Exit status: 0 done, 1 the tool returned an error, "
        "2 bad usage (unknown tool, bad JSON, missing file). See `agent tools TOOL` for a tool's arguments.",
        epilog="examples: agent call read_gauge --image dial.jpg --json\n"
        '          agent call zoom --image photo.jpg --args \'{"x_min": 400, "y_min": 300, "x_max": 600, "y_max": 500}\'',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("tool", metavar="TOOL", help="the tool's name (`agent tools` lists them)")
    p.add_argument(
        "--image", action="append", default=[], metavar="FILE", help="an input image, img1 first (repeatable)"
    )
    p.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="FILE",
        help="a document copied into the home's inputs/ (repeatable)",
    )
    p.add_argument(
        "--args",
        default="{}",
        metavar="JSON",
        help='the tool\'s arguments as a JSON object; "image" defaults to img1 when images are given',
    )
    p.add_argument("--json", action="store_true", help="print one JSON object: text, data, images (paths), is_error")
    p.add_argument("--runs-dir", default="runs", help="where run directories go (default ./runs)")
    p.add_argument("--run-dir", default=None, help="use exactly this run directory (must not exist)")
    add_sandbox_option(p, "run_python")
    p.set_defaults(func=call_command)


def call_command(args: argparse.Namespace) -> int:
    from agent.errors import UsageError
    from agent.files import collect_inputs, is_image
    from agent.workspace import Workspace
    from sandbox.jail import IsolationUnavailable, choose_isolation
    from tools import default_tools
    from tools.registry import Toolbox, ToolSettings

    toolbox = Toolbox(default_tools())
    if args.tool not in toolbox:
        raise UsageError(f"unknown tool {args.tool!r}; run `agent tools` for the list")
    try:
        call_args = json.loads(args.args)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--args is not valid JSON: {exc}") from None
    if not isinstance(call_args, dict):
        raise UsageError(f"--args must be a JSON object, got {type(call_args).__name__}")
    for name in args.image:
        if not is_image(Path(name)):
            raise UsageError(f"--image {name}: not an image file name (use --file for documents)")
    inputs = collect_inputs("", [*args.image, *args.file])
    image_paths = {(Path.cwd() / Path(name).expanduser()).resolve() for name in args.image}
    try:
        isolation = choose_isolation(args.sandbox)
    except IsolationUnavailable as exc:
        raise UsageError(str(exc)) from None
    task = f"agent call {args.tool}"
    try:
        work = Workspace.create(
            Path(args.runs_dir),
            task,
            inputs,
            ToolSettings(isolation=isolation),
            run_dir=Path(args.run_dir) if args.run_dir else None,
        )
    except FileExistsError:
        raise UsageError(f"run directory already exists: {args.run_dir}") from None
    registered = [rec for _, _, rec in work.add_input_images(only=image_paths) if rec is not None]
    if registered and "image" in toolbox.get(args.tool).args_model.model_fields and "image" not in call_args:
        call_args["image"] = registered[0].id
    work.write_task(task=task, tool=args.tool, args=call_args)
    started = time.monotonic()
    out = toolbox.call(args.tool, call_args, work.ctx)
    seconds = round(time.monotonic() - started, 3)
    _record(work, args.tool, call_args, registered, out, seconds)
    paths = [str(work.images.path(i)) for i in out.image_ids]
    if args.json:
        print(
            json.dumps(
                {"text": out.text, "data": out.data, "images": paths, "is_error": out.is_error},
                ensure_ascii=False,
                default=str,
            )
        )
    else:
        print(out.text)
        for image_id, path in zip(out.image_ids, paths):
            print(f"agent: {image_id}: {path}", file=sys.stderr)
        print(f"agent: run {work.record.path} ({seconds:.2f}s)", file=sys.stderr)
    return 1 if out.is_error else 0


def _record(work: "Workspace", tool: str, call_args: dict, registered, out, seconds: float) -> None:
    """The call as a one-step run: transcript, answer.json and report.html, as `agent run` writes them."""
    from agent.transcript import Image, Message, Text, ToolCall, ToolResult

    inputs = [Text(f"agent call {tool}")]
    for rec in registered:
        inputs += [Text(f"[{rec.id}: {rec.width}x{rec.height} px, the file {rec.source}]"), Image(rec.id)]
    call = ToolCall("call_1", tool, call_args)
    for message in (
        Message("user", inputs),
        Message("model", [call]),
        Message("tool", [ToolResult(call.id, tool, out.text, list(out.image_ids), out.is_error)]),
    ):
        work.record.append_message(message)
    work.finish(
        {
            "answer": out.text,
            "evidence": list(out.image_ids),
            "status": "tool_error" if out.is_error else "done",
            "error": out.text if out.is_error else None,
            "steps": 1,
            "model": None,
            "seconds": seconds,
            "data": out.data,
        }
    )
