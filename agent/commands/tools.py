"""`agent tools`: every tool the model can call, with its JSON schema."""

from __future__ import annotations

import json

from agent.errors import UsageError
from tools import default_tools
from tools.registry import Toolbox


def add_parser(sub) -> None:
    p = sub.add_parser(
        "tools",
        help="list the tools the model can call, with their JSON schemas",
        description="List every tool the model can call, with its description and JSON schema.",
    )
    p.add_argument("--json", action="store_true", help="print the specs as one JSON array")
    p.add_argument("name", nargs="?", help="show only this tool")
    p.set_defaults(func=tools_command)


def tools_command(args) -> int:
    specs = Toolbox(default_tools()).specs()
    if args.name:
        specs = [s for s in specs if s["name"] == args.name]
        if not specs:
            raise UsageError(f"no tool named {args.name!r}; run `agent tools` for the list")
    if args.json:
        print(json.dumps(specs, indent=2))
        return 0
    for s in specs:
        print(f"{s['name']}: {s['description']}")
        print("  " + json.dumps(s["parameters"], indent=2).replace("\n", "\n  "))
    return 0
