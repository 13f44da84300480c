"""Run budgets: how much a run may spend before it stops — model turns, tokens, dollars, seconds.

The loop asks the budget before each model request, so a run stops between turns with its
record complete (status `step_limit` for turns, `budget` for the rest; both exit 1). A request
or tool already running is never cut short by the budget: each has its own limits (retries,
the jail's time limit), so a run can overshoot by one turn's worth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from agent.errors import UsageError
from agent.models.base import Model, Usage


@dataclass(frozen=True)
class Budget:
    max_steps: int = 20  # model turns
    max_tokens: int | None = None  # input + output + thinking tokens, summed over the run's requests
    max_cost_usd: float | None = None  # needs a model with a known price (Model.cost_usd)
    timeout_s: float | None = None  # wall-clock seconds since the run started

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise ValueError("the step limit must be at least 1")
        for name in ("max_tokens", "max_cost_usd", "timeout_s"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be more than 0")

    def exceeded(self, steps: int, usage: Usage, cost_usd: float | None, seconds: float) -> tuple[str, str] | None:
        """(status, why) when the next model request must not be made; None while within budget."""
        if steps >= self.max_steps:
            return "step_limit", f"stopped at the step limit ({steps} step(s)) without an answer"
        tokens = total_tokens(usage)
        if self.max_tokens is not None and tokens >= self.max_tokens:
            return (
                "budget",
                f"token budget reached: {tokens:,} tokens used of {self.max_tokens:,}, after {steps} step(s)",
            )
        if self.max_cost_usd is not None and cost_usd is not None and cost_usd >= self.max_cost_usd:
            return (
                "budget",
                f"cost budget reached: ${cost_usd:.4f} spent of ${self.max_cost_usd:g}, after {steps} step(s)",
            )
        if self.timeout_s is not None and seconds >= self.timeout_s:
            return "budget", f"time budget reached: {seconds:.1f}s of {self.timeout_s:g}s, after {steps} step(s)"
        return None

    def to_dict(self) -> dict:
        return asdict(self)


def total_tokens(usage: Usage) -> int:
    return usage.input_tokens + usage.output_tokens + usage.thinking_tokens


def price_known(model: Model) -> bool:
    """Whether the model can say what a run costs, so a cost budget can be held."""
    return model.cost_usd(Usage(input_tokens=1000, output_tokens=1000)) is not None


def budget_from_flags(max_steps: int, max_tokens: int | None, max_cost: float | None, timeout: float | None) -> Budget:
    """The run budget from the command line, each flag checked with its own message."""
    if max_steps < 1:
        raise UsageError("--max-steps must be at least 1")
    for flag, value in (("--max-tokens", max_tokens), ("--max-cost", max_cost), ("--timeout", timeout)):
        if value is not None and not value > 0:  # also refuses nan
            raise UsageError(f"{flag} must be more than 0")
    return Budget(max_steps, max_tokens, max_cost, timeout)
