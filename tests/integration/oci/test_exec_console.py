"""exec into running containers, console sockets, preserved fds, hooks."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

import pytest

from tests.integration.oci.conftest import receive_one_fd, wait_for

pytestmark = pytest.mark.root


@pytest.fixture
def running(runtime, bundle):
    bundle.write()
    runtime("run", "-d", "--bundle", str(bundle.path), "hull-oci-exec")
    return "hull-oci-exec"


def exec_output(runtime, *args: str) -> tuple[int, str]:
    with tempfile.TemporaryFile() as out:
        result = runtime("exec", *args, check=False, stdout=out)
        out.seek(0)
        return result.returncode, out.read().decode() + result.stderr


def test_exec_runs_in_the_container(runtime, running):
    code, out = exec_output(runtime, running, "sh", "-c", "hostname; cat /proc/1/cmdline")
    assert code == 0, out
    assert out.split("\n")[0] == "hull-oci-test"
    assert "sleep" in out
    code, _ = exec_output(runtime, running, "sh", "-c", "exit 42")
    assert code == 42


def test_exec_env_cwd_user(runtime, running):
    code, out = exec_output(runtime, "--env", "A=1", "-e", "B=2", "--cwd", "/tmp", "-u",
                            "1000:100", running, "sh", "-c", "echo $A$B; pwd; id -u; id -g")
    assert code == 0, out
    assert out.split() == ["12", "/tmp", "1000", "100"]


def test_exec_process_file_and_detach_pid_file(runtime, running, tmp_path):
    process = {"args": ["sh", "-c", "echo from-process-file > /dev/shm/mark; sleep 100"],
               "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}
    (tmp_path / "process.json").write_text(json.dumps(process))
    pid_file = tmp_path / "exec.pid"
    runtime("exec", "--process", str(tmp_path / "process.json"), "--detach", "--pid-file",
            str(pid_file), running)
    pid = int(pid_file.read_text())
    assert os.path.exists(f"/proc/{pid}")
    code, out = exec_output(runtime, running, "sh", "-c", "sleep 0.2; cat /dev/shm/mark")
    assert out.strip() == "from-process-file"
    ps = runtime("ps", "--format", "json", running).stdout
    assert pid in json.loads(ps)


def test_exec_joins_every_namespace_and_the_cgroup(runtime, running):
    init = runtime.state(running)["pid"]
    code, out = exec_output(runtime, running, "sh", "-c",
                            "for n in net ipc uts pid mnt; do readlink /proc/self/ns/$n; done")
    assert code == 0, out
    ours = out.split()
    theirs = [os.readlink(f"/proc/{init}/ns/{n}") for n in ("net", "ipc", "uts", "pid", "mnt")]
    assert ours == theirs


def read_until(fd: int, needle: bytes, limit: int = 1 << 16) -> bytes:
    data = b""
    while needle not in data and len(data) < limit:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data


def test_console_socket_gets_the_pty_master(runtime, bundle, tmp_path):
    path = str(tmp_path / "console.sock")
    thread, received = receive_one_fd(path)
    bundle.process["terminal"] = True
    bundle.process["consoleSize"] = {"height": 30, "width": 100}
    bundle.args("sh", "-c", "tty; stty size; echo done-$((6*7)); sleep 100")
    runtime.create("hull-oci-tty", bundle, "--console-socket", path)
    thread.join(10)
    master = received["fds"][0]
    try:
        runtime("start", "hull-oci-tty")
        output = read_until(master, b"done-42")
        assert b"/dev/pts/" in output
        assert b"30 100" in output
        assert b"done-42" in output
    finally:
        os.close(master)


def test_exec_tty_with_console_socket(runtime, running, tmp_path):
    path = str(tmp_path / "exec-console.sock")
    thread, received = receive_one_fd(path)
    runtime("exec", "-t", "-d", "--console-socket", path, running, "sh", "-c",
            "tty; echo exec-tty-ok; sleep 100")
    thread.join(10)
    try:
        output = read_until(received["fds"][0], b"exec-tty-ok")
        assert b"exec-tty-ok" in output and b"/dev/pts/" in output
    finally:
        os.close(received["fds"][0])


def test_preserve_fds(runtime, bundle):
    read_end, write_end = os.pipe()
    os.set_inheritable(write_end, True)
    bundle.args("sh", "-c", "echo preserved >&3; ls /proc/self/fd").write()
    try:
        with tempfile.TemporaryFile() as out:
            # fd 3 in the runtime must be our pipe's write end
            result = subprocess.run(
                [*runtime.command, "--root", str(runtime.root), "run", "--preserve-fds", "1",
                 "--bundle", str(bundle.path), "hull-oci-pfd"],
                stdout=out, stderr=subprocess.PIPE, text=True, timeout=60,
                preexec_fn=lambda: os.dup2(write_end, 3), pass_fds=(3,))
            out.seek(0)
            listing = out.read().decode().split()
        assert result.returncode == 0, result.stderr
        os.close(write_end)
        write_end = -1
        assert os.read(read_end, 100) == b"preserved\n"
        assert "3" in listing and "5" not in listing
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)


HOOK = """#!/bin/sh
cat > "{out}/$1.json"
echo "$1" >> "{out}/order"
"""


def test_hooks_run_in_order_with_state(runtime, bundle, tmp_path):
    out = tmp_path / "hooks"
    out.mkdir()
    script = tmp_path / "hook.sh"
    script.write_text(HOOK.format(out=out))
    script.chmod(0o755)
    kinds = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart",
             "poststop")
    # createContainer and startContainer run inside the container: bind the hook and
    # the output dir in at the same paths
    bundle.config["mounts"].append({"destination": str(tmp_path), "type": "bind",
                                    "source": str(tmp_path), "options": ["rbind"]})
    bundle.config["hooks"] = {k: [{"path": str(script), "args": ["hook", k],
                                   "timeout": 10}] for k in kinds}
    bundle.config["annotations"] = {"org.hull.test": "yes"}
    runtime.create("hull-oci-hooks", bundle)
    assert (out / "order").read_text().split() == ["prestart", "createRuntime",
                                                  "createContainer"]
    runtime("start", "hull-oci-hooks")
    wait_for(lambda: (out / "poststart.json").exists())
    runtime("delete", "--force", "hull-oci-hooks")
    assert (out / "order").read_text().split() == list(kinds)
    states = {k: json.loads((out / f"{k}.json").read_text()) for k in kinds}
    assert states["prestart"]["status"] == "creating"
    assert states["poststart"]["status"] == "running"
    assert states["poststop"]["status"] == "stopped"
    for state in states.values():
        assert state["id"] == "hull-oci-hooks"
        assert state["bundle"] == str(bundle.path)
        assert state["annotations"] == {"org.hull.test": "yes"}
    assert states["prestart"]["pid"] == states["poststart"]["pid"] > 0


def test_foreground_run_and_exec_relay_their_own_terminal(runtime, bundle):
    """No --console-socket, not detached: hull-runc holds the pty itself (like runc)."""
    bundle.process["terminal"] = True
    bundle.args("sh", "-c", "tty; echo fg-ok; exit 5").write()
    with tempfile.TemporaryFile() as out:
        result = runtime("run", "--bundle", str(bundle.path), "hull-oci-fg", stdout=out,
                         check=False)
        out.seek(0)
        text = out.read().decode()
    assert result.returncode == 5, result.stderr
    assert "/dev/pts/" in text and "fg-ok" in text
    assert runtime.ids() == []
    assert not any(n.startswith("hull-runc-console-") for n in os.listdir("/tmp"))


def test_failing_start_container_hook_fails_start(runtime, bundle, tmp_path):
    bundle.config["hooks"] = {"startContainer": [{"path": "/bin/false"}]}
    runtime.create("hull-oci-schook", bundle)
    result = runtime("start", "hull-oci-schook", check=False)
    assert result.returncode != 0 and "exited before start" in result.stderr
    assert runtime.status("hull-oci-schook") == "stopped"


def test_exec_into_a_user_namespace(runtime, bundle, open_rootfs):
    bundle.config["root"]["path"] = str(open_rootfs)
    bundle.linux["namespaces"].append({"type": "user"})
    bundle.linux["uidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    bundle.linux["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    bundle.config["mounts"] = [m for m in bundle.config["mounts"]
                               if m["destination"] not in ("/sys", "/sys/fs/cgroup")]
    for mount in bundle.config["mounts"]:
        if mount["destination"] == "/dev/pts":
            mount["options"] = [o for o in mount["options"] if o != "gid=5"]
    bundle.write()
    runtime("run", "-d", "--bundle", str(bundle.path), "hull-oci-userns-exec")
    code, out = exec_output(runtime, "hull-oci-userns-exec", "sh", "-c",
                            "id -u; cat /proc/self/uid_map")
    assert code == 0, out
    lines = out.split("\n")
    assert lines[0] == "0" and lines[1].split() == ["0", "200000", "65536"]
