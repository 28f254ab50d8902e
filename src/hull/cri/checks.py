"""What the kernel and the machine must offer hulld; shared by hulld and `hull doctor`."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from hull.cri.config import Config


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True


def _filesystems() -> str:
    try:
        with open("/proc/filesystems") as f:
            return f.read()
    except OSError:
        return ""


def run(config: Config) -> list[Check]:
    fs = _filesystems()
    found = [
        Check("root", os.geteuid() == 0, "running as root" if os.geteuid() == 0
              else "hulld needs root (namespaces, mounts, cgroups)"),
        Check("overlayfs", "overlay" in fs, "overlay in /proc/filesystems"
              if "overlay" in fs else "no overlay filesystem: modprobe overlay"),
        Check("cgroups", os.path.isdir("/sys/fs/cgroup") and bool(os.listdir("/sys/fs/cgroup")),
              "cgroup filesystem mounted at /sys/fs/cgroup"),
    ]
    for kind in ("net", "ipc", "uts", "pid", "mnt", "user"):
        path = f"/proc/self/ns/{kind}"
        found.append(Check(f"namespace {kind}", os.path.exists(path),
                           f"{path} {'present' if os.path.exists(path) else 'missing'}",
                           required=kind != "user"))
    conmon = config.conmon if os.path.isabs(config.conmon) else shutil.which(config.conmon)
    found.append(Check("conmon", bool(conmon and os.access(conmon, os.X_OK)),
                       conmon or "conmon not found: apt-get install conmon"))
    for name, handler in sorted(config.runtimes.items()):
        ok = os.access(handler.path, os.X_OK)
        found.append(Check(f"runtime {name}", ok, handler.path if ok
                           else f"{handler.path} is not executable",
                           required=name == config.default_runtime))
    if not config.runtimes:
        found.append(Check("runtime", False, "no runc-compatible runtime (runc, crun, hull-runc)"))
    bins = [d for d in config.cni_bin_dirs if os.path.isdir(d)]
    found.append(Check("cni plugins", bool(bins), ", ".join(bins) or
                       f"none of {', '.join(config.cni_bin_dirs)} exists", required=False))
    found.append(Check("busybox (pause)", os.path.exists("/bin/busybox"),
                       "/bin/busybox" if os.path.exists("/bin/busybox")
                       else "install busybox-static: pods sharing a PID namespace need it",
                       required=False))
    return found


def failures(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.required and not c.ok]
