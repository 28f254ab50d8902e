"""critest pkg/validate/networking.go and multi_container_linux.go.

critest's fixed host port 12000 is replaced by a free loopback port (other suites run
on this machine at the same time); the web server is images.NGINX's stand-in.
"""

import urllib.request

import pytest

from hull._generated import api_pb2 as api
from hull.testing import cri
from hull.testing.registry import free_port
from tests.integration.cri_validation import images
from tests.integration.cri_validation.conftest import DEFAULT_LOG

pytestmark = pytest.mark.root

WEB_SERVER_CONTAINER_PORT = 80
DNS_SERVER, DNS_SEARCH, DNS_OPTION = "10.10.10.10", "google.com", "ndots:8"


def web_server_container(f, pod, prefix, image=images.NGINX, log_path=""):
    config = cri.container_config(prefix, image, log_path=log_path)
    return f.create_container(*pod, config)


def check_main_page(f, pod_id, host_port, container_port):
    """checkMainPage: GET / answers 200, via 127.0.0.1:hostPort or the pod IP."""
    if host_port:
        url = f"http://127.0.0.1:{host_port}/"
    else:
        network = f.pod_status(pod_id).status.network
        assert network.ip, "The IP should not be empty"
        url = f"http://{network.ip}:{container_port}/"
    answers = {}

    def get():
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                answers["status"] = r.status
                return True
        except OSError as e:
            answers["error"] = e
            return False
    try:
        cri.wait_for(get, 60, 1, f"GET {url}")
    except AssertionError:
        raise AssertionError(f"GET {url} never answered: {answers.get('error')}")
    assert answers["status"] == 200


def pod_with_port_mappings(f, mappings, host_net=False):
    """createPodSandboxWithPortMapping."""
    config = cri.pod_config("create-PodSandbox-with-port-mapping")
    config.port_mappings.extend(mappings)
    if host_net:
        config.linux.security_context.namespace_options.network = api.NODE
    return f.run_pod(config), config


def test_runtime_should_support_dns_config(f):
    """Networking: runtime should support DNS config [Conformance]."""
    config = cri.pod_config("create-PodSandbox-with-DNS-config")
    config.dns_config.servers.append(DNS_SERVER)
    config.dns_config.searches.append(DNS_SEARCH)
    config.dns_config.options.append(DNS_OPTION)
    pod = f.run_pod(config), config
    cid = f.default_container(*pod, "container-for-DNS-config-test-")
    f.start(cid)
    out = f.exec_ok(cid, ["cat", "/etc/resolv.conf"])
    for line in ("nameserver " + DNS_SERVER, "search " + DNS_SEARCH, "options " + DNS_OPTION):
        assert line in out, f"resolv.conf should contain {line!r}: {out!r}"


def test_runtime_should_support_set_hostname(f):
    """Networking: runtime should support set hostname [Conformance]."""
    config = cri.pod_config("create-PodSandbox-with-hostname", hostname="test-hostname")
    pod = f.run_pod(config), config
    cid = f.default_container(*pod, "container-for-hostname-test-")
    f.start(cid)
    assert f.exec_ok(cid, ["hostname"]).strip().lower() == "test-hostname"


def test_runtime_should_support_port_mapping_with_only_container_port(f):
    """Networking: runtime should support port mapping with only container port [Conformance]."""
    pod = pod_with_port_mappings(f, [api.PortMapping(container_port=WEB_SERVER_CONTAINER_PORT)])
    cid = web_server_container(f, pod, "container-for-container-port")
    f.start(cid)
    check_main_page(f, pod[0], 0, WEB_SERVER_CONTAINER_PORT)


def test_runtime_should_support_port_mapping_with_host_port_and_container_port(f):
    """Networking: runtime should support port mapping with host port and container port
    [Conformance]."""
    host_port = free_port()
    pod = pod_with_port_mappings(f, [api.PortMapping(container_port=WEB_SERVER_CONTAINER_PORT,
                                                     host_port=host_port)])
    cid = web_server_container(f, pod, "container-for-host-port")
    f.start(cid)
    check_main_page(f, "", host_port, 0)


# Multiple Containers [Conformance]: when running multiple containers in a pod

@pytest.fixture
def multi(f):
    config = cri.pod_config("PodSandbox-for-multi-container-test-")
    config.log_directory = f.log_dir_for(config.metadata.name)
    config.port_mappings.add(container_port=80)
    pod = f.run_pod(config), config
    httpd = cri.container_config("httpd", images.HTTPD)
    httpd.log_path = httpd.metadata.name + ".log"
    httpd_id = f.create_container(*pod, httpd)
    f.start_running(httpd_id)
    box = cri.container_config("busybox", images.BUSYBOX,
                               ["sh", "-c", f"echo {DEFAULT_LOG}; sleep 1000"])
    box.log_path = box.metadata.name + ".log"
    box_id = f.create_container(*pod, box)
    f.start_running(box_id)
    return pod, httpd_id, box_id


def test_multiple_containers_should_support_network(f, multi):
    """Multiple Containers [Conformance] when running multiple containers in a pod should support
    network."""
    pod, _, _ = multi
    check_main_page(f, pod[0], 0, 80)


def test_multiple_containers_should_support_container_log(f, multi):
    """Multiple Containers [Conformance] ... should support container log."""
    _, httpd_id, box_id = multi
    for cid, expected in ((httpd_id, "httpd"), (box_id, DEFAULT_LOG)):
        path = f.status(cid).log_path

        def contains():
            try:
                with open(path, errors="replace") as fh:
                    return expected in fh.read()
            except OSError:
                return False
        cri.wait_for(contains, 60, 0.1, f"{expected!r} in {path}")


def test_multiple_containers_should_support_container_exec(f, multi):
    """Multiple Containers [Conformance] ... should support container exec."""
    _, httpd_id, box_id = multi
    assert f.exec_ok(httpd_id, ["echo", "httpd"]) == "httpd\n"
    assert f.exec_ok(box_id, ["echo", "busybox"]) == "busybox\n"
