"""The typed seams of the toolbox: a tool's first parameter is the context, and the run's tool
settings are a checked object (a mapping from JSON is checked into one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tools.images import ImageStore
from tools.registry import ToolContext, ToolOutput, ToolSettings, tool


def test_a_tool_whose_first_parameter_is_not_the_context_is_refused():
    def zoom(image: str, factor: float = 2.0) -> ToolOutput:
        """Forgot the context."""

    def bare(ctx, image: str) -> ToolOutput:
        """Context not annotated."""

    def nothing() -> ToolOutput:
        """No parameters at all."""

    for func in (zoom, bare, nothing):
        with pytest.raises(
            TypeError, match=f"tool {func.__name__}: the first parameter must be annotated as ToolContext"
        ):
            tool(func)


def test_the_context_is_not_part_of_the_schema():
    def look(ctx: ToolContext, image: str) -> ToolOutput:
        """Look."""

    assert list(tool(look).schema()["properties"]) == ["image"]


def test_settings_from_a_mapping_are_checked_into_typed_limits(tmp_path):
    ctx = ToolContext(
        ImageStore(tmp_path / "images"),
        tmp_path,
        {"isolation": "process", "python_timeout": 5, "python_home_inodes": 300},
    )
    assert isinstance(ctx.settings, ToolSettings) and ctx.settings.isolation == "process"
    limits = ctx.limits
    assert (limits.timeout, limits.cpu_seconds, limits.home_inodes) == (
        5,
        5,
        300,
    )  # the CPU limit follows the time limit
    assert ToolSettings(python_timeout=5, python_cpu_seconds=2).limits().cpu_seconds == 2
    assert ToolSettings().limits().timeout == 60  # the jail's defaults
    assert (ctx.files.max_inodes, ctx.files.max_bytes) == (300, limits.home_bytes)


@pytest.mark.parametrize(
    "bad", [{"isolation": "docker"}, {"python_timeot": 5}, {"python_timeout": -1}, {"python_processes": "many"}]
)
def test_a_wrong_setting_is_an_error_not_ignored(tmp_path, bad):
    with pytest.raises(ValidationError):
        ToolContext(ImageStore(tmp_path / "images"), tmp_path, bad)


def test_host_paths_are_scrubbed_but_words_are_not_when_the_home_is_relative(tmp_path, monkeypatch):
    from tools.registry import Toolbox

    monkeypatch.chdir(tmp_path)
    (tmp_path / "r" / "home").mkdir(parents=True)

    def where(ctx: ToolContext) -> ToolOutput:
        """Say where the home is."""
        return ToolOutput(f"region right of {(tmp_path / 'r' / 'home' / 'outputs').as_posix()} in {tmp_path / 'r'}")

    ctx = ToolContext(ImageStore(tmp_path / "r" / "images"), Path("r/home"))
    out = Toolbox([tool(where)]).call("where", {}, ctx)
    assert out.text == "region right of <home>/outputs in <run>"
