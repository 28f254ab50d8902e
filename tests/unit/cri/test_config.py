import pytest

from hull.cri import config as cfg
from hull.errors import InvalidArgument, NotFound


def test_toml_values_and_runtime_tables(tmp_path):
    path = tmp_path / "hulld.toml"
    path.write_text('socket = "/tmp/x.sock"\nroot = "/tmp/r"\n[cni]\nconf_dir = "/c"\n'
                    'bin_dirs = ["/b1", "/b2"]\n[runtimes.fast]\npath = "/bin/true"\n'
                    'args = ["--debug"]\n')
    config = cfg.load(str(path))
    assert (config.socket, config.root, config.cni_conf_dir) == ("/tmp/x.sock", "/tmp/r", "/c")
    assert config.cni_bin_dirs == ["/b1", "/b2"]
    assert config.runtimes["fast"].args == ["--debug"]


def test_runtime_table_without_path_is_invalid(tmp_path):
    path = tmp_path / "hulld.toml"
    path.write_text("[runtimes.bad]\nargs = []\n")
    with pytest.raises(InvalidArgument, match="needs a path"):
        cfg.load(str(path))


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(NotFound):
        cfg.load(str(tmp_path / "none.toml"))
    broken = tmp_path / "broken.toml"
    broken.write_text("socket = \n")
    with pytest.raises(InvalidArgument):
        cfg.load(str(broken))


def test_runtime_flag_and_default_choice():
    config = cfg.Config()
    cfg.add_runtime_flag(config, "mine=/usr/bin/mine")
    assert cfg.finish(config).default_runtime == "mine"
    config.runtimes["runc"] = cfg.RuntimeHandlerConfig("runc", "/usr/sbin/runc")
    config.default_runtime = ""
    assert cfg.finish(config).default_runtime == "runc"
    with pytest.raises(InvalidArgument):
        cfg.add_runtime_flag(config, "no-path")


def test_unknown_default_and_no_runtimes():
    with pytest.raises(NotFound):
        cfg.finish(cfg.Config())
    config = cfg.Config(runtimes={"a": cfg.RuntimeHandlerConfig("a", "/a")}, default_runtime="b")
    with pytest.raises(InvalidArgument):
        cfg.finish(config)
