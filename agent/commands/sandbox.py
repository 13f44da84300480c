"""`agent sandbox init DIR` makes a home by hand; `agent sandbox check` says which isolation works here."""

from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "sandbox",
        help="make a sandbox home, or check which isolation this machine supports",
        description="Work with the sandboxed home model-written code runs in.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    init = actions.add_parser(
        "init",
        help="make a home directory (skills/, share/, inputs/, outputs/, tmp/)",
        description="Make a home directory laid out like a run's, with copies of the given files in inputs/.",
    )
    init.add_argument("dir", help="the home to create (must not exist, or be empty)")
    init.add_argument("files", nargs="*", help="files to copy into inputs/")
    init.set_defaults(func=init_command)
    check = actions.add_parser(
        "check",
        help="print which isolation this machine supports and why",
        description="Print the isolation levels, which one a run would use, and what each stops.",
    )
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(func=check_command)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def init_command(args) -> int:
    from agent.errors import UsageError
    from sandbox.home import HomeError, create_home, skill_index

    home = Path(args.dir)
    if home.exists() and (not home.is_dir() or any(home.iterdir())):
        raise UsageError(f"{home} already exists and is not an empty directory; name a new one")
    try:
        copies = create_home(home, [Path(f) for f in args.files])
    except HomeError as exc:
        raise UsageError(str(exc)) from None
    print(home)
    for copy in copies:
        print(f"  {copy.relative_to(home).as_posix()}")
    print(f"  skills: {', '.join(name for name, _ in skill_index(home))}")
    return 0


def check_command(args) -> int:
    from sandbox.jail import isolation_report

    report = isolation_report()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"default isolation: {report['default']}")
    print(f"running as root: {'yes' if report['running_as_root'] else 'no'}; model code runs as {report['child_user']}")
    print(f"user namespaces: {report['unprivileged_user_namespaces']}")
    for level, info in report["levels"].items():
        print(f"\n{level}: {'available' if info['available'] else 'NOT available'}: {info['reason']}")
        print(f"  stops ({len(info['stops'])}): " + "; ".join(a["id"] for a in info["stops"]))
        if info["does_not_stop"]:
            print(f"  does NOT stop ({len(info['does_not_stop'])}):")
            for a in info["does_not_stop"]:
                print(f"    - {a['attack']}: {a['why']}")
        else:
            print("  does NOT stop: none of the attacks in the escape suite")
    return 0
