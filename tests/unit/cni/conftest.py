import pytest


@pytest.fixture
def cni_dirs(tmp_path):
    """conf, bin (with executable stand-ins for the plugin names used) and cache dirs."""
    conf, bindir, cache = tmp_path / "net.d", tmp_path / "bin", tmp_path / "cache"
    for d in (conf, bindir, cache):
        d.mkdir()
    for name in ("main", "ipamish", "pm", "lo", "old"):
        path = bindir / name
        path.write_text("#!/bin/sh\nexit 1\n")
        path.chmod(0o755)
    return conf, bindir, cache


@pytest.fixture
def netns_file(tmp_path):
    path = tmp_path / "netns"
    path.write_text("")
    return str(path)
