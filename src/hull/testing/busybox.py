"""Container root filesystems built from Debian's busybox-static.

No registry is reachable from these machines, so tests and the demo make
their images from the static busybox binary: one file plus a symlink per
applet, and the few files in /etc that programs expect.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

BUSYBOX = Path("/bin/busybox")

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
hull:x:1000:1000:hull test user:/home/hull:/bin/sh
"""

GROUP = """\
root:x:0:
daemon:x:1:
www-data:x:33:
users:x:100:hull
nogroup:x:65534:
hull:x:1000:
"""


def applets(busybox: Path = BUSYBOX) -> list[str]:
    """Install paths of every applet, relative to /, e.g. ``bin/sh``."""
    out = subprocess.run([str(busybox), "--list-full"], check=True,
                         capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def make_rootfs(dest: str | os.PathLike, busybox: Path = BUSYBOX) -> Path:
    """Build a busybox root filesystem at ``dest`` (created; must not exist)."""
    if not busybox.exists():
        raise FileNotFoundError(f"{busybox} is missing: install busybox-static (scripts/setup does)")
    root = Path(dest)
    root.mkdir(parents=True)
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp",
              "root", "home/hull", "var/www", "run"):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    shutil.copy2(busybox, root / "bin/busybox")
    for path in applets(busybox):
        link = root / path
        if link.name == "busybox" or link.exists() or link.is_symlink():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("/bin/busybox")
    (root / "etc/passwd").write_text(PASSWD)
    (root / "etc/group").write_text(GROUP)
    (root / "etc/hostname").write_text("busybox\n")
    (root / "etc/hosts").write_text("127.0.0.1\tlocalhost\n")
    os.chown(root / "home/hull", 1000, 1000) if os.geteuid() == 0 else None
    return root
