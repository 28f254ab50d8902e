"""The v2 device filter program, run in a small eBPF interpreter.

The interpreter implements exactly the instructions compile_rules emits;
the real kernel attach is tested in tests/integration/cgroups.
"""

from __future__ import annotations

import struct

import pytest

from hull.cgroups import devices

BLOCK, CHAR = 1, 2
MKNOD, READ, WRITE = 1, 2, 4


def run(program: bytes, dev_type: int, access: int, major: int, minor: int) -> int:
    insns = [struct.unpack_from("<BBhi", program, i) for i in range(0, len(program), 8)]
    ctx = [(access << 16) | dev_type, major, minor]
    regs = [0] * 11
    regs[1] = "ctx"
    pc = 0
    for _ in range(10000):
        code, regs_byte, off, imm = insns[pc]
        dst, src = regs_byte & 0xF, regs_byte >> 4
        pc += 1
        if code == 0x61:
            assert regs[src] == "ctx" and off % 4 == 0
            regs[dst] = ctx[off // 4]
        elif code == 0x54:
            regs[dst] = regs[dst] & (imm & 0xFFFFFFFF)
        elif code == 0x74:
            regs[dst] = (regs[dst] & 0xFFFFFFFF) >> imm
        elif code == 0xB4:
            regs[dst] = imm & 0xFFFFFFFF
        elif code == 0xBC:
            regs[dst] = regs[src] & 0xFFFFFFFF
        elif code == 0x15:
            pc += off if regs[dst] == imm else 0
        elif code == 0x55:
            pc += off if regs[dst] != imm else 0
        elif code == 0x05:
            pc += off
        elif code == 0x95:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
    raise AssertionError("program did not exit")


def allowed(rules, dev_type, access, major, minor) -> bool:
    return run(devices.compile_rules(rules), dev_type, access, major, minor) == 1


DENY_ALL = {"allow": False, "access": "rwm"}
NULL_R = {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "r"}


def test_no_rules_denies_everything():
    assert not allowed([], CHAR, READ, 1, 3)


def test_deny_all_then_one_allow():
    rules = [DENY_ALL, NULL_R]
    assert allowed(rules, CHAR, READ, 1, 3)
    assert not allowed(rules, CHAR, WRITE, 1, 3)
    assert not allowed(rules, CHAR, READ | WRITE, 1, 3)
    assert not allowed(rules, BLOCK, READ, 1, 3)     # type matters
    assert not allowed(rules, CHAR, READ, 1, 5)


def test_last_matching_rule_wins():
    rules = [DENY_ALL, NULL_R, {"allow": False, "type": "c", "major": 1, "minor": 3,
                                "access": "r"}]
    assert not allowed(rules, CHAR, READ, 1, 3)


def test_deny_blocks_any_overlapping_access():
    rules = [{"allow": True, "access": "rwm"},
             {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "w"}]
    assert allowed(rules, CHAR, READ, 1, 3)
    assert not allowed(rules, CHAR, READ | WRITE, 1, 3)
    assert allowed(rules, CHAR, WRITE, 1, 5)


def test_wildcards():
    rules = [DENY_ALL, {"allow": True, "type": "c", "major": 136, "minor": None,
                        "access": "rwm"},
             {"allow": True, "type": "b", "major": -1, "minor": -1, "access": "m"}]
    assert allowed(rules, CHAR, READ | WRITE, 136, 7)
    assert allowed(rules, BLOCK, MKNOD, 8, 0)
    assert not allowed(rules, BLOCK, READ, 8, 0)


def test_catch_all_rule_cuts_off_earlier_rules():
    short = devices.compile_rules([NULL_R, DENY_ALL])
    # prelude, then per access bit: skip test + "return 0", then "return 1"
    assert len(short) == 8 * (6 + 3 * (3 + 2) + 2)
    assert run(short, CHAR, READ, 1, 3) == 0


def test_accesses_from_separate_rules_combine():
    rules = [DENY_ALL, NULL_R, {"allow": True, "type": "c", "major": 1, "minor": 3,
                                "access": "w"}]
    assert allowed(rules, CHAR, READ | WRITE, 1, 3)
    assert not allowed(rules, CHAR, READ | WRITE | MKNOD, 1, 3)


def test_partial_deny_after_allow_all():
    rules = [{"allow": True, "access": "rwm"},
             {"allow": False, "type": "b", "major": 8, "minor": None, "access": "rw"}]
    assert allowed(rules, BLOCK, MKNOD, 8, 0)
    assert not allowed(rules, BLOCK, READ, 8, 0)
    assert allowed(rules, BLOCK, READ | WRITE, 7, 0)


@pytest.mark.parametrize("name, major, minor", [("null", 1, 3), ("zero", 1, 5),
                                                ("pts", 136, 4), ("tun", 10, 200)])
def test_default_allowed_devices(name, major, minor):
    rules = [DENY_ALL] + devices.DEFAULT_ALLOWED_DEVICES
    assert allowed(rules, CHAR, READ | WRITE, major, minor), name
    assert allowed(rules, BLOCK, MKNOD, 8, 1)
    assert not allowed(rules, BLOCK, READ, 8, 1)
    assert not allowed(rules, CHAR, READ, 1, 1)   # /dev/mem
