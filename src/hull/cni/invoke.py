"""Executing a CNI plugin: finding it, the environment, timeouts, errors.

``PluginExec`` is the seam: the runtime only calls ``run``, so unit tests
inject a fake. ``SubprocessExec`` runs the real binary in its own process
group and kills it by PID (and its group) when the timeout passes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import dataclass, field

from hull import errors
from hull.spec.cni import (ERR_INCOMPATIBLE_VERSION, ERR_INVALID_ENVIRONMENT, ERR_INVALID_NETWORK_CONFIG,
                           ERR_DECODING_FAILURE, ERR_LIMITED_CONNECTIVITY, ERR_PLUGIN_NOT_AVAILABLE,
                           ERR_TRY_AGAIN_LATER, ERR_UNKNOWN_CONTAINER, ERR_UNSUPPORTED_FIELD)

_CATEGORY_BY_CODE = {
    ERR_INCOMPATIBLE_VERSION: errors.FailedPrecondition,
    ERR_UNSUPPORTED_FIELD: errors.InvalidArgument,
    ERR_UNKNOWN_CONTAINER: errors.NotFound,
    ERR_INVALID_ENVIRONMENT: errors.InvalidArgument,
    ERR_DECODING_FAILURE: errors.InvalidArgument,
    ERR_INVALID_NETWORK_CONFIG: errors.InvalidArgument,
    ERR_TRY_AGAIN_LATER: errors.Unavailable,
    ERR_PLUGIN_NOT_AVAILABLE: errors.Unavailable,
    ERR_LIMITED_CONNECTIVITY: errors.Unavailable,
}


@dataclass
class Invocation:
    """What one plugin call needs: the ``CNI_*`` environment and the stdin config."""

    command: str
    container_id: str = ""
    netns: str = ""
    ifname: str = ""
    args: dict[str, str] = field(default_factory=dict)
    path: tuple[str, ...] = ()

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
        env["CNI_COMMAND"] = self.command
        env["CNI_PATH"] = os.pathsep.join(self.path)
        if self.command in ("ADD", "DEL", "CHECK"):
            env["CNI_CONTAINERID"] = self.container_id
            env["CNI_NETNS"] = self.netns
            env["CNI_IFNAME"] = self.ifname
            if self.args:
                env["CNI_ARGS"] = ";".join(f"{k}={v}" for k, v in self.args.items())
        return env


class PluginExec:
    """Runs one plugin binary; returns its stdout or raises a categorized error."""

    def run(self, plugin_path: str, invocation: Invocation, stdin: bytes, timeout: float) -> bytes:
        raise NotImplementedError


def plugin_error(plugin: str, command: str, code: int | None, msg: str, details: str = "") -> errors.HullError:
    """The error a plugin's ``{code, msg, details}`` turns into; the plugin is named."""
    category = _CATEGORY_BY_CODE.get(code, errors.Internal)
    cause = msg + (f" ({details})" if details else "")
    err = category(f"cannot {command} with CNI plugin {plugin}: {cause}"
                   + (f" [code {code}]" if code is not None else ""))
    err.cni_code, err.cni_msg, err.cni_details, err.plugin = code, msg, details, plugin
    return err


def decode_failure(plugin: str, command: str, returncode: int, stdout: bytes, stderr: bytes) -> errors.HullError:
    """A non-zero exit: the error JSON on stdout if there is one, else stderr."""
    try:
        data = json.loads(stdout)
        if isinstance(data, dict) and ("code" in data or "msg" in data):
            return plugin_error(plugin, command, data.get("code"), str(data.get("msg", "")),
                                str(data.get("details", "")))
    except ValueError:
        pass
    text = (stderr or stdout).decode(errors="replace").strip()[-2000:] or "no output"
    return plugin_error(plugin, command, None, f"exit status {returncode}: {text}")


class SubprocessExec(PluginExec):
    def run(self, plugin_path, invocation, stdin, timeout):
        name = os.path.basename(plugin_path)
        try:
            proc = subprocess.Popen([plugin_path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=invocation.env(), cwd="/",
                                    start_new_session=True, close_fds=True)
        except OSError as e:
            raise errors.from_oserror(e, f"cannot {invocation.command} with CNI plugin {name}") from e
        try:
            stdout, stderr = proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            _kill(proc)
            raise errors.DeadlineExceeded(
                f"cannot {invocation.command} with CNI plugin {name}: no answer in {timeout:g}s; "
                f"killed pid {proc.pid}") from e
        except BaseException:
            _kill(proc)
            raise
        if proc.returncode != 0:
            raise decode_failure(name, invocation.command, proc.returncode, stdout, stderr)
        return stdout


def _kill(proc: subprocess.Popen) -> None:
    """Kill the plugin by PID, and the process group it leads (its ipam child)."""
    for kill in (lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill):
        try:
            kill()
        except (ProcessLookupError, PermissionError):
            pass
    try:
        proc.communicate(timeout=5)
    except (subprocess.TimeoutExpired, ValueError, OSError):
        proc.wait()


def find_plugin(kind: str, bin_dirs: tuple[str, ...] | list[str]) -> str:
    """Path of plugin ``kind`` in the first bin dir holding an executable of that name."""
    for directory in bin_dirs:
        path = os.path.join(directory, kind)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise errors.NotFound(f"cannot find CNI plugin {kind!r} in {', '.join(bin_dirs) or 'no bin dirs'}")
