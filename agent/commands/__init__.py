"""One module per sub-command. Each defines `add_parser(subparsers)`, which registers the
sub-command and sets `func` to a handler taking the parsed args and returning an exit code."""


def add_sandbox_option(p, isolates: str = "model-written code", default: str = "strongest available") -> None:
    """--sandbox, the isolation level, as every command that runs jailed code takes it."""
    p.add_argument(
        "--sandbox", choices=["bwrap", "process"], default=None, help=f"isolation for {isolates} (default: {default})"
    )


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
