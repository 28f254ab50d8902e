"""nftables through the ``nft`` command, for the bridge (masquerade) and portmap.

Each change is one ``nft -f -`` transaction, so it applies whole or not at
all. Per-container state lives in map/set elements whose comment names the
container; DEL finds them by that comment, so it needs nothing cached.
A flock per table serialises the "delete the table once it is empty" step
against concurrent ADDs; the lock file goes with the table, so none pile up
in LOCK_DIR.
"""

from __future__ import annotations

import fcntl
import os

from hull.cni import fastjson as json
from hull.cni import procexec

LOCK_DIR = "/run/hull/cni"


class NftError(Exception):
    pass


def available() -> bool:
    return any(os.access(os.path.join(d, "nft"), os.X_OK)
               for d in os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(":") + ["/usr/sbin", "/sbin"])


def _nft_argv() -> list[str]:
    for d in ("/usr/sbin", "/sbin", "/usr/bin", "/bin"):
        if os.access(os.path.join(d, "nft"), os.X_OK):
            return [os.path.join(d, "nft")]
    return ["nft"]


def apply(script: str) -> None:
    """Run an nft script as one transaction."""
    rc, _, err = procexec.run(_nft_argv() + ["-f", "-"], script.encode())
    if rc != 0:
        raise NftError(f"nft failed: {err.decode(errors='replace').strip()}\nscript:\n{script}")


def list_json(what: str) -> list[dict]:
    """``nft -j list <what>`` decoded; [] when the object does not exist."""
    rc, out, err = procexec.run(_nft_argv() + ["-j", "list"] + what.split())
    if rc != 0:
        text = err.decode(errors="replace")
        if "No such file or directory" in text or "does not exist" in text:
            return []
        raise NftError(f"nft list {what} failed: {text.strip()}")
    return json.loads(out).get("nftables", [])


def elements(family: str, table: str, name: str, kind: str = "map") -> list[dict]:
    """Elements of one set or map: dicts with "key" (nft text), "comment", "value"."""
    return table_elements(list_json(f"{kind} {family} {table} {name}")).get((kind, name), [])


def table_elements(objects: list[dict]) -> dict[tuple[str, str], list[dict]]:
    """(kind, name) -> elements, for every set and map in a ``list_json`` answer."""
    found: dict[tuple[str, str], list[dict]] = {}
    for obj in objects:
        for kind in ("set", "map"):
            body = obj.get(kind)
            if not body:
                continue
            elems = found.setdefault((kind, body["name"]), [])
            for elem in body.get("elem", []):
                key, value = (elem if isinstance(elem, list) else (elem, None))
                comment = ""
                if isinstance(key, dict) and "elem" in key:
                    comment = key["elem"].get("comment", "")
                    key = key["elem"]["val"]
                elems.append({"key": key_text(key), "comment": comment, "value": value})
    return found


def key_text(key) -> str:
    """An element key from nft's JSON back to its text form."""
    if isinstance(key, dict) and "concat" in key:
        return " . ".join(key_text(k) for k in key["concat"])
    if isinstance(key, dict) and "prefix" in key:
        return f"{key['prefix']['addr']}/{key['prefix']['len']}"
    return str(key)


def quote(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


class TableLock:
    """flock serialising writers of one nft table; ``remove()`` drops its file.

    Only a holder unlinks the file. A waiter that opened it before the unlink
    then gets the flock of an inode no longer at the path, sees that, and
    opens the path again: the lock held is always the one others will find.
    """

    def __init__(self, family: str, table: str):
        self.path = os.path.join(LOCK_DIR, f"{family}-{table}.lock")
        self.fd = -1

    def __enter__(self):
        os.makedirs(LOCK_DIR, exist_ok=True)
        while self.fd < 0:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if _names(self.path, fd):
                    self.fd = fd
            finally:
                if self.fd != fd:
                    os.close(fd)
        return self

    def remove(self) -> None:
        """Unlink the lock file; call while holding it, once the table is gone."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def __exit__(self, *exc):
        os.close(self.fd)
        self.fd = -1


def _names(path: str, fd: int) -> bool:
    """Whether ``path`` still names the file open at ``fd``."""
    try:
        linked = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (linked.st_dev, linked.st_ino) == (held.st_dev, held.st_ino)


def remove_elements_of(family: str, table: str, maps: list[tuple[str, str]], tag: str) -> int:
    """Delete every element whose comment ends with ``tag`` from the given (kind, name)
    sets/maps; delete the table once none of them holds anything. Returns how many went.
    One ``nft list`` and at most one transaction."""
    with TableLock(family, table) as lock:
        objects = list_json(f"table {family} {table}")
        if not objects:
            lock.remove()   # no table (never made, or a failed ADD): no lock file either
            return 0
        found = table_elements(objects)
        script, left, removed = [], 0, 0
        for kind, name in maps:
            for elem in found.get((kind, name), []):
                if elem["comment"].endswith(tag):
                    script.append(f"delete element {family} {table} {name} {{ {elem['key']} }}")
                    removed += 1
                else:
                    left += 1
        if not left:
            script = [f"delete table {family} {table}"]
        if script:
            apply("\n".join(script) + "\n")
        if not left:
            lock.remove()
        return removed
