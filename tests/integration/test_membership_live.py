"""Membership with real processes: detection time, graceful leave, rejected intruders, metrics, health."""

from __future__ import annotations

import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from node.config import GossipConfig
from node.gossip.suspicion import suspicion_timeout_s
from nodectl.client import Client
from nodectl.tls import issue_client
from ringstore.v1 import membership_pb2

LOCAL = GossipConfig.local()
# What the issue allows: 3 missed heartbeats plus the indirect check. On top we allow the verdict's
# spread (a few gossip rounds) and one heartbeat of phase (the last heartbeat may have arrived up to
# one interval before the kill), and the suspicion a failed check starts (node/gossip/suspicion.py):
# it ends once another watcher confirms it. With every watcher confirming it ends at the floor and
# detection takes about 1.05 s here; with one confirmation, which is what arrives in time in some
# runs, it lasts 1.2 s and detection about 2.1 s. A lone accuser (no confirmation, 3 s) fails this.
DETECTION_BOUND_S = (LOCAL.down_after_s + LOCAL.heartbeat_interval_s + LOCAL.indirect_probe_timeout_s
                     + 4 * LOCAL.gossip_interval_s + LOCAL.rpc_timeout_s
                     + suspicion_timeout_s(1, LOCAL.monitor_count - 1, LOCAL.suspicion_timeout_s_min,
                                           LOCAL.suspicion_timeout_s_max))


def metric_value(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not exported")


def test_kill_9_is_seen_down_by_every_other_node_within_the_detection_bound(cluster_factory):
    """Every survivor marks a kill -9'd node DOWN within 3 heartbeats + indirect check (+ gossip spread)."""
    cluster = cluster_factory(nodes=5)
    victim = sorted(cluster.nodes)[2]
    survivors = [n for n in cluster.nodes if n != victim]
    cluster.kill(victim, "KILL")
    elapsed = cluster.wait_state(victim, "DOWN", observers=survivors, timeout_s=DETECTION_BOUND_S * 4)
    print(f"detected by all {len(survivors)} survivors in {elapsed:.2f} s (bound {DETECTION_BOUND_S:.2f} s)")
    assert elapsed <= DETECTION_BOUND_S
    # Nobody else was wrongly accused meanwhile.
    for observer in survivors:
        view = cluster.view(observer)
        assert all(view[n] == "ALIVE" for n in survivors), (observer, view)


def test_sigterm_leaves_gracefully_and_others_see_left(cluster_factory):
    """A node stopped with SIGTERM announces LEFT; the others see LEFT, not DOWN, and its ring share goes."""
    cluster = cluster_factory(nodes=4)
    leaver = sorted(cluster.nodes)[1]
    others = [n for n in cluster.nodes if n != leaver]
    cluster.kill(leaver, "TERM")
    cluster.wait_state(leaver, "LEFT", observers=others, timeout_s=10)
    with Client(address=cluster.nodes[others[0]].address) as client:
        status = client.cluster_status()
    share = {m.node_id: m.ring_share for m in status.members}
    assert share[leaver] == 0.0
    assert abs(sum(share.values()) - 1.0) < 1e-6


def test_a_stopped_process_that_resumes_refutes_and_is_alive_again(cluster_factory):
    """SIGSTOP long enough to be declared DOWN, then SIGCONT: the node refutes and is ALIVE everywhere."""
    cluster = cluster_factory(nodes=4)
    sleeper = sorted(cluster.nodes)[3]
    others = [n for n in cluster.nodes if n != sleeper]
    cluster.kill(sleeper, "STOP")
    try:
        cluster.wait_state(sleeper, "DOWN", observers=others, timeout_s=10)
    finally:
        cluster.kill(sleeper, "CONT")
    cluster.wait_state(sleeper, "ALIVE", timeout_s=10)
    with Client(address=cluster.nodes[others[0]].address) as client:
        member = {m.node_id: m for m in client.cluster_status().members}[sleeper]
    assert member.incarnation >= 1, "it came back by refuting, not by restarting"


def test_peer_calls_need_a_node_certificate_of_the_cluster(cluster_factory, session_ca, tmp_path):
    """A forged gossip message (node-2 LEFT) reaches no handler: in plaintext or without a
    certificate the peer port's handshake fails, a client certificate of the cluster's own CA gets
    UNAUTHENTICATED (counted), and the client port does not serve MembershipService at all."""
    cluster = cluster_factory(nodes=3)
    target, victim = sorted(cluster.nodes)[:2]
    forged = membership_pb2.GossipRequest(updates=[membership_pb2.Member(
        node_id=victim, address="127.0.0.1:1", generation=1, incarnation=99,
        state=membership_pb2.MEMBER_STATE_LEFT)])
    ca_pem = (session_ca / "ca.crt").read_bytes()
    alice = issue_client(session_ca, "alice", out_dir=tmp_path / "alice")
    peer_address = cluster.nodes[target].peer_address
    attempts = [
        (grpc.insecure_channel(peer_address), grpc.StatusCode.UNAVAILABLE),
        (grpc.secure_channel(peer_address, grpc.ssl_channel_credentials(ca_pem)), grpc.StatusCode.UNAVAILABLE),
        (grpc.secure_channel(peer_address, grpc.ssl_channel_credentials(
            ca_pem, alice.key_path.read_bytes(), alice.cert_path.read_bytes())), grpc.StatusCode.UNAUTHENTICATED),
        (cluster.channel(cluster.nodes[target].address), grpc.StatusCode.UNIMPLEMENTED),
    ]
    for channel, expected in attempts:
        with channel:
            gossip = channel.unary_unary("/ringstore.v1.MembershipService/Gossip",
                                         request_serializer=membership_pb2.GossipRequest.SerializeToString,
                                         response_deserializer=membership_pb2.GossipResponse.FromString)
            with pytest.raises(grpc.RpcError) as err:
                gossip(forged, timeout=5)
            assert err.value.code() == expected, (expected, err.value.details())
    assert metric_value(cluster.metrics_text(target), 'ringstore_auth_failures_total{reason="not_a_node"}') == 1
    assert cluster.view(target)[victim] == "ALIVE"


def test_every_node_serves_metrics_and_grpc_health(cluster_factory):
    """Prometheus text with ringstore_* series on each node, and grpc.health.v1 answering SERVING."""
    cluster = cluster_factory(nodes=3)
    with Client(address=cluster.any_address()) as client:
        client.create_bucket("metrics")
        client.put("metrics", "k", b"x" * 100_000)
        client.get_bytes("metrics", "k")
    stored = 0.0
    for node_id, node in cluster.nodes.items():
        text = cluster.metrics_text(node_id)
        assert metric_value(text, 'ringstore_members{state="ALIVE"}') == 3
        stored += metric_value(text, "ringstore_chunks_stored")
        for name in ("ringstore_put_duration_seconds_count", "ringstore_gossip_messages_total",
                     "ringstore_object_requests_total"):
            assert name in text, name
        with cluster.channel(node.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            for service in ("", "ringstore.v1.ObjectService"):
                reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert stored == 3, "one 100 kB chunk, three replicas across the cluster"


def test_every_node_freezes_its_start_up_objects_and_times_collections(cluster_factory):
    """node/collector.py at work in noded: start-up objects out of the collector's walks, each
    collection's pause in ringstore_python_gc_pause_seconds."""
    cluster = cluster_factory(nodes=3)
    deadline = time.monotonic() + 30
    for node_id in cluster.nodes:
        while True:  # frozen just after the node starts serving
            text = cluster.metrics_text(node_id)
            if metric_value(text, "ringstore_python_gc_frozen_objects") > 10_000:
                break
            assert time.monotonic() < deadline, f"{node_id} froze nothing"
            time.sleep(0.2)
        while metric_value(text, 'ringstore_python_gc_pause_seconds_count{generation="0"}') == 0:
            assert time.monotonic() < deadline, f"{node_id} timed no collection"
            time.sleep(0.2)
            text = cluster.metrics_text(node_id)
