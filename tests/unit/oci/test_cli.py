"""hull-runc's argument parsing (urfave/cli's rules, as runc has them)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hull.cli import runc as cli

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def test_global_flags_then_command():
    options, command, rest = cli.split_global(
        ["--root", "/r", "--log=/l", "--log-format", "json", "--debug", "create", "-b", "x", "id"])
    assert (options.root, options.log, options.log_format, options.debug) == \
        ("/r", "/l", "json", True)
    assert command == "create" and rest == ["-b", "x", "id"]


def test_flag_spellings():
    flags = cli.COMMANDS["create"][0]
    args, positional = cli.parse_flags(
        ["--bundle=/b", "-pid-file", "/p", "--no-pivot", "id", "--preserve-fds", "2"], flags,
        False)
    assert (args.bundle, args.pid_file, args.no_pivot, args.preserve_fds) == ("/b", "/p", True, 2)
    assert positional == ["id"]
    assert args.console_socket == "" and args.no_new_keyring is False


def test_exec_stops_at_the_first_argument():
    flags = cli.COMMANDS["exec"][0]
    args, positional = cli.parse_flags(["-t", "-e", "A=1", "--env", "B=2", "id", "ls", "-l",
                                        "--color"], flags, True)
    assert args.tty and args.env == ["A=1", "B=2"]
    assert positional == ["id", "ls", "-l", "--color"]


def test_double_dash_ends_flags():
    args, positional = cli.parse_flags(["--", "-f"], cli.COMMANDS["delete"][0], False)
    assert positional == ["-f"] and args.force is False


@pytest.mark.parametrize("argv,needle", [
    (["create", "--bogus", "x"], "bogus"),
    (["create"], "requires"),
    (["kill", "a", "b", "c"], "requires"),
    (["create", "--pid-file"], "needs an argument"),
    (["create", "--preserve-fds", "many", "x"], "invalid value"),
    (["nosuchverb"], "nosuchverb"),
])
def test_usage_errors_exit_1_with_one_line(argv, needle, capsys, tmp_path):
    assert cli.main(["--root", str(tmp_path), *argv]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]


def test_help_and_version(capsys):
    assert cli.main(["--help"]) == 0
    assert "create" in capsys.readouterr().out
    assert cli.main(["--version"]) == 0
    assert "hull-runc" in capsys.readouterr().out


def test_bad_log_format(capsys):
    assert cli.main(["--log-format", "xml", "list"]) == 1
    assert "log format" in capsys.readouterr().err


def loaded(imports: str, names: set[str]) -> list[str]:
    """Which of ``names`` a fresh ``python -IS`` has in sys.modules after ``imports``."""
    code = (f"import sys; sys.path.insert(0, 'src'); {imports}; "
            f"print(' '.join(sorted({sorted(names)!r} & sys.modules.keys())))")
    out = subprocess.run([sys.executable, "-IS", "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout.strip()
    return out.split()


def test_import_graph_stays_small():
    """hull-runc runs per container: none of the heavy stdlib modules at start."""
    heavy = {"json", "re", "enum", "argparse", "subprocess", "logging", "contextlib",
             "collections", "dataclasses", "typing", "platform", "signal"}
    assert loaded("from hull.cli import runc; "
                  "from hull.oci import create, start, delete, state, init; import hull.cgroups",
                  heavy) == []


def test_state_start_kill_delete_load_neither_os_nor_ctypes():
    """The commands run per container lifecycle step stay on posix and _json:
    ``import os`` alone is a fifth of ``start``'s instructions."""
    assert loaded("from hull.cli import runc; "
                  "from hull.oci import start, kill, signals, jsonio, state, delete; "
                  "import hull.cgroups.v1, hull.cgroups.v2",
                  {"os", "ctypes", "json", "posixpath"}) == []


def test_create_exec_and_the_init_import_neither_os_nor_ctypes():
    """The ``ctypes`` package (with struct and types) is ~2 ms per container,
    ``os`` ~1.7 ms: hull.sys.ffi and hull.sys.pathname stand in for them."""
    assert loaded("from hull.cli import runc; "
                  "from hull.oci import create, init, rootfs, process, execute, bundle, sync; "
                  "from hull.sys import capabilities, mounts, limits, seccomp, ns, libc, fds; "
                  "import hull.cgroups.v1, hull.cgroups.v2, hull.cgroups.paths",
                  {"os", "posixpath", "ctypes", "struct", "types", "copy"}) == []


def test_list_in_an_empty_root(tmp_path, capsys):
    assert cli.main(["--root", str(tmp_path / "none"), "list", "--format", "json"]) == 0
    assert capsys.readouterr().out.strip() == "null"
    assert cli.main(["--root", str(tmp_path / "none"), "list"]) == 0
    assert capsys.readouterr().out.split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED",
                                               "OWNER"]
