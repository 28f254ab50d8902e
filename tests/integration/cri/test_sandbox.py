import ipaddress
import os

import grpc
import pytest

from hull._generated import api_pb2 as api
from tests.integration.cri.conftest import code_of
from tests.integration.cri.kit import SUBNET

pytestmark = pytest.mark.root


def test_run_pod_gets_ip_in_test_subnet_and_is_ready(pods):
    sid, cfg = pods.run()
    st = pods.rt.PodSandboxStatus(api.PodSandboxStatusRequest(pod_sandbox_id=sid, verbose=True))
    assert st.status.state == api.SANDBOX_READY
    assert ipaddress.ip_address(st.status.network.ip) in ipaddress.ip_network(SUBNET)
    assert st.status.metadata.name == cfg.metadata.name
    assert st.status.labels["app"] == "hull-test"
    assert st.status.created_at > 0 and st.timestamp > 0
    assert "namespaces" in st.info["info"]


def test_hostname_dns_and_ip_seen_inside(pods):
    cfg = pods.config("dnspod")
    cfg.dns_config.servers.append("10.88.200.53")
    cfg.dns_config.searches.append("hull.test")
    cfg.dns_config.options.append("ndots:5")
    sid, cfg = pods.run(cfg)
    cid = pods.container(sid, cfg)
    assert pods.exec(cid, "hostname").stdout.decode().strip() == "dnspod"
    resolv = pods.exec(cid, "cat", "/etc/resolv.conf").stdout.decode()
    assert "nameserver 10.88.200.53" in resolv and "search hull.test" in resolv
    assert "options ndots:5" in resolv
    ip = pods.rt.PodSandboxStatus(api.PodSandboxStatusRequest(pod_sandbox_id=sid)).status
    assert ip.network.ip in pods.exec(cid, "ip", "addr", "show", "eth0").stdout.decode()


def test_containers_of_a_pod_share_network_and_ipc(pods):
    sid, cfg = pods.run()
    a = pods.container(sid, cfg, ["sh", "-c", "nc -l -p 8080 -e echo pong; sleep 1000"])
    b = pods.container(sid, cfg)
    out = pods.exec(b, "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do "
                                   "nc 127.0.0.1 8080 </dev/null && break; sleep 0.2; done")
    assert "pong" in out.stdout.decode()
    pods.exec(a, "sh", "-c", "echo shared > /dev/shm/marker")
    assert pods.exec(b, "cat", "/dev/shm/marker").stdout == b"shared\n"


def test_pid_namespace_pod_shares_processes_through_infra(pods):
    sid, cfg = pods.run(pods.config(pid=api.POD))
    a = pods.container(sid, cfg, ["sh", "-c", "sleep 4242"])
    b = pods.container(sid, cfg)
    pids = pods.exec(b, "ps", "-o", "args").stdout.decode()
    assert "sleep 4242" in pids and "/pause" in pids
    assert a
    # the infra's sleeper is not a "sleep" process (critest's pgrep checks)
    names = pods.exec(b, "ps", "-o", "comm").stdout.decode().split()
    assert names.count("sleep") == 2, names   # the two containers, not the infra


def test_pid_namespace_container_is_private(pods):
    sid, cfg = pods.run(pods.config(pid=api.CONTAINER))
    pods.container(sid, cfg, ["sh", "-c", "sleep 4243"])
    b = pods.container(sid, cfg)
    assert "sleep 4243" not in pods.exec(b, "ps", "-o", "args").stdout.decode()


def test_host_network_pod_sees_host_links(pods):
    sid, cfg = pods.run(pods.config(network=api.NODE))
    cid = pods.container(sid, cfg)
    links = pods.exec(cid, "ip", "link").stdout.decode()
    assert "eth0" in links and "hull-cri-t0" in links or os.path.exists("/sys/class/net/eth0")
    st = pods.rt.PodSandboxStatus(api.PodSandboxStatusRequest(pod_sandbox_id=sid)).status
    assert st.network.ip == ""


def test_sysctls_apply_to_containers(pods):
    cfg = pods.config()
    cfg.linux.sysctls["net.ipv4.ip_unprivileged_port_start"] = "80"
    sid, cfg = pods.run(cfg)
    cid = pods.container(sid, cfg)
    out = pods.exec(cid, "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start").stdout
    assert out.strip() == b"80"


def test_list_filters_by_id_state_and_labels(pods):
    sid1, _ = pods.run()
    sid2, _ = pods.run()
    pods.rt.StopPodSandbox(api.StopPodSandboxRequest(pod_sandbox_id=sid2))
    by_id = pods.rt.ListPodSandbox(api.ListPodSandboxRequest(
        filter=api.PodSandboxFilter(id=sid1))).items
    assert [s.id for s in by_id] == [sid1]
    ready = pods.rt.ListPodSandbox(api.ListPodSandboxRequest(filter=api.PodSandboxFilter(
        state=api.PodSandboxStateValue(state=api.SANDBOX_READY)))).items
    ids = {s.id for s in ready}
    assert sid1 in ids and sid2 not in ids
    mine = pods.rt.ListPodSandbox(api.ListPodSandboxRequest(filter=api.PodSandboxFilter(
        label_selector={"app": "hull-test"}))).items
    assert {sid1, sid2} <= {s.id for s in mine}
    none = pods.rt.ListPodSandbox(api.ListPodSandboxRequest(filter=api.PodSandboxFilter(
        label_selector={"app": "nope"}))).items
    assert not none


def test_stop_releases_network_and_remove_forgets(pods, hulld):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg)
    netns = os.path.join(hulld.state, "sandboxes", sid, "ns", "net")
    assert os.path.exists(netns)
    pods.rt.StopPodSandbox(api.StopPodSandboxRequest(pod_sandbox_id=sid))
    st = pods.rt.PodSandboxStatus(api.PodSandboxStatusRequest(pod_sandbox_id=sid)).status
    assert st.state == api.SANDBOX_NOTREADY
    assert pods.status(cid).state == api.CONTAINER_EXITED
    assert not os.path.exists(netns)
    pods.rt.StopPodSandbox(api.StopPodSandboxRequest(pod_sandbox_id=sid))   # again: fine
    pods.rt.RemovePodSandbox(api.RemovePodSandboxRequest(pod_sandbox_id=sid))
    assert code_of(pods.rt.PodSandboxStatus, api.PodSandboxStatusRequest(
        pod_sandbox_id=sid)) == grpc.StatusCode.NOT_FOUND
    assert code_of(pods.rt.ContainerStatus, api.ContainerStatusRequest(
        container_id=cid)) == grpc.StatusCode.NOT_FOUND
    assert not os.path.exists(os.path.join(hulld.state, "sandboxes", sid))


@pytest.mark.parametrize("handler", ["runc", "hull"])
def test_runtime_handler_per_pod(pods, handler):
    sid, cfg = pods.run(handler=handler)
    st = pods.rt.PodSandboxStatus(api.PodSandboxStatusRequest(pod_sandbox_id=sid)).status
    assert st.runtime_handler == handler
    cid = pods.container(sid, cfg, ["sh", "-c", "echo from-$0; sleep 1000", handler])
    assert pods.exec(cid, "echo", "ok").stdout == b"ok\n"
    pods.rt.StopContainer(api.StopContainerRequest(container_id=cid, timeout=1))
    assert pods.status(cid).state == api.CONTAINER_EXITED


def test_unknown_runtime_handler_is_rejected(pods):
    code = code_of(pods.rt.RunPodSandbox, api.RunPodSandboxRequest(
        config=pods.config(), runtime_handler="no-such-handler"))
    assert code == grpc.StatusCode.NOT_FOUND


def test_pod_stats_and_metrics(pods):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg, ["sh", "-c", "head -c 1000000 /dev/zero > /tmp/x; sleep 1000"])
    stats = pods.rt.PodSandboxStats(api.PodSandboxStatsRequest(pod_sandbox_id=sid)).stats
    assert stats.attributes.id == sid
    assert stats.linux.memory.working_set_bytes.value > 0
    assert stats.linux.cpu.usage_core_nano_seconds.value > 0
    assert [c.attributes.id for c in stats.linux.containers] == [cid]
    assert stats.linux.network.default_interface.name == "eth0"
    listed = pods.rt.ListPodSandboxStats(api.ListPodSandboxStatsRequest(
        filter=api.PodSandboxStatsFilter(id=sid))).stats
    assert [s.attributes.id for s in listed] == [sid]
    metrics = pods.rt.ListPodSandboxMetrics(api.ListPodSandboxMetricsRequest()).pod_metrics
    mine = next(m for m in metrics if m.pod_sandbox_id == sid)
    names = {m.name for cm in mine.container_metrics for m in cm.metrics}
    assert "container_memory_working_set_bytes" in names


def test_update_pod_sandbox_resources(pods):
    sid, _ = pods.run()
    req = api.UpdatePodSandboxResourcesRequest(pod_sandbox_id=sid)
    req.resources.memory_limit_in_bytes = 256 << 20
    pods.rt.UpdatePodSandboxResources(req)
    assert code_of(pods.rt.UpdatePodSandboxResources, api.UpdatePodSandboxResourcesRequest(
        pod_sandbox_id="nope")) == grpc.StatusCode.NOT_FOUND


def test_host_pid_and_host_ipc(pods, hulld):
    import uuid

    sid, cfg = pods.run(pods.config(pid=api.NODE, ipc=api.NODE))
    cfg_pid = cfg.linux.security_context.namespace_options
    assert cfg_pid.pid == api.NODE
    cid = pods.container(sid, cfg, linux=api.LinuxContainerConfig(
        security_context=api.LinuxContainerSecurityContext(
            namespace_options=api.NamespaceOption(pid=api.NODE, ipc=api.NODE))))
    assert pods.exec(cid, "test", "-d", f"/proc/{hulld.proc.pid}").exit_code == 0
    name = f"hull-cri-{uuid.uuid4().hex[:8]}"
    try:
        pods.exec(cid, "sh", "-c", f"echo host-ipc > /dev/shm/{name}")
        assert open(f"/dev/shm/{name}").read() == "host-ipc\n"
    finally:
        if os.path.exists(f"/dev/shm/{name}"):
            os.unlink(f"/dev/shm/{name}")


def test_port_mapping_reaches_the_pod(pods):
    import socket
    import time

    cfg = pods.config()
    cfg.port_mappings.add(protocol=api.TCP, container_port=8080, host_port=18080)
    sid, cfg = pods.run(cfg)
    pods.container(sid, cfg, ["sh", "-c", "while true; do nc -l -p 8080 -e echo mapped; done"])
    gateway = str(next(ipaddress.ip_network(SUBNET).hosts()))   # the bridge: a local address
    deadline = time.monotonic() + 15
    reply = b""
    while time.monotonic() < deadline and b"mapped" not in reply:
        try:
            with socket.create_connection((gateway, 18080), timeout=2) as conn:
                reply = conn.recv(100)
        except OSError:
            time.sleep(0.2)
    assert b"mapped" in reply


def test_every_metric_descriptor_has_values_with_its_labels(pods):
    sid, cfg = pods.run()
    pods.container(sid, cfg, ["sh", "-c", "echo x > /tmp/f; sleep 1000"])
    descriptors = {d.name: list(d.label_keys) for d in pods.rt.ListMetricDescriptors(
        api.ListMetricDescriptorsRequest()).descriptors}
    pod = next(m for m in pods.rt.ListPodSandboxMetrics(api.ListPodSandboxMetricsRequest())
               .pod_metrics if m.pod_sandbox_id == sid)
    seen = {}
    for metric in list(pod.metrics) + [m for c in pod.container_metrics for m in c.metrics]:
        assert len(metric.label_values) == len(descriptors[metric.name]), metric.name
        seen.setdefault(metric.name, metric)
    # block-device counters appear only when the container did block I/O
    optional = {n for n in descriptors if "blkio" in n or "_reads_" in n or "_writes_" in n}
    assert set(descriptors) - optional <= set(seen)
    assert seen["container_processes"].value.value >= 1
    assert seen["container_network_receive_bytes_total"].label_values[0] == "eth0"


def test_loopback_is_up_without_a_loopback_plugin(pods, hulld):
    import json

    conf = os.path.join(hulld.conf_dir, "10-hull-cri-test.conflist")
    original = open(conf).read()
    doc = json.loads(original)
    doc["plugins"] = [p for p in doc["plugins"] if p["type"] != "loopback"]
    with open(conf, "w") as f:
        json.dump(doc, f)
    try:
        sid, cfg = pods.run()
    finally:
        with open(conf, "w") as f:
            f.write(original)
    cid = pods.container(sid, cfg)
    assert "UP" in pods.exec(cid, "ip", "link", "show", "lo").stdout.decode()
