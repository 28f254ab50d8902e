"""The shared plugin skeleton: environment, stdin, versions, result, errors.

A plugin supplies callbacks; ``run`` does the CNI protocol around them:
reads ``CNI_*`` and the config, answers VERSION, rejects versions it does
not speak, converts the callback's (1.x-shaped) result to the requested
``cniVersion``, and turns any failure into the spec's error JSON on stdout
with exit status 1. Nothing but the result or the error goes to stdout.
"""

from __future__ import annotations

import os
import sys

from hull.cni import fastjson as json
from hull import errors
from hull.spec.cni import (ERR_DECODING_FAILURE, ERR_INCOMPATIBLE_VERSION, ERR_INVALID_ENVIRONMENT,
                           ERR_INVALID_NETWORK_CONFIG, ERR_IO_FAILURE, ERR_TRY_AGAIN_LATER,
                           ERR_UNKNOWN_CONTAINER, SUPPORTED_VERSIONS, at_least, convert_result)

#: exit code hull uses for errors that fit no spec code (the reference plugins use 999 too)
ERR_INTERNAL = 999

_CODE_BY_CATEGORY = (
    (errors.InvalidArgument, ERR_INVALID_NETWORK_CONFIG),
    (errors.NotFound, ERR_UNKNOWN_CONTAINER),
    (errors.Unavailable, ERR_TRY_AGAIN_LATER),
)


class PluginError(Exception):
    """An error with a CNI code; becomes ``{"code", "msg", "details"}`` on stdout."""

    def __init__(self, code: int, msg: str, details: str = ""):
        super().__init__(msg)
        self.code, self.msg, self.details = code, msg, details

    def to_json(self, version: str) -> dict:
        out = {"cniVersion": version, "code": self.code, "msg": self.msg}
        if self.details:
            out["details"] = self.details
        return out


class CmdArgs:
    """One invocation: the ``CNI_*`` variables and the decoded stdin config."""

    __slots__ = ("command", "container_id", "netns", "ifname", "args", "path", "stdin", "config")

    def __init__(self, command, container_id="", netns="", ifname="", args=None, path=(),
                 stdin=b"", config=None):
        self.command, self.container_id, self.netns, self.ifname = command, container_id, netns, ifname
        self.args = args or {}
        self.path, self.stdin, self.config = tuple(path), stdin, config or {}

    @property
    def version(self) -> str:
        return self.config.get("cniVersion", "0.1.0")

    @property
    def runtime_config(self) -> dict:
        return self.config.get("runtimeConfig") or {}

    @property
    def prev_result(self) -> dict | None:
        return self.config.get("prevResult")


def parse_cni_args(text: str) -> dict[str, str]:
    """``"K=V;K2=V2"`` -> dict; malformed pairs are an invalid-environment error."""
    found = {}
    for pair in filter(None, text.split(";")):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise PluginError(ERR_INVALID_ENVIRONMENT, f"invalid CNI_ARGS pair {pair!r}")
        found[key] = value
    return found


def _require(env, name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise PluginError(ERR_INVALID_ENVIRONMENT, f"required env variable {name} is missing")
    return value


def read_args(env, stdin: bytes, versions) -> CmdArgs:
    command = _require(env, "CNI_COMMAND")
    args = CmdArgs(command, path=[p for p in env.get("CNI_PATH", "").split(os.pathsep) if p], stdin=stdin)
    if command == "VERSION":
        return args
    if command in ("ADD", "DEL", "CHECK"):
        args.container_id = _require(env, "CNI_CONTAINERID")
        args.ifname = _require(env, "CNI_IFNAME")
        args.netns = env.get("CNI_NETNS", "") if command == "DEL" else _require(env, "CNI_NETNS")
        args.args = parse_cni_args(env.get("CNI_ARGS", ""))
    elif command not in ("GC", "STATUS"):
        raise PluginError(ERR_INVALID_ENVIRONMENT, f"unknown CNI_COMMAND {command!r}")
    try:
        args.config = json.loads(stdin)
    except ValueError as e:
        raise PluginError(ERR_DECODING_FAILURE, f"cannot decode network config on stdin: {e}") from e
    if not isinstance(args.config, dict):
        raise PluginError(ERR_DECODING_FAILURE, "network config on stdin is not a JSON object")
    version = args.config.get("cniVersion", "0.1.0")
    if version not in versions:
        raise PluginError(ERR_INCOMPATIBLE_VERSION, "incompatible CNI versions",
                          f"config is {version!r}, plugin supports {list(versions)}")
    needs = {"CHECK": "0.4.0", "GC": "1.1.0", "STATUS": "1.1.0"}.get(command)
    if needs and not at_least(version, needs):
        raise PluginError(ERR_INCOMPATIBLE_VERSION, f"config version {version} does not allow {command}",
                          f"{command} needs cniVersion >= {needs}")
    return args


def _as_plugin_error(e: BaseException) -> PluginError:
    if isinstance(e, PluginError):
        return e
    if isinstance(e, errors.HullError):
        for category, code in _CODE_BY_CATEGORY:
            if isinstance(e, category):
                return PluginError(code, str(e))
        return PluginError(getattr(e, "cni_code", None) or ERR_INTERNAL, str(e))
    if isinstance(e, OSError):
        return PluginError(ERR_IO_FAILURE, str(e))
    return PluginError(ERR_INTERNAL, f"{type(e).__name__}: {e}")


def run(*, add, delete, check=None, gc=None, status=None, versions=SUPPORTED_VERSIONS,
        about: str = "", env=None, stdin=None, stdout=None) -> int:
    """Run one plugin invocation; returns the process exit status."""
    env = os.environ if env is None else env
    stdout = stdout or sys.stdout
    version = versions[-1]
    try:
        raw = stdin if stdin is not None else (sys.stdin.buffer.read() if env.get("CNI_COMMAND") != "VERSION"
                                               or not sys.stdin.isatty() else b"")
        if not env.get("CNI_COMMAND") and about:
            sys.stderr.write(about + "\n")
        args = read_args(env, raw, versions)
        if args.command == "VERSION":
            stdout.write(json.dumps({"cniVersion": version, "supportedVersions": list(versions)}))
            return 0
        version = args.version
        callback = {"ADD": add, "DEL": delete, "CHECK": check, "GC": gc, "STATUS": status}[args.command]
        if callback is None:
            if args.command in ("GC", "STATUS"):
                return 0  # nothing kept that GC could clean; always ready
            raise PluginError(ERR_INVALID_ENVIRONMENT, f"{args.command} is not implemented")
        result = callback(args)
        if args.command == "ADD":
            stdout.write(json.dumps(convert_result(result, version)))
        return 0
    except BaseException as e:  # the protocol's one error boundary
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        stdout.write(json.dumps(_as_plugin_error(e).to_json(version)))
        return 1
    finally:
        stdout.flush()


def exit_now(status: int) -> int:
    """End the plugin process at once: flush stdout/stderr, then ``os._exit``.

    Interpreter finalization (module teardown, GC) costs a plugin ~10 ms, as much
    as everything else it does; a plugin has nothing to clean up at exit."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)
