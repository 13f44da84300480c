"""`agent open RUN|last`: open a run's report.html in the browser; its path goes to stdout either way."""

from __future__ import annotations

import os
import sys

from agent.commands.runs import add_run_argument, runs_dir_of


def add_parser(sub) -> None:
    p = sub.add_parser(
        "open",
        help="open a past run's report.html in the browser (or print its path)",
        description="Print the path of a run's report.html and open it in the browser: $BROWSER when set, "
        "otherwise the desktop's browser. With no browser (no $BROWSER and no display, as over ssh) only the "
        "path is printed. RUN is a run directory's name (or a unique prefix), its path, or `last`.",
        epilog="examples: agent open last · BROWSER=firefox agent open 20261128-2330",
    )
    add_run_argument(p)
    p.add_argument("--print", action="store_true", help="only print the path; open nothing")
    p.set_defaults(func=open_command)


def open_command(args) -> int:
    from agent.runs import RunError, resolve_run
    from sandbox.confined import ConfinedDir

    run = resolve_run(args.run, runs_dir_of(args)).resolve()
    if not ConfinedDir(run).is_file("report.html"):
        raise RunError(f"{run} has no report.html (the run is unfinished, or was killed before writing it)")
    report = run / "report.html"
    print(report, flush=True)
    if args.print or not browser_available():
        return 0
    import webbrowser

    try:
        opened = webbrowser.open(report.as_uri())
    except webbrowser.Error:
        opened = False
    if not opened:
        print("agent: warning: the browser could not be started; open the path above", file=sys.stderr)
    return 0


def browser_available() -> bool:
    """Whether opening a browser can work here: one is named ($BROWSER), or there is a desktop.
    Without one, Python's webbrowser would fall back to a text browser that takes over the
    terminal, which is not what `agent open` over ssh should do."""
    if os.environ.get("BROWSER"):
        return True
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
