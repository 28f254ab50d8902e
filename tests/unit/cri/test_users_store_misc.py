import asyncio
import os

import grpc
import pytest

from hull._generated import api_pb2 as api
from hull.cri import convert, lifecycle, network, sandbox_files, users
from hull.cri.interceptor import _status_of
from hull.cri.model import Container, ContainerState, Sandbox, SandboxState
from hull.cri.store import Store
from hull.errors import AlreadyExists, InvalidArgument, NotFound


@pytest.fixture
def rootfs(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n"
                                         "app:x:1000:1000::/home/app:/bin/sh\n")
    (tmp_path / "etc/group").write_text("root:x:0:\napp:x:1000:\nstaff:x:50:app,other\n")
    return str(tmp_path)


def test_users_image_user_name_and_groups(rootfs):
    who = users.resolve(rootfs, api.LinuxContainerSecurityContext(), "app", "c")
    assert (who.uid, who.gid, who.groups) == (1000, 1000, [1000, 50])


def test_users_run_as_uid_group_and_strict(rootfs):
    sc = api.LinuxContainerSecurityContext(supplemental_groups_policy=api.Strict)
    sc.run_as_user.value = 1000
    sc.run_as_group.value = 7
    sc.supplemental_groups.append(9)
    who = users.resolve(rootfs, sc, "", "c")
    assert (who.uid, who.gid, who.groups) == (1000, 7, [7, 9])


def test_users_errors(rootfs):
    with pytest.raises(InvalidArgument):
        users.resolve(rootfs, api.LinuxContainerSecurityContext(run_as_username="ghost"), "", "c")
    sc = api.LinuxContainerSecurityContext()
    sc.run_as_group.value = 5
    with pytest.raises(InvalidArgument, match="run_as_group"):
        users.resolve(rootfs, sc, "", "c")
    with pytest.raises(InvalidArgument):
        users.resolve(rootfs, api.LinuxContainerSecurityContext(), "app:nogroup", "c")
    assert users.resolve(rootfs, api.LinuxContainerSecurityContext(), "4242:50", "c").gid == 50


def _sandbox(name="p_ns_uid_0") -> Sandbox:
    cfg = api.PodSandboxConfig(metadata=api.PodSandboxMetadata(name="p", namespace="ns",
                                                               uid="uid"),
                               labels={"a": "b"})
    return Sandbox(id=os.urandom(8).hex(), name=name, config=cfg, runtime_handler="runc")


def test_store_round_trip_and_name_uniqueness(tmp_path):
    store = Store(str(tmp_path))
    sb = _sandbox()
    sb.namespaces = {"net": "/x"}
    store.add_sandbox(sb)
    with pytest.raises(AlreadyExists):
        store.add_sandbox(_sandbox())
    sb.state = SandboxState.READY
    sb.ips = ["10.0.0.2"]
    store.save_sandbox(sb)
    again = Store(str(tmp_path)).sandbox(sb.id)
    assert again.state is SandboxState.READY and again.ips == ["10.0.0.2"]
    assert again.config.labels["a"] == "b" and again.namespaces == {"net": "/x"}
    c = Container(id="c1", sandbox_id=sb.id, name=f"{sb.id}/x_0",
                  config=api.ContainerConfig(metadata=api.ContainerMetadata(name="x")),
                  resources=b"\x20\x05")
    store.add_container(c)
    with pytest.raises(AlreadyExists):
        store.add_container(Container(id="c2", sandbox_id=sb.id, name=f"{sb.id}/x_0",
                                      config=api.ContainerConfig()))
    loaded = store.container("c1")
    assert loaded.resources == b"\x20\x05" and loaded.state is ContainerState.CREATING
    assert [x.id for x in store.containers(sb.id)] == ["c1"]
    store.delete_container("c1")
    store.delete_container("c1")   # idempotent
    assert store.container("c1") is None


def test_interceptor_maps_categories_to_codes():
    assert _status_of(NotFound("cannot x: y")) == (grpc.StatusCode.NOT_FOUND, "cannot x: y")
    assert _status_of(AlreadyExists("a"))[0] == grpc.StatusCode.ALREADY_EXISTS
    assert _status_of(ValueError("boom"))[0] == grpc.StatusCode.INTERNAL


def test_cni_capabilities_from_pod_config():
    cfg = api.PodSandboxConfig()
    cfg.port_mappings.add(protocol=api.UDP, container_port=53, host_port=5353, host_ip="127.0.0.1")
    cfg.port_mappings.add(container_port=80)   # no host port: not mapped
    cfg.dns_config.servers.append("10.0.0.10")
    caps = network.capabilities(cfg)
    assert caps["portMappings"] == [{"hostPort": 5353, "containerPort": 53, "protocol": "udp",
                                     "hostIP": "127.0.0.1"}]
    assert caps["dns"]["servers"] == ["10.0.0.10"]


def test_resolv_conf_from_dns_config(tmp_path):
    dns = api.DNSConfig(servers=["1.2.3.4"], searches=["a.b"], options=["ndots:5"])
    assert sandbox_files.resolv_conf(dns) == "nameserver 1.2.3.4\nsearch a.b\noptions ndots:5\n"
    assert sandbox_files.resolv_conf(api.DNSConfig()) is None
    paths = sandbox_files.write_all(str(tmp_path), api.PodSandboxConfig(dns_config=dns), "h1")
    assert open(paths["hostname"]).read() == "h1\n"
    assert "h1" in open(paths["hosts"]).read()


def test_stop_signal_from_config_then_image_then_sigterm():
    import signal

    c = Container(id="c", sandbox_id="s", name="n", config=api.ContainerConfig())
    assert lifecycle.stop_signal(c) == signal.SIGTERM
    c.extra["stop_signal"] = "SIGQUIT"
    assert lifecycle.stop_signal(c) == signal.SIGQUIT
    c.extra["stop_signal"] = "9"
    assert lifecycle.stop_signal(c) == 9
    c.config.stop_signal = api.SIGUSR1
    assert lifecycle.stop_signal(c) == signal.SIGUSR1


def test_container_status_conversion_reports_user_and_resources():
    res = api.LinuxContainerResources(cpu_shares=2)
    c = Container(id="c", sandbox_id="s", name="n",
                  config=api.ContainerConfig(metadata=api.ContainerMetadata(name="n"),
                                             image=api.ImageSpec(image="busybox")),
                  image_id="sha256:1", image_ref="sha256:1", state=ContainerState.RUNNING,
                  resources=res.SerializeToString(),
                  extra={"user": {"uid": 1, "gid": 2, "groups": [2, 3]}})
    st = convert.container_status(c)
    assert st.state == api.CONTAINER_RUNNING and st.image_id == "sha256:1"
    assert st.resources.linux.cpu_shares == 2
    assert list(st.user.linux.supplemental_groups) == [2, 3]
    assert convert.labels_match({"a": "1", "b": "2"}, {"a": "1"})
    assert not convert.labels_match({"a": "1"}, {"a": "2"})


def test_event_bus_fans_out():
    from hull.cri.events import EventBus

    async def run():
        bus = EventBus()
        q1, q2 = bus.subscribe(), bus.subscribe()
        bus.publish(api.ContainerEventResponse(container_id="x"))
        bus.unsubscribe(q2)
        bus.publish(api.ContainerEventResponse(container_id="y"))
        return [q1.get_nowait().container_id, q1.get_nowait().container_id], q2.qsize()

    assert asyncio.run(run()) == (["x", "y"], 1)


def test_every_rpc_of_the_proto_has_a_handler():
    from hull.cri import service

    for svc, table in (("RuntimeService", service.RUNTIME_RPCS),
                       ("ImageService", service.IMAGE_RPCS)):
        methods = {m.name for m in api.DESCRIPTOR.services_by_name[svc].methods}
        assert methods == set(table)
