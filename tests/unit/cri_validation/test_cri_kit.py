"""hull.testing.cri: the CRI log parser and config builders critest's checks rest on."""

import datetime

import pytest

from hull._generated import api_pb2 as api
from hull.testing import cri


def test_parses_a_full_line_with_nanoseconds():
    line = cri.parse_cri_line("2016-10-06T00:17:09.669794202Z stdout F hello World")
    assert line.stream == "stdout" and line.tag == "F" and line.text == "hello World\n"
    assert line.timestamp == datetime.datetime(2016, 10, 6, 0, 17, 9, 669794,
                                               tzinfo=datetime.timezone.utc)


def test_parses_partial_lines_offsets_and_spaces_in_the_text():
    line = cri.parse_cri_line("2016-10-06T02:17:10.113242941+02:00 stderr P a  b ")
    assert (line.stream, line.tag, line.text) == ("stderr", "P", "a  b \n")
    assert line.timestamp.utcoffset() == datetime.timedelta(hours=2)


@pytest.mark.parametrize("bad", ["hello World", "2016-10-06T00:17:09Z stdout F",
                                 "2016-10-06T00:17:09Z console F x",
                                 "2016-10-06T00:17:09Z stdout X x", "yesterday stdout F x"])
def test_refuses_what_is_not_the_kubelet_format(bad):
    with pytest.raises(ValueError):
        cri.parse_cri_line(bad)


def test_parse_cri_log_reads_every_line(tmp_path):
    path = tmp_path / "c.log"
    path.write_text("2024-01-01T00:00:00.1Z stdout F one\n2024-01-01T00:00:00.2Z stderr F two\n")
    assert [m.text for m in cri.parse_cri_log(path)] == ["one\n", "two\n"]


def test_pod_config_is_critests_create_pod_sandbox_for_container():
    config = cri.pod_config(cgroup_parent="/p", hostname="h")
    assert config.metadata.name.startswith("create-PodSandbox-for-container-")
    assert config.metadata.uid.startswith(cri.DEFAULT_UID_PREFIX)
    assert config.metadata.namespace.startswith(cri.DEFAULT_NAMESPACE_PREFIX)
    assert config.metadata.attempt == cri.DEFAULT_ATTEMPT == 2
    assert config.linux.cgroup_parent == "/p" and config.hostname == "h"
    assert cri.pod_config().metadata.uid != config.metadata.uid


def test_container_config_sets_linux_and_command():
    config = cri.container_config("c-", "busybox", ["top"], log_path="c.log")
    assert config.metadata.name.startswith("c-") and config.metadata.attempt == 2
    assert list(config.command) == ["top"] and config.log_path == "c.log"
    assert config.HasField("linux")
    assert isinstance(config, api.ContainerConfig)


def test_wait_for_returns_the_value_or_times_out():
    values = iter([0, 0, 7])
    assert cri.wait_for(lambda: next(values), 5, 0.01) == 7
    with pytest.raises(AssertionError, match="never"):
        cri.wait_for(lambda: False, 0.05, 0.01, "never")
