"""cluster-sim against real noded processes: start, kill -9, restart, stop.

These pin down what every other integration test relies on: `up` returns a fully converged cluster,
a kill -9 is noticed by the survivors, a restarted node comes back ALIVE as a new generation on the
same address, `add_node` with a certificate from another CA cannot get in, and `down` leaves nothing running.
"""

from __future__ import annotations

import socket
from pathlib import Path

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


@pytest.mark.parametrize("taken", ["client", "s3"])
def test_a_restart_whose_port_was_taken_meanwhile_comes_up_on_new_ports(cluster_factory, taken) -> None:
    """A node keeps its ports across restarts, but the kernel may have handed one out since (a
    client socket's local port, another cluster's node): noded exits with its own code for a taken
    port (5), the restart then takes new ports, and every node sees it ALIVE at its new address,
    reads included. Either port: the client port (gRPC) and the S3 port (HTTP) fail differently."""
    cluster: LocalCluster = cluster_factory(nodes=3)
    with cluster.client() as client:
        client.create_bucket("moved")
        client.put("moved", "k", b"before the move")
    victim = cluster.nodes["node-3"]
    old_address, old_s3 = victim.address, victim.s3_address
    assert old_s3, "the cluster serves S3"
    cluster.kill("node-3", "KILL")
    taken_address = old_address if taken == "client" else old_s3.split("://", 1)[1]
    host, port = taken_address.rsplit(":", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((host, int(port)))
        squatter.listen(1)
        cluster.restart("node-3", timeout_s=WAIT_S)
    assert "noded: error: cannot" in Path(victim.log_path).read_text(encoding="utf-8")
    assert (victim.address, victim.s3_address) != (old_address, old_s3)
    cluster.wait_state("node-3", "ALIVE", observers=["node-1", "node-2", "node-3"], timeout_s=WAIT_S)
    with cluster.client(address=victim.address) as client:
        assert client.get_bytes("moved", "k") == b"before the move"


def test_replace_disk_restarts_the_node_empty_under_the_same_id_and_address(cluster_factory) -> None:
    """`cluster-sim replace-disk`: the node is killed -9, its data dir emptied (a file planted in it
    is gone, and with it the store) and it serves again at the same address as a new generation
    that every node sees ALIVE; its log is kept."""
    from click.testing import CliRunner

    from cluster_sim.cli import main as cluster_sim_main

    cluster: LocalCluster = cluster_factory(nodes=3)
    victim = cluster.nodes["node-3"]
    old_generation, old_address, old_pid = victim.generation, victim.address, victim.pid
    planted = Path(victim.data_dir) / "planted.bin"
    planted.write_bytes(b"old disk")
    assert (Path(victim.data_dir) / "store").exists()

    result = CliRunner().invoke(cluster_sim_main, ["replace-disk", "--dir", str(cluster.directory), "node-3"])
    assert result.exit_code == 0, result.output
    _narrate(result.output.strip())
    reloaded = LocalCluster.load(cluster.directory).nodes["node-3"]
    assert not pid_alive(old_pid) and pid_alive(reloaded.pid)
    assert not planted.exists() and Path(victim.log_path).stat().st_size > 0
    assert reloaded.address == old_address and reloaded.generation > old_generation
    cluster.nodes["node-3"] = reloaded  # the CLI restarted it: follow its new pid from here on
    took_s = cluster.wait_state("node-3", "ALIVE", observers=["node-1", "node-2", "node-3"], timeout_s=WAIT_S)
    _narrate(f"node-3 ALIVE everywhere {took_s:.2f} s after its disk was replaced")


def test_a_node_with_a_certificate_from_another_ca_cannot_join(cluster_factory, tmp_path) -> None:
    """add_node with a certificate another CA signed (the intruder trusts the cluster's CA, so its
    own handshake checks pass): the cluster refuses its handshakes, noded says so in one line and
    exits with code 3, and nobody lists the intruder."""
    cluster: LocalCluster = cluster_factory(nodes=3)
    with pytest.raises(NodeExitedError) as raised:
        cluster.add_node(node_id="intruder", foreign_ca_dir=tmp_path / "other-ca")
    assert raised.value.exit_code == 3, str(raised.value)
    assert "refused this certificate" in str(raised.value) and "not signed by the cluster's CA" in str(raised.value)
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
