"""A fake cgroup2 filesystem for tests: a temporary directory plus the
kernel's behaviour for the files that have some.

This machine's cgroup2 mount has no controllers, so v2 resource handling
is tested here: ``FakeCgroup2(root)`` lays out a root cgroup with the
controllers a v2 kernel offers; ``install(monkeypatch)`` routes
``hull.cgroups.files.write``/``mkdir`` through it, so that

- ``mkdir`` creates the interface files the kernel would (core files, plus
  each controller's files for the controllers the parent delegates);
- ``cgroup.subtree_control`` takes "+cpu -io" edits, refuses controllers
  the cgroup lacks, and updates the children's ``cgroup.controllers``;
- ``cgroup.procs`` appends; ``cgroup.freeze`` updates ``cgroup.events``;
- values the kernel would refuse (a malformed cpu.max, a cpu.weight past
  10000, ...) fail with EINVAL, as the kernel's parsers do;
- every other write replaces the file's content, and is recorded in
  ``writes`` as (path relative to the root, value) for exact assertions.
"""

from __future__ import annotations

import errno
import os

from hull.cgroups import files
from hull.cgroups.paths import Layout, Mount

CONTROLLERS = ("cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc")
HUGEPAGE_SIZES = ("2MB", "1GB")

CORE_FILES = {
    "cgroup.controllers": "", "cgroup.subtree_control": "", "cgroup.procs": "",
    "cgroup.threads": "", "cgroup.type": "domain\n", "cgroup.freeze": "0\n",
    "cgroup.kill": "", "cgroup.events": "populated 0\nfrozen 0\n",
    "cgroup.max.depth": "max\n", "cgroup.max.descendants": "max\n",
    "cgroup.stat": "nr_descendants 0\nnr_dying_descendants 0\n",
}

CONTROLLER_FILES = {
    "cpu": {"cpu.weight": "100\n", "cpu.weight.nice": "0\n", "cpu.max": "max 100000\n",
            "cpu.max.burst": "0\n", "cpu.idle": "0\n", "cpu.pressure": "",
            "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\n"
                        "nr_throttled 0\nthrottled_usec 0\n"},
    "cpuset": {"cpuset.cpus": "\n", "cpuset.mems": "\n", "cpuset.cpus.effective": "0-1\n",
               "cpuset.mems.effective": "0\n", "cpuset.cpus.partition": "member\n"},
    "memory": {"memory.max": "max\n", "memory.high": "max\n", "memory.low": "0\n",
               "memory.min": "0\n", "memory.swap.max": "max\n", "memory.swap.current": "0\n",
               "memory.current": "0\n", "memory.peak": "0\n", "memory.oom.group": "0\n",
               "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
               "memory.stat": "anon 0\nfile 0\ninactive_file 0\npgfault 0\npgmajfault 0\n"},
    "io": {"io.max": "", "io.weight": "default 100\n", "io.stat": "", "io.pressure": ""},
    "pids": {"pids.max": "max\n", "pids.current": "0\n", "pids.events": "max 0\n"},
    "rdma": {"rdma.max": "", "rdma.current": ""},
    "misc": {"misc.max": "", "misc.current": ""},
    "hugetlb": {f"hugetlb.{size}.{name}": value for size in HUGEPAGE_SIZES
                for name, value in (("max", "max\n"), ("current", "0\n"),
                                    ("events", "max 0\n"), ("rsvd.max", "max\n"))},
}


def _number_or_max(text: str) -> bool:
    return text == "max" or text.isdigit()


def _in_range(lo: int, hi: int):
    return lambda text: text.isdigit() and lo <= int(text) <= hi


def _device_keyed(keys: tuple[str, ...]):
    """ "8:0 rbps=1 wiops=max" (io.max) or "8:0 300" / "300" (io.weight)."""
    def valid(text: str) -> bool:
        parts = text.split()
        if not parts:
            return False
        if ":" in parts[0]:
            major, _, minor = parts[0].partition(":")
            if not (major.isdigit() and minor.isdigit()):
                return False
            parts = parts[1:]
        for part in parts:
            key, eq, value = part.partition("=")
            if eq and (key not in keys or not _number_or_max(value)):
                return False
            if not eq and not (keys == () and part.isdigit()):
                return False
        return bool(parts)
    return valid


# what the kernel's parsers accept, for the files the backends write
VALIDATORS = {
    "cpu.max": lambda t: len(t.split()) in (1, 2) and _number_or_max(t.split()[0])
    and all(p.isdigit() for p in t.split()[1:]),
    "cpu.weight": _in_range(1, 10000),
    "cpu.idle": _in_range(0, 1),
    "cpu.max.burst": str.isdigit,
    "memory.max": _number_or_max, "memory.high": _number_or_max, "memory.low": _number_or_max,
    "memory.min": _number_or_max, "memory.swap.max": _number_or_max,
    "pids.max": _number_or_max,
    "io.max": _device_keyed(("rbps", "wbps", "riops", "wiops")),
    "io.weight": _device_keyed(()),
    "io.bfq.weight": _device_keyed(()),
}


class FakeCgroup2:
    def __init__(self, root: str, controllers: tuple[str, ...] = CONTROLLERS) -> None:
        self.root = os.path.abspath(root)
        self.writes: list[tuple[str, str]] = []
        self._real_write = files.write
        os.makedirs(self.root, exist_ok=True)
        self._fill(self.root, " ".join(controllers))
        for name in ("cgroup.type", "cgroup.freeze", "cgroup.kill", "cgroup.events"):
            os.unlink(os.path.join(self.root, name))   # the root cgroup lacks these

    # --- wiring ---
    def install(self, monkeypatch) -> "FakeCgroup2":
        monkeypatch.setattr(files, "write", self.write)
        monkeypatch.setattr(files, "mkdir", self.mkdir)
        monkeypatch.setattr(files, "rmdir_tree", self.rmdir_tree)
        return self

    def layout(self, own: str = "/") -> Layout:
        """A pure-v2 layout whose cgroup2 mount is this tree; we live in ``own``."""
        return Layout({}, Mount(self.root, "/"), {"": own})

    def mountinfo(self) -> str:
        return f"30 23 0:26 / {self.root} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"

    # --- the kernel's side ---
    def _fill(self, directory: str, controllers: str) -> None:
        wanted = dict(CORE_FILES)
        wanted["cgroup.controllers"] = controllers + "\n" if controllers else ""
        for controller in controllers.split():
            wanted.update(CONTROLLER_FILES.get(controller, {}))
        for name, content in wanted.items():
            path = os.path.join(directory, name)
            if not os.path.exists(path):
                with open(path, "w") as f:
                    f.write(content)

    def mkdir(self, path: str) -> bool:
        if os.path.isdir(path):
            return False
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            self.mkdir(parent)
        os.mkdir(path)
        delegated = self.read(parent, "cgroup.subtree_control").split()
        self._fill(path, " ".join(delegated))
        return True

    def rmdir_tree(self, path: str, attempts: int = 1) -> None:
        """rmdir as the kernel does it: sub-cgroups first, and only without processes."""
        if not os.path.isdir(path):
            return
        for entry in os.scandir(path):
            if entry.is_dir():
                self.rmdir_tree(entry.path)
        if self.read(path, "cgroup.procs").strip():
            err = OSError(errno.EBUSY, os.strerror(errno.EBUSY), path)
            raise files.from_oserror(err, f"cannot remove cgroup {path}")
        for entry in os.scandir(path):
            os.unlink(entry.path)
        os.rmdir(path)

    def read(self, directory: str, name: str) -> str:
        with open(os.path.join(directory, name)) as f:
            return f.read()

    def _replace(self, directory: str, name: str, content: str) -> None:
        with open(os.path.join(directory, name), "w") as f:
            f.write(content)

    def write(self, directory: str, name: str, value, field: str = "") -> None:
        text = str(value)
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            # the same error path as the real kernel's ENOENT
            return self._real_write(directory, name, value, field)
        valid = VALIDATORS.get(name) or (_number_or_max if name.startswith("hugetlb.") else None)
        if valid and not valid(text.strip()):
            raise files._error(OSError(errno.EINVAL, os.strerror(errno.EINVAL)), path, value,
                               field)
        self.writes.append((os.path.relpath(path, self.root), text))
        try:
            if name == "cgroup.subtree_control":
                self._subtree_control(directory, text)
            elif name == "cgroup.procs":
                with open(path, "a") as f:
                    f.write(text.strip() + "\n")
            elif name == "cgroup.freeze":
                frozen = text.strip() == "1"
                self._replace(directory, name, "1\n" if frozen else "0\n")
                self._replace(directory, "cgroup.events",
                              f"populated 0\nfrozen {1 if frozen else 0}\n")
            else:
                self._replace(directory, name, text + "\n")
        except OSError as e:
            raise files._error(e, path, value, field) from e

    def _subtree_control(self, directory: str, text: str) -> None:
        available = self.read(directory, "cgroup.controllers").split()
        enabled = self.read(directory, "cgroup.subtree_control").split()
        for token in text.split():
            sign, controller = token[0], token[1:]
            if sign not in "+-" or controller not in available:
                raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
            if sign == "+" and controller not in enabled:
                enabled.append(controller)
            elif sign == "-" and controller in enabled:
                enabled.remove(controller)
        self._replace(directory, "cgroup.subtree_control", " ".join(enabled) + "\n")
        for entry in os.scandir(directory):
            if entry.is_dir():
                self._replace(entry.path, "cgroup.controllers", " ".join(enabled) + "\n")
                self._fill(entry.path, " ".join(enabled))

    def written(self, relpath_prefix: str = "") -> dict[str, str]:
        """Last value written per file (relative path), optionally under a prefix."""
        out = {}
        for path, value in self.writes:
            if path.startswith(relpath_prefix):
                out[path] = value
        return out
