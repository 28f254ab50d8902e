"""Compiling linux.seccomp with libseccomp: errors name the field, runc's rules hold."""

from __future__ import annotations

import struct

import pytest

from hull.errors import InvalidArgument
from hull.sys import seccomp

MKDIR_ERRNO = {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 39}


def insns(prog):
    return [struct.unpack_from("<HBBI", prog, i) for i in range(0, len(prog), 8)]


def returns(prog):
    """The values of every BPF_RET|BPF_K in the program."""
    return {k for code, _, _, k in insns(prog) if code == 0x06}


def test_compiles_to_sock_filter_array():
    prog = seccomp.compile_filter({"defaultAction": "SCMP_ACT_ALLOW",
                                   "syscalls": [MKDIR_ERRNO]})
    assert prog and len(prog) % 8 == 0
    assert {seccomp.SCMP_ACT_ALLOW, seccomp.SCMP_ACT_ERRNO | 39} <= returns(prog)


@pytest.mark.parametrize("action, value", [
    ("SCMP_ACT_KILL", 0), ("SCMP_ACT_KILL_THREAD", 0), ("SCMP_ACT_KILL_PROCESS", 0x80000000),
    ("SCMP_ACT_TRAP", 0x30000), ("SCMP_ACT_ERRNO", 0x50001), ("SCMP_ACT_TRACE", 0x7FF00001),
    ("SCMP_ACT_LOG", 0x7FFC0000), ("SCMP_ACT_ALLOW", 0x7FFF0000)])
def test_every_action_as_default(action, value):
    prog = seccomp.compile_filter({"defaultAction": action})
    assert value in returns(prog)


def test_notify_rule_needs_listener_and_is_detected():
    config = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock",
              "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}
    prog = seccomp.compile_filter(config)
    assert seccomp.needs_listener(prog)
    assert not seccomp.needs_listener(seccomp.compile_filter({"defaultAction": "SCMP_ACT_ALLOW"}))
    del config["listenerPath"]
    with pytest.raises(InvalidArgument, match="linux.seccomp.listenerPath"):
        seccomp.compile_filter(config)


def test_rule_equal_to_default_is_dropped():
    with_rule = seccomp.compile_filter({
        "defaultAction": "SCMP_ACT_LOG",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_LOG"}]})
    assert with_rule == seccomp.compile_filter({"defaultAction": "SCMP_ACT_LOG"})


def test_unknown_syscall_names_are_skipped():
    prog = seccomp.compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["no_such_syscall_hull"], "action": "SCMP_ACT_ERRNO"}]})
    assert prog == seccomp.compile_filter({"defaultAction": "SCMP_ACT_ALLOW"})


@pytest.mark.parametrize("op", sorted(seccomp.OPERATORS))
def test_every_operator(op):
    prog = seccomp.compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 0xFF, "valueTwo": 8, "op": op}]}]})
    assert seccomp.SCMP_ACT_ERRNO | 1 in returns(prog)


def test_extra_architectures_grow_the_program():
    native = seccomp.compile_filter({"defaultAction": "SCMP_ACT_ALLOW",
                                     "syscalls": [MKDIR_ERRNO]})
    multi = seccomp.compile_filter({"defaultAction": "SCMP_ACT_ALLOW",
                                    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86",
                                                      "SCMP_ARCH_X32"],
                                    "syscalls": [MKDIR_ERRNO]})
    assert len(multi) > len(native)


@pytest.mark.parametrize("config, field", [
    ({"defaultAction": "SCMP_ACT_NOPE"}, "linux.seccomp.defaultAction"),
    ({}, "linux.seccomp.defaultAction"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 5}, "linux.seccomp.defaultAction"),
    ({"defaultAction": "SCMP_ACT_NOTIFY"}, "linux.seccomp.defaultAction"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]},
     r"linux.seccomp.architectures\[0\]"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]},
     r"linux.seccomp.flags\[0\]"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_KILL"}]},
     r"linux.seccomp.syscalls\[0\].names"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "X"}]},
     r"linux.seccomp.syscalls\[0\].action"),
    ({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": -1}]},
     r"linux.seccomp.syscalls\[0\].action"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]},
     r"linux.seccomp.syscalls\[0\].args\[0\].index"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SORTA"}]}]},
     r"linux.seccomp.syscalls\[0\].args\[0\].op"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]},
     r"linux.seccomp.syscalls\[0\].args\[0\].value"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x", "syscalls": [
        {"names": ["write"], "action": "SCMP_ACT_NOTIFY"}]},
     r"linux.seccomp.syscalls\[0\].names"),
])
def test_errors_name_the_field(config, field):
    with pytest.raises(InvalidArgument, match=field):
        seccomp.compile_filter(config)


def test_flag_bits():
    assert seccomp.flag_bits(["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]) == 6
    with pytest.raises(InvalidArgument, match="flags"):
        seccomp.flag_bits(["nope"])


def test_features_lists_real_actions_arches_and_flags():
    features = seccomp.features()
    assert features["enabled"] is True
    assert features["actions"] == sorted(seccomp.ACTIONS)
    assert "SCMP_CMP_MASKED_EQ" in features["operators"]
    assert {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"} <= set(features["archs"])
    # only arches libseccomp really knows: 2.5 does not know loongarch64
    assert all(seccomp.compile_filter({"defaultAction": "SCMP_ACT_ALLOW",
                                       "architectures": [a]}) for a in features["archs"])
    assert set(features["supportedFlags"]) <= set(features["knownFlags"])
    assert "SECCOMP_FILTER_FLAG_LOG" in features["supportedFlags"]


def test_libseccomp_version():
    major, minor, _ = seccomp.version().split(".")
    assert (int(major), int(minor)) >= (2, 5)


def test_enosys_stub_only_for_restrictive_defaults():
    rules = [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]
    strict = seccomp.compile_filter({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules})
    assert seccomp.SCMP_ACT_ERRNO | seccomp.ENOSYS in returns(strict)
    permissive = seccomp.compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]})
    assert seccomp.SCMP_ACT_ERRNO | seccomp.ENOSYS not in returns(permissive)
