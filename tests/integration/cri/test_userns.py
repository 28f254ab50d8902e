import pytest

from hull._generated import api_pb2 as api

pytestmark = pytest.mark.root


def test_pod_user_namespace_maps_ids(pods):
    cfg = pods.config()
    userns = cfg.linux.security_context.namespace_options.userns_options
    userns.mode = api.POD
    userns.uids.add(host_id=200000, container_id=0, length=65536)
    userns.gids.add(host_id=200000, container_id=0, length=65536)
    sid, cfg = pods.run(cfg)
    cid = pods.container(sid, cfg)
    uid_map = pods.exec(cid, "cat", "/proc/self/uid_map").stdout.split()
    assert uid_map == [b"0", b"200000", b"65536"]
    assert pods.exec(cid, "id", "-u").stdout.strip() == b"0"
    assert pods.exec(cid, "hostname").stdout.strip() == cfg.hostname.encode()
    ip = pods.rt.PodSandboxStatus(api.PodSandboxStatusRequest(pod_sandbox_id=sid)).status
    assert ip.network.ip and ip.network.ip in pods.exec(cid, "ip", "addr").stdout.decode()
    # files of the image are owned by host root: unmapped, so nobody inside
    assert pods.exec(cid, "stat", "-c", "%u", "/bin/busybox").stdout.strip() == b"65534"


def test_more_than_one_mapping_range_is_invalid(pods):
    import grpc

    from tests.integration.cri.conftest import code_of

    cfg = pods.config()
    userns = cfg.linux.security_context.namespace_options.userns_options
    userns.mode = api.POD
    userns.uids.add(host_id=200000, container_id=0, length=1000)
    userns.uids.add(host_id=300000, container_id=1000, length=1000)
    userns.gids.add(host_id=200000, container_id=0, length=65536)
    assert code_of(pods.rt.RunPodSandbox, api.RunPodSandboxRequest(config=cfg)) == \
        grpc.StatusCode.INVALID_ARGUMENT


def test_container_id_zero_must_be_mapped_and_modes_checked(pods):
    import grpc

    from tests.integration.cri.conftest import code_of

    for userns in (api.UserNamespace(mode=api.POD, uids=[api.IDMapping(container_id=1, host_id=1000, length=10)],
                                     gids=[api.IDMapping(container_id=1, host_id=1000, length=10)]),
                   api.UserNamespace(mode=api.CONTAINER), api.UserNamespace(mode=api.TARGET)):
        cfg = pods.config()
        cfg.linux.security_context.namespace_options.userns_options.CopyFrom(userns)
        assert code_of(pods.rt.RunPodSandbox, api.RunPodSandboxRequest(config=cfg)) == \
            grpc.StatusCode.INVALID_ARGUMENT


def test_status_announces_user_namespaces_for_runc(hulld):
    status = hulld.runtime_stub.Status(api.StatusRequest())
    runc = next(h for h in status.runtime_handlers if h.name == "runc")
    assert runc.features.user_namespaces
