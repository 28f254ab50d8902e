"""Signal names and numbers without ``import signal`` (it imports enum)."""

from __future__ import annotations

from hull import errors

SIGNALS = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7,
    "FPE": 8, "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14,
    "TERM": 15, "STKFLT": 16, "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21,
    "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28,
    "IO": 29, "POLL": 29, "PWR": 30, "SYS": 31,
}
SIGKILL = 9
SIGTERM = 15
SIGRTMIN, SIGRTMAX = 34, 64


def parse(value: str) -> int:
    """``KILL``, ``SIGKILL``, ``9``, ``RTMIN+2`` -> the signal number."""
    text = value.strip().upper()
    if text.isdigit():
        number = int(text)
        if 0 < number <= SIGRTMAX:
            return number
        raise errors.InvalidArgument(f"invalid signal {value!r}")
    if text.startswith("SIG"):
        text = text[3:]
    if text in SIGNALS:
        return SIGNALS[text]
    for base, sign in (("RTMIN+", 1), ("RTMAX-", -1)):
        if text.startswith(base) and text[len(base):].isdigit():
            number = (SIGRTMIN if sign > 0 else SIGRTMAX) + sign * int(text[len(base):])
            if SIGRTMIN <= number <= SIGRTMAX:
                return number
    if text in ("RTMIN", "RTMAX"):
        return SIGRTMIN if text == "RTMIN" else SIGRTMAX
    raise errors.InvalidArgument(f"invalid signal {value!r}")
