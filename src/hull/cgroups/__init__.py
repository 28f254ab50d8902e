"""cgroup managers: one interface, a v1 and a v2 backend.

``open_manager(cgroups_path, container_id=...)`` detects the host's layout
from /proc/self/mountinfo (v1, hybrid, or pure unified v2), resolves
runc's ``cgroupsPath`` rules and returns a ``Manager``; ``load_manager``
reopens one from the dict ``Manager.save()`` returned, without reading
mountinfo again. The stats shape is documented in ``hull.cgroups.stats``.

Backends are imported only when chosen: hull-runc pays for one of them.
"""

from __future__ import annotations

from hull.cgroups.manager import Manager

__all__ = ["Manager", "Layout", "detect_layout", "open_manager", "load_manager"]


def __getattr__(name: str):
    # paths (and mountinfo, posixpath) load on first use: load_manager, what
    # hull-runc's delete/kill/pause use, never needs them
    if name in ("Layout", "detect_layout"):
        from hull.cgroups import paths

        return getattr(paths, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_manager(cgroups_path: str, *, container_id: str, systemd: bool = False,
                 layout: Layout | None = None) -> Manager:
    """The manager for ``linux.cgroupsPath`` of container ``container_id``.

    ``layout`` overrides detection (tests pass a fake tree's layout).
    """
    from hull.cgroups import paths

    if systemd or paths.is_systemd_path(cgroups_path):
        paths.reject_systemd(cgroups_path, container_id)
    layout = layout or paths.detect_layout()
    if layout.version == 2:
        from hull.cgroups.v2 import V2Manager

        return V2Manager(paths.resolve_v2(layout, cgroups_path, container_id),
                         container_id=container_id, root=layout.unified.mountpoint)
    from hull.cgroups.v1 import V1Manager

    return V1Manager(paths.resolve_v1(layout, cgroups_path, container_id),
                     container_id=container_id)


def load_manager(saved: dict) -> Manager:
    """Reopen the manager ``Manager.save()`` described."""
    from hull.errors import InvalidArgument

    version = saved.get("version")
    if version == 2:
        from hull.cgroups.v2 import V2Manager

        return V2Manager.load(saved)
    if version == 1:
        from hull.cgroups.v1 import V1Manager

        return V1Manager.load(saved)
    raise InvalidArgument(f"cannot load cgroup manager: unknown version {version!r}")
