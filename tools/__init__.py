"""Everything the model can call. Imports sandbox, never agent.

Each module named in TOOL_MODULES exposes `TOOLS: list[Tool]`; the default toolbox is all of them.
"""

from __future__ import annotations

import importlib

TOOL_MODULES = [
    "tools.answer",
    "tools.vision",
    "tools.vision_draw",
    "tools.vision_cv",
    "tools.gauge",
    "tools.ocr",
    "tools.doc_tools",
    "tools.doc_edit_tools",
    "tools.code",
    "tools.skills",
]


def default_tools() -> list:
    found = []
    for name in TOOL_MODULES:
        found.extend(importlib.import_module(name).TOOLS)
    return found
