"""Making and unmaking a pod sandbox (blocking; run in the thread pool).

A sandbox is its pinned namespaces (net, ipc, uts), a shm tmpfs, the
/etc files its containers share, its CNI network, its cgroup parent, and
an infra process only when the pod shares one PID namespace.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil

from hull._generated import api_pb2 as api
from hull.cri import namespaces, oci_spec, pause, sandbox_files
from hull.cri.model import Sandbox
from hull.cri.runtime import CreateRequest
from hull.errors import InvalidArgument

log = logging.getLogger("hull.cri")


def view(d, sb: Sandbox) -> oci_spec.SandboxView:
    """What the sandbox's containers need to know of it."""
    opts = sb.config.linux.security_context.namespace_options
    return oci_spec.SandboxView(
        namespaces=sb.namespaces, files=sb.extra.get("files", {}),
        shm=sb.extra.get("shm", ""), cgroup_parent=sb.cgroup_parent,
        sysctls=dict(sb.config.linux.sysctls), hostname=sb.extra.get("hostname", ""),
        infra_pid=sb.extra.get("infra_pid", 0), host_network=opts.network == api.NODE,
        host_ipc=opts.ipc == api.NODE, host_pid=opts.pid == api.NODE,
        uid_mappings=sb.extra.get("uid_mappings", []),
        gid_mappings=sb.extra.get("gid_mappings", []))


def _userns(sb: Sandbox) -> None:
    opts = sb.config.linux.security_context.namespace_options
    if not opts.HasField("userns_options") or opts.userns_options.mode == api.NODE:
        return
    userns = opts.userns_options
    if userns.mode != api.POD:
        raise InvalidArgument(f"cannot run pod sandbox {sb.name}: user namespace mode "
                              f"{api.NamespaceMode.Name(userns.mode)} is not supported")
    if not userns.uids or not userns.gids:
        raise InvalidArgument(f"cannot run pod sandbox {sb.name}: user namespace mode POD "
                              f"needs uid and gid mappings")
    if opts.network == api.NODE:
        raise InvalidArgument(f"cannot run pod sandbox {sb.name}: a user namespace with the "
                              f"host network is not supported")
    if len(userns.uids) != 1 or len(userns.gids) != 1:
        raise InvalidArgument(f"cannot run pod sandbox {sb.name}: hull supports one uid and "
                              f"one gid mapping range per pod (kubelet sends one)")
    for kind, ranges in (("uid", userns.uids), ("gid", userns.gids)):
        if ranges[0].container_id != 0 or ranges[0].length == 0:
            raise InvalidArgument(f"cannot run pod sandbox {sb.name}: the {kind} mapping must "
                                  f"map container id 0")
    to_spec = [{"containerID": m.container_id, "hostID": m.host_id, "size": m.length}
               for m in userns.uids]
    sb.extra["uid_mappings"] = to_spec
    sb.extra["gid_mappings"] = [{"containerID": m.container_id, "hostID": m.host_id,
                                 "size": m.length} for m in userns.gids]


def setup(d, sb: Sandbox) -> None:
    """Make everything; on failure undo what was made and re-raise."""
    with contextlib.ExitStack() as undo:
        undo.callback(teardown, d, sb)
        _setup(d, sb)
        undo.pop_all()


def _setup(d, sb: Sandbox) -> None:
    config = sb.config
    opts = config.linux.security_context.namespace_options
    directory = d.sandbox_dir(sb.id)
    os.makedirs(directory, exist_ok=True)
    _userns(sb)
    hostname = config.hostname or (os.uname().nodename if opts.network == api.NODE
                                   else config.metadata.name[:63])
    sb.extra["hostname"] = hostname
    sb.cgroup_parent = config.linux.cgroup_parent or f"{d.config.cgroup_parent}/{sb.id}"
    sb.extra["own_cgroup"] = not config.linux.cgroup_parent
    kinds = [k for k, mode in (("net", opts.network), ("uts", opts.network), ("ipc", opts.ipc))
             if mode != api.NODE]
    if sb.extra.get("uid_mappings"):
        sb.namespaces = namespaces.pin_in_userns(os.path.join(directory, "ns"), kinds, hostname,
                                                 sb.extra["uid_mappings"][0],
                                                 sb.extra["gid_mappings"][0])
    else:
        sb.namespaces = namespaces.pin(os.path.join(directory, "ns"), kinds, hostname)
    if "net" in sb.namespaces:
        namespaces.loopback_up(sb.namespaces["net"])
    if opts.ipc != api.NODE:
        shm = os.path.join(directory, "shm")
        namespaces.mount_shm(shm)
        sb.extra["shm"] = shm
    else:
        sb.extra["shm"] = "/dev/shm"
    sb.extra["files"] = sandbox_files.write_all(directory, config, hostname)
    d.store.save_sandbox(sb)   # teardown after a crash needs the paths
    if opts.network != api.NODE:
        sb.ips = d.network.setup(sb)
        sb.extra["network"] = True
        d.store.save_sandbox(sb)
    if opts.pid == api.POD:
        _start_infra(d, sb)


def _start_infra(d, sb: Sandbox) -> None:
    runtime = d.runtime(sb.runtime_handler)
    bundle = os.path.join(d.sandbox_dir(sb.id), "infra")
    os.makedirs(bundle, exist_ok=True)
    rootfs = pause.ensure_rootfs(d.config.root)
    spec = oci_spec.infra_spec(sb.id, view(d, sb), rootfs, d.oom_score_floor,
                               sb.config.linux.security_context)
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f)
    sb.infra_id = sb.id
    d.store.save_sandbox(sb)
    pid = runtime.create(CreateRequest(container_id=sb.id, name=f"infra-{sb.id[:12]}",
                                       bundle=bundle))
    runtime.start(sb.id)
    sb.extra["infra_pid"] = pid


def stop_infra(d, sb: Sandbox) -> None:
    if not sb.infra_id or sb.extra.get("infra_deleted"):
        return
    runtime = d.runtime(sb.runtime_handler)
    runtime.kill(sb.infra_id, 9, True)
    runtime.delete(sb.infra_id)
    sb.extra["infra_deleted"] = True   # saved with the sandbox: a second stop skips the runtime


def stop_network(d, sb: Sandbox) -> None:
    if sb.extra.get("network"):
        d.network.teardown(sb)
        sb.extra["network"] = False


def teardown(d, sb: Sandbox) -> None:
    """Release what the sandbox holds at run time; idempotent (StopPodSandbox)."""
    stop_infra(d, sb)
    stop_network(d, sb)
    namespaces.unpin(sb.namespaces)
    shm = sb.extra.get("shm", "")
    if shm and shm != "/dev/shm":
        namespaces.unmount(shm)


def remove_files(d, sb: Sandbox) -> None:
    """What RemovePodSandbox deletes after teardown; idempotent."""
    shutil.rmtree(d.sandbox_dir(sb.id), ignore_errors=True)
    if sb.extra.get("own_cgroup"):
        _remove_cgroup(sb.cgroup_parent)


def _remove_cgroup(path: str) -> None:
    base = "/sys/fs/cgroup"
    try:
        hierarchies = os.listdir(base)
    except FileNotFoundError:
        return
    for h in hierarchies:
        directory = os.path.join(base, h, path.lstrip("/"))
        try:
            os.rmdir(directory)
        except OSError:
            pass
