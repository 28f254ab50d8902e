"""Path names without ``os``: what hull-runc's create path needs of os.path.

``import os`` costs a fresh interpreter ~5 million instructions (it builds
``_collections_abc`` for ``os.environ``): ~1.7 ms of every container
create. Everything else that path needs is in ``posix``. These helpers
give the same answers as ``posixpath`` (tests/unit/sys compare them);
``resolve_dir`` asks the kernel instead of walking symlinks itself.
"""

import posix

_S_IFMT, _S_IFDIR = 0o170000, 0o040000


def exists(path: str) -> bool:
    try:
        posix.stat(path)
    except (OSError, ValueError):
        return False
    return True


def isdir(path: str) -> bool:
    try:
        return posix.stat(path).st_mode & _S_IFMT == _S_IFDIR
    except (OSError, ValueError):
        return False


def join(base: str, *parts: str) -> str:
    """posixpath.join: an absolute part starts over."""
    path = base
    for part in parts:
        if part.startswith("/") or not path:
            path = part
        elif path.endswith("/"):
            path += part
        else:
            path += "/" + part
    return path


def dirname(path: str) -> str:
    """posixpath.dirname: everything before the last slash, trailing slashes off."""
    head = path[:path.rfind("/") + 1]
    if head and head != "/" * len(head):
        head = head.rstrip("/")
    return head


def normpath(path: str) -> str:
    """posixpath.normpath: no "." or empty parts, ".." folded where it can be."""
    if not path:
        return "."
    # POSIX lets a path begin with exactly two slashes mean something else
    initial = 2 if path.startswith("//") and not path.startswith("///") else (
        1 if path.startswith("/") else 0)
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part != ".." or (not initial and not parts) or (parts and parts[-1] == ".."):
            parts.append(part)
        elif parts:
            parts.pop()
    return "/" * initial + "/".join(parts) or "."


def abspath(path: str) -> str:
    if not path.startswith("/"):
        path = join(posix.getcwd(), path)
    return normpath(path)


def relpath(path: str, start: str = ".") -> str:
    """posixpath.relpath."""
    if not path:
        raise ValueError("no path specified")
    here = [p for p in abspath(start).split("/") if p]
    there = [p for p in abspath(path).split("/") if p]
    common = 0
    for a, b in zip(here, there):
        if a != b:
            break
        common += 1
    parts = [".."] * (len(here) - common) + there[common:]
    return "/".join(parts) or "."


def makedirs(path: str, mode: int = 0o777) -> None:
    """os.makedirs(path, mode, exist_ok=True): missing parents get 0o777
    (less the umask), as os makes them since Python 3.7."""
    try:
        posix.mkdir(path, mode)
    except FileExistsError:
        if not isdir(path):
            raise
    except FileNotFoundError:
        parent = dirname(path.rstrip("/"))
        if not parent or parent == path:
            raise
        makedirs(parent)
        try:
            posix.mkdir(path, mode)
        except FileExistsError:
            if not isdir(path):
                raise


def resolve_dir(path: str) -> str:
    """The canonical path of directory ``path``, as the kernel resolved it
    (os.path.realpath, but symlinks followed by the kernel); OSError
    (ENOTDIR, ENOENT, ...) when it is not a reachable directory."""
    fd = posix.open(path, posix.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC)
    try:
        return posix.readlink(f"/proc/self/fd/{fd}")
    finally:
        posix.close(fd)


def fsencode(path: str | bytes) -> bytes:
    """os.fsencode on Linux (UTF-8, undecodable bytes kept as surrogates)."""
    return path if isinstance(path, bytes) else path.encode("utf-8", "surrogateescape")
