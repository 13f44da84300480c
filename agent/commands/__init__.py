"""One module per sub-command. Each defines `add_parser(subparsers)`, which registers the
sub-command and sets `func` to a handler taking the parsed args and returning an exit code."""

COMMANDS = [
    "run",
    "call",
    "tools",
    "render",
    "inspect",
    "check",
    "batch",
    "sandbox",
    "mcp",
    "runs",
    "show",
    "open",
    "replay",
]
