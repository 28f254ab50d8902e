"""hull-portmap and hull-bridge's masquerade take a flock file per nft table in
/run/hull/cni; the file goes with the table, so none pile up across pods."""

import os

import pytest

from hull.cni import nft

pytestmark = pytest.mark.root


def our_lock_files(net) -> list[str]:
    """Lock files for this test's tables (other areas' tests may run at the same time)."""
    if not os.path.isdir(nft.LOCK_DIR):
        return []
    return sorted(n for n in os.listdir(nft.LOCK_DIR)
                  if n.endswith(".lock") and f"-hull-cni-t{net.index}-" in n)


def dual_stack_chain(net):
    chain = net.hull_chain(ipMasq=True)
    chain[0]["ipam"]["ranges"] = [[{"subnet": net.subnet}], [{"subnet": f"fd00:89:{net.index}::/64"}]]
    return chain


def test_add_del_of_every_pod_leaves_no_lock_file(net, pods):
    net.write(dual_stack_chain(net), version="1.1.0")
    cni = net.cni()
    a, b = pods(), pods()
    before = set(os.listdir(nft.LOCK_DIR)) if os.path.isdir(nft.LOCK_DIR) else set()
    for name, ns, port in (("pod-a", a, 18700), ("pod-b", b, 18800)):
        cni.setup(name, ns, capabilities={"portMappings": [{"hostPort": port + net.index,
                                                            "containerPort": 80}]})
    assert len([t for t in net.nft_tables() if net.portmap_table in t]) == 2   # ip and ip6
    cni.teardown("pod-a", a)
    assert len(net.nft_tables()) == 4       # pod-b still holds portmap and masq, both families
    cni.teardown("pod-b", b)
    assert net.nft_tables() == []
    assert our_lock_files(net) == []
    new = set(os.listdir(nft.LOCK_DIR)) - before
    assert [n for n in new if f"-hull-cni-t{net.index}-" in n] == []


def test_a_refused_add_and_a_del_without_tables_leave_no_lock_file(net, pods):
    net.write(net.hull_chain(ipMasq=True), version="1.0.0")
    cni = net.cni()
    a, b = pods(), pods()
    port = 18950 + net.index
    cni.setup("pod-a", a, capabilities={"portMappings": [{"hostPort": port, "containerPort": 80}]})
    with pytest.raises(Exception, match="hull-portmap"):   # the port is pod-a's
        cni.setup("pod-b", b, capabilities={"portMappings": [{"hostPort": port, "containerPort": 80}]})
    cni.teardown("pod-a", a)
    cni.teardown("pod-a", a)    # again, with no table left: locks but must not leave a file
    assert net.nft_tables() == []
    assert our_lock_files(net) == []
