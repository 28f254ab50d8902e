"""Parent directories a layer created without tar entries, fixed once its lowers exist.

containerd applies a layer onto a mount of its parents, so an entry
``tmp/x`` without a ``tmp/`` entry lands in the lower layer's ``/tmp`` (with
its mode), and ``lib/x`` over a lower ``lib -> usr/lib`` symlink lands in
``usr/lib``. hull unpacks each layer into an empty directory, in parallel,
so it creates such parents itself and, once the whole chain is unpacked,
makes them match: a lower directory lends its owner, mode and times; a lower
symlink (resolved inside the image, never outside) moves the directory's
contents to where the symlink points. Everything is done through directory
fds reached without following symlinks.
"""

from __future__ import annotations

import os
import posixpath
import stat

from hull.snapshots.unpack import entry_parts, open_dir_nofollow

MAX_HOPS = 8


def _split(relative: str) -> tuple[str, str]:
    parent, _, name = relative.rpartition("/")
    return parent, name


def _lower_entry(lower: str, relative: str) -> tuple[os.stat_result, str | None] | None:
    """(lstat, symlink target) of lower/relative, its parents walked without following."""
    parent, name = _split(relative)
    fd = open_dir_nofollow(lower, parent)
    if fd is None:
        return None
    try:
        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        link = os.readlink(name, dir_fd=fd) if stat.S_ISLNK(st.st_mode) else None
        return st, link
    except OSError:
        return None
    finally:
        os.close(fd)


def resolve_in_image(relative: str, link: str) -> str:
    """Where a symlink at ``relative`` points, as a path inside the image ('..' clamped at /)."""
    base = "/" if link.startswith("/") else "/" + _split(relative)[0]
    return posixpath.normpath(posixpath.join(base, link)).lstrip("/")


def _copy_metadata(fd: int, st: os.stat_result) -> None:
    os.fchown(fd, st.st_uid, st.st_gid)
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
    os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))


def _ensure_dirs(layer: str, relative: str) -> list[str] | None:
    """mkdir -p inside the layer without following symlinks; the dirs it created."""
    created, path = [], ""
    fd = os.open(layer, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for part in entry_parts(relative):
            path = f"{path}/{part}" if path else part
            try:
                os.mkdir(part, 0o755, dir_fd=fd)
                created.append(path)
            except FileExistsError:
                pass
            try:
                next_fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError:
                return None  # a file or symlink of this layer is in the way
            os.close(fd)
            fd = next_fd
    finally:
        os.close(fd)
    return created


def _move(layer: str, relative: str, destination: str) -> list[str]:
    """Move the layer's dir ``relative`` to ``destination`` (merging into one the layer
    has); returns the dirs that now need their metadata from below."""
    dest_parent, dest_name = _split(destination)
    created = _ensure_dirs(layer, dest_parent) if dest_parent else []
    if created is None:
        return []
    src_parent, src_name = _split(relative)
    src_fd = open_dir_nofollow(layer, src_parent)
    dst_fd = open_dir_nofollow(layer, dest_parent)
    try:
        if src_fd is None or dst_fd is None:
            return created
        try:
            os.rename(src_name, dest_name, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
            return created + [destination]  # still implied, now at its real path
        except OSError:
            pass  # the destination exists in this layer: merge child by child
        inner_src = open_dir_nofollow(layer, relative)
        inner_dst = open_dir_nofollow(layer, destination)
        try:
            if inner_src is None or inner_dst is None:
                return created
            for child in os.listdir(inner_src):
                try:
                    os.rename(child, child, src_dir_fd=inner_src, dst_dir_fd=inner_dst)
                except OSError:
                    pass  # the layer has both: keep the one at the real path
        finally:
            for fd in (inner_src, inner_dst):
                if fd is not None:
                    os.close(fd)
        try:
            os.rmdir(src_name, dir_fd=src_fd)
        except OSError:
            pass
        return created
    finally:
        for fd in (src_fd, dst_fd):
            if fd is not None:
                os.close(fd)


def _fix_one(layer_dirs: list[str], index: int, relative: str, hops: int) -> None:
    target = open_dir_nofollow(layer_dirs[index], relative)
    if target is None:
        return  # replaced by a later entry of that layer, or moved already
    try:
        for lower in reversed(layer_dirs[:index]):
            found = _lower_entry(lower, relative)
            if found is None:
                continue
            st, link = found
            if stat.S_ISDIR(st.st_mode):
                _copy_metadata(target, st)
                return
            if link is None or hops <= 0:
                return  # a file or whiteout below: the directory is new here
            destination = resolve_in_image(relative, link)
            if not destination or destination == relative or \
                    destination.startswith(relative + "/") or relative.startswith(destination + "/"):
                return  # a loop or the image root: leave it
            break
        else:
            return
    finally:
        os.close(target)
    for path in _move(layer_dirs[index], relative, destination):
        _fix_one(layer_dirs, index, path, hops - 1)


def fix_implied_dirs(layer_dirs: list[str], index: int, implied: list[str]) -> None:
    """Make layer ``index``'s implied dirs agree with its lower layers (parents first)."""
    for relative in sorted(implied, key=lambda p: p.count("/")):
        _fix_one(layer_dirs, index, relative, MAX_HOPS)
