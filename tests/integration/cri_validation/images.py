"""critest's test images, rebuilt from busybox-static and pushed to a loopback registry.

No public registry is reachable here, so each image critest pulls is built
locally (hull's ImageStore.build_rootfs in a scratch store, exported as an
OCI layout) and pushed with skopeo to a docker-registry on 127.0.0.1 under
the same repository path. hulld's registries.conf rewrites the public
prefixes (``registry.k8s.io``, ``gcr.io/k8s-staging-cri-tools``) to that
registry, so the tests use critest's exact image names:

=========================================================  ===================================
critest image                                              stand-in
=========================================================  ===================================
registry.k8s.io/e2e-test-images/busybox:1.29-2             busybox-static rootfs
registry.k8s.io/e2e-test-images/nginx:1.14-2               C ``nginx`` master: pid file, titled
                                                           ``nginx: master process``, runs
                                                           busybox httpd on :80
registry.k8s.io/e2e-test-images/httpd:2.4.39-4             busybox httpd on :80, logs "httpd"
registry.k8s.io/e2e-test-images/nonewprivs:1.3             setuid-root C program printing
                                                           ``Effective uid: N``
gcr.io/k8s-staging-cri-tools/test-image-*                  busybox with critest's tags, users
                                                           and /etc/group
=========================================================  ===================================
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from hull.testing import busybox
from hull.testing.registry import push_image

E2E = "registry.k8s.io/e2e-test-images"
STAGING = "gcr.io/k8s-staging-cri-tools"
BUSYBOX = f"{E2E}/busybox:1.29-2"
NGINX = f"{E2E}/nginx:1.14-2"
HTTPD = f"{E2E}/httpd:2.4.39-4"
NONEWPRIVS = f"{E2E}/nonewprivs:1.3"

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

NGINX_C = r"""
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
static pid_t child;
static void forward(int sig) { if (child > 0) kill(child, SIGTERM); _exit(0); }
int main(int argc, char **argv) {
    const char *title = "nginx: master process nginx -g daemon off;";
    if (strcmp(argv[0], title) != 0) {  /* retitle: /proc/<pid>/cmdline shows argv */
        execl("/proc/self/exe", title, (char *)0);
        _exit(127);
    }
    signal(SIGTERM, forward); signal(SIGINT, forward); signal(SIGQUIT, forward);
    child = fork();
    if (child == 0) {
        execl("/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/usr/share/nginx/html", (char *)0);
        _exit(127);
    }
    FILE *f = fopen("/var/run/nginx.pid", "w");
    if (f) { fprintf(f, "%d\n", getpid()); fclose(f); }
    int status;
    while (waitpid(child, &status, 0) < 0) {}
    return 0;
}
"""

NONEWPRIVS_C = r"""
#include <stdio.h>
#include <unistd.h>
int main(void) { printf("Effective uid: %d\n", geteuid()); return 0; }
"""

# Debian's busybox-static has no pgrep or ipcs applet; critest's busybox image does
PGREP_SH = """#!/bin/sh
pattern="$1"; status=1
for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [ "$pid" = "$$" ] && continue
    read -r comm < "$dir/comm" 2>/dev/null || continue
    case "$comm" in *$pattern*) echo "$pid"; status=0;; esac
done
exit $status
"""
IPCS_SH = """#!/bin/sh
echo "------ Shared Memory Segments --------"
echo "key        shmid      owner      perms      bytes      nattch"
awk 'NR > 1 { printf "0x%08x %-10s %-10s %-10s %-10s %-10s\\n", $1, $2, $8, $3, $4, $7 }' /proc/sysvipc/shm
"""

# test-image-predefined-group: default-user (1000) also belongs to gid 50000 by /etc/group
PASSWD_PREDEFINED = ("root:x:0:0:root:/root:/bin/sh\n"
                     "default-user:x:1000:1000:default user:/home/hull:/bin/sh\n"
                     "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
GROUP_PREDEFINED = ("root:x:0:\ndefault-user:x:1000:\n"
                    "group-defined-in-image:x:50000:default-user\nnogroup:x:65534:\n")


def _compile(source: str, output: Path, workdir: Path) -> None:
    src = workdir / (output.name + ".c")
    src.write_text(source)
    subprocess.run(["gcc", "-static", "-O1", "-o", str(output), str(src)], check=True,
                   capture_output=True)


class ImageFactory:
    """Builds rootfs trees into a scratch store and pushes them to ``registry``."""

    def __init__(self, workdir: str, registry_host: str):
        from hull.images import ImageStore

        self.work = Path(workdir)
        self.registry = registry_host
        self.store = ImageStore(str(self.work / "store"))
        self.layout = self.work / "layout"
        self.bins = self.work / "bin"
        self.bins.mkdir(parents=True, exist_ok=True)
        _compile(NGINX_C, self.bins / "nginx", self.work)
        _compile(NONEWPRIVS_C, self.bins / "nonewprivs", self.work)
        self._count = 0

    def rootfs(self, marker: str = "") -> Path:
        self._count += 1
        root = busybox.make_rootfs(self.work / f"rootfs-{self._count}")
        _hardlink_applets(root)
        if marker:
            (root / "etc/hull-image").write_text(marker + "\n")
        for name, script in (("pgrep", PGREP_SH), ("ipcs", IPCS_SH)):
            (root / "usr/bin" / name).write_text(script)
            os.chmod(root / "usr/bin" / name, 0o755)
        return root

    def build(self, root: Path, local_name: str, config: dict) -> None:
        config = {"Env": [PATH_ENV], "WorkingDir": "/", **config}
        self.store.build_rootfs(str(root), local_name, config=config)
        self.store.export_layout(local_name, str(self.layout), tag=_layout_tag(local_name))

    def push(self, local_name: str, *names: str) -> None:
        """Push one built image under each public ``names`` (their registry part rewritten)."""
        for name in names:
            push_image(self.layout, _layout_tag(local_name), self.remote(name),
                       registry=_Plain())

    def remote(self, name: str) -> str:
        for prefix in (E2E, STAGING, "registry.k8s.io"):
            if name.startswith(prefix + "/"):
                return f"{self.registry}/{_remote_path(prefix)}{name[len(prefix):]}"
        raise ValueError(name)

    def digest(self, name: str) -> str:
        out = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--raw",
                              f"docker://{self.remote(name)}"], check=True,
                             capture_output=True).stdout
        import hashlib
        return "sha256:" + hashlib.sha256(out).hexdigest()

    def cleanup(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)


def _hardlink_applets(root: Path) -> None:
    """Applets as hard links of /bin/busybox, as in the busybox image critest uses.

    With symlinks, masking /bin/ls (MaskedPaths spec) would mask /bin/busybox itself.
    """
    target = root / "bin/busybox"
    for path in root.rglob("*"):
        if path.is_symlink() and os.readlink(path) == "/bin/busybox":
            path.unlink()
            os.link(target, path)


class _Plain:
    tls = False


def _layout_tag(local_name: str) -> str:
    return local_name.replace("/", "-").replace(":", "-")


def _remote_path(prefix: str) -> str:
    return {E2E: "e2e-test-images", STAGING: "k8s-staging-cri-tools",
            "registry.k8s.io": "k8s"}[prefix]


def registries_conf(registry_host: str) -> str:
    """containers-registries.conf v2 rewriting critest's public prefixes to the loopback registry."""
    entries = []
    for prefix in (E2E, STAGING, "registry.k8s.io"):
        entries.append(f'[[registry]]\nprefix = "{prefix}"\n'
                       f'location = "{registry_host}/{_remote_path(prefix)}"\ninsecure = true\n')
    return "\n".join(entries)


def build_all(factory: ImageFactory) -> dict[str, str]:
    """Build and push every stand-in; returns extra facts (e.g. the digest reference)."""
    f = factory
    root = f.rootfs()
    f.build(root, "busybox", {"Cmd": ["sh"]})
    f.push("busybox", BUSYBOX, f"{STAGING}/test-image-tag:test", f"{STAGING}/test-image-latest:latest",
           f"{STAGING}/test-image-tag:all", f"{STAGING}/test-image-digest:latest",
           *(f"{STAGING}/test-image-tags:{n}" for n in (1, 2, 3)))
    www = root / "www"
    www.mkdir()
    (www / "index.html").write_text("<html><body>It works!</body></html>\n")
    f.build(root, "httpd", {"Cmd": ["sh", "-c",
                                    "echo 'httpd: resuming normal operations' >&2; "
                                    "exec httpd -f -vv -p 80 -h /www"],
                            "ExposedPorts": {"80/tcp": {}}})
    f.push("httpd", HTTPD)
    html = root / "usr/share/nginx/html"
    html.mkdir(parents=True)
    (html / "index.html").write_text("<html><body>Welcome to nginx!</body></html>\n")
    shutil.copy2(f.bins / "nginx", root / "usr/sbin/nginx")
    (root / "var/run").mkdir(parents=True, exist_ok=True)
    f.build(root, "nginx", {"Cmd": ["/usr/sbin/nginx"], "ExposedPorts": {"80/tcp": {}}})
    f.push("nginx", NGINX)
    _build_nonewprivs(f)
    for i in (1, 2, 3):
        f.build(f.rootfs(marker=f"test-image-{i}"), f"image-{i}", {"Cmd": ["sh"]})
        f.push(f"image-{i}", f"{STAGING}/test-image-{i}:latest")
    _build_user_images(f)
    return {"digest_ref": f"{STAGING}/test-image-digest@" + f.digest(f"{STAGING}/test-image-digest:latest")}


def _build_nonewprivs(f: ImageFactory) -> None:
    root = f.rootfs(marker="nonewprivs")
    target = root / "usr/local/bin/nonewprivs"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(f.bins / "nonewprivs", target)
    os.chown(target, 0, 0)
    os.chmod(target, 0o4755)
    f.build(root, "nonewprivs", {"Cmd": ["/usr/local/bin/nonewprivs"]})
    f.push("nonewprivs", NONEWPRIVS)


def _build_user_images(f: ImageFactory) -> None:
    for name, user in (("test-image-user-uid", "1002"), ("test-image-user-username", "www-data"),
                       ("test-image-user-uid-group", "1003:users"),
                       ("test-image-user-username-group", "www-data:users")):
        root = f.rootfs(marker=name)
        f.build(root, name, {"Cmd": ["sh"], "User": user})
        f.push(name, f"{STAGING}/{name}:latest")
    root = f.rootfs(marker="predefined-group")
    (root / "etc/group").write_text(GROUP_PREDEFINED)
    (root / "etc/passwd").write_text(PASSWD_PREDEFINED)
    f.build(root, "predefined", {"Cmd": ["sh"], "User": "1000"})
    f.push("predefined", f"{STAGING}/test-image-predefined-group:latest")


def describe(facts: dict) -> str:
    return json.dumps(facts)
