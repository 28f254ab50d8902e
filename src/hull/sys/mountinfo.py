"""/proc/<pid>/mountinfo, parsed: one ``Mount`` per line.

A line reads (proc(5))::

    36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
    id parent dev root mountpoint options [optional...] - fstype source super-options

The kernel escapes space, tab, newline and backslash (and, in some super
options, ``,`` and ``=``) as ``\\ooo``; every path and option word here is
unescaped. Super options are split on the raw commas first, so an escaped
comma inside ``upperdir=`` stays part of its word. Lines that do not have
this shape are skipped rather than guessed at.
"""

from __future__ import annotations

PATH = "/proc/self/mountinfo"


class Mount:
    """One mount of the table. A plain slotted class, not a dataclass: hull-runc
    imports this per container and ``dataclasses`` costs more than the parse."""

    __slots__ = ("mount_id", "parent_id", "device", "root", "mountpoint", "options",
                 "optional", "fstype", "source", "super_options")

    def __init__(self, mount_id: int, parent_id: int, device: str, root: str,
                 mountpoint: str, options: tuple[str, ...], optional: tuple[str, ...],
                 fstype: str, source: str, super_options: tuple[str, ...]) -> None:
        self.mount_id = mount_id
        self.parent_id = parent_id
        self.device = device                # "major:minor"
        self.root = root                    # the path inside the filesystem that is mounted
        self.mountpoint = mountpoint
        self.options = options              # per-mount: rw, nosuid, relatime ...
        self.optional = optional            # propagation tags: shared:N, master:N ...
        self.fstype = fstype
        self.source = source
        self.super_options = super_options  # per-superblock: rw, upperdir=..., memory ...

    def __repr__(self) -> str:
        return (f"Mount({self.mountpoint!r}, fstype={self.fstype!r}, "
                f"source={self.source!r}, root={self.root!r})")

    def super_option(self, key: str) -> str | None:
        """The value of ``key=value`` among the super options (None if absent)."""
        prefix = key + "="
        for word in self.super_options:
            if word.startswith(prefix):
                return word[len(prefix):]
        return None


def unescape(field: str) -> str:
    """Decode the kernel's ``\\ooo`` octal escapes (``\\040`` is a space)."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _words(field: str) -> tuple[str, ...]:
    return tuple(unescape(word) for word in field.split(",") if word)


def parse_line(line: str) -> Mount | None:
    """One mountinfo line, or None if it does not have mountinfo's shape."""
    head, sep, tail = line.partition(" - ")
    if not sep:
        return None
    fields, post = head.split(), tail.split()
    if len(fields) < 6 or not post:
        return None
    try:
        mount_id, parent_id = int(fields[0]), int(fields[1])
    except ValueError:
        return None
    return Mount(
        mount_id=mount_id, parent_id=parent_id, device=fields[2],
        root=unescape(fields[3]), mountpoint=unescape(fields[4]),
        options=_words(fields[5]), optional=tuple(fields[6:]),
        fstype=post[0], source=unescape(post[1]) if len(post) > 1 else "",
        super_options=_words(post[2]) if len(post) > 2 else ())


def parse(text: str) -> list[Mount]:
    """Every well-formed line of ``text``, in order (parents before children)."""
    return [m for m in map(parse_line, text.splitlines()) if m is not None]


def entries(path: str = PATH) -> list[Mount]:
    """The mounts of ``path`` (this process's mount namespace by default).

    Raises OSError if the file cannot be read."""
    with open(path) as f:
        return parse(f.read())


def find(target: str, path: str = PATH) -> Mount | None:
    """The mount on top at ``target`` (the last one listed), or None."""
    found = None
    for mount in entries(path):
        if mount.mountpoint == target:
            found = mount
    return found


__all__ = ["Mount", "PATH", "entries", "find", "parse", "parse_line", "unescape"]
