"""``hull``: the user's command. Subcommands live in their own modules and
are imported only when used, so ``hull get pods`` pays for nothing else.

Each module named in COMMANDS exposes ``register(subparsers)``, which adds
its subcommands and sets ``func`` (taking the parsed args, returning an
exit code) on each.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from hull import errors

# first word on the command line -> module that registers it
COMMANDS = {
    "pull": "hull.cli.image",
    "push": "hull.cli.image",
    "images": "hull.cli.image",
    "image": "hull.cli.image",
    "rmi": "hull.cli.image",
    "volume": "hull.cli.volume",
    "play": "hull.cli.play",
    "down": "hull.cli.play",
    "get": "hull.cli.play",
    "describe": "hull.cli.play",
    "logs": "hull.cli.play",
    "exec": "hull.cli.play",
    "doctor": "hull.cli.doctor",
}

EXIT_CODES = {
    errors.InvalidArgument: 2,
    errors.NotFound: 3,
    errors.AlreadyExists: 4,
    errors.FailedPrecondition: 5,
    errors.Unavailable: 6,
    errors.PermissionDenied: 7,
    errors.ResourceExhausted: 8,
    errors.DeadlineExceeded: 9,
    errors.Aborted: 10,
}


def default_root() -> str:
    return os.environ.get("HULL_ROOT", "/var/lib/hull")


def build_parser(modules: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hull", description="hull: run pods on one machine")
    parser.add_argument("--root", default=default_root(),
                        help="store directory (env HULL_ROOT, default /var/lib/hull)")
    parser.add_argument("--debug", action="store_true", help="log debug detail to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    word = next((a for a in argv if not a.startswith("-")), None)
    if word in COMMANDS:
        modules = [COMMANDS[word]]
    else:  # help or an unknown word: load every module that exists to list them all
        modules = []
        for module in dict.fromkeys(COMMANDS.values()):
            try:
                importlib.import_module(module)
                modules.append(module)
            except ModuleNotFoundError:
                pass
    parser = build_parser(modules)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if args.debug:
        import logging
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args) or 0
    except errors.HullError as e:
        print(f"hull: {e}", file=sys.stderr)
        return next((code for cls, code in EXIT_CODES.items() if isinstance(e, cls)), 1)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
