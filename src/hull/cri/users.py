"""Resolve a container's uid, gid and groups from its rootfs /etc/passwd and /etc/group."""

from __future__ import annotations

import os
from dataclasses import dataclass

from hull._generated import api_pb2 as api
from hull.errors import InvalidArgument


@dataclass
class Identity:
    uid: int
    gid: int
    groups: list[int]
    name: str = ""


def _entries(rootfs: str, name: str) -> list[list[str]]:
    try:
        with open(os.path.join(rootfs, "etc", name), errors="replace") as f:
            return [line.rstrip("\n").split(":") for line in f if line.strip()
                    and not line.startswith("#")]
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []


def _passwd_by(rootfs: str, *, name: str | None = None, uid: int | None = None):
    for fields in _entries(rootfs, "passwd"):
        if len(fields) < 4:
            continue
        if (name is not None and fields[0] == name) or \
                (uid is not None and fields[2].isdigit() and int(fields[2]) == uid):
            return fields[0], int(fields[2]), int(fields[3]) if fields[3].isdigit() else 0
    return None


def _group_id(rootfs: str, group: str) -> int | None:
    if group.isdigit():
        return int(group)
    for fields in _entries(rootfs, "group"):
        if len(fields) >= 3 and fields[0] == group and fields[2].isdigit():
            return int(fields[2])
    return None


def _member_groups(rootfs: str, user: str) -> list[int]:
    found = []
    for fields in _entries(rootfs, "group"):
        if len(fields) >= 4 and user and user in fields[3].split(",") and fields[2].isdigit():
            found.append(int(fields[2]))
    return found


def resolve(rootfs: str, sc: api.LinuxContainerSecurityContext, image_user: str,
            container: str) -> Identity:
    uid, gid, name = 0, None, ""
    if sc.HasField("run_as_user"):
        uid = sc.run_as_user.value
        found = _passwd_by(rootfs, uid=uid)
        if found:
            name, gid = found[0], found[2]
    elif sc.run_as_username:
        found = _passwd_by(rootfs, name=sc.run_as_username)
        if not found:
            raise InvalidArgument(f"cannot create container {container}: user "
                                  f"{sc.run_as_username!r} is not in the image's /etc/passwd")
        name, uid, gid = found
    elif image_user:
        user, _, group = image_user.partition(":")
        if user.isdigit():
            uid = int(user)
            found = _passwd_by(rootfs, uid=uid)
        else:
            found = _passwd_by(rootfs, name=user)
            if not found:
                raise InvalidArgument(f"cannot create container {container}: image user "
                                      f"{user!r} is not in the image's /etc/passwd")
            uid = found[1]
        if found:
            name, gid = found[0], found[2]
        if group:
            gid = _group_id(rootfs, group)
            if gid is None:
                raise InvalidArgument(f"cannot create container {container}: image group "
                                      f"{group!r} is not in the image's /etc/group")
    else:
        found = _passwd_by(rootfs, uid=0)
        if found:
            name, gid = found[0], found[2]
    if sc.HasField("run_as_group"):
        if not (sc.HasField("run_as_user") or sc.run_as_username):
            raise InvalidArgument(f"cannot create container {container}: run_as_group needs "
                                  f"run_as_user or run_as_username")
        gid = sc.run_as_group.value
    gid = 0 if gid is None else gid
    groups = [gid]
    if sc.supplemental_groups_policy != api.Strict:
        groups += _member_groups(rootfs, name)
    groups += list(sc.supplemental_groups)
    return Identity(uid=uid, gid=gid, groups=list(dict.fromkeys(groups)), name=name)
