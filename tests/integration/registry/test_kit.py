"""The registry test kit cleans up after itself."""

from __future__ import annotations

import pytest

from hull.testing import registry as kit

pytestmark = pytest.mark.root  # starts registry daemons


def test_stop_ends_the_process_and_removes_files():
    server = kit.RegistryServer(tls=True, users={"a": "b"})
    server.start()
    process, workdir = server.process, server.workdir
    assert (server.skopeo_cert_dir / "ca.crt").exists()
    assert process.poll() is None
    server.stop()
    assert process.returncode is not None  # ended and waited for, so not even a zombie
    assert not workdir.exists()
    server.stop()  # idempotent


def test_given_workdir_is_kept(tmp_path):
    with kit.RegistryServer(workdir=tmp_path / "reg") as server:
        process = server.process
    assert process.returncode is not None
    assert (tmp_path / "reg" / "config.yml").exists()  # the caller owns it
