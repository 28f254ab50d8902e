"""Import rules that span packages: production code never imports the test kits,
and the streaming client reaches hull.cri only for its wire-protocol modules."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

SRC = pathlib.Path(__file__).resolve().parents[2] / "src"
HULL = SRC / "hull"
# Runnable demos that build a throwaway busybox image with the test kit; nothing imports them.
DEMOS = {"hull/demo.py", "hull/play/demo.py"}
# What a streaming client may load of hull.cri: framing and protocol constants, no server.
PROTOCOL_MODULES = {"hull.cri", "hull.cri.streaming", "hull.cri.streaming.spdy",
                    "hull.cri.streaming.inbox", "hull.cri.streaming.websocket",
                    "hull.cri.streaming.wschannels", "hull.cri.streaming.remotecommand"}


def imported_modules(path: pathlib.Path) -> set[str]:
    """Every module an import statement names, also inside functions (lazy imports)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(name for name in (f"{node.module}.{a.name}" for a in node.names)
                         if is_module(name))
    return names


def is_module(name: str) -> bool:
    """Whether ``from package import name`` imports a submodule (not an attribute)."""
    path = SRC.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def is_under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_production_code_does_not_import_the_test_kits():
    offenders = []
    for path in sorted(HULL.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith("hull/testing/") or relative in DEMOS:
            continue
        offenders += [f"{relative}: {name}" for name in sorted(imported_modules(path))
                      if is_under(name, "hull.testing")]
    assert offenders == []


def test_the_demo_exemptions_are_still_needed():
    """An exemption that no longer imports a kit should go from DEMOS."""
    for relative in DEMOS:
        names = imported_modules(SRC / relative)
        assert any(is_under(name, "hull.testing") for name in names), relative


def test_streaming_client_imports_only_protocol_modules_of_cri():
    for path in sorted((HULL / "streaming").glob("*.py")):
        from_cri = {name for name in imported_modules(path) if is_under(name, "hull.cri")}
        # "from hull.cri.streaming import spdy" names the module hull.cri.streaming.spdy
        assert from_cri <= PROTOCOL_MODULES, f"{path.name}: {from_cri - PROTOCOL_MODULES}"


def test_hull_exec_loads_no_test_kit_and_no_server():
    """What `hull exec -it` loads: the play module, the client, the protocol modules."""
    code = ("import sys, hull.play.execute, hull.streaming.client; "
            "print('\\n'.join(m for m in sys.modules if m.startswith('hull.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert [m for m in out if is_under(m, "hull.testing")] == []
    assert [m for m in out if is_under(m, "hull.cri") and m not in PROTOCOL_MODULES] == []
    assert [m for m in out if is_under(m, "hull.csi") or is_under(m, "hull.cli")] == []
