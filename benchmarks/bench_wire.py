"""Wire size and estimated cost of the gauge example's Gemini requests, context policy on vs off.

The same scripted gauge run (four zooms, then final_answer) goes through the real loop, the
real vision tools and the real google-genai client, against the local fake Gemini API
(tests/fake_gemini.py), once with the context policy on and once with it off. For every
request the SDK sends we measure the bytes on the wire and estimate the prompt tokens (text
at 4 characters a token, each image by its media resolution: 560 tokens at MEDIUM, 1120 at
HIGH, the Gemini 3 figures), priced at gemini-3.8-flash's input rate from agent/pricing.py.
Prompt caching is left out of the estimate (it would lower both columns).

    python3 benchmarks/bench_wire.py [--image examples/gauge/gauge.png]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.context import ContextPolicy  # noqa: E402
from agent.loop import Agent  # noqa: E402
from agent.models.gemini import GeminiModel  # noqa: E402
from agent.models.retry import RetryPolicy  # noqa: E402
from agent.pricing import BUILTIN_PRICES, price_for  # noqa: E402
from tests.fake_gemini import FakeGemini, b64, estimate_prompt_tokens, function_call, reply, thought  # noqa: E402
from tools import default_tools  # noqa: E402

MODEL = "gemini-3.8-flash"
SIGNATURE = b64(b"benchmark-thought-signature" * 8)
STEPS = [  # (thought, zoom args): dial, needle tip, the plate, the hub
    ("Find the dial.", {"image": "img1", "x_min": 470, "y_min": 130, "x_max": 850, "y_max": 690}),
    (
        "Look at the needle tip against the ticks.",
        {"image": "img2", "x_min": 450, "y_min": 80, "x_max": 800, "y_max": 420},
    ),
    (
        "Read the plate for the unit and range.",
        {"image": "img1", "x_min": 70, "y_min": 140, "x_max": 400, "y_max": 300},
    ),
    ("Check the hub and the bar scale.", {"image": "img2", "x_min": 250, "y_min": 250, "x_max": 750, "y_max": 750}),
]


def script() -> list:
    turns = [
        reply(thought(t), function_call("zoom", args, f"call-{n}", SIGNATURE)) for n, (t, args) in enumerate(STEPS, 1)
    ]
    turns.append(
        reply(
            thought("Two ticks past 6."),
            function_call("final_answer", {"answer": "6.4 bar", "evidence": ["img3"]}, "call-answer", SIGNATURE),
        )
    )
    return turns


def toolbox() -> list:
    from tools.vision import TOOLS as VISION

    names = {t.name for t in VISION}
    return [t for t in default_tools() if t.name not in names] + list(VISION)


def measure(image: Path, policy_on: bool, workdir: Path) -> list[dict]:
    with FakeGemini(script()) as fake:
        os.environ["GOOGLE_GEMINI_BASE_URL"] = fake.url
        os.environ.setdefault("GEMINI_API_KEY", "benchmark-key")
        model = GeminiModel(MODEL, retry=RetryPolicy(max_attempts=1), prices={})
        agent = Agent(model, tools=toolbox(), context=ContextPolicy(enabled=policy_on), runs_dir=workdir)
        result = agent.run(f"read the gauge in {image}", run_dir=workdir / ("on" if policy_on else "off"))
        if result.status != "done":
            raise SystemExit(f"benchmark run failed: {result.status} {result.error}")
        return [{"bytes": len(r.raw), "tokens": estimate_prompt_tokens(r.api)} for r in fake.requests]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=str(ROOT / "examples" / "gauge" / "gauge.png"))
    args = parser.parse_args()
    image = Path(args.image).resolve()
    if not image.exists():
        raise SystemExit(f"no gauge image at {image}; pass --image")
    rate = price_for(MODEL, BUILTIN_PRICES)["input"]
    with tempfile.TemporaryDirectory() as tmp:
        on = measure(image, True, Path(tmp))
        off = measure(image, False, Path(tmp))

    def usd(tokens: int) -> float:
        return tokens * rate / 1_000_000

    print(f"gauge example, {len(on)} requests, {image.name}; {MODEL} input at ${rate}/1M tokens (estimated tokens)")
    print(f"{'turn':>4} | {'wire KB on':>10} {'off':>10} | {'tokens on':>9} {'off':>9} | {'USD on':>9} {'off':>9}")
    for n, (a, b) in enumerate(zip(on, off), 1):
        print(
            f"{n:>4} | {a['bytes'] / 1024:>10.1f} {b['bytes'] / 1024:>10.1f} | {a['tokens']:>9} {b['tokens']:>9} | {usd(a['tokens']):>9.5f} {usd(b['tokens']):>9.5f}"
        )
    total = {k: (sum(r[k] for r in on), sum(r[k] for r in off)) for k in ("bytes", "tokens")}
    print(
        f"{'all':>4} | {total['bytes'][0] / 1024:>10.1f} {total['bytes'][1] / 1024:>10.1f} | {total['tokens'][0]:>9} {total['tokens'][1]:>9} | "
        f"{usd(total['tokens'][0]):>9.5f} {usd(total['tokens'][1]):>9.5f}"
    )
    print(
        f"policy on / off: wire {total['bytes'][0] / total['bytes'][1]:.2f}, estimated cost {total['tokens'][0] / total['tokens'][1]:.2f}"
    )


if __name__ == "__main__":
    main()
