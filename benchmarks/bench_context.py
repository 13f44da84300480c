"""Estimated image tokens sent over a 12-step run: the context policy against keeping every image.

Each of 12 steps adds one 1024×1024 observation (a zoom) to a run on a 2000×1500 photo; every
request re-sends the history. Token counts per image follow Google's published rules:
- Gemini 2.x: an image with both sides ≤ 384 px costs 258 tokens; a larger one is tiled into
  768×768 tiles of 258 tokens each;
- Gemini 3: a fixed count per media resolution (low 280, medium 560, high 1120).
The policy's own code (agent.context.ContextPolicy.apply) decides what is sent.
Target: the policy sends at most 40% of the keep-everything baseline.
"""

from __future__ import annotations

import math

from agent.context import ContextPolicy
from agent.transcript import Image, Message, Text, ToolResult
from tools.images import DETAIL_MAX_SIDE

STEPS = 12
ORIGINAL = (2000, 1500)
OBSERVATION = (1024, 1024)
GEMINI3_TOKENS = {"low": 280, "high": 1120}


def scaled(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    w, h = size
    if max_side is None or max(w, h) <= max_side:
        return w, h
    f = max_side / max(w, h)
    return round(w * f), round(h * f)


def gemini2_tokens(size: tuple[int, int]) -> int:
    w, h = size
    if w <= 384 and h <= 384:
        return 258
    return math.ceil(w / 768) * math.ceil(h / 768) * 258


def request_tokens(messages: list[Message], full_resolution: bool) -> tuple[int, int]:
    """(Gemini 2.x tokens, Gemini 3 tokens) for the images in one request."""
    g2 = g3 = 0
    for m in messages:
        for p in m.parts:
            if isinstance(p, Image):
                size = scaled(ORIGINAL, None if full_resolution else DETAIL_MAX_SIDE[p.detail])
                g2, g3 = g2 + gemini2_tokens(size), g3 + GEMINI3_TOKENS["high" if full_resolution else p.detail]
            elif isinstance(p, ToolResult):
                for _ in p.image_ids:
                    g2, g3 = (
                        g2 + gemini2_tokens(scaled(OBSERVATION, None if full_resolution else DETAIL_MAX_SIDE["high"])),
                        g3 + GEMINI3_TOKENS["high"],
                    )
    return g2, g3


def main() -> None:
    history = [Message("user", [Text("read the gauge"), Image("img1")])]
    policy, everything = ContextPolicy(), ContextPolicy(enabled=False)
    totals = {"policy": [0, 0], "keep_all": [0, 0]}
    print(f"{'turn':>4} {'policy g2':>10} {'keep-all g2':>12} {'policy g3':>10} {'keep-all g3':>12}")
    for step in range(1, STEPS + 1):
        p2, p3 = request_tokens(policy.apply(history), full_resolution=False)
        k2, k3 = request_tokens(everything.apply(history), full_resolution=True)
        for key, (a, b) in (("policy", (p2, p3)), ("keep_all", (k2, k3))):
            totals[key][0] += a
            totals[key][1] += b
        print(f"{step:>4} {p2:>10} {k2:>12} {p3:>10} {k3:>12}")
        history.append(Message("tool", [ToolResult(f"c{step}", "zoom", f"img{step + 1}", [f"img{step + 1}"])]))
    for i, name in enumerate(("Gemini 2.x tiles", "Gemini 3 media resolution")):
        p, k = totals["policy"][i], totals["keep_all"][i]
        print(f"{name}: policy {p:,} tokens, keep-everything {k:,} tokens, ratio {p / k:.2f} (target ≤ 0.40)")


if __name__ == "__main__":
    main()
