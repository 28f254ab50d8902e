"""Running runtime-spec hooks: the container state as JSON on stdin, the
hook's own args and env (nothing inherited), and its timeout.

Which hooks run where (runtime-spec "Lifecycle"): prestart and
createRuntime in the runtime's namespaces after the container's are made;
createContainer in the container's namespaces before pivot_root;
startContainer in the container just before the user process;
poststart after ``start``; poststop after ``delete``.
"""

from __future__ import annotations

import os

from hull import errors
from hull.oci import jsonio

#: SIGPIPE and SIGXFSZ: Python ignores them, and ignored signals survive execve
IGNORED_BY_PYTHON = (13, 25)


def run_all(hooks: list[dict], kind: str, state: dict) -> None:
    """Run each hook of one kind in order; the first failure raises."""
    payload = jsonio.dumps(state).encode()
    for i, hook in enumerate(hooks):
        run(hook, f"{kind}[{i}]", payload)


def run_all_warning(hooks: list[dict], kind: str, state: dict, warn) -> None:
    """poststart and poststop: a failing hook is a warning and the rest still
    run ("the remaining hooks and lifecycle continue", runtime-spec)."""
    payload = jsonio.dumps(state).encode()
    for i, hook in enumerate(hooks):
        try:
            run(hook, f"{kind}[{i}]", payload)
        except errors.HullError as e:
            warn(str(e))


def run(hook: dict, name: str, payload: bytes) -> None:
    import select

    path = hook["path"]
    argv = hook.get("args") or [path]
    env = dict(entry.split("=", 1) for entry in hook.get("env") or [])
    stdin_r, stdin_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        pid = os.posix_spawn(path, argv, env, file_actions=[
            (os.POSIX_SPAWN_DUP2, stdin_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1),
            (os.POSIX_SPAWN_DUP2, out_w, 2)], setsigdef=IGNORED_BY_PYTHON)
    except OSError as e:
        for fd in (stdin_r, stdin_w, out_r, out_w):
            os.close(fd)
        raise errors.InvalidArgument(f"cannot run hook {name} ({path}): {e.strerror}") from e
    os.close(stdin_r)
    os.close(out_w)
    _feed(stdin_w, payload)
    output = bytearray()
    pidfd = os.pidfd_open(pid)
    timeout = hook.get("timeout")
    deadline = _monotonic() + timeout if timeout else None
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.register(out_r, select.POLLIN)
    try:
        exited = False
        while not exited:
            left = None if deadline is None else max(0, deadline - _monotonic())
            if left == 0:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                raise errors.DeadlineExceeded(
                    f"cannot run hook {name} ({path}): timed out after {timeout}s")
            for fd, _ in poller.poll(None if left is None else int(left * 1000) + 1):
                if fd == out_r:
                    chunk = os.read(out_r, 65536)
                    if chunk:
                        output += chunk[: max(0, 4096 - len(output))]
                    else:
                        poller.unregister(out_r)
                else:
                    exited = True
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(pidfd)
        os.close(out_r)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        said = output.decode(errors="replace").strip().replace("\n", " ")
        reason = f"exit status {code}" if code > 0 else f"killed by signal {-code}"
        raise errors.FailedPrecondition(
            f"cannot run hook {name} ({path}): {reason}" + (f": {said}" if said else ""))


def _feed(fd: int, payload: bytes) -> None:
    try:
        os.write(fd, payload)  # state JSON is far below the pipe buffer
    except BrokenPipeError:
        pass  # the hook need not read its stdin
    finally:
        os.close(fd)


def _monotonic() -> float:
    import time

    return time.monotonic()
