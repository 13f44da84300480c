"""`agent`: the command line. Answers on stdout; progress and errors on stderr."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from agent.commands import COMMANDS
from agent.errors import UsageError
from agent.models.base import ModelError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent",
        description="An agent that makes a vision model look closely at images and office documents.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"agent.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # the reader went away (`agent tools | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("agent: interrupted", file=sys.stderr)
        return 130
    except (UsageError, ModelError) as exc:
        if args.debug:
            raise
        print(f"agent: error: {exc}", file=sys.stderr)
        return exc.exit_code if isinstance(exc, UsageError) else 3  # a model or API failure


if __name__ == "__main__":
    sys.exit(main())
