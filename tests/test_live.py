"""`pytest -m live` (or `make live-check`): three real tasks on every model the environment has
credentials for; see tests/live_check.py. Deselected by default (pyproject's addopts), skipped
when no credentials are set, so a key in a developer's shell never spends money by surprise."""

from __future__ import annotations

import pytest

from tests.live_check import default_out, format_table, live_specs, run_check

pytestmark = pytest.mark.live


def test_three_real_tasks_on_each_configured_model():
    specs = live_specs()
    if not specs:
        pytest.skip(
            "no GEMINI_API_KEY, GOOGLE_API_KEY, AGENT_LIVE_OPENAI_URL or AGENT_LIVE_OLLAMA_URL: nothing to check live"
        )
    out = default_out()
    rows = run_check(specs, out)
    print(f"\n{format_table(rows)}\ncassettes and runs: {out}")
    broke = [f"{r.task} on {r.model}: {r.status}" for r in rows if r.broke]
    assert not broke, "the provider or the agent failed: " + "; ".join(broke)
