"""A peer that comes back is reachable at once through a fresh channel (`PeerClient.forget`).

gRPC's C core shares subchannels, with their reconnect backoff, between channels of the same target
and options, so without a local subchannel pool the fresh channel inherited the backoff the old one
built up while the peer was down and failed "Connection refused" for up to a second after the peer
was serving again. Real servers on one loopback port, stopped and started again."""

from __future__ import annotations

import concurrent.futures as cf
import socket

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from node.peers.client import PeerClient, channel_options



def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(port: int) -> grpc.Server:
    # No SO_REUSEPORT: a listener left behind would share the port and take some connections.
    server = grpc.server(cf.ThreadPoolExecutor(max_workers=2), options=[("grpc.so_reuseport", 0)])
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    assert server.add_insecure_port(f"127.0.0.1:{port}") == port
    server.start()
    return server


def _check(peers: PeerClient, address: str) -> None:
    """One health call on PeerClient's cached channel to `address` (fails fast, no wait for ready)."""
    channel = peers._stubs(address)._channel  # the channel forget() drops
    health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2.0)


def test_a_forgotten_channel_connects_at_once_to_a_peer_that_came_back():
    port = _free_port()
    address = f"127.0.0.1:{port}"
    peers = PeerClient(node_id="node-a", message_bytes_max=1 << 20)
    server = _serve(port)
    try:
        _check(peers, address)
        server.stop(None)
        for _ in range(3):  # the peer is down: each call fails and the backoff grows
            with pytest.raises(grpc.RpcError) as caught:
                _check(peers, address)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        server = _serve(port)
        peers.forget(address)  # what the daemon does when gossip says the peer is ALIVE again
        _check(peers, address)  # within the old backoff window: must not inherit it
    finally:
        server.stop(None)
        peers.close()


def test_peer_channels_use_a_local_subchannel_pool():
    assert ("grpc.use_local_subchannel_pool", 1) in channel_options(1 << 20)
