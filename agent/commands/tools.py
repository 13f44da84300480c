"""`agent tools`: the tools the model can call; `agent tools NAME` and `--json` give their schemas."""

from __future__ import annotations

import json
import re


def add_parser(sub) -> None:
    p = sub.add_parser(
        "tools",
        help="list the tools the model can call; NAME or --json for their JSON schemas",
        description="List every tool the model can call, one line each. With a NAME: that tool's full "
        "description and the JSON schema of its arguments. With --json: the specs as one JSON array.",
        epilog="examples: agent tools · agent tools zoom · agent tools --json",
    )
    p.add_argument("--json", action="store_true", help="print the specs (with their schemas) as one JSON array")
    p.add_argument("name", nargs="?", help="show this tool's description and argument schema")
    p.set_defaults(func=tools_command)


def tools_command(args) -> int:
    from agent.errors import UsageError
    from agent.toolspecs import tool_specs

    specs = tool_specs()
    if args.name:
        specs = [s for s in specs if s["name"] == args.name]
        if not specs:
            raise UsageError(f"no tool named {args.name!r}; run `agent tools` for the list")
    if args.json:
        print(json.dumps(specs, indent=2))
    elif args.name:
        (spec,) = specs
        print(f"{spec['name']}: {spec['description']}")
        print("arguments (JSON schema):")
        print("  " + json.dumps(spec["parameters"], indent=2).replace("\n", "\n  "))
    else:
        width = max(len(s["name"]) for s in specs)
        for s in specs:
            print(f"{s['name']:<{width}}  {summary(s['description'])}")
        print(f"\n{len(specs)} tools. `agent tools NAME` shows one in full with its arguments; --json gives all.")
    return 0


def summary(description: str, limit: int = 96) -> str:
    """A description's first sentence, on one line."""
    first = " ".join(description.split("\n\n", 1)[0].split())
    end = re.search(r"[.!?](?=\s+[A-Z])", first)  # not "e.g. one"
    if end:
        first = first[: end.end()]
    return first if len(first) <= limit else first[: limit - 1] + "…"
