"""``hull-runc``: runc's command line over ``hull.oci``.

Parses (by hand: argparse costs ~8 ms of a ~10 ms budget), calls the
library, maps errors. Like runc, every failure exits 1 with one line: in
the log (``--log``, text or json) and, when the log is a file, on stderr.
"""

from __future__ import annotations

import os
import sys

from hull import errors

VERSION = "hull-runc 0.1.0"
USAGE = """\
usage: hull-runc [global options] COMMAND [options] ARGS

global options: --root DIR (default /run/hull-runc)  --log FILE  --log-format text|json
                --debug  --systemd-cgroup

commands:
  create    --bundle DIR --pid-file FILE --console-socket SOCK --preserve-fds N
            --no-pivot --no-new-keyring  ID
  start     ID                 release a created container's process
  run       (create options) --detach --keep  ID
  state     ID                 print the runtime-spec state JSON
  kill      [--all] ID [SIGNAL]
  delete    [--force] ID
  exec      --process FILE | ID COMMAND [ARGS]  (--tty --detach --pid-file
            --console-socket --cwd --env --user --additional-gids --cap
            --no-new-privs --preserve-fds --ignore-paused)
  list      [--format table|json] [--quiet]
  ps        [--format table|json] ID [PS ARGS]
  pause     ID                 freeze every process of the container
  resume    ID
  update    --resources FILE|- | --memory N --cpu-share N ... ID
  features                     print what this runtime supports (JSON)
  spec      [--bundle DIR] [--rootless]   write a default config.json
"""

# flag name -> (destination, kind); kind: bool, str, int, list
_CREATE = {"bundle": ("bundle", str), "b": ("bundle", str),
           "console-socket": ("console_socket", str), "pid-file": ("pid_file", str),
           "no-pivot": ("no_pivot", bool), "no-new-keyring": ("no_new_keyring", bool),
           "preserve-fds": ("preserve_fds", int)}
_UPDATE = {name: (name.replace("-", "_"), str) for name in (
    "blkio-weight", "cpu-period", "cpu-quota", "cpu-share", "cpu-rt-period",
    "cpu-rt-runtime", "cpuset-cpus", "cpuset-mems", "memory", "memory-reservation",
    "memory-swap", "pids-limit", "l3-cache-schema", "mem-bw-schema")}
COMMANDS = {  # name -> (flags, minimum positionals, maximum (None: any), flags stop at args)
    "create": (_CREATE, 1, 1, False),
    "run": ({**_CREATE, "detach": ("detach", bool), "d": ("detach", bool),
             "keep": ("keep", bool), "no-subreaper": ("no_subreaper", bool)}, 1, 1, False),
    "start": ({}, 1, 1, False),
    "state": ({}, 1, 1, False),
    "kill": ({"all": ("all", bool), "a": ("all", bool)}, 1, 2, False),
    "delete": ({"force": ("force", bool), "f": ("force", bool)}, 1, 1, False),
    "exec": ({"console-socket": ("console_socket", str), "cwd": ("cwd", str),
              "env": ("env", list), "e": ("env", list), "tty": ("tty", bool),
              "t": ("tty", bool), "user": ("user", str), "u": ("user", str),
              "additional-gids": ("additional_gids", list), "g": ("additional_gids", list),
              "process": ("process", str), "p": ("process", str),
              "detach": ("detach", bool), "d": ("detach", bool), "pid-file": ("pid_file", str),
              "process-label": ("process_label", str), "apparmor": ("apparmor", str),
              "no-new-privs": ("no_new_privs", bool), "cap": ("cap", list),
              "c": ("cap", list), "preserve-fds": ("preserve_fds", int),
              "cgroup": ("cgroup", list), "ignore-paused": ("ignore_paused", bool)},
             1, None, True),
    "list": ({"format": ("format", str), "f": ("format", str), "quiet": ("quiet", bool),
              "q": ("quiet", bool)}, 0, 0, False),
    "ps": ({"format": ("format", str), "f": ("format", str)}, 1, None, True),
    "pause": ({}, 1, 1, False),
    "resume": ({}, 1, 1, False),
    "update": ({**_UPDATE, "resources": ("resources", str), "r": ("resources", str)},
               1, 1, False),
    "features": ({}, 0, 0, False),
    "spec": ({"bundle": ("bundle", str), "b": ("bundle", str),
              "rootless": ("rootless", bool)}, 0, 0, False),
}
GLOBAL = {"root": ("root", str), "log": ("log", str), "log-format": ("log_format", str),
          "debug": ("debug", bool), "systemd-cgroup": ("systemd_cgroup", bool),
          "rootless": ("rootless", str), "criu": ("criu", str)}


class UsageError(Exception):
    pass


class Args:
    """Parsed flags as attributes; unset flags read as their kind's empty value."""

    def __init__(self, flags: dict):
        self._kinds = {dest: kind for dest, kind in flags.values()}
        self.positional: list[str] = []

    def __getattr__(self, name: str):
        kind = self.__dict__.get("_kinds", {}).get(name)
        if kind is None:
            raise AttributeError(name)
        return [] if kind is list else {bool: False, str: "", int: 0}[kind]


def parse_flags(argv: list[str], flags: dict, stop_at_positional: bool) -> tuple[Args, list[str]]:
    """urfave/cli's rules: --name value, --name=value, -name, -n; ``--`` ends flags."""
    args = Args(flags)
    i = 0
    while i < len(argv):
        word = argv[i]
        i += 1
        if word == "--":
            args.positional.extend(argv[i:])
            break
        if not word.startswith("-") or word == "-":
            args.positional.append(word)
            if stop_at_positional:
                args.positional.extend(argv[i:])
                break
            continue
        name, has_value, value = word.lstrip("-").partition("=")
        if name not in flags:
            raise UsageError(f"flag provided but not defined: -{name}")
        dest, kind = flags[name]
        if kind is bool:
            setattr(args, dest, value.lower() not in ("false", "0") if has_value else True)
            continue
        if not has_value:
            if i >= len(argv):
                raise UsageError(f"flag needs an argument: -{name}")
            value = argv[i]
            i += 1
        if kind is int:
            try:
                value = int(value)
            except ValueError:
                raise UsageError(f"invalid value {value!r} for flag -{name}") from None
        if kind is list:
            args.__dict__.setdefault(dest, []).append(value)
        else:
            setattr(args, dest, value)
    return args, args.positional


def split_global(argv: list[str]) -> tuple[Args, str | None, list[str]]:
    """Global flags up to the command word; the command; its own arguments."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if not word.startswith("-"):
            break
        name = word.lstrip("-").partition("=")[0]
        if name in ("help", "h", "version", "v"):
            return Args(GLOBAL), name, []
        takes_value = name in GLOBAL and GLOBAL[name][1] is not bool and "=" not in word
        i += 2 if takes_value else 1
    options, _ = parse_flags(argv[:i], GLOBAL, False)
    if i >= len(argv):
        return options, None, []
    return options, argv[i], argv[i + 1:]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from hull.oci.log import Log

    try:
        options, command, rest = split_global(argv)
    except UsageError as e:
        print(f"hull-runc: {e}", file=sys.stderr)
        return 1
    if command in ("help", "h") or command is None:
        sys.stdout.write(USAGE)
        return 0 if command else 1
    if command in ("version", "v"):
        print(VERSION)
        return 0
    try:
        log = Log(options.log or None, options.log_format or "text", options.debug)
    except ValueError as e:
        print(f"hull-runc: {e}", file=sys.stderr)
        return 1
    try:
        return _dispatch(options, command, rest, log)
    except errors.HullError as e:
        return _fail(log, str(e))
    except UsageError as e:
        return _fail(log, f"{command}: {e}")
    except OSError as e:
        return _fail(log, str(errors.from_oserror(e, f"cannot {command}")))
    except KeyboardInterrupt:
        return 130


def _fail(log, message: str) -> int:
    log.error(message)
    if log.path is not None:
        print(message, file=sys.stderr)
    return 1


def _dispatch(options: Args, command: str, rest: list[str], log) -> int:
    if command not in COMMANDS:
        raise UsageError(f"no such command {command!r} (see hull-runc --help)")
    flags, least, most, stop = COMMANDS[command]
    args, positional = parse_flags(rest, flags, stop)
    if len(positional) < least or (most is not None and len(positional) > most):
        count = least if most == least else f"{least} to {most}" if most else f"{least}+"
        raise UsageError(f"{command!r} requires {count} argument(s)")
    handler = globals()["cmd_" + command]
    return handler(options, args, positional, log) or 0



# --- command handlers: parse -> call hull.oci -> print ------------------------------

def _store(options: Args):
    from hull.oci.state import DEFAULT_ROOT, Store

    return Store(options.root or DEFAULT_ROOT)


def _create_options(options: Args, args: Args):
    from hull.oci.create import CreateOptions

    if args.preserve_fds < 0:
        raise UsageError("--preserve-fds must not be negative")
    return CreateOptions(bundle=args.bundle or ".", pid_file=args.pid_file,
                         console_socket=args.console_socket, preserve_fds=args.preserve_fds,
                         no_pivot=args.no_pivot, no_new_keyring=args.no_new_keyring,
                         systemd_cgroup=options.systemd_cgroup)


def cmd_create(options: Args, args: Args, positional: list[str], log) -> int:
    from hull.oci.create import create

    create(_store(options), positional[0], _create_options(options, args), log)
    return 0


def cmd_start(options: Args, args: Args, positional: list[str], log) -> int:
    from hull.oci.start import start

    start(_store(options), positional[0], log)
    return 0


def cmd_state(options: Args, args: Args, positional: list[str], log) -> int:
    from hull.oci.jsonio import dumps_pretty

    state = _store(options).load(positional[0])
    print(dumps_pretty(state.spec_state()))
    return 0


def cmd_kill(options: Args, args: Args, positional: list[str], log) -> int:
    from hull.oci import signals
    from hull.oci.kill import kill

    signal = signals.parse(positional[1]) if len(positional) > 1 else signals.SIGTERM
    kill(_store(options), positional[0], signal, args.all)
    return 0


def cmd_delete(options: Args, args: Args, positional: list[str], log) -> int:
    from hull.oci.delete import delete

    delete(_store(options), positional[0], args.force, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
