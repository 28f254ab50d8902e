"""Device access rules: the defaults every container gets, and the eBPF
program that enforces OCI ``linux.resources.devices`` on cgroup v2.

The program sees (type, access, major, minor) for each open or mknod and
returns 1 to allow. Each requested access is decided separately by the
last rule that matches the device and names that access, as in the OCI
spec and v1's devices.allow/deny: so "deny w" refuses an O_RDWR open, and
"allow r" plus "allow w" permit it. An access no rule covers is denied.
"""

from __future__ import annotations

import struct

# runc's list of devices every container may use (appended after the config's rules)
DEFAULT_ALLOWED_DEVICES = [
    {"allow": True, "type": "c", "major": None, "minor": None, "access": "m"},
    {"allow": True, "type": "b", "major": None, "minor": None, "access": "m"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},     # /dev/null
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},     # /dev/random
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},     # /dev/full
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},     # /dev/tty
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},     # /dev/zero
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},     # /dev/urandom
    {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},     # /dev/console
    {"allow": True, "type": "c", "major": 136, "minor": None, "access": "rwm"},  # /dev/pts/*
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},     # /dev/ptmx
    {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"},  # /dev/net/tun
]

# struct bpf_cgroup_dev_ctx: u32 access_type (access << 16 | type), u32 major, u32 minor
DEV_TYPE = {"b": 1, "c": 2}
DEV_ACCESS = {"m": 1, "r": 2, "w": 4}
ALL_ACCESS = 7

# eBPF opcodes used below
_LDXW = 0x61        # dst = *(u32 *)(src + off)
_AND32_K = 0x54
_RSH32_K = 0x74
_MOV32_K = 0xB4
_MOV32_X = 0xBC
_JEQ_K = 0x15
_JNE_K = 0x55
_EXIT = 0x95
_JA = 0x05


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, dst | (src << 4), off, imm)


def access_mask(access: str | None) -> int:
    mask = 0
    for ch in access or "rwm":
        mask |= DEV_ACCESS[ch]
    return mask


def _wild(value: int | None) -> bool:
    return value is None or value == -1


def _match_checks(rule: dict) -> list[tuple]:
    """Jumps to "next" unless the device matches the rule's type, major and minor."""
    kind = rule.get("type", "a")
    if kind == "a":
        return []
    checks = [(_JNE_K, 2, 0, "next", DEV_TYPE[kind])]
    if not _wild(rule.get("major")):
        checks.append((_JNE_K, 4, 0, "next", rule["major"]))
    if not _wild(rule.get("minor")):
        checks.append((_JNE_K, 5, 0, "next", rule["minor"]))
    return checks


def _access_section(rules: list[dict], bit: int) -> list[tuple]:
    """Decide one requested access bit: the last rule that covers it wins."""
    body: list[tuple] = []
    decided = False
    for rule in reversed(rules):
        if not access_mask(rule.get("access")) & bit:
            continue
        checks = _match_checks(rule)
        if rule["allow"]:
            verdict = [(_JA, 0, 0, "end", 0)]                 # this bit is allowed
        else:
            verdict = [(_MOV32_K, 0, 0, 0, 0), (_EXIT, 0, 0, 0, 0)]
        block = checks + verdict
        for index, insn in enumerate(block):
            if insn[3] == "next":
                insn = insn[:3] + (len(block) - index - 1,) + insn[4:]
            body.append(insn)
        if not checks:
            decided = True   # matches every device: earlier rules are unreachable
            break
    if not decided:
        body += [(_MOV32_K, 0, 0, 0, 0), (_EXIT, 0, 0, 0, 0)]   # no rule covers it: deny
    # skip the section when the bit is not requested
    section = [(_MOV32_X, 1, 3, 0, 0), (_AND32_K, 1, 0, 0, bit),
               (_JEQ_K, 1, 0, len(body), 0)] + body
    out = []
    for index, insn in enumerate(section):
        if insn[3] == "end":
            insn = insn[:3] + (len(section) - index - 1,) + insn[4:]
        out.append(insn)
    return out


def compile_rules(rules: list[dict]) -> bytes:
    """The cgroup device program (raw eBPF instructions) for ``rules``.

    Each requested access (mknod, read, write) is decided on its own by the
    last rule covering it, so "allow r" plus "allow w" allows an O_RDWR
    open, as v1's merged exceptions do.
    """
    program = [
        (_LDXW, 2, 1, 0, 0),           # r2 = access_type
        (_AND32_K, 2, 0, 0, 0xFFFF),   # r2 = device type
        (_LDXW, 3, 1, 0, 0),
        (_RSH32_K, 3, 0, 0, 16),       # r3 = requested access
        (_LDXW, 4, 1, 4, 0),           # r4 = major
        (_LDXW, 5, 1, 8, 0),           # r5 = minor
    ]
    for bit in (DEV_ACCESS["m"], DEV_ACCESS["r"], DEV_ACCESS["w"]):
        program += _access_section(rules, bit)
    program += [(_MOV32_K, 0, 0, 0, 1), (_EXIT, 0, 0, 0, 0)]   # every requested bit allowed
    return b"".join(_insn(*insn) for insn in program)


def apply_ebpf(directory: str, rules: list[dict]) -> None:
    """Attach the program for ``rules`` to the cgroup, replacing earlier ones."""
    import os

    from hull.errors import from_oserror
    from hull.sys import bpf

    try:
        prog_fd = bpf.prog_load_cgroup_device(compile_rules(rules))
    except OSError as e:
        raise from_oserror(e, f"cannot load device filter for cgroup {directory}") from e
    try:
        cgroup_fd = bpf.open_cgroup(directory)
    except OSError as e:
        os.close(prog_fd)
        raise from_oserror(e, f"cannot open cgroup {directory}") from e
    try:
        old = bpf.prog_query(cgroup_fd)
        bpf.prog_attach(cgroup_fd, prog_fd)
        # the new program is in place before the old ones go: no moment without a filter
        for prog_id in old:
            old_fd = bpf.prog_get_fd_by_id(prog_id)
            try:
                bpf.prog_detach(cgroup_fd, old_fd)
            finally:
                os.close(old_fd)
    except OSError as e:
        raise from_oserror(e, f"cannot attach device filter to cgroup {directory}") from e
    finally:
        os.close(cgroup_fd)
        os.close(prog_fd)


def attached_programs(directory: str) -> list[int]:
    """Ids of the device programs attached to the cgroup (for tests and debugging)."""
    import os

    from hull.sys import bpf

    fd = bpf.open_cgroup(directory)
    try:
        return bpf.prog_query(fd)
    finally:
        os.close(fd)
