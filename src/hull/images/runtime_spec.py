"""Image config -> OCI runtime spec, per image-spec's conversion.md.

Env, Entrypoint + Cmd, WorkingDir and User go into ``process``; User names
resolve through the image's own /etc/passwd and /etc/group (read from the
layer directories, top layer first, honouring whiteouts, never following a
symlink out of the image). ExposedPorts, StopSignal and Volumes become
annotations, as conversion.md says for the first two; volumes are also
returned in the ``hull`` annotation so the caller can add mounts.
"""

from __future__ import annotations

import copy
import os
import stat
from pathlib import Path

from hull import errors
from hull.spec.image import ANNOTATION_EXPOSED_PORTS, ANNOTATION_STOP_SIGNAL, ANNOTATION_VOLUMES

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_MAX_FILE = 4 << 20


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: Path) -> bool:
    for name in ("trusted.overlay.opaque", "user.overlay.opaque"):
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            pass
    return False


def read_image_file(lowers: list[str], path: str, hops: int = 8) -> bytes | None:
    """The merged view's file at ``path`` (topmost layer first), or None."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts or hops < 0:
        return None
    for layer in lowers:
        current = Path(layer)
        hidden = False
        for i, part in enumerate(parts):
            candidate = current / part
            try:
                st = candidate.lstat()
            except (FileNotFoundError, NotADirectoryError):
                hidden = i > 0 and _opaque(current)  # an opaque dir hides lower layers
                break
            if _is_whiteout(st):
                return None
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(candidate)
                base = "/" if target.startswith("/") else "/".join(parts[:i])
                rest = "/".join(parts[i + 1:])
                resolved = os.path.normpath(os.path.join("/", base, target, rest))
                return read_image_file(lowers, resolved, hops - 1)
            if i == len(parts) - 1:
                if stat.S_ISREG(st.st_mode) and st.st_size <= _MAX_FILE:
                    return candidate.read_bytes()
                return None
            if not stat.S_ISDIR(st.st_mode):
                return None
            current = candidate
        if hidden:
            return None
    return None


def _table(text: bytes | None) -> list[list[str]]:
    if not text:
        return []
    rows = []
    for line in text.decode("utf-8", "replace").splitlines():
        if line and not line.startswith("#"):
            rows.append(line.split(":"))
    return rows


def resolve_user(user: str, lowers: list[str]) -> dict:
    """'name', 'uid', 'name:group', 'uid:gid' ... -> runtime-spec process.user."""
    user = (user or "").strip()
    if not user:
        return {"uid": 0, "gid": 0}
    name, _, group = user.partition(":")
    passwd = _table(read_image_file(lowers, "/etc/passwd"))
    groups = _table(read_image_file(lowers, "/etc/group"))
    entry = None
    if name.isdigit():
        uid = int(name)
        entry = next((r for r in passwd if len(r) > 3 and r[2] == name), None)
    else:
        entry = next((r for r in passwd if len(r) > 3 and r[0] == name), None)
        if entry is None:
            raise errors.InvalidArgument(f"cannot resolve user {name!r}: not in the image's /etc/passwd")
        uid = int(entry[2])
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            row = next((r for r in groups if len(r) > 2 and r[0] == group), None)
            if row is None:
                raise errors.InvalidArgument(
                    f"cannot resolve group {group!r}: not in the image's /etc/group")
            gid = int(row[2])
        return {"uid": uid, "gid": gid}
    gid = int(entry[3]) if entry and entry[3].isdigit() else 0
    out = {"uid": uid, "gid": gid}
    if entry:
        extra = sorted({int(r[2]) for r in groups if len(r) > 3 and r[2].isdigit()
                        and entry[0] in r[3].split(",") and int(r[2]) != gid})
        if extra:
            out["additionalGids"] = extra
    if entry is None and not name.isdigit():
        raise errors.InvalidArgument(f"cannot resolve user {name!r}")
    return out


def merge_env(image_env: list[str], override: list[str]) -> list[str]:
    merged: dict[str, str] = {}
    for item in list(image_env) + list(override):
        key = item.split("=", 1)[0]
        merged.pop(key, None)
        merged[key] = item
    if "PATH" not in merged:
        merged = {"PATH": DEFAULT_PATH, **merged}
    return list(merged.values())


def default_spec() -> dict:
    return {"ociVersion": "1.0.2", "process": {"terminal": False, "cwd": "/", "args": []},
            "root": {"path": "rootfs"}, "hostname": "", "annotations": {}}


def image_runtime_spec(config: dict, lowers: list[str], base: dict | None = None) -> dict:
    """Fill ``base`` (or a minimal spec) from the image; what base sets already wins."""
    spec = copy.deepcopy(base) if base else default_spec()
    process = spec.setdefault("process", {})
    image = config.get("config") or {}
    if not process.get("args"):
        process["args"] = list(image.get("Entrypoint") or []) + list(image.get("Cmd") or [])
        if not process["args"]:
            raise errors.InvalidArgument("cannot build runtime spec: the image has no "
                                         "Entrypoint or Cmd and none was given")
    process["env"] = merge_env(image.get("Env") or [], process.get("env") or [])
    if process.get("cwd", "/") == "/":  # "/" is the default, so the image may refine it
        process["cwd"] = image.get("WorkingDir") or "/"
    if "user" not in process:
        process["user"] = resolve_user(image.get("User", ""), lowers)
    annotations = spec.setdefault("annotations", {})
    for key, value in image_annotations(config).items():
        annotations.setdefault(key, value)
    return spec


def image_annotations(config: dict) -> dict:
    image = config.get("config") or {}
    out = {}
    if image.get("ExposedPorts"):
        out[ANNOTATION_EXPOSED_PORTS] = ",".join(sorted(image["ExposedPorts"]))
    if image.get("StopSignal"):
        out[ANNOTATION_STOP_SIGNAL] = image["StopSignal"]
    if image.get("Volumes"):
        out[ANNOTATION_VOLUMES] = ",".join(sorted(image["Volumes"]))
    for field, key in (("os", "org.opencontainers.image.os"),
                       ("architecture", "org.opencontainers.image.architecture"),
                       ("variant", "org.opencontainers.image.variant"),
                       ("author", "org.opencontainers.image.author"),
                       ("created", "org.opencontainers.image.created")):
        if config.get(field):
            out[key] = config[field]
    return out
