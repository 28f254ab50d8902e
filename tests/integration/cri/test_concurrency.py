"""Pods proceed in parallel: a slow call on one pod does not hold up others."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from hull._generated import api_pb2 as api

pytestmark = pytest.mark.root


def test_parallel_pods_all_come_up_with_distinct_ips(pods):
    configs = [pods.config(f"par-{i}") for i in range(6)]
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda c: pods.run(c), configs))
    ips = set()
    for sid, cfg in results:
        st = pods.rt.PodSandboxStatus(api.PodSandboxStatusRequest(pod_sandbox_id=sid)).status
        assert st.state == api.SANDBOX_READY
        ips.add(st.network.ip)
    assert len(ips) == 6


def test_a_long_exec_does_not_block_other_rpcs(pods):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg)
    done = threading.Event()

    def slow():
        pods.exec(cid, "sleep", "3", timeout=20)
        done.set()

    threading.Thread(target=slow).start()
    time.sleep(0.3)
    # while the exec runs, another pod's whole lifecycle completes
    other, other_cfg = pods.run()
    other_c = pods.container(other, other_cfg)
    assert pods.exec(other_c, "echo", "meanwhile").stdout == b"meanwhile\n"
    assert not done.is_set()
    done.wait(30)
    assert done.is_set()
