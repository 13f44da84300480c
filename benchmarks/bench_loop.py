"""Loop overhead per step: a scripted model and a no-op tool, transcript writes included.

Baseline measured in the same run: calling the no-op tool function directly the same number of
times. Target: under 5 ms a step.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from PIL import Image

from agent.budget import Budget
from agent.files import collect_inputs
from agent.loop import Agent
from agent.models.scripted import ScriptedModel, call, say
from tools.answer import FINAL_ANSWER
from tools.registry import ToolContext, ToolOutput, tool

STEPS = 200


def noop(ctx: ToolContext, note: str = "") -> ToolOutput:
    """Do nothing (benchmark tool)."""
    return ToolOutput("nothing done")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        img = Path(tmp) / "in.png"
        Image.new("RGB", (32, 32)).save(img)
        replies = [call("noop", note=f"step {i}") for i in range(STEPS)] + [say("done")]
        agent = Agent(
            ScriptedModel(replies),
            tools=[tool(noop), FINAL_ANSWER],
            budget=Budget(max_steps=STEPS + 1),
            runs_dir=Path(tmp) / "runs",
        )
        started = time.perf_counter()
        result = agent.run("benchmark", collect_inputs("benchmark", [img]))
        loop_seconds = time.perf_counter() - started
        assert result.status == "done", result
        started = time.perf_counter()
        for i in range(STEPS):
            noop(None, note=f"step {i}")
        direct = time.perf_counter() - started
    per_step = loop_seconds / (STEPS + 1) * 1000
    print(f"{STEPS + 1} steps in {loop_seconds:.3f} s (run set-up, answer.json and report included)")
    print(
        f"loop overhead: {per_step:.2f} ms a step (target < 5 ms); direct tool calls: {direct / STEPS * 1e6:.1f} µs each"
    )
    print(f"ratio loop step / direct call: {loop_seconds / (STEPS + 1) / max(direct / STEPS, 1e-9):.0f}x")


if __name__ == "__main__":
    main()
