"""Tools are typed Python functions; their JSON schemas come from the signatures.

A tool function takes a `ToolContext` as its first argument, then its own arguments,
annotated with types (and `Annotated[..., Field(...)]` for bounds and descriptions).
Its docstring's first paragraph is the description the model reads. It returns a
`ToolOutput`; it may raise `ToolError` with a message for the model. Nothing a tool
does ever raises into the loop: `Toolbox.call` turns every failure into an error result.
A tool ends the run by returning `ToolOutput(final=True)` (final_answer does).
"""

from __future__ import annotations

import functools
import inspect
import json
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from sandbox.confined import ConfinedDir
from sandbox.jail import Limits
from tools.images import ImageStore


class ToolError(Exception):
    """A failure the model can correct: bad region, unknown id, missing file."""


@dataclass
class ToolOutput:
    text: str
    image_ids: list[str] = field(default_factory=list)
    is_error: bool = False
    # Free-form facts for the run record (not sent to the model), e.g. files written.
    data: dict[str, Any] = field(default_factory=dict)
    # This result ends the run: `data` holds "answer" (text) and "evidence" (image ids).
    final: bool = False


class ToolSettings(BaseModel):
    """What a run fixes for its tools: the jail's isolation level and the limits on model-written
    code (run_python). A limit left None is the jail's default (sandbox.jail.Limits)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    isolation: Literal["bwrap", "process"] | None = None  # None: the strongest this machine has
    python_timeout: float | None = Field(None, gt=0)  # wall-clock seconds; the CPU limit follows it unless given
    python_cpu_seconds: int | None = Field(None, ge=1)
    python_memory_bytes: int | None = Field(None, gt=0)
    python_file_size_bytes: int | None = Field(None, gt=0)
    python_open_files: int | None = Field(None, ge=16)
    python_processes: int | None = Field(None, ge=1)
    python_home_bytes: int | None = Field(None, gt=0)
    python_home_inodes: int | None = Field(None, ge=1)
    python_output_bytes: int | None = Field(None, gt=0)
    python_tmp_bytes: int | None = Field(None, gt=0)

    def limits(self) -> Limits:
        given = {
            name.removeprefix("python_"): value
            for name, value in self
            if name.startswith("python_") and value is not None
        }
        if "timeout" in given and "cpu_seconds" not in given:
            given["cpu_seconds"] = max(1, int(given["timeout"]))
        return Limits(**given)


@dataclass
class ToolContext:
    images: ImageStore
    home: Path  # the sandboxed home directory; every file path a tool takes is inside it
    settings: ToolSettings = field(default_factory=ToolSettings)

    def __post_init__(self) -> None:
        if isinstance(self.settings, Mapping):  # settings read from JSON: checked field by field here
            self.settings = ToolSettings.model_validate(self.settings)

    @property
    def limits(self) -> Limits:
        return self.settings.limits()

    @property
    def files(self) -> ConfinedDir:
        """The home as the host must touch it: no link followed, writes within the home's caps."""
        limits = self.limits
        return ConfinedDir(self.home, limits.home_bytes, limits.home_inodes)


@dataclass
class Tool:
    name: str
    description: str
    func: Callable[..., ToolOutput]
    args_model: type[BaseModel]

    def schema(self) -> dict[str, Any]:
        # Generating a schema costs milliseconds per tool and every run asks for all of them.
        # Kept as JSON text so each caller gets its own copy, cheaply.
        return json.loads(_schema_json(self.args_model))


@functools.lru_cache(maxsize=None)
def _schema_json(args_model: type[BaseModel]) -> str:
    schema = args_model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    return json.dumps(schema)


def tool(func: Callable[..., ToolOutput]) -> Tool:
    """Make a Tool from a typed function whose first parameter is the ToolContext."""
    hints = get_type_hints(func, include_extras=True)
    params = list(inspect.signature(func).parameters.values())
    if not params or hints.get(params[0].name) is not ToolContext:
        raise TypeError(f"tool {func.__name__}: the first parameter must be annotated as ToolContext")
    params = params[1:]
    fields: dict[str, Any] = {}
    for p in params:
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[p.name] = (hints[p.name], default)
    model = create_model(
        f"{func.__name__}_args",
        __config__=ConfigDict(extra="forbid"),
        **fields,
    )
    doc = inspect.getdoc(func) or ""
    description = doc.split("\n\n")[0].replace("\n", " ").strip()
    return Tool(name=func.__name__, description=description, func=func, args_model=model)


class Toolbox:
    def __init__(self, tools: list[Tool] | None = None):
        self._tools: dict[str, Tool] = {}
        for t in tools or []:
            self.add(t)

    def add(self, t: Tool) -> None:
        if t.name in self._tools:
            raise ValueError(f"tool {t.name!r} registered twice")
        self._tools[t.name] = t

    def __contains__(self, name: str) -> bool:
        return name in self._tools

    def names(self) -> list[str]:
        return list(self._tools)

    def get(self, name: str) -> Tool:
        return self._tools[name]

    def specs(self) -> list[dict[str, Any]]:
        return [{"name": t.name, "description": t.description, "parameters": t.schema()} for t in self._tools.values()]

    def call(self, name: str, args: Any, ctx: ToolContext) -> ToolOutput:
        t = self._tools.get(name)
        if t is None:
            return ToolOutput(f"error: unknown tool {name!r}; available tools: {', '.join(self._tools)}", is_error=True)
        if not isinstance(args, dict):
            return ToolOutput(
                f"error: arguments for {name} must be a JSON object, got {type(args).__name__}", is_error=True
            )
        try:
            parsed = t.args_model.model_validate(args)
        except ValidationError as exc:
            return ToolOutput(f"error: invalid arguments for {name}: {_describe_validation(exc)}", is_error=True)
        try:
            out = t.func(ctx, **{k: getattr(parsed, k) for k in t.args_model.model_fields})
        except ToolError as exc:
            out = ToolOutput(f"error: {exc}", is_error=True)
        except Exception as exc:  # a tool bug must not end the run; the model sees it and the record keeps the trace
            out = ToolOutput(
                f"error: {name} failed: {type(exc).__name__}: {exc}",
                is_error=True,
                data={"traceback": traceback.format_exc()},
            )
        return _finish(out, ctx)


def _finish(out: ToolOutput, ctx: ToolContext) -> ToolOutput:
    """After every call, whatever made it: the host's own paths are taken out of the text (the
    model names files relative to its home), and a home past its caps is said in the result
    (the tools that write refuse until files are removed)."""
    home = Path(ctx.home).absolute()  # a relative home ("r/home") would have "r" replaced in every word
    for path in {str(home.resolve()), str(home)}:
        out.text = out.text.replace(path, "<home>")
    for path in {str(home.resolve().parent), str(home.parent)}:
        out.text = out.text.replace(path, "<run>")
    files = ctx.files
    why = files.usage().over(files.max_bytes, files.max_inodes)
    if why:
        out.text += (
            f"\nwarning: the home now holds {why}; tools that write will refuse until you delete "
            "files (run_python can remove what is in outputs/ and tmp/)"
        )
        out.data["home_over_cap"] = why
    return out


def _describe_validation(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err["loc"]) or "arguments"
        problems.append(f"{where}: {err['msg']}")
    return "; ".join(problems)
