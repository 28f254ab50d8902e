"""``features``: the runtime-spec features document for hull-runc."""

from __future__ import annotations

from hull.spec import runtime as spec


def features() -> dict:
    from hull.sys import capabilities

    return {
        "ociVersionMin": spec.OCI_VERSION_MIN,
        "ociVersionMax": spec.OCI_VERSION,
        "hooks": list(spec.HOOKS),
        "mountOptions": spec.mount_option_names(),
        "linux": {
            "namespaces": sorted(n for n in spec.NAMESPACES),
            "capabilities": capabilities.names(),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False,
                       "rdma": False},
            "seccomp": _seccomp(),
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": False}},
        },
        "annotations": {"org.opencontainers.runc.version": "hull-runc 0.1.0"},
        "potentiallyUnsafeConfigAnnotations": [],
    }


def _seccomp() -> dict:
    try:
        from hull.sys import seccomp

        return seccomp.features()
    except (ImportError, OSError) as e:
        return {"enabled": False, "reason": str(e)}
