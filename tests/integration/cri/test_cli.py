import os
import subprocess

import pytest

from tests.integration.cri.kit import REPO

pytestmark = pytest.mark.root

HULLD = os.path.join(REPO, ".venv/bin/hulld")
HULL = os.path.join(REPO, ".venv/bin/hull")


def test_hulld_refuses_to_start_without_conmon(tmp_path):
    config = tmp_path / "hulld.toml"
    config.write_text(f'conmon = "/nonexistent/conmon"\nsocket = "{tmp_path}/s.sock"\n'
                      f'root = "{tmp_path}/root"\nstate = "{tmp_path}/state"\n')
    proc = subprocess.run([HULLD, "--config", str(config)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1
    assert "cannot start: conmon" in proc.stderr and "hull doctor" in proc.stderr
    assert not (tmp_path / "s.sock").exists()


def test_hulld_rejects_unknown_default_runtime(tmp_path):
    proc = subprocess.run([HULLD, "--default-runtime", "nope", "--socket", f"{tmp_path}/s"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "nope" in proc.stderr


def test_doctor_prints_every_check():
    proc = subprocess.run([HULL, "doctor"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout
    for name in ("overlayfs", "namespace net", "conmon", "runtime runc"):
        assert name in proc.stdout
    assert proc.stdout.strip().endswith("hulld can start")
