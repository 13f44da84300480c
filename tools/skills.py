"""list_skills / read_skill: the guides in the home's skills/ folder, read on demand.

The system prompt names each guide with a one-line purpose; the model reads one in full only
when a task needs it, so the guides cost nothing until used.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from sandbox.home import read_skill as read_skill_text
from sandbox.home import skill_index
from tools.registry import ToolContext, ToolError, ToolOutput, tool


def list_skills(ctx: ToolContext) -> ToolOutput:
    """List the skills guides in your home (skills/<name>/skill.md), each with its one-line purpose."""
    index = skill_index(ctx.home)
    if not index:
        return ToolOutput("no skills guides in this home")
    return ToolOutput(f"{len(index)} skills guides:\n" + "\n".join(f"- {name}: {purpose}" for name, purpose in index))


def read_skill(
    ctx: ToolContext,
    name: Annotated[str, Field(description="The guide's name as listed, e.g. 'slides'.")],
) -> ToolOutput:
    """Read one skills guide in full: which tools to use for a kind of task, the workflow, and its QA checklist."""
    try:
        text = read_skill_text(ctx.home, name.strip())
    except KeyError as exc:
        raise ToolError(exc.args[0]) from None
    return ToolOutput(f"skills/{name.strip()}/skill.md:\n{text}")


TOOLS = [tool(list_skills), tool(read_skill)]
