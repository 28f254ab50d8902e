"""Filters loaded for real in a child process, their effect observed."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import threading

import pytest

from hull.sys import seccomp

pytestmark = pytest.mark.root

ALLOW = "SCMP_ACT_ALLOW"


def test_errno_rule_with_custom_errno(run_filtered, tmp_path):
    target = tmp_path / "made"
    result = run_filtered(
        {"defaultAction": ALLOW,
         "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                       "errnoRet": errno.ENOTEMPTY}]},
        f"try:\n    os.mkdir({str(target)!r})\nexcept OSError as e:\n    print(e.errno)\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(errno.ENOTEMPTY)
    assert not target.exists()


def test_argument_filter_hits_only_the_matching_value(run_filtered):
    result = run_filtered(
        {"defaultAction": ALLOW,
         "syscalls": [{"names": ["getpriority"], "action": "SCMP_ACT_ERRNO",
                       "args": [{"index": 0, "value": os.PRIO_PGRP, "op": "SCMP_CMP_EQ"}]}]},
        "def call(which):\n"
        "    try:\n        os.getpriority(which, 0); return 'ok'\n"
        "    except OSError as e:\n        return str(e.errno)\n"
        "print(call(os.PRIO_PROCESS), call(os.PRIO_PGRP), call(os.PRIO_USER))\n")
    assert result.stdout.split() == ["ok", str(errno.EPERM), "ok"]


def test_several_conditions_on_one_argument_are_alternatives(run_filtered):
    result = run_filtered(
        {"defaultAction": ALLOW,
         "syscalls": [{"names": ["getpriority"], "action": "SCMP_ACT_ERRNO",
                       "args": [{"index": 0, "value": os.PRIO_PGRP, "op": "SCMP_CMP_EQ"},
                                {"index": 0, "value": os.PRIO_USER, "op": "SCMP_CMP_EQ"}]}]},
        "def call(which):\n"
        "    try:\n        os.getpriority(which, 0); return 'ok'\n"
        "    except OSError as e:\n        return str(e.errno)\n"
        "print(call(os.PRIO_PROCESS), call(os.PRIO_PGRP), call(os.PRIO_USER))\n")
    assert result.stdout.split() == ["ok", str(errno.EPERM), str(errno.EPERM)]


def test_masked_eq_blocks_file_creation_only(run_filtered, tmp_path):
    existing = tmp_path / "existing"
    existing.write_text("x")
    result = run_filtered(
        {"defaultAction": ALLOW,
         "syscalls": [{"names": ["openat"], "action": "SCMP_ACT_ERRNO",
                       "errnoRet": errno.EACCES,
                       "args": [{"index": 2, "value": os.O_CREAT, "valueTwo": os.O_CREAT,
                                 "op": "SCMP_CMP_MASKED_EQ"}]}]},
        f"os.close(os.open({str(existing)!r}, os.O_RDONLY))\n"
        f"try:\n    os.open({str(tmp_path / 'new')!r}, os.O_WRONLY | os.O_CREAT)\n"
        "except OSError as e:\n    print(e.errno)\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(errno.EACCES)
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"])
def test_kill_and_trap_end_the_process_with_sigsys(run_filtered, action):
    result = run_filtered(
        {"defaultAction": ALLOW, "syscalls": [{"names": ["getppid"], "action": action}]},
        "print('before', flush=True)\nos.getppid()\nprint('after', flush=True)\n")
    assert result.returncode == -signal.SIGSYS
    assert result.stdout == "before\n"


def test_log_action_allows(run_filtered):
    result = run_filtered(
        {"defaultAction": ALLOW, "flags": ["SECCOMP_FILTER_FLAG_LOG"],
         "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_LOG"}]},
        "print(os.getppid() > 0)\n")
    assert result.stdout.strip() == "True"


def test_default_errno_with_allow_list(run_filtered):
    allowed = ["write", "exit", "exit_group", "rt_sigreturn", "rt_sigprocmask", "rt_sigaction",
               "brk", "mmap", "munmap", "mremap", "madvise", "futex", "getpid", "gettid",
               "sigaltstack", "close", "fstat", "newfstatat", "lseek", "ioctl", "getrandom"]
    result = run_filtered(
        {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": errno.ENOSYS,
         "syscalls": [{"names": allowed, "action": ALLOW}]},
        "try:\n    os.getcwd()\nexcept OSError as e:\n"
        "    os.write(1, str(e.errno).encode())\nos._exit(0)\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == str(errno.ENOSYS)


def test_syscalls_newer_than_the_profile_get_enosys(run_filtered):
    allowed = ["write", "exit", "exit_group", "rt_sigreturn", "rt_sigprocmask", "rt_sigaction",
               "brk", "mmap", "munmap", "mremap", "madvise", "futex", "getpid", "gettid",
               "sigaltstack", "close", "fstat", "newfstatat", "lseek", "ioctl", "getrandom"]
    getcwd = seccomp._seccomp_lib().seccomp_syscall_resolve_name(b"getcwd")
    result = run_filtered(
        {"defaultAction": "SCMP_ACT_ERRNO",
         "syscalls": [{"names": allowed, "action": ALLOW}]},
        "from hull.sys.ffi import get_errno\n"   # loaded with libc, before the filter
        "out = []\n"
        f"for nr in ({getcwd}, 1000):   # older and not allowed; past every syscall\n"
        "    libc._libc.syscall(nr, 0, 0)\n"
        "    out.append(str(get_errno()))\n"
        "os.write(1, ' '.join(out).encode())\nos._exit(0)\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(errno.EPERM), str(errno.ENOSYS)]


NOTIFY_PRELUDE = """
import os, sys, struct, fcntl, threading, queue
from hull.sys import libc, seccomp
prog = open(sys.argv[1], "rb").read()
fds = queue.Queue()
def supervisor():
    # started before the filter, so this thread is not filtered itself
    fd = fds.get()
    buf = bytearray(80)
    fcntl.ioctl(fd, 0xC0502100, buf)             # SECCOMP_IOCTL_NOTIF_RECV
    notif_id, pid, _, nr = struct.unpack_from("<QIIi", buf)
    resp = struct.pack("<Qqii", notif_id, 0, -18, 0)   # answer -EXDEV
    fcntl.ioctl(fd, 0xC0182101, bytearray(resp))    # SECCOMP_IOCTL_NOTIF_SEND
    print("notified", nr, flush=True)
thread = threading.Thread(target=supervisor)
thread.start()
libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
listener = seccomp.load_filter(prog, sys.argv[2:])
fds.put(listener)
"""


def test_notify_returns_a_working_listener(run_filtered, tmp_path):
    result = run_filtered(
        {"defaultAction": ALLOW, "listenerPath": "/unused",
         "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]},
        f"try:\n    os.mkdir({str(tmp_path / 'x')!r})\n"
        "except OSError as e:\n    err = e.errno\nthread.join()\nprint('errno', err)\n",
        prelude=NOTIFY_PRELUDE)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[0].startswith("notified ")
    assert lines[1] == f"errno {errno.EXDEV}"


def test_load_without_listener_returns_none_and_filters_only_the_caller():
    prog = seccomp.compile_filter({"defaultAction": ALLOW})
    pid = os.fork()
    if pid == 0:   # pragma: no cover - child
        from hull.sys import libc

        libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
        code = 0 if seccomp.load_filter(prog, []) is None else 1
        with open("/proc/self/status") as f:
            mode = [line for line in f if line.startswith("Seccomp:")][0].split()[1]
        os._exit(code if mode == "2" else 2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with open("/proc/self/status") as f:
        assert "Seccomp:\t0" in f.read()


def test_send_listener_passes_fd_and_state(tmp_path):
    path = str(tmp_path / "agent.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    got = {}

    def agent():
        conn, _ = server.accept()
        with conn:
            msg, fds, _, _ = socket.recv_fds(conn, 65536, 4)
            got["msg"], got["fds"] = json.loads(msg), fds

    thread = threading.Thread(target=agent)
    thread.start()
    r, w = os.pipe()
    try:
        seccomp.send_listener(path, r, {"ociVersion": "1.0.2", "id": "c1", "pid": 42,
                                        "status": "creating"}, metadata="meta")
        thread.join(timeout=30)
    finally:
        server.close()
        os.close(r)
    try:
        assert got["msg"]["fds"] == ["seccompFd"]
        assert got["msg"]["pid"] == 42 and got["msg"]["metadata"] == "meta"
        assert got["msg"]["state"]["id"] == "c1"
        os.write(w, b"z")
        assert os.read(got["fds"][0], 1) == b"z"
    finally:
        os.close(w)
        for fd in got.get("fds", []):
            os.close(fd)
