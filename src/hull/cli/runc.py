"""``hull-runc``: runc's command line over ``hull.oci``.

Parses (by hand: argparse costs ~8 ms of a ~10 ms budget), calls the
library, maps errors. Like runc, every failure exits 1 with one line: in
the log (``--log``, text or json) and, when the log is a file, on stderr.
"""

from __future__ import annotations

import posix   # not os: see hull.oci.state
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
    """The hull-runc command. Called without ``argv`` (the console script) it
    exits the process itself, skipping the interpreter's teardown: a
    measurable share of a command this short. Output is flushed first."""
    if argv is not None:
        return _main(argv)
    code = _main(sys.argv[1:])
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        posix._exit(code)


def _main(argv: list[str]) -> int:
    import gc

    gc.disable()   # a short-lived command: collections would only cost time
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



def cmd_run(options: Args, args: Args, positional: list[str], log) -> int:
    from hull.oci.run import run

    return run(_store(options), positional[0], _create_options(options, args),
               detach=args.detach, keep=args.keep, subreaper=not args.no_subreaper, log=log)


def cmd_exec(options: Args, args: Args, positional: list[str], log) -> int:
    from hull.oci import execute

    store = _store(options)
    container_id, command = positional[0], positional[1:]
    if args.process:
        process = _read_json(args.process, "--process")
    elif not command:
        raise UsageError("exec needs a command or --process FILE")
    else:
        base = store.load(container_id).config.get("process") or {}
        process = execute.process_from_args(
            base, command, tty=args.tty, cwd=args.cwd, env=args.env, user=args.user,
            additional_gids=args.additional_gids, caps=args.cap,
            no_new_privs=args.no_new_privs)
    if args.cgroup:
        raise UsageError("--cgroup (exec into a sub-cgroup) is not supported")
    exec_options = execute.ExecOptions(process, detach=args.detach, pid_file=args.pid_file,
                                       console_socket=args.console_socket,
                                       preserve_fds=args.preserve_fds,
                                       ignore_paused=args.ignore_paused)
    return execute.exec_process(store, container_id, exec_options, log)


def _read_json(path: str, flag: str):
    from hull.oci import jsonio

    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, "rb") as f:
                text = f.read()
        return jsonio.loads(text)
    except (OSError, ValueError) as e:
        raise errors.InvalidArgument(f"cannot read {flag} {path}: {e}") from e


def cmd_list(options: Args, args: Args, positional: list[str], log) -> int:
    from hull.oci.listing import list_text

    sys.stdout.write(list_text(_store(options), args.format or "table", args.quiet))
    return 0


def cmd_ps(options: Args, args: Args, positional: list[str], log) -> int:
    from hull.oci.listing import ps_text

    sys.stdout.write(ps_text(_store(options), positional[0], args.format or "table",
                             positional[1:]))
    return 0


def cmd_pause(options: Args, args: Args, positional: list[str], log) -> int:
    from hull.oci.pause import pause

    pause(_store(options), positional[0])
    return 0


def cmd_resume(options: Args, args: Args, positional: list[str], log) -> int:
    from hull.oci.pause import resume

    resume(_store(options), positional[0])
    return 0


def cmd_update(options: Args, args: Args, positional: list[str], log) -> int:
    from hull.oci import update

    if args.resources:
        if args.resources == "-":
            text, source = sys.stdin.read(), "stdin"
        else:
            try:
                with open(args.resources) as f:
                    text, source = f.read(), args.resources
            except OSError as e:
                raise errors.from_oserror(e, f"cannot read --resources {args.resources}") from e
        resources = update.resources_from_text(text, source)
    else:
        values = {flag: getattr(args, flag) for flag in update.FLAGS}
        resources = update.resources_from_flags(values)
        if args.l3_cache_schema or args.mem_bw_schema:
            raise UsageError("Intel RDT (--l3-cache-schema, --mem-bw-schema) is not supported")
    update.update(_store(options), positional[0], resources)
    return 0


def cmd_features(options: Args, args: Args, positional: list[str], log) -> int:
    from hull.oci.features import features
    from hull.oci.jsonio import dumps_pretty

    print(dumps_pretty(features(), "    "))
    return 0


def cmd_spec(options: Args, args: Args, positional: list[str], log) -> int:
    from hull.oci.jsonio import dumps_pretty
    from hull.spec.runtime import default_config

    import os

    bundle = args.bundle or "."
    path = os.path.join(bundle, "config.json")
    if os.path.exists(path):
        raise errors.AlreadyExists(f"cannot write {path}: File exists")
    config = default_config(args.rootless, os.getuid(), os.getgid())
    with open(path, "w") as f:
        f.write(dumps_pretty(config, "\t"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
