"""cluster-sim against real noded processes: start, kill -9, restart, stop.

These pin down what every other integration test relies on: `up` returns a fully converged cluster,
a kill -9 is noticed by the survivors, a restarted node comes back ALIVE as a new generation on the
same address, `add_node` with a wrong secret cannot get in, and `down` leaves nothing running.
"""

from __future__ import annotations

import pytest

from cluster_sim import LocalCluster, NodeExitedError
from cluster_sim.processes import pid_alive

WAIT_S = 30.0


def _narrate(message: str) -> None:
    print(f"-- {message}")


def test_up_three_nodes_every_node_sees_every_node_alive(cluster_factory) -> None:
    """After up(nodes=3) every node's own view lists all three nodes ALIVE."""
    cluster: LocalCluster = cluster_factory(nodes=3)
    assert list(cluster.nodes) == ["node-1", "node-2", "node-3"]
    assert len(set(cluster.addresses())) == 3
    for observer in cluster.nodes:
        _narrate(f"{observer} sees {cluster.view(observer)}")
        assert cluster.view(observer) == {"node-1": "ALIVE", "node-2": "ALIVE", "node-3": "ALIVE"}


def test_kill_9_is_seen_down_then_restart_is_alive_with_a_higher_generation(cluster_factory) -> None:
    """kill -9 of one node: the others see it DOWN; restarted, every node sees it ALIVE again with
    a higher generation, at the same address."""
    cluster: LocalCluster = cluster_factory(nodes=3)
    victim = cluster.nodes["node-3"]
    old_generation, old_address, old_pid = victim.generation, victim.address, victim.pid

    cluster.kill("node-3", "KILL")
    assert not pid_alive(old_pid)
    took_s = cluster.wait_state("node-3", "DOWN", observers=["node-1", "node-2"], timeout_s=WAIT_S)
    _narrate(f"node-1 and node-2 saw node-3 DOWN {took_s:.2f} s after kill -9")

    cluster.restart("node-3", timeout_s=WAIT_S)
    assert victim.address == old_address
    assert victim.generation > old_generation
    took_s = cluster.wait_state("node-3", "ALIVE", observers=["node-1", "node-2", "node-3"],
                                timeout_s=WAIT_S)
    _narrate(f"node-3 ALIVE again everywhere {took_s:.2f} s after its restart")

    def every_view_has_the_new_generation() -> bool:
        return all(cluster.member_views(observer)["node-3"].generation == victim.generation
                   for observer in cluster.nodes)

    cluster.wait_until(every_view_has_the_new_generation, timeout_s=WAIT_S,
                       what=f"every node to see node-3 at generation {victim.generation}")


def test_a_node_with_the_wrong_secret_cannot_join(cluster_factory) -> None:
    """add_node with another secret: noded refuses the join and exits with code 3, and nobody lists
    the intruder."""
    cluster: LocalCluster = cluster_factory(nodes=3)
    with pytest.raises(NodeExitedError) as raised:
        cluster.add_node(node_id="intruder", secret=b"not-the-cluster-secret-0123456789")
    assert raised.value.exit_code == 3, str(raised.value)
    assert "intruder" not in cluster.nodes
    for observer in cluster.nodes:
        assert "intruder" not in cluster.view(observer)


def test_down_leaves_no_process_running(cluster_factory) -> None:
    """down() stops every recorded pid (including a SIGSTOPped one) and is idempotent."""
    cluster: LocalCluster = cluster_factory(nodes=3)
    cluster.kill("node-2", "STOP")
    pids = {node_id: node.pid for node_id, node in cluster.nodes.items()}
    cluster.down()
    still_running = {node_id: pid for node_id, pid in pids.items() if pid_alive(pid)}
    assert not still_running, f"left running after down(): {still_running}"
    cluster.down()
    assert all(entry["process"] == "dead" for entry in cluster.status().values())
