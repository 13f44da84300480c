"""The final-answer tool: the model ends the run with an answer and the images that show it.

It ends the run through its result (`final=True`), so any tool can be a way to finish; calls the
model made after it in the same turn are not run (the loop answers them with a note)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tools.registry import ToolContext, ToolError, ToolOutput, tool


def final_answer(
    ctx: ToolContext,
    answer: Annotated[str, Field(description="The answer to the task, complete and self-contained.")],
    evidence: Annotated[
        list[str], Field(default_factory=list, description="Ids of the images that show the answer, e.g. ['img4'].")
    ],
) -> ToolOutput:
    """Finish the task: give the answer and the ids of the images that are its evidence.

    Call this once, when you are sure; nothing after it runs.
    """
    unknown = [i for i in evidence if i not in ctx.images.records]
    if unknown:
        raise ToolError(f"evidence names unknown image ids {unknown}; known: {', '.join(ctx.images.records)}")
    return ToolOutput(
        f"answer recorded with evidence {', '.join(evidence) or 'none'}",
        final=True,
        data={"answer": answer, "evidence": list(evidence)},
    )


FINAL_ANSWER = tool(final_answer)
TOOLS = [FINAL_ANSWER]
