"""Apply one layer tar stream to an empty directory, in overlayfs form, safely.

Every entry is created relative to a directory file descriptor that was
reached by walking the entry's parents one component at a time with
``O_NOFOLLOW``: a symlink anywhere on the way fails the walk, so no entry can
be written through a symlink, and ``..`` components are refused before the
walk. Hard links resolve their target the same way, so they can only point
at files this layer already holds. Sizes are bounded by the free space of
the target filesystem, so a sparse or lying entry cannot fill the disk.

Whiteouts become what overlayfs reads: ``.wh.NAME`` a 0:0 character device
named NAME, ``.wh..wh..opq`` the ``trusted.overlay.opaque=y`` xattr on the
directory (``user.overlay.opaque`` for userxattr mounts).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from dataclasses import dataclass

from hull import errors
from hull.snapshots.tar import Member, TarReader

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
COPY_CHUNK = 1 << 20


class HostileLayer(errors.InvalidArgument):
    """The layer tries to write outside its directory or breaks a policy."""


def entry_parts(name: str) -> tuple[str, ...]:
    """'./a//b/' -> ('a', 'b'); leading '/' means the layer root; '..' is refused."""
    if "\0" in name:
        raise HostileLayer(f"entry {name!r} has a NUL byte in its name")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise HostileLayer(f"entry {name!r} has a '..' component")
    return parts


class LayerApplier:
    """Writes tar members under ``root_fd``; one instance per layer."""

    def __init__(self, root: str, *, allow_devices: bool = True,
                 opaque_xattr: str = OPAQUE_XATTR, max_bytes: int | None = None):
        self.root_fd = os.open(root, _DIR_FLAGS)
        self.allow_devices = allow_devices
        self.opaque_xattr = opaque_xattr
        self.same_owner = os.geteuid() == 0
        self.umask = _current_umask()
        self._setgid_dirs: dict[int, bool] = {}
        if max_bytes is None:
            vfs = os.statvfs(self.root_fd)
            max_bytes = vfs.f_bavail * vfs.f_frsize
        self.bytes_left = max_bytes
        self._dir_cache: dict[tuple[str, ...], int] = {}
        self.implied: set[tuple[str, ...]] = set()  # parents made without an entry
        self._dir_times: list[tuple[tuple[str, ...], int]] = []

    def close(self) -> None:
        for fd in self._dir_cache.values():
            os.close(fd)
        self._dir_cache.clear()
        os.close(self.root_fd)

    # -- walking ---------------------------------------------------------------

    def _forget(self, parts: tuple[str, ...]) -> None:
        """Drop cached fds at or below ``parts`` (the directory is being replaced)."""
        for key in [k for k in self._dir_cache if k[:len(parts)] == parts]:
            os.close(self._dir_cache.pop(key))
        self._setgid_dirs.clear()  # fd numbers get reused

    def dir_fd(self, parts: tuple[str, ...], entry: str, *, create: bool = True) -> int:
        if not parts:
            return self.root_fd
        cached = self._dir_cache.get(parts)
        if cached is not None:
            return cached
        parent = self.dir_fd(parts[:-1], entry, create=create)
        name = parts[-1]
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise HostileLayer(f"entry {entry!r} refers to {'/'.join(parts)!r}, "
                                   "which is not in this layer") from None
            os.mkdir(name, 0o755, dir_fd=parent)
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
            self.implied.add(parts)  # metadata comes from a lower layer: see fix_implied_dirs
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise HostileLayer(f"entry {entry!r} would be written through "
                                   f"{'/'.join(parts)!r}, which is not a directory "
                                   "(symlink or file)") from None
            raise
        if len(self._dir_cache) > 512:
            for fd_old in self._dir_cache.values():
                os.close(fd_old)
            self._dir_cache.clear()
            self._setgid_dirs.clear()
        self._dir_cache[parts] = fd
        return fd

    def _clear(self, parts: tuple[str, ...], pfd: int, keep_dir: bool) -> bool:
        """Remove what is at ``parts`` unless both are dirs; True if a dir stays."""
        name = parts[-1]
        try:
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return True
            self._forget(parts)
            shutil.rmtree(name, dir_fd=pfd)
        else:
            os.unlink(name, dir_fd=pfd)
        return False

    # -- entries ---------------------------------------------------------------

    def apply(self, member: Member, data) -> None:
        parts = entry_parts(member.name)
        base = parts[-1] if parts else ""
        if base.startswith(WHITEOUT_PREFIX):
            self._whiteout(member.name, parts)
            return
        if not parts:  # the layer root itself: keep our own directory's metadata
            return
        pfd = self.dir_fd(parts[:-1], member.name)
        if member.isdir():
            try:
                os.mkdir(base, 0o700, dir_fd=pfd)
            except FileExistsError:
                if not self._clear(parts, pfd, keep_dir=True):
                    os.mkdir(base, 0o700, dir_fd=pfd)
            fd = self.dir_fd(parts, member.name)
            self._set_meta_fd(fd, member)
            self._dir_times.append((parts, member.mtime))
            self.implied.discard(parts)
            return
        try:
            self._create(pfd, base, member, data)
        except FileExistsError:  # a later entry replaces an earlier one (rare: no stat first)
            self._clear(parts, pfd, keep_dir=False)
            self._create(pfd, base, member, data)

    def _create(self, pfd: int, base: str, member: Member, data) -> None:
        if member.isreg():
            self._file(pfd, base, member, data)
        elif member.issym():
            self._symlink(pfd, base, member)
        elif member.islnk():
            self._hardlink(pfd, base, member)
        elif member.ischr() or member.isblk():
            self._device(pfd, base, member)
        elif member.isfifo():
            os.mkfifo(base, 0o600, dir_fd=pfd)
            self._set_meta_path(pfd, base, member)
        else:
            raise HostileLayer(f"entry {member.name!r} has unsupported type {member.type!r}")

    def _file(self, pfd: int, base: str, member: Member, data) -> None:
        if member.size > self.bytes_left:
            raise errors.ResourceExhausted(
                f"entry {member.name!r} declares {member.size} bytes, more than the "
                f"{self.bytes_left} bytes of free space left (disk full or a hostile layer)")
        fd = os.open(base, _FILE_FLAGS, member.mode & 0o777, dir_fd=pfd)
        try:
            if member.size:
                remaining = member.size
                while remaining:
                    chunk = data.read(min(COPY_CHUNK, remaining))
                    if not chunk:
                        raise errors.InvalidArgument(
                            f"entry {member.name!r} is truncated in the layer stream")
                    _write_all(fd, chunk)
                    remaining -= len(chunk)
                self.bytes_left -= member.size
            self._set_meta_fd(fd, member, pfd)
        finally:
            os.close(fd)

    def _symlink(self, pfd: int, base: str, member: Member) -> None:
        # the target is only text; nothing is ever written through it (see dir_fd)
        if "\0" in member.linkname or not member.linkname:
            raise HostileLayer(f"entry {member.name!r} is a symlink with an invalid target")
        os.symlink(member.linkname, base, dir_fd=pfd)
        if self.same_owner:
            os.chown(base, member.uid, member.gid, dir_fd=pfd, follow_symlinks=False)
        self._set_xattrs_path(pfd, base, member)
        os.utime(base, ns=(_ns(member.mtime),) * 2, dir_fd=pfd, follow_symlinks=False)

    def _hardlink(self, pfd: int, base: str, member: Member) -> None:
        target = entry_parts(member.linkname)
        if not target:
            raise HostileLayer(f"entry {member.name!r} is a hard link to the layer root")
        tfd = self.dir_fd(target[:-1], member.name, create=False)
        try:
            st = os.stat(target[-1], dir_fd=tfd, follow_symlinks=False)
        except FileNotFoundError:
            raise HostileLayer(f"entry {member.name!r} is a hard link to {member.linkname!r}, "
                               "which is not in this layer") from None
        if stat.S_ISDIR(st.st_mode):
            raise HostileLayer(f"entry {member.name!r} is a hard link to a directory")
        os.link(target[-1], base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)

    def _device(self, pfd: int, base: str, member: Member) -> None:
        if not self.allow_devices:
            raise HostileLayer(f"entry {member.name!r} is a device node, not allowed here")
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        os.mknod(base, kind | 0o600, os.makedev(member.devmajor, member.devminor), dir_fd=pfd)
        self._set_meta_path(pfd, base, member)

    def _whiteout(self, name: str, parts: tuple[str, ...]) -> None:
        base = parts[-1]
        pfd = self.dir_fd(parts[:-1], name)
        if base == OPAQUE_MARKER:
            os.setxattr(pfd, self.opaque_xattr, b"y")
            return
        if base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            return  # aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): meaningless here
        hidden = base[len(WHITEOUT_PREFIX):]
        if hidden in ("", ".", ".."):
            raise HostileLayer(f"entry {name!r} is a whiteout of {hidden!r}")
        self._clear(parts[:-1] + (hidden,), pfd, keep_dir=False)
        os.mknod(hidden, stat.S_IFCHR | 0o600, 0, dir_fd=pfd)

    # -- metadata --------------------------------------------------------------

    def _set_meta_fd(self, fd: int, member: Member, pfd: int | None = None) -> None:
        """Ownership, mode, xattrs, mtime; calls that would change nothing are skipped
        (a root-owned file created with its final mode): they cost a third of the time."""
        if self.same_owner and (member.uid or member.gid or pfd is None or self._setgid(pfd)):
            os.fchown(fd, member.uid, member.gid)
        mode = member.mode & 0o7777
        if pfd is None or mode != mode & ~self.umask & 0o777 or member.uid or member.gid:
            os.fchmod(fd, mode)  # after chown: chown clears set-id bits
        for key, value in _xattrs(member):
            os.setxattr(fd, key, value)
        if not member.isdir():
            os.utime(fd, ns=(_ns(member.mtime),) * 2)

    def _setgid(self, pfd: int) -> bool:
        """Files created in a set-group-ID directory take its group: chown them."""
        cached = self._setgid_dirs.get(pfd)
        if cached is None:
            cached = self._setgid_dirs[pfd] = bool(os.fstat(pfd).st_mode & stat.S_ISGID)
        return cached

    def _set_meta_path(self, pfd: int, base: str, member: Member) -> None:
        if self.same_owner:
            os.chown(base, member.uid, member.gid, dir_fd=pfd, follow_symlinks=False)
        os.chmod(base, member.mode & 0o7777, dir_fd=pfd, follow_symlinks=True)
        self._set_xattrs_path(pfd, base, member)
        os.utime(base, ns=(_ns(member.mtime),) * 2, dir_fd=pfd, follow_symlinks=False)

    def _set_xattrs_path(self, pfd: int, base: str, member: Member) -> None:
        for key, value in _xattrs(member):
            with contextlib.suppress(OSError):  # e.g. user.* is not allowed on symlinks
                os.setxattr(f"/proc/self/fd/{pfd}/{base}", key, value, follow_symlinks=False)

    def finish(self) -> None:
        """Directory mtimes last: creating their children changed them."""
        for parts, mtime in reversed(self._dir_times):
            with contextlib.suppress(HostileLayer, OSError):
                fd = self.dir_fd(parts, "/".join(parts), create=False)
                os.utime(fd, ns=(_ns(mtime),) * 2)


def _current_umask() -> int:
    """From /proc: os.umask() can only read by setting, racing other threads."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o777  # unknown: makes every file get its explicit fchmod


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _ns(mtime: float) -> int:
    return int(mtime * 1_000_000_000)


# overlayfs keeps its own bookkeeping in these namespaces (redirects, origins,
# metacopy): a layer must not be able to forge it, so such entries are dropped
_PRIVATE_XATTRS = ("trusted.overlay.", "user.overlay.")


def _xattrs(member: Member):
    return [(k, v) for k, v in member.xattrs if not k.startswith(_PRIVATE_XATTRS)]


@dataclass
class ApplyResult:
    entries: int
    implied: list[str]  # directories created only as parents of entries


def apply_tar(stream, root: str, *, allow_devices: bool = True,
              opaque_xattr: str = OPAQUE_XATTR, max_bytes: int | None = None) -> ApplyResult:
    """Unpack the uncompressed tar ``stream`` into ``root``."""
    applier = LayerApplier(root, allow_devices=allow_devices, opaque_xattr=opaque_xattr,
                           max_bytes=max_bytes)
    reader = TarReader(stream)
    count = 0
    try:
        for member in reader:
            applier.apply(member, reader)
            count += 1
        applier.finish()
    finally:
        applier.close()
    return ApplyResult(count, sorted("/".join(parts) for parts in applier.implied))


def open_dir_nofollow(base: str, relative: str) -> int | None:
    """An fd of base/relative if every component is a real directory, else None."""
    fd = os.open(base, _DIR_FLAGS)
    try:
        for part in entry_parts(relative):
            next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = next_fd
    except OSError:
        os.close(fd)
        return None
    return fd
