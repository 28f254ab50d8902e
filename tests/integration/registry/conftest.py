"""Real registries for the registry client's tests.

Every registry is Debian's docker-registry on 127.0.0.1 (hull.testing.registry),
started once per session, stopped by PID in teardown with its files removed.
Images are built with umoci from busybox and pushed with skopeo.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from hull.testing import registry as kit

REPO = "hull-test/busybox"
USER, PASSWORD = "hull", "s3cret-pw"
BIG_LAYER = 6 << 20


@pytest.fixture(scope="session")
def workdir():
    path = Path(tempfile.mkdtemp(prefix="hull-registry-tests-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def layout(workdir):
    """An OCI layout: ``v1`` (amd64, 3 layers, one of 6 MiB), ``arm`` (arm64), index ``multi``."""
    path = workdir / "layout"
    kit.build_image(path, "v1", arch="amd64", big_layer_bytes=BIG_LAYER, marker="amd64")
    kit.build_image(path, "arm", arch="arm64", marker="arm64")
    kit.build_index(path, "multi", {"linux/amd64": "v1", "linux/arm64/v8": "arm"})
    return path


def _started(request, server):
    server.start()
    request.addfinalizer(server.stop)
    return server


@pytest.fixture(scope="session")
def plain_registry(request, layout):
    reg = _started(request, kit.RegistryServer())
    kit.push_image(layout, "v1", f"{reg.host}/{REPO}:v1", registry=reg)
    kit.push_image(layout, "multi", f"{reg.host}/{REPO}:multi", registry=reg, all_platforms=True)
    kit.push_image(layout, "v1", f"{reg.host}/hull-test/docker:v1", registry=reg,
                   docker_format=True)
    return reg


@pytest.fixture(scope="session")
def tls_registry(request, layout):
    reg = _started(request, kit.RegistryServer(tls=True, users={USER: PASSWORD}))
    kit.push_image(layout, "v1", f"{reg.host}/{REPO}:v1", registry=reg,
                   creds=f"{USER}:{PASSWORD}")
    return reg


@pytest.fixture(scope="session")
def token_server(request, workdir):
    server = kit.TokenServer(workdir / "token", {USER: PASSWORD},
                             anonymous_pull=("hull-test/public",))
    server.start()
    request.addfinalizer(server.stop)
    return server


@pytest.fixture(scope="session")
def token_registry(request, layout, token_server):
    reg = _started(request, kit.RegistryServer(token=token_server))
    kit.push_image(layout, "v1", f"{reg.host}/{REPO}:v1", registry=reg,
                   creds=f"{USER}:{PASSWORD}")
    kit.push_image(layout, "v1", f"{reg.host}/hull-test/public:v1", registry=reg,
                   creds=f"{USER}:{PASSWORD}")
    return reg


@pytest.fixture(scope="session")
def mirror_registry(request, layout):
    reg = _started(request, kit.RegistryServer())
    kit.push_image(layout, "v1", f"{reg.host}/{REPO}:v1", registry=reg)
    return reg


@pytest.fixture
def proxy(plain_registry):
    p = kit.FaultProxy(plain_registry).start()
    yield p
    p.stop()
