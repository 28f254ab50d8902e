"""CreateContainer: image config merged with the CRI config into an OCI bundle.

The runtime process is made at StartContainer (as containerd does): create
only prepares the rootfs, resolves the user and writes config.json.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets

from hull._generated import api_pb2 as api
from hull.cri import context, images as image_backend, lifecycle, oci_spec, rootfs, users
from hull.cri.model import Container, ContainerState, SandboxState, container_name
from hull.cri.sandbox_ops import view
from hull.cri.store import require_container, require_sandbox
from hull.errors import FailedPrecondition, InvalidArgument


def command(config: api.ContainerConfig, image_cfg: dict, name: str) -> list[str]:
    entrypoint = list(image_cfg.get("Entrypoint") or [])
    cmd = list(image_cfg.get("Cmd") or [])
    if config.command:
        args = list(config.command) + list(config.args)
    elif config.args:
        args = entrypoint + list(config.args)
    else:
        args = entrypoint + cmd
    if not args:
        raise InvalidArgument(f"cannot create container {name}: no command given and the "
                              f"image has no entrypoint or cmd")
    return args


def environment(config: api.ContainerConfig, image_cfg: dict) -> list[str]:
    env: dict[str, str] = {}
    for item in image_cfg.get("Env") or []:
        key, _, value = item.partition("=")
        env[key] = value
    for kv in config.envs:
        env[kv.key] = kv.value
    env.setdefault("PATH", oci_spec.DEFAULT_PATH)
    return [f"{k}={v}" for k, v in env.items()]


def log_path(sb, config: api.ContainerConfig) -> str:
    if not config.log_path:
        return ""
    return os.path.join(sb.config.log_directory, config.log_path)


def resolve_image_volumes(d, config: api.ContainerConfig) -> None:
    """Check image volumes and record each one's image id (reported in ContainerStatus)."""
    for m in config.mounts:
        if not (m.HasField("image") and m.image.image):
            continue
        if not m.readonly:
            raise InvalidArgument(f"cannot create container {config.metadata.name}: image volume "
                                  f"{m.image.image} at {m.container_path} must be read-only")
        if m.host_path:
            raise InvalidArgument(f"cannot create container {config.metadata.name}: mount "
                                  f"{m.container_path} names both an image and a host path")
        found = rootfs.lookup_image(d, m.image.image, f"mount image volume at {m.container_path}")
        m.image.image_ref = found.id


def make_mount_points(rootfs: str, mounts: list[dict]) -> None:
    """Create missing bind-mount targets in the writable layer now, as root.

    runc would create them as the container's root, which cannot write the
    image's directories when the pod has a user namespace (no idmap mounts).
    """
    top = os.path.realpath(rootfs)
    for m in mounts:
        if m.get("type") != "bind":
            continue
        dest = os.path.join(top, m["destination"].lstrip("/"))
        if os.path.lexists(dest):
            continue
        parent = os.path.realpath(os.path.dirname(dest))
        if parent != top and not parent.startswith(top + "/"):
            continue   # a symlink leading out of the rootfs: leave it to the runtime
        os.makedirs(parent, exist_ok=True)
        if os.path.isdir(m["source"]):
            os.mkdir(dest)
        else:
            open(dest, "a").close()


def prepare(d, sb, c: Container, image) -> None:
    """Rootfs, user, spec; undone entirely on failure."""
    config = c.config
    bundle = d.container_dir(c.id)
    with contextlib.ExitStack() as undo:
        undo.callback(lifecycle.release_sync, d, c)
        os.makedirs(bundle, exist_ok=True)
        target = rootfs.prepare(d, c, image, undo)
        image_cfg = image_backend.image_user_config(image)
        sc = config.linux.security_context
        who = users.resolve(target, sc, image_cfg.get("User", ""), config.metadata.name)
        runtime = d.runtime(c.runtime_handler)
        rro = runtime.features().recursive_read_only_mounts
        mounts = oci_spec.user_mounts(config, rro) + rootfs.image_volumes(d, c, rro, undo)
        target_pid = 0
        if sc.namespace_options.pid == api.TARGET:
            peer = require_container(d.store, sc.namespace_options.target_id,
                                     "share PID namespace of")
            target_pid = peer.pid
        plan = oci_spec.ContainerPlan(
            container_id=c.id, config=config, sandbox=view(d, sb), rootfs=target,
            args=command(config, image_cfg, config.metadata.name),
            env=environment(config, image_cfg),
            cwd=config.working_dir or image_cfg.get("WorkingDir") or "/",
            uid=who.uid, gid=who.gid, groups=who.groups, mounts=mounts, target_pid=target_pid,
            oom_score_floor=d.oom_score_floor)
        spec = oci_spec.build(plan)
        make_mount_points(target, spec["mounts"])
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(spec, f)
        if c.log_path:
            os.makedirs(os.path.dirname(c.log_path), exist_ok=True)
        c.extra["user"] = {"uid": who.uid, "gid": who.gid, "groups": who.groups}
        c.extra["stop_signal"] = image_cfg.get("StopSignal", "")
        undo.pop_all()


async def handle(d, request: api.CreateContainerRequest, ctx) -> api.CreateContainerResponse:
    config = request.config
    context.set_pod(request.pod_sandbox_id)
    if not config.metadata.name:
        raise InvalidArgument("cannot create container: metadata.name is empty")
    sb = require_sandbox(d.store, request.pod_sandbox_id, "create container in")
    if sb.state is not SandboxState.READY:
        raise FailedPrecondition(f"cannot create container {config.metadata.name} in pod "
                                 f"sandbox {sb.id}: the sandbox is not ready")
    if config.linux.security_context.privileged and \
            not sb.config.linux.security_context.privileged:
        raise InvalidArgument(f"cannot create container {config.metadata.name}: a privileged "
                              f"container needs a privileged pod sandbox")
    image = rootfs.lookup_image(d, config.image.image,
                                f"create container {config.metadata.name}")
    await d.blocking(resolve_image_volumes, d, config)
    c = Container(id=secrets.token_hex(32), sandbox_id=sb.id,
                  name=container_name(sb.id, config.metadata), config=config,
                  image_id=image.id, image_ref=image.id, image_name=config.image.image,
                  runtime_handler=sb.runtime_handler, log_path=log_path(sb, config),
                  resources=config.linux.resources.SerializeToString())
    context.set_container(c.id)
    d.store.add_container(c)
    async with d.locks.hold(c.id):
        try:
            await d.blocking(prepare, d, sb, c, image)
        except BaseException:
            d.store.delete_container(c.id)
            raise
        c.state = ContainerState.CREATED
        d.store.save_container(c)
    lifecycle.publish(d, c, api.CONTAINER_CREATED_EVENT)
    return api.CreateContainerResponse(container_id=c.id)
