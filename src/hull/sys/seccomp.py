"""seccomp: compile runtime-spec ``linux.seccomp`` to BPF, load it, list features.

``compile_filter`` runs in the runtime's parent process and uses libseccomp
(``hull.sys.ffi``, ``libseccomp.so.2``) to build the filter, exported as raw
``struct sock_filter`` bytes. ``load_filter`` runs in the container's init
right before execve, possibly after the user switch: it only needs the
already-imported ffi and one syscall, never libseccomp.

Semantics follow runc: unknown syscall names are skipped; a rule whose
action equals the default is dropped; several conditions on the same
argument become separate rules (OR), otherwise conditions are ANDed.
"""

from __future__ import annotations

import _struct as struct   # struct's C half: the wrapper module costs every container ~0.3 ms
import posix   # not os: hull.sys.pathname says why

from hull.errors import InvalidArgument
from hull.sys import ffi
from hull.sys.libc import _check, _libc

_NR_SECCOMP = {"x86_64": 317, "aarch64": 277}.get(posix.uname().machine, 317)
SECCOMP_SET_MODE_FILTER = 1

FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": 1,
    "SECCOMP_FILTER_FLAG_LOG": 2,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
    "SECCOMP_FILTER_FLAG_NEW_LISTENER": 8,
    "SECCOMP_FILTER_FLAG_TSYNC_ESRCH": 16,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 32,
}
# the flags a config may ask for (runtime-spec linux.seccomp.flags)
KNOWN_FLAGS = ("SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
               "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")

SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_ACT_KILL_THREAD = 0x00000000
SCMP_ACT_TRAP = 0x00030000
SCMP_ACT_ERRNO = 0x00050000
SCMP_ACT_NOTIFY = 0x7FC00000
SCMP_ACT_TRACE = 0x7FF00000
SCMP_ACT_LOG = 0x7FFC0000
SCMP_ACT_ALLOW = 0x7FFF0000

ACTIONS = {
    "SCMP_ACT_KILL": SCMP_ACT_KILL_THREAD,
    "SCMP_ACT_KILL_THREAD": SCMP_ACT_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": SCMP_ACT_KILL_PROCESS,
    "SCMP_ACT_TRAP": SCMP_ACT_TRAP,
    "SCMP_ACT_ERRNO": SCMP_ACT_ERRNO,
    "SCMP_ACT_TRACE": SCMP_ACT_TRACE,
    "SCMP_ACT_ALLOW": SCMP_ACT_ALLOW,
    "SCMP_ACT_LOG": SCMP_ACT_LOG,
    "SCMP_ACT_NOTIFY": SCMP_ACT_NOTIFY,
}
_TAKES_ERRNO = ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE")
EPERM = 1

OPERATORS = {
    "SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7,
}

# runtime-spec architecture names (SCMP_ARCH_ + these, upper-cased) as libseccomp names them
SPEC_ARCHS = ("x86", "x86_64", "x32", "arm", "aarch64", "mips", "mips64", "mips64n32",
              "mipsel", "mipsel64", "mipsel64n32", "ppc", "ppc64", "ppc64le", "s390",
              "s390x", "parisc", "parisc64", "riscv64", "loongarch64", "m68k", "sh", "sheb")

_SCMP_FLTATR_CTL_NNP = 3
_NR_SCMP_ERROR = -1
_SYSCALL_MAX_ARGS = 6


class _ArgCmp(ffi.Structure):
    _fields_ = [("arg", ffi.c_uint), ("op", ffi.c_int),
                ("datum_a", ffi.c_uint64), ("datum_b", ffi.c_uint64)]


class _Version(ffi.Structure):
    _fields_ = [("major", ffi.c_uint), ("minor", ffi.c_uint), ("micro", ffi.c_uint)]


_lib = None


def _seccomp_lib():
    """libseccomp, loaded on first use (compile and features only)."""
    global _lib
    if _lib is None:
        lib = ffi.Library("libseccomp.so.2")
        lib.seccomp_init.argtypes = [ffi.c_uint32]
        lib.seccomp_init.restype = ffi.c_void_p
        lib.seccomp_release.argtypes = [ffi.c_void_p]
        lib.seccomp_arch_add.argtypes = [ffi.c_void_p, ffi.c_uint32]
        lib.seccomp_arch_resolve_name.argtypes = [ffi.c_char_p]
        lib.seccomp_arch_resolve_name.restype = ffi.c_uint32
        lib.seccomp_syscall_resolve_name.argtypes = [ffi.c_char_p]
        lib.seccomp_rule_add_array.argtypes = [ffi.c_void_p, ffi.c_uint32, ffi.c_int,
                                               ffi.c_uint, ffi.POINTER(_ArgCmp)]
        lib.seccomp_attr_set.argtypes = [ffi.c_void_p, ffi.c_int, ffi.c_uint32]
        lib.seccomp_export_bpf.argtypes = [ffi.c_void_p, ffi.c_int]
        lib.seccomp_version.restype = ffi.POINTER(_Version)
        _lib = lib
    return _lib


def _bad(field: str, why: str) -> InvalidArgument:
    return InvalidArgument(f"linux.seccomp.{field}: {why}")


def _action(name: object, errno_ret: object, field: str) -> int:
    if name not in ACTIONS:
        raise _bad(field, f"unknown action {name!r}")
    if errno_ret is not None:
        if name not in _TAKES_ERRNO:
            raise _bad(field, f"{name} takes no errno return code")
        if isinstance(errno_ret, bool) or not isinstance(errno_ret, int) \
                or not 0 <= errno_ret <= 0xFFFF:
            raise _bad(field, f"errno return code {errno_ret!r} is not in [0, 65535]")
    if name in _TAKES_ERRNO:
        return ACTIONS[name] | (EPERM if errno_ret is None else errno_ret)
    return ACTIONS[name]


def _arch_token(lib, name: object, field: str) -> int:
    if not isinstance(name, str) or not name.startswith("SCMP_ARCH_"):
        raise _bad(field, f"unknown architecture {name!r}")
    token = lib.seccomp_arch_resolve_name(name[len("SCMP_ARCH_"):].lower().encode())
    if not token:
        raise _bad(field, f"unknown architecture {name!r}")
    return token


def _conditions(args: object, field: str) -> list[_ArgCmp]:
    if args is None:
        return []
    if not isinstance(args, list):
        raise _bad(field, "must be an array")
    out = []
    for i, arg in enumerate(args):
        where = f"{field}[{i}]"
        if not isinstance(arg, dict):
            raise _bad(where, "must be an object")
        index = arg.get("index")
        if isinstance(index, bool) or not isinstance(index, int) \
                or not 0 <= index < _SYSCALL_MAX_ARGS:
            raise _bad(f"{where}.index", f"{index!r} is not an argument index in [0, 5]")
        if arg.get("op") not in OPERATORS:
            raise _bad(f"{where}.op", f"unknown operator {arg.get('op')!r}")
        values = []
        for key in ("value", "valueTwo"):
            value = arg.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, int) \
                    or not 0 <= value < (1 << 64):
                raise _bad(f"{where}.{key}", f"{value!r} is not a 64-bit unsigned integer")
            values.append(value)
        out.append(_ArgCmp(index, OPERATORS[arg["op"]], values[0], values[1]))
    return out


def _check_shape(seccomp: object) -> None:
    if not isinstance(seccomp, dict):
        raise InvalidArgument("linux.seccomp: must be an object")
    for key in ("architectures", "flags", "syscalls"):
        if seccomp.get(key) is not None and not isinstance(seccomp[key], list):
            raise _bad(key, "must be an array")
    for i, flag in enumerate(seccomp.get("flags") or []):
        if flag not in KNOWN_FLAGS:
            raise _bad(f"flags[{i}]", f"unknown flag {flag!r}")
    if seccomp.get("defaultAction") == "SCMP_ACT_NOTIFY":
        raise _bad("defaultAction", "SCMP_ACT_NOTIFY cannot be the default action")
    uses_notify = any(isinstance(s, dict) and s.get("action") == "SCMP_ACT_NOTIFY"
                      for s in seccomp.get("syscalls") or [])
    if uses_notify and not seccomp.get("listenerPath"):
        raise _bad("listenerPath", "is required when an action is SCMP_ACT_NOTIFY")


def compile_filter(seccomp: dict) -> bytes:
    """The BPF program (``struct sock_filter`` array) for runtime-spec ``linux.seccomp``."""
    _check_shape(seccomp)
    default = _action(seccomp.get("defaultAction"), seccomp.get("defaultErrnoRet"),
                      "defaultAction")
    lib = _seccomp_lib()
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise _bad("defaultAction", "libseccomp rejected it")
    try:
        # the runtime sets no_new_privs itself, as the config says
        lib.seccomp_attr_set(ctx, _SCMP_FLTATR_CTL_NNP, 0)
        for i, arch in enumerate(seccomp.get("architectures") or []):
            rc = lib.seccomp_arch_add(ctx, _arch_token(lib, arch, f"architectures[{i}]"))
            # -EEXIST: the native arch is in already; -EDOM: the other byte order, which
            # this kernel can never run, so it needs no rules (runc fails; we skip)
            if rc < 0 and rc not in (-17, -33):
                raise _bad(f"architectures[{i}]", f"cannot add {arch}: {posix.strerror(-rc)}")
        for i, rule in enumerate(seccomp.get("syscalls") or []):
            _add_rule(lib, ctx, rule, default, f"syscalls[{i}]")
        prog = _export(lib, ctx)
    finally:
        lib.seccomp_release(ctx)
    return _enosys_stub(lib, seccomp) + prog


# native arch -> (AUDIT_ARCH token, syscall-number bit of a foreign ABI sharing it)
_NATIVE_AUDIT = {"x86_64": (0xC000003E, 0x40000000), "aarch64": (0xC00000B7, 0)}
_PERMISSIVE = ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE")
ENOSYS = 38


def _enosys_stub(lib, seccomp: dict) -> bytes:
    """Make syscalls newer than any the profile names fail with ENOSYS (as runc).

    A deny-by-default profile written before a syscall existed would answer
    it with EPERM, and libc would not fall back to the older call (clone3
    -> clone, faccessat2 -> faccessat). The stub runs before libseccomp's
    program, on the native architecture only.
    """
    default = seccomp.get("defaultAction")
    if default in _PERMISSIVE or (default == "SCMP_ACT_ERRNO"
                                  and seccomp.get("defaultErrnoRet") == ENOSYS):
        return b""
    native = _NATIVE_AUDIT.get(posix.uname().machine)
    numbers = [lib.seccomp_syscall_resolve_name(name.encode())
               for rule in seccomp.get("syscalls") or []
               for name in rule.get("names") or [] if isinstance(name, str)]
    numbers = [n for n in numbers if n >= 0]
    if native is None or not numbers:
        return b""
    audit_arch, foreign_bit = native
    skip = 4 if foreign_bit else 3   # jump distance from the arch check to the program
    stub = [(0x20, 0, 0, 4),                     # A = seccomp_data.arch
            (0x15, 0, skip, audit_arch),         # other arch: run the program
            (0x20, 0, 0, 0)]                     # A = seccomp_data.nr
    if foreign_bit:
        stub.append((0x45, 2, 0, foreign_bit))   # x32 ABI numbers: run the program
    stub += [(0x25, 0, 1, max(numbers)),         # nr > newest named syscall ...
             (0x06, 0, 0, SCMP_ACT_ERRNO | ENOSYS)]   # ... -> ENOSYS
    return b"".join(struct.pack("<HBBI", *insn) for insn in stub)


def _add_rule(lib, ctx, rule: object, default: int, field: str) -> None:
    if not isinstance(rule, dict):
        raise _bad(field, "must be an object")
    names = rule.get("names")
    if not isinstance(names, list) or not names:
        raise _bad(f"{field}.names", "must be a non-empty array of syscall names")
    action = _action(rule.get("action"), rule.get("errnoRet"), f"{field}.action")
    conditions = _conditions(rule.get("args"), f"{field}.args")
    if action == default:
        return   # libseccomp refuses rules that repeat the default; runc skips them
    if rule["action"] == "SCMP_ACT_NOTIFY" and "write" in names:
        raise _bad(f"{field}.names", "SCMP_ACT_NOTIFY cannot be used for write: the "
                   "runtime writes while sending the listener")
    counts = [0] * _SYSCALL_MAX_ARGS
    for cond in conditions:
        counts[cond.arg] += 1
    # several conditions on one argument can never all hold: runc adds one rule each
    groups = [[c] for c in conditions] if max(counts) > 1 else [conditions]
    for name in names:
        if not isinstance(name, str):
            raise _bad(f"{field}.names", f"{name!r} is not a syscall name")
        number = lib.seccomp_syscall_resolve_name(name.encode())
        if number == _NR_SCMP_ERROR:
            continue   # unknown to this libseccomp/arch: skipped, as runc does
        for group in groups:
            array = (_ArgCmp * len(group))(*group)
            rc = lib.seccomp_rule_add_array(ctx, action, number, len(group), array)
            if rc < 0:
                raise _bad(field, f"cannot add rule for {name}: {posix.strerror(-rc)}")


def _export(lib, ctx) -> bytes:
    fd = posix.memfd_create("hull-seccomp", posix.MFD_CLOEXEC)
    try:
        rc = lib.seccomp_export_bpf(ctx, fd)
        if rc < 0:
            raise InvalidArgument(f"linux.seccomp: cannot export filter: {posix.strerror(-rc)}")
        posix.lseek(fd, 0, 0)   # SEEK_SET
        chunks = []
        while True:
            chunk = posix.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        posix.close(fd)


def needs_listener(prog: bytes) -> bool:
    """Whether the program returns SCMP_ACT_NOTIFY anywhere (BPF_RET|BPF_K)."""
    for offset in range(0, len(prog) - 7, 8):
        code, _, _, k = struct.unpack_from("<HBBI", prog, offset)
        if code == 0x06 and k & 0xFFFF0000 == SCMP_ACT_NOTIFY:
            return True
    return False


def flag_bits(flags: list[str]) -> int:
    bits = 0
    for i, flag in enumerate(flags or []):
        if flag not in FLAGS:
            raise _bad(f"flags[{i}]", f"unknown flag {flag!r}")
        bits |= FLAGS[flag]
    return bits


def load_filter(prog: bytes, flags: list[str] | None = None) -> int | None:
    """Install ``prog`` on the calling thread (and with TSYNC, all threads).

    Returns the notification listener fd when the program uses
    SCMP_ACT_NOTIFY (SECCOMP_FILTER_FLAG_NEW_LISTENER is then added), else
    None. Needs no_new_privs or CAP_SYS_ADMIN. Raises OSError.
    """
    bits = flag_bits(flags or [])
    listener = needs_listener(prog)
    if listener:
        bits |= FLAGS["SECCOMP_FILTER_FLAG_NEW_LISTENER"]
        if bits & FLAGS["SECCOMP_FILTER_FLAG_TSYNC"]:
            # the kernel allows TSYNC with a listener only in its ESRCH flavour
            bits |= FLAGS["SECCOMP_FILTER_FLAG_TSYNC_ESRCH"]
    else:
        # meaningless (and refused) without a listener
        bits &= ~FLAGS["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
    code = ffi.create_string_buffer(prog, len(prog))
    fprog = ffi.create_string_buffer(16)   # struct sock_fprog {u16 len; pad; ptr}
    struct.pack_into("<HxxxxxxQ", fprog, 0, len(prog) // 8, ffi.addressof(code))
    rc = _check(_libc.syscall(ffi.c_long(_NR_SECCOMP), ffi.c_long(SECCOMP_SET_MODE_FILTER),
                              ffi.c_ulong(bits), fprog))
    return rc if listener else None


def _flag_supported(bits: int) -> bool:
    # with a NULL program the kernel checks the flags (EINVAL) before the copy (EFAULT)
    rc = _libc.syscall(ffi.c_long(_NR_SECCOMP), ffi.c_long(SECCOMP_SET_MODE_FILTER),
                       ffi.c_ulong(bits), ffi.c_void_p(0))
    return rc == -1 and ffi.get_errno() == 14   # EFAULT


def _probe_bits(flag: str) -> int:
    if flag == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV":
        return FLAGS[flag] | FLAGS["SECCOMP_FILTER_FLAG_NEW_LISTENER"]
    return FLAGS[flag]


def version() -> str:
    v = _seccomp_lib().seccomp_version().contents
    return f"{v.major}.{v.minor}.{v.micro}"


def features() -> dict:
    """runtime-spec features.json ``linux.seccomp``."""
    lib = _seccomp_lib()
    archs = sorted("SCMP_ARCH_" + a.upper() for a in SPEC_ARCHS
                   if lib.seccomp_arch_resolve_name(a.encode()))
    return {
        "enabled": True,
        "actions": sorted(ACTIONS),
        "operators": sorted(OPERATORS),
        "archs": archs,
        "knownFlags": list(KNOWN_FLAGS),
        "supportedFlags": [f for f in KNOWN_FLAGS if _flag_supported(_probe_bits(f))],
    }


def send_listener(listener_path: str, fd: int, state: dict, metadata: str = "") -> None:
    """Hand the notification fd to the agent at ``listenerPath`` (runtime-spec
    "container process state": JSON plus the fd over SCM_RIGHTS)."""
    import json
    import socket

    message = {"ociVersion": state.get("ociVersion", "1.0.2"), "fds": ["seccompFd"],
               "pid": state.get("pid", 0), "metadata": metadata, "state": state}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(listener_path)
        socket.send_fds(sock, [json.dumps(message).encode()], [fd])
