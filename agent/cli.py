"""`agent`: the command line. Answers on stdout; progress and errors on stderr.

Start-up is kept short (`agent --help`, `agent tools`, `agent runs` answer in a fraction of a
second, benchmarks/bench_start.py): the command modules import what they need inside their
handlers, so building the parser loads no document library, no image stack and no SDK."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    import importlib

    from agent.commands import COMMANDS

    parser = argparse.ArgumentParser(
        prog="agent",
        description="An agent that makes a vision model look closely at images and office documents.",
    )
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"agent.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Everything, imports included, runs in here: Ctrl-C at any moment of start-up is one line.
    args = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # the reader went away (`agent tools | head`): stop quietly, as Unix tools do
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("agent: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        from agent.errors import UsageError
        from agent.models.base import ModelError

        if not isinstance(exc, (UsageError, ModelError)) or getattr(args, "debug", False):
            raise
        print(f"agent: error: {exc}", file=sys.stderr)
        return exc.exit_code if isinstance(exc, UsageError) else 3  # a model or API failure


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("lookclosely")
    except PackageNotFoundError:
        return "unknown (not installed)"


class _Version(argparse.Action):
    """`--version`, looked up only when asked (reading package metadata costs start-up time)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest=argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"agent (lookclosely) {version()}")
        parser.exit()


def console_main() -> None:
    """The `agent` program: main(), then exit with its code. A Ctrl-C leaves with 130 directly:
    CPython remembers a KeyboardInterrupt that passed through code run by exec() of a string
    (dataclasses and namedtuples make their methods that way while modules load) and, at exit,
    kills the process with SIGINT although the interrupt was handled, so the shell would see
    status -2 (killed), not 130. Everything is written by then; only the interpreter's own
    clean-up is skipped."""
    code = main()
    if code == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        import os

        os._exit(130)
    sys.exit(code)


if __name__ == "__main__":
    console_main()
