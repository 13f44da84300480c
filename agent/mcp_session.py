"""One MCP client session: a run's Workspace driven by a client's tool calls instead of a model.

`agent run` has a model call the tools; `agent mcp` lets another agent call them. Each client
session gets what a run gets: its own record directory (task.json, transcript, images with
lineage, report at the end) and sandboxed home, the same tools with the same JSON schemas, the
same jail. What differs is how files come in: the client names them by path, and `add_file`
copies one from the allowed folder (the server's --root) into the home, registering an image
as the next id. Whatever the tools write under the home's outputs/ is copied, after each call,
into the run directory's own outputs/ (host-owned, outside the home; only regular files reached
without a link) and listed in the result with its path there, so the client can pick it up.

Nothing here speaks the protocol (agent/mcp_server.py does); `call` returns text and encoded
images, sized as the context policy would send them to a model.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from agent.context import ContextPolicy
from agent.files import DOCUMENT_EXTENSIONS, IMAGE_EXTENSIONS, RootFileError, copy_from_root, is_image
from agent.transcript import Message, Text, ToolCall, ToolResult
from agent.workspace import Workspace
from sandbox.confined import ConfinedDir, ConfinedPathError, QuotaExceeded
from sandbox.files import atomic_output
from sandbox.home import free_name
from tools import default_tools
from tools.images import ImageInputError, open_image_checked
from tools.registry import Tool, Toolbox, ToolContext, ToolError, ToolOutput, ToolSettings, tool

# The model's way to end a run; a client ends its session by disconnecting.
NOT_SERVED = {"final_answer"}


@dataclass
class CallResult:
    text: str
    images: list[tuple[str, bytes, str]] = field(default_factory=list)  # (image id, bytes, MIME type)
    is_error: bool = False


def add_file_tool(root: Path) -> Tool:
    """The tool that brings a user's file into the session: `add_file(path)`, `path` relative to
    `root` (or absolute inside it)."""
    root = Path(root)

    def add_file(
        ctx: ToolContext,
        path: Annotated[
            str,
            Field(
                description="The file, relative to the server's allowed folder (or absolute inside it), "
                "e.g. 'photos/gauge.jpg' or 'reports/deck.pptx'."
            ),
        ],
    ) -> ToolOutput:
        """Bring one of the user's files into this session, by its path under the folder the server was started on (nothing outside it): an image becomes the next image id (img1, img2, …) and is shown; a document (DOCX, PPTX, XLSX, ODF, legacy Office, PDF, CSV, TXT) is copied to inputs/ for the document tools. Call it first: the other tools work on image ids and on paths inside the session's home (inputs/, outputs/).

        The file is copied; the user's original is never written.
        """
        name = Path(path).name
        suffix = Path(name).suffix.lower()
        with tempfile.TemporaryDirectory(prefix="mcp-add-") as tmp:
            try:  # where the file is, first: a path outside the root is refused as such, whatever its name
                real = copy_from_root(root, path, Path(tmp) / "file")
            except RootFileError as exc:
                raise ToolError(str(exc)) from None
            if suffix not in IMAGE_EXTENSIONS | DOCUMENT_EXTENSIONS:
                kinds = ", ".join(sorted(IMAGE_EXTENSIONS | DOCUMENT_EXTENSIONS))
                raise ToolError(f"{path}: not a kind of file the tools take (one of {kinds})")
            copy = (Path(tmp) / "file").rename(Path(tmp) / f"file{suffix}")  # the image store goes by the suffix
            image = None
            if is_image(copy):
                try:
                    image = open_image_checked(copy, name=path)
                except ImageInputError as exc:
                    raise ToolError(str(exc)) from None
            files = ctx.files
            taken = {e.name for e in files.walk("inputs") if "/" not in e.path.removeprefix("inputs/")}
            rel = f"inputs/{free_name(name, taken)}"
            try:
                files.write_file(rel, copy)
            except (QuotaExceeded, ConfinedPathError) as exc:
                raise ToolError(f"{exc}; the file was not added") from None
            if image is None:
                size = copy.stat().st_size
                return ToolOutput(
                    f"added {rel} ({suffix.lstrip('.').upper()}, {size:,} bytes); use it with the document tools, "
                    f"e.g. render_document(path='{rel}')",
                    data={"file": rel, "source": str(real)},
                )
            rec = ctx.images.add_input(copy, label=rel, image=image)
        return ToolOutput(
            f"added {rel} as {rec.id} ({rec.width}x{rec.height} px)",
            image_ids=[rec.id],
            data={"file": rel, "source": str(real)},
        )

    return tool(add_file)


def session_tools(root: Path) -> list[Tool]:
    """What a client may call: every tool the model gets but final_answer, and add_file."""
    return [add_file_tool(root), *(t for t in default_tools() if t.name not in NOT_SERVED)]


class McpSession:
    """A client session's run: its Workspace, its calls in order, its exported outputs."""

    def __init__(
        self,
        runs_dir: Path,
        root: Path,
        settings: ToolSettings,
        policy: ContextPolicy,
        client: str,
        tools: list[Tool] | None = None,
    ):
        self.toolbox = Toolbox(tools if tools is not None else session_tools(root))
        self.policy = policy
        self.client = client
        task = f"mcp session ({client})"
        self.work = Workspace.create(runs_dir, task, [], settings)
        self.work.write_task(
            task=task,
            model=f"mcp client: {client}",
            root=str(root),
            tools=self.toolbox.names(),
            context_policy=vars(policy),
        )
        self.work.record.append_message(
            Message("user", [Text(f"MCP session with {client}; files are added from {root}")])
        )
        self.outputs_dir = self.work.record.path / "outputs"
        self.started = time.monotonic()
        self.calls = 0
        self.errors = 0
        self.closed = False
        self._exported: dict[str, tuple[int, int, int]] = {}
        self._lock = threading.Lock()

    @property
    def run_dir(self) -> Path:
        return self.work.record.path

    def call(self, name: str, args: Any) -> CallResult:
        """Run one tool call and record it as a step of the run. Never raises for a bad call: an
        unknown tool or bad arguments come back as an error result, and the session goes on."""
        args = {} if args is None else args
        with self._lock:
            if self.closed:
                return CallResult("error: this session has ended", is_error=True)
            self.calls += 1
            out = self.toolbox.call(name, args, self.work.ctx)
            self.errors += out.is_error
            images = self.work.images
            labels = [f"[{images.record(i).describe()}]" for i in out.image_ids]
            saved = [f"saved {rel} as {dest} ({size:,} bytes)" for rel, dest, size in self._export_outputs()]
            text = "\n".join([out.text, *labels, *saved])
            call = ToolCall(f"call_{self.calls}", name, args if isinstance(args, dict) else {"arguments": args})
            result = ToolResult(call.id, name, text, list(out.image_ids), out.is_error)
            self.work.record.append_message(Message("model", [call]))
            self.work.record.append_message(Message("tool", [result]))
            return self._as_sent(result)

    def _as_sent(self, result: ToolResult) -> CallResult:
        """The result as the context policy would send it to a model: images past the most recent
        few become a line naming their id (view brings one back), each image sent at its detail."""
        images = self.work.images
        shown = self.policy.apply([Message("tool", [result])], lambda i: images.record(i).describe())[0].parts[0]
        detail = self.policy.original_detail if result.name == "add_file" else self.policy.observation_detail
        if not self.policy.enabled:
            detail = "high"
        encoded = [(i, *images.encoded(i, detail)) for i in shown.image_ids]
        return CallResult(shown.text, encoded, result.is_error)

    def _export_outputs(self) -> list[tuple[str, Path, int]]:
        """Copy what is new or changed under the home's outputs/ to the run's outputs/: regular
        files reached without a link, through descriptors (jailed code may have planted links)."""
        files = ConfinedDir(self.work.home)
        saved = []
        for entry in files.regular_files("outputs"):
            sig = (entry.stat.st_ino, entry.stat.st_size, entry.stat.st_mtime_ns)
            if self._exported.get(entry.path) == sig:
                continue
            dest = self.outputs_dir / Path(entry.path).relative_to("outputs")
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                with atomic_output(dest) as tmp:
                    size = files.copy_out(entry.path, tmp, limit=self.work.ctx.limits.home_bytes)
            except ConfinedPathError:
                continue  # replaced by something else since it was listed
            self._exported[entry.path] = sig
            saved.append((entry.path, dest, size))
        return saved

    def close(self, status: str = "session-ended", wait: float | None = None) -> None:
        """Write answer.json and report.html. `wait`: how long a call still running may hold the
        session before the record is written anyway (None: until it ends)."""
        got = self._lock.acquire(timeout=-1 if wait is None else wait)
        try:
            if self.closed:
                return
            self.closed = True
            outputs = (
                sorted(str(p) for p in self.outputs_dir.rglob("*") if p.is_file()) if self.outputs_dir.exists() else []
            )
            self.work.finish(
                {
                    "answer": None,
                    "evidence": [],
                    "status": status,
                    "error": None if got else "a tool call was still running when the session ended",
                    "steps": self.calls,
                    "tool_errors": self.errors,
                    "model": f"mcp client: {self.client}",
                    "seconds": round(time.monotonic() - self.started, 3),
                    "outputs": outputs,
                }
            )
        finally:
            if got:
                self._lock.release()
