"""host-local IPAM: ranges, the on-disk store, and the allocator.

The store is the reference host-local layout, so the two plugins can share
a dataDir: ``<dataDir>/<network>/<ip>`` holds ``"<containerID>\\r\\n<ifname>"``,
``last_reserved_ip.<rangeset index>`` the last address handed out (the
search starts after it: round-robin), and ``lock`` is flock'ed by every
writer. A reservation is a file created with O_EXCL and fsync'ed before
the address is returned, so even after a crash an address is never handed
out twice: the worst a crash leaves is an address reserved for nobody,
which DEL by id or GC releases.
"""

from __future__ import annotations

import fcntl
import os

from hull.cni.ipaddr import AddressError, Subnet, format_ip, parse_ip

DEFAULT_DATA_DIR = "/var/lib/cni/networks"
LINE_BREAK = "\r\n"
LAST_RESERVED = "last_reserved_ip."

#: plugin-specific CNI error code: every address of a range set is taken
ERR_RANGE_EXHAUSTED = 100


class IPAMError(Exception):
    def __init__(self, code: int, msg: str):
        super().__init__(msg)
        self.code, self.msg = code, msg


class ConfigError(IPAMError):
    def __init__(self, msg: str):
        super().__init__(7, msg)


class Range:
    """One range: a subnet, optional start/end inside it, and a gateway."""

    def __init__(self, conf: dict):
        try:
            self.subnet = Subnet(conf["subnet"])
        except KeyError as e:
            raise ConfigError("range has no subnet") from e
        except AddressError as e:
            raise ConfigError(str(e)) from e
        net, version = self.subnet, self.subnet.version
        if version == 4 and net.prefix > 30:
            raise ConfigError(f"network {net} too small to allocate from")
        self.version = version
        self.start = self._inside(conf.get("rangeStart"), net.network + 1, "rangeStart")
        default_end = net.last - 1 if version == 4 else net.last
        self.end = self._inside(conf.get("rangeEnd"), default_end, "rangeEnd")
        self.gateway = self._inside(conf.get("gateway"), net.network + 1, "gateway")
        if self.start > self.end:
            raise ConfigError(f"range {self}: rangeStart is after rangeEnd")

    def _inside(self, text, default: int, field: str) -> int:
        if not text:
            return default
        try:
            value, version = parse_ip(text)
        except AddressError as e:
            raise ConfigError(f"{field}: {e}") from e
        if version != self.subnet.version or value not in self.subnet:
            raise ConfigError(f"{field} {text} is not in network {self.subnet}")
        return value

    def contains(self, value: int) -> bool:
        return self.start <= value <= self.end

    def ip(self, value: int) -> str:
        return format_ip(value, self.version)

    def __str__(self) -> str:
        return f"{self.ip(self.start)}-{self.ip(self.end)}"


class RangeSet(list):
    """Ranges of one family; an attachment gets one address per range set."""

    def __str__(self) -> str:
        return ",".join(str(r) for r in self)

    def find(self, value: int) -> Range | None:
        return next((r for r in self if r.contains(value)), None)


def parse_ranges(ipam: dict) -> list[RangeSet]:
    """The ``ranges`` list of lists, or the legacy top-level ``subnet``."""
    if ipam.get("ranges"):
        sets = ipam["ranges"]
    elif ipam.get("subnet"):
        sets = [[{k: ipam[k] for k in ("subnet", "rangeStart", "rangeEnd", "gateway") if k in ipam}]]
    else:
        raise ConfigError("no IP ranges specified (ipam.ranges or ipam.subnet)")
    if not isinstance(sets, list) or not all(isinstance(s, list) and s for s in sets):
        raise ConfigError("ipam.ranges must be a list of non-empty lists of ranges")
    result = []
    for index, entries in enumerate(sets):
        rs = RangeSet(Range(e) for e in entries)
        if len({r.version for r in rs}) != 1:
            raise ConfigError(f"range set {index} mixes IPv4 and IPv6")
        for i, a in enumerate(rs):
            for b in rs[i + 1:]:
                if a.start <= b.end and b.start <= a.end:
                    raise ConfigError(f"range set {index}: ranges {a} and {b} overlap")
        result.append(rs)
    return result


class Store:
    """The reservation files of one network under ``data_dir``; use as a locked context."""

    def __init__(self, data_dir: str | None, network: str):
        self.dir = os.path.join(data_dir or DEFAULT_DATA_DIR, network)
        self._lock_fd = -1

    def __enter__(self) -> "Store":
        os.makedirs(self.dir, mode=0o755, exist_ok=True)
        self._lock_fd = os.open(os.path.join(self.dir, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        os.close(self._lock_fd)  # closing drops the flock
        self._lock_fd = -1

    def reserve(self, ip: str, container_id: str, ifname: str) -> bool:
        """Create the reservation file; False if the address is taken."""
        path = os.path.join(self.dir, ip)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            return False
        try:
            os.write(fd, f"{container_id}{LINE_BREAK}{ifname}".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return True

    def is_reserved(self, ip: str) -> bool:
        return os.path.exists(os.path.join(self.dir, ip))

    def owner(self, name: str) -> tuple[str, str] | None:
        """(container id, ifname) recorded in reservation file ``name``."""
        try:
            with open(os.path.join(self.dir, name), newline="") as f:
                text = f.read().strip()
        except (FileNotFoundError, IsADirectoryError):
            return None
        cid, _, ifname = text.partition(LINE_BREAK)
        return cid.strip(), ifname.strip()

    def reservations(self) -> list[str]:
        return [n for n in os.listdir(self.dir) if n != "lock" and not n.startswith(LAST_RESERVED)
                and not n.startswith(".")]

    def find(self, container_id: str, ifname: str) -> list[str]:
        found = []
        for name in self.reservations():
            owner = self.owner(name)
            if owner and owner[0] == container_id and owner[1] in (ifname, ""):
                found.append(name)
        return found

    def release(self, name: str) -> None:
        try:
            os.unlink(os.path.join(self.dir, name))
        except FileNotFoundError:
            pass

    def last_reserved(self, index: int) -> str | None:
        try:
            with open(os.path.join(self.dir, f"{LAST_RESERVED}{index}")) as f:
                return f.read().strip() or None
        except FileNotFoundError:
            return None

    def set_last_reserved(self, index: int, ip: str) -> None:
        path = os.path.join(self.dir, f"{LAST_RESERVED}{index}")
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            f.write(ip)
        os.rename(tmp, path)

    def sync(self) -> None:
        """fsync the directory so new reservation names survive a crash."""
        fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _candidates(rs: RangeSet, last: str | None):
    """Every address of the range set once, starting after ``last`` (round-robin)."""
    start_range, start_value = 0, rs[0].start
    if last:
        try:
            value, _ = parse_ip(last)
        except AddressError:
            value = None
        for i, r in enumerate(rs):
            if value is not None and r.contains(value):
                start_range, start_value = (i, value + 1) if value < r.end else ((i + 1) % len(rs), None)
                break
    order = rs[start_range:] + rs[:start_range]
    first = order[0]
    begin = start_value if start_value is not None else first.start
    for value in range(begin, first.end + 1):
        yield first, value
    for r in order[1:]:
        for value in range(r.start, r.end + 1):
            yield r, value
    for value in range(first.start, begin):
        yield first, value


def allocate(store: Store, index: int, rs: RangeSet, container_id: str, ifname: str,
             requested: int | None = None) -> tuple[Range, int]:
    """Reserve one address of range set ``index`` (the requested one, if given)."""
    if requested is not None:
        r = rs.find(requested)
        if r is None or requested == r.gateway or not store.reserve(r.ip(requested), container_id, ifname):
            ip = format_ip(requested, rs[0].version)
            raise IPAMError(ERR_RANGE_EXHAUSTED if r else 7,
                            f"requested IP address {ip} is not available in range set {rs}")
        store.set_last_reserved(index, r.ip(requested))
        return r, requested
    for r, value in _candidates(rs, store.last_reserved(index)):
        if value == r.gateway:
            continue
        ip = r.ip(value)
        if store.reserve(ip, container_id, ifname):
            store.set_last_reserved(index, ip)
            return r, value
    raise IPAMError(ERR_RANGE_EXHAUSTED, f"no IP addresses available in range set: {rs}")
