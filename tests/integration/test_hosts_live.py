"""A cluster whose nodes each listen on their own loopback address (127.0.0.2 ... 127.0.0.6), with
certificates naming only that address, as on five hosts: nothing may assume one shared host."""

from __future__ import annotations

from cluster_checks import REPAIR_DEADLINE_S, check_all, payload, put_mix, wait_full

HOSTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"]


def test_five_hosts_store_read_and_survive_kill_9_of_two(cluster_factory):
    """Each node serves both ports on its own address and its peers reach it there (their TLS
    checks the address against its certificate). Objects put through one node read back through
    every node; after kill -9 of two nodes, the survivors turn them OUT, repair restores full
    redundancy, and every object reads back through each survivor."""
    cluster = cluster_factory(nodes=5, hosts=True)
    for node_id, host in zip(sorted(cluster.nodes), HOSTS):
        node = cluster.nodes[node_id]
        assert node.address.startswith(host + ":") and node.peer_address.startswith(host + ":"), node
    assert {v.address for v in cluster.member_views("node-1").values()} == {
        n.peer_address for n in cluster.nodes.values()}

    objects = {f"k{i}": payload(300_000 + 97 * i, seed=i) for i in range(12)}
    with cluster.client(cluster.nodes["node-1"].address) as client:
        put_mix(client, objects, ec=(2, 1))  # replicas=3 and ec=2+1, each fits on the three survivors
    for node in cluster.nodes.values():
        with cluster.client(node.address) as client:
            check_all(client, objects)

    for victim in ("node-4", "node-5"):
        cluster.kill(victim, "KILL")
    survivors = ["node-1", "node-2", "node-3"]
    for victim in ("node-4", "node-5"):
        cluster.wait_state(victim, "OUT", observers=survivors, timeout_s=REPAIR_DEADLINE_S)
    wait_full(cluster, "full redundancy on the three survivors")
    for node_id in survivors:
        with cluster.client(cluster.nodes[node_id].address) as client:
            check_all(client, objects)
