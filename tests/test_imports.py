"""The import direction `agent → tools → sandbox`, read from the source of every module: tools
never import agent, sandbox imports neither, and no model adapter imports a tool. Imports inside
functions count too. (The scripts in sandbox/home_template/ are not part of the package: they run
inside the jail, where the `tools` package is importable on purpose.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RULES = [  # (package folder, top-level packages it must not import)
    ("tools", {"agent"}),
    ("sandbox", {"agent", "tools"}),
    ("agent/models", {"tools"}),
]


def imported_packages(source: str) -> set[tuple[str, int]]:
    """(top-level package, line) of every absolute import. A relative import stays inside its own
    top-level package (Python refuses one that climbs out), so it can never break the direction."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {(alias.name.split(".")[0], node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.module.split(".")[0], node.lineno))
    return found


def modules(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "home_template" not in p.parts)


@pytest.mark.parametrize("folder, forbidden", RULES, ids=[r[0] for r in RULES])
def test_imports_go_one_way(folder, forbidden):
    files = modules(folder)
    assert files, f"no modules found under {folder}"
    wrong = [
        f"{p.relative_to(ROOT)}:{line} imports {name}"
        for p in files
        for name, line in sorted(imported_packages(p.read_text(encoding="utf-8")))
        if name in forbidden
    ]
    assert not wrong, "imports against the direction agent → tools → sandbox:\n" + "\n".join(wrong)


def test_the_check_sees_imports_anywhere_in_a_module():
    source = "import os\nimport agent.loop as loop\ndef f():\n    from tools.images import ImageStore\n    from . import sibling\n"
    assert imported_packages(source) == {("os", 1), ("agent", 2), ("tools", 4)}
