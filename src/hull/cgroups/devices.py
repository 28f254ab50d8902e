"""Device access rules: the defaults every container gets, and the eBPF
program that enforces OCI ``linux.resources.devices`` on cgroup v2.

The program sees (type, access, major, minor) for each open or mknod and
returns 1 to allow. Rules are checked last to first, so the last matching
rule wins, as in the OCI spec and v1's devices.allow/deny. An allow rule
matches when every requested access is among its accesses; a deny rule
when any is (so "deny w" also refuses an O_RDWR open). No match: deny.
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
_JNE_X = 0x5D
_EXIT = 0x95


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, dst | (src << 4), off, imm)


def access_mask(access: str | None) -> int:
    mask = 0
    for ch in access or "rwm":
        mask |= DEV_ACCESS[ch]
    return mask


def _wild(value: int | None) -> bool:
    return value is None or value == -1


def _rule_block(rule: dict) -> tuple[list[tuple], bool]:
    """Instructions (as tuples; jumps target "next") for one rule, and whether
    the rule matches everything (so earlier rules can never be reached)."""
    kind = rule.get("type", "a")
    access = access_mask(rule.get("access"))
    checks: list[tuple] = []
    if kind != "a":
        checks.append((_JNE_K, 2, 0, "next", DEV_TYPE[kind]))
    if access != ALL_ACCESS:
        checks.append((_MOV32_X, 1, 3, 0, 0))
        checks.append((_AND32_K, 1, 0, 0, access))
        if rule["allow"]:
            checks.append((_JNE_X, 1, 3, "next", 0))    # requested not a subset
        else:
            checks.append((_JEQ_K, 1, 0, "next", 0))    # no requested access in common
    if kind != "a" and not _wild(rule.get("major")):
        checks.append((_JNE_K, 4, 0, "next", rule["major"]))
    if kind != "a" and not _wild(rule.get("minor")):
        checks.append((_JNE_K, 5, 0, "next", rule["minor"]))
    catch_all = not checks
    block = checks + [(_MOV32_K, 0, 0, 0, 1 if rule["allow"] else 0), (_EXIT, 0, 0, 0, 0)]
    return block, catch_all


def compile_rules(rules: list[dict]) -> bytes:
    """The cgroup device program (raw eBPF instructions) for ``rules``."""
    program = [
        _insn(_LDXW, 2, 1, 0),          # r2 = access_type
        _insn(_AND32_K, 2, imm=0xFFFF),  # r2 = device type
        _insn(_LDXW, 3, 1, 0),
        _insn(_RSH32_K, 3, imm=16),      # r3 = requested access
        _insn(_LDXW, 4, 1, 4),          # r4 = major
        _insn(_LDXW, 5, 1, 8),          # r5 = minor
    ]
    catch_all = False
    for rule in reversed(rules):
        block, catch_all = _rule_block(rule)
        for index, (code, dst, src, off, imm) in enumerate(block):
            if off == "next":
                off = len(block) - index - 1
            program.append(_insn(code, dst, src, off, imm))
        if catch_all:
            break
    if not catch_all:
        program += [_insn(_MOV32_K, 0, imm=0), _insn(_EXIT)]
    return b"".join(program)


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
