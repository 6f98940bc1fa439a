"""Fault injection: the `Faults` value and holder (node/faults.py), calls dropped by PeerClient and
the gossip transport, the RPC delay interceptor (node/api/delay.py), the disk delay hook of the
store, SetFaults on a real in-process noded (refused without --allow-fault-injection), the
member-down counter, and the cluster-sim plumbing that passes the flag on."""

from __future__ import annotations

import concurrent.futures as cf
import threading

import blake3
import grpc
import pytest

from cluster_sim import ClusterError, LocalCluster
from cluster_sim.clusterfile import ClusterFile, read_cluster_file, write_cluster_file
from cluster_sim.processes import node_command
from node.api.delay import DelayInterceptor
from node.config import NodeConfig
from node.daemon import NodeDaemon
from node.faults import (DELAY_MS_MAX, DROP_PEER_ADDRESSES_MAX, DROPPED_DETAILS, FaultSet, Faults,
                         InvalidFaults)
from node.gossip import MemberInfo, MemberState
from node.gossip.transport import PeerUnreachable
from node.peers.client import PeerClient, PeerError
from node.peers.gossip_transport import GrpcTransport
from node.store import NodeStore, ShareKey
from ringstore.v1 import admin_pb2, admin_pb2_grpc, membership_pb2, peer_pb2

MIB = 1024 * 1024
SECRET = b"s" * 32


class _Sleeps:
    """An injected sleep that records what it was asked to wait (and the order of events)."""

    def __init__(self, events: list | None = None) -> None:
        self.events = events if events is not None else []

    def __call__(self, seconds: float) -> None:
        self.events.append(("sleep", seconds))


# -- the Faults value and holder ----------------------------------------------------------------

@pytest.mark.parametrize("kwargs, fragment", [
    ({"drop_peer_addresses": [f"127.0.0.1:{p}" for p in range(DROP_PEER_ADDRESSES_MAX + 1)]},
     f"more than {DROP_PEER_ADDRESSES_MAX}"),
    ({"drop_peer_addresses": ["node-3"]}, "'node-3' to drop is not HOST:PORT"),
    ({"drop_peer_addresses": [":7400"]}, "is not HOST:PORT"),
    ({"drop_peer_addresses": ["127.0.0.1:x"]}, "is not HOST:PORT"),
    ({"delay_rpc_ms": DELAY_MS_MAX + 1}, f"delay_rpc_ms {DELAY_MS_MAX + 1} is outside 0..{DELAY_MS_MAX} ms"),
    ({"delay_disk_ms": -1}, "delay_disk_ms -1 is outside"),
])
def test_fault_sets_out_of_their_limits_are_refused_with_the_value_named(kwargs, fragment):
    """Too many addresses, an address that is not HOST:PORT, a delay beyond DELAY_MS_MAX or below 0."""
    with pytest.raises(InvalidFaults) as info:
        FaultSet.of(**kwargs)
    assert fragment in str(info.value)


def test_fault_sets_at_their_limits_are_accepted_and_described_in_one_line():
    """The largest allowed set is valid; the empty set reads `none`, others list every fault."""
    FaultSet.of(drop_peer_addresses=[f"127.0.0.1:{p}" for p in range(DROP_PEER_ADDRESSES_MAX)],
                delay_rpc_ms=DELAY_MS_MAX, delay_disk_ms=DELAY_MS_MAX)
    assert FaultSet().describe() == "none"
    assert (FaultSet.of(drop_peer_addresses=["127.0.0.1:2", "127.0.0.1:1"], delay_disk_ms=200).describe()
            == "drop calls to 127.0.0.1:1, 127.0.0.1:2; delay RPCs 0 ms; delay disk 200 ms")


def test_set_replaces_the_whole_fault_set():
    """A second set does not merge with the first: drops and delays not named again are gone."""
    sleeps = _Sleeps()
    faults = Faults(sleep=sleeps)
    faults.set(FaultSet.of(drop_peer_addresses=["127.0.0.1:1"], delay_rpc_ms=250, delay_disk_ms=40))
    assert faults.drops("127.0.0.1:1") and not faults.drops("127.0.0.1:2")
    faults.delay_rpc()
    faults.delay_disk()
    faults.set(FaultSet.of(drop_peer_addresses=["127.0.0.1:2"]))
    assert not faults.drops("127.0.0.1:1") and faults.drops("127.0.0.1:2")
    faults.delay_rpc()
    faults.delay_disk()
    assert sleeps.events == [("sleep", 0.25), ("sleep", 0.04)], "no sleep at all once the delays are 0"


# -- PeerClient and the gossip transport drop calls ---------------------------------------------

class _CountingInterceptor(grpc.ServerInterceptor):
    """Counts every call that reaches the server (it serves no methods: they end UNIMPLEMENTED)."""

    def __init__(self) -> None:
        self.methods: list[str] = []

    def intercept_service(self, continuation, handler_call_details):
        self.methods.append(handler_call_details.method)
        return continuation(handler_call_details)


@pytest.fixture
def counting_server():
    counter = _CountingInterceptor()
    server = grpc.server(cf.ThreadPoolExecutor(max_workers=4), interceptors=[counter])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", counter
    finally:
        server.stop(None)


SHARE = peer_pb2.ShareRef(chunk_id=b"\x01" * 32)
PEER_CALLS = {
    "store_share": lambda peers, a: peers.store_share(a, peer_pb2.StoreChunkHeader(), iter(()), 5.0),
    "fetch_share": lambda peers, a: peers.fetch_share(a, SHARE, 5.0),
    "has_shares": lambda peers, a: peers.has_shares(a, [SHARE], 5.0),
    "get_placement": lambda peers, a: peers.get_placement(a, b"\x01" * 32, 0, 0, 5.0),
    "put_manifest": lambda peers, a: peers.put_manifest(a, None, "", 5.0),
    "list_buckets": lambda peers, a: peers.list_buckets(a, "default", 5.0),
    "admin_call": lambda peers, a: peers.admin_call(a, "GetNodeStatus", admin_pb2.GetNodeStatusRequest(),
                                                    admin_pb2.NodeStatus, 5.0),
    "membership_call": lambda peers, a: peers.membership_call(a, "Ping", membership_pb2.PingRequest(), 5.0),
}


@pytest.mark.parametrize("name", sorted(PEER_CALLS))
def test_peer_calls_to_a_dropped_address_fail_unavailable_before_reaching_the_network(name, counting_server):
    """Unary, streaming, admin and membership calls alike: UNAVAILABLE "dropped by fault injection",
    and the peer never sees the call; once the drop is cleared the same call reaches it."""
    address, counter = counting_server
    faults = Faults()
    peers = PeerClient(node_id="node-a", message_bytes_max=8 * MIB, faults=faults)
    try:
        faults.set(FaultSet.of(drop_peer_addresses=[address]))
        with pytest.raises(PeerError) as info:
            PEER_CALLS[name](peers, address)
        assert (info.value.address, info.value.code, info.value.details) == (
            address, grpc.StatusCode.UNAVAILABLE, DROPPED_DETAILS)
        assert counter.methods == []
        faults.set(FaultSet())
        with pytest.raises(PeerError) as info:
            PEER_CALLS[name](peers, address)
        assert info.value.code == grpc.StatusCode.UNIMPLEMENTED, "the call went over the wire this time"
        # A fetch asks FetchShare, then FetchChunk of a peer without it (this server has neither).
        if name == "fetch_share":
            assert counter.methods == ["/ringstore.v1.PeerService/FetchShare", "/ringstore.v1.PeerService/FetchChunk"]
        else:
            assert len(counter.methods) == 1
    finally:
        peers.close()


def test_every_membership_message_to_a_dropped_peer_is_unreachable(counting_server):
    """Heartbeats, gossip, syncs, indirect probes and joins raise PeerUnreachable naming the drop;
    a ping answers "not reachable" (None). Nothing reaches the peer."""
    address, counter = counting_server
    faults = Faults()
    faults.set(FaultSet.of(drop_peer_addresses=[address]))
    peers = PeerClient(node_id="node-a", message_bytes_max=8 * MIB, faults=faults)
    transport = GrpcTransport(peers)
    me = MemberInfo(node_id="node-a", address="127.0.0.1:1", zone="", capacity_bytes=1, generation=1,
                    incarnation=0, state=MemberState.ALIVE)
    sends = {
        "heartbeat": lambda: transport.heartbeat(address, me, [], 5.0),
        "gossip": lambda: transport.gossip(address, [me], 5.0),
        "sync": lambda: transport.sync(address, [me], 5.0),
        "indirect_probe": lambda: transport.indirect_probe(address, "node-c", "127.0.0.1:2", 5.0),
        "join": lambda: transport.join(address, me, 5.0),
    }
    try:
        for kind, send in sends.items():
            with pytest.raises(PeerUnreachable) as info:
                send()
            assert DROPPED_DETAILS in str(info.value), kind
        assert transport.ping(address, "node-b", 5.0) is None
        assert counter.methods == []
    finally:
        peers.close()


# -- the RPC delay interceptor ------------------------------------------------------------------

SHAPES = {
    "unary_unary": (grpc.unary_unary_rpc_method_handler,
                    lambda channel, path: channel.unary_unary(path)(b"x", timeout=5)),
    "unary_stream": (grpc.unary_stream_rpc_method_handler,
                     lambda channel, path: list(channel.unary_stream(path)(b"x", timeout=5))),
    "stream_unary": (grpc.stream_unary_rpc_method_handler,
                     lambda channel, path: channel.stream_unary(path)(iter([b"x"]), timeout=5)),
    "stream_stream": (grpc.stream_stream_rpc_method_handler,
                      lambda channel, path: list(channel.stream_stream(path)(iter([b"x"]), timeout=5))),
}


@pytest.fixture
def delayed_server():
    """A server with the delay interceptor and one method of each streaming shape (plus one named
    like SetFaults); yields (channel, faults, events)."""
    events: list = []
    lock = threading.Lock()
    faults = Faults(sleep=lambda seconds: events.append(("sleep", seconds)))

    def handled(name: str, streaming_response: bool):
        def behavior(request, context):
            with lock:
                events.append(("handled", name))
            return iter([b"ok"]) if streaming_response else b"ok"
        return behavior

    handlers = {name: make(handled(name, name.endswith("stream"))) for name, (make, _) in SHAPES.items()}
    handlers["SetFaults"] = grpc.unary_unary_rpc_method_handler(handled("SetFaults", False))
    server = grpc.server(cf.ThreadPoolExecutor(max_workers=4), interceptors=[DelayInterceptor(faults)])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Shapes", handlers),
                                     grpc.method_handlers_generic_handler("ringstore.v1.AdminService",
                                                                          {"SetFaults": handlers["SetFaults"]})))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield channel, faults, events
    finally:
        channel.close()
        server.stop(None)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_rpc_waits_the_injected_delay_before_its_handler_runs(shape, delayed_server):
    """Whatever the streaming shape, the handler runs after one sleep of delay_rpc_ms; with no delay
    it runs at once."""
    channel, faults, events = delayed_server
    call = SHAPES[shape][1]
    call(channel, f"/test.Shapes/{shape}")
    assert events == [("handled", shape)]
    events.clear()
    faults.set(FaultSet.of(delay_rpc_ms=200))
    call(channel, f"/test.Shapes/{shape}")
    assert events == [("sleep", 0.2), ("handled", shape)]


def test_set_faults_is_never_delayed(delayed_server):
    """The call that clears a delay is answered at once, under any delay."""
    channel, faults, events = delayed_server
    faults.set(FaultSet.of(delay_rpc_ms=DELAY_MS_MAX))
    channel.unary_unary("/ringstore.v1.AdminService/SetFaults")(b"x", timeout=5)
    assert events == [("handled", "SetFaults")]


# -- the store's disk delay hook ----------------------------------------------------------------

def test_every_chunk_copy_waits_for_the_write_delay_before_it_is_made_durable(tmp_path):
    """The hook runs once per copy written (a dedup rewrites and fsyncs its temp file too), while
    the copy is not yet indexed, so a slow disk delays the acknowledgement of every copy."""
    writing: list[ShareKey] = []
    indexed_at_wait: list[bool] = []
    with NodeStore(str(tmp_path / "store"), map_size_bytes=64 * MIB) as store:
        store.set_write_delay(lambda: indexed_at_wait.append(store.has_share(writing[-1])))

        def put(seed: int) -> bool:
            data = bytes([seed]) * 1000
            digest = blake3.blake3(data).digest()
            writing.append(ShareKey(digest))
            return store.put_share(writing[-1], data, expected_blake3=digest, placement=None)

        put(1)
        put(2)
        assert indexed_at_wait == [False, False]
        assert put(1) is True, "the third write is a dedup"
        assert indexed_at_wait == [False, False, True]


# -- SetFaults on a real noded --------------------------------------------------------------------

@pytest.fixture
def start_daemon(tmp_path):
    """`start(allow)` -> a NodeDaemon serving on a free loopback port; all are stopped at teardown."""
    started: list[NodeDaemon] = []

    def start(allow_fault_injection: bool) -> NodeDaemon:
        config = NodeConfig.for_profile("local", data_dir=str(tmp_path / f"node-{len(started) + 1}"),
                                        listen_address="127.0.0.1:0", peer_listen_address="127.0.0.1:0", insecure=True, node_id=f"node-{len(started) + 1}",
                                        cluster_secret=SECRET)
        daemon = NodeDaemon(config, allow_fault_injection=allow_fault_injection)
        daemon.start()
        started.append(daemon)
        return daemon

    try:
        yield start
    finally:
        for daemon in started:
            daemon.stop(leave=False)


def _set_faults(address: str, **fields) -> admin_pb2.SetFaultsResponse:
    with grpc.insecure_channel(address) as channel:
        return admin_pb2_grpc.AdminServiceStub(channel).SetFaults(admin_pb2.SetFaultsRequest(**fields), timeout=10)


def test_set_faults_is_refused_unless_noded_allows_fault_injection(start_daemon):
    """Without --allow-fault-injection: FAILED_PRECONDITION with the one-line fix, and nothing is
    dropped."""
    daemon = start_daemon(False)
    with pytest.raises(grpc.RpcError) as info:
        _set_faults(daemon.address, drop_peer_addresses=["127.0.0.1:9"])
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert info.value.details() == ("fault injection is off on node-1; start noded with "
                                    "--allow-fault-injection (tests and cluster-sim only)")
    assert daemon.faults.current() == FaultSet()


def test_set_faults_replaces_the_nodes_faults_and_echoes_them(start_daemon):
    """With the flag: the reply names the node and the faults now in force, the node's PeerClient
    drops the named addresses, an empty request clears everything, and a value past its limit is
    INVALID_ARGUMENT that leaves the faults as they were."""
    daemon = start_daemon(True)
    reply = _set_faults(daemon.address, drop_peer_addresses=["127.0.0.1:9", "127.0.0.1:8"], delay_disk_ms=200)
    assert reply.node_id == "node-1"
    assert list(reply.faults.drop_peer_addresses) == ["127.0.0.1:8", "127.0.0.1:9"]
    assert (reply.faults.delay_rpc_ms, reply.faults.delay_disk_ms) == (0, 200)
    with pytest.raises(PeerError) as dropped:
        daemon.peers.membership_call("127.0.0.1:9", "Ping", membership_pb2.PingRequest(), 5.0)
    assert dropped.value.details == DROPPED_DETAILS
    with pytest.raises(grpc.RpcError) as info:
        _set_faults(daemon.address, delay_rpc_ms=DELAY_MS_MAX + 1)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"delay_rpc_ms {DELAY_MS_MAX + 1} is outside" in info.value.details()
    assert daemon.faults.current().delay_disk_ms == 200
    assert _set_faults(daemon.address).faults == admin_pb2.SetFaultsRequest()
    assert daemon.faults.current() == FaultSet()


def test_member_down_counts_transitions_to_down_only(start_daemon):
    """ringstore_member_down_total{member} grows by one when a known member turns DOWN; the same
    verdict heard again, or a member first heard of as DOWN, adds nothing."""
    daemon = start_daemon(False)

    def record(node_id: str, state: MemberState) -> MemberInfo:
        return MemberInfo(node_id=node_id, address="127.0.0.1:9", zone="", capacity_bytes=1, generation=5,
                          incarnation=0, state=state)

    def downs(node_id: str) -> float:
        return daemon.metrics.registry.get_sample_value("ringstore_member_down_total", {"member": node_id}) or 0

    daemon.membership.on_gossip([record("node-x", MemberState.ALIVE)])
    daemon.membership.on_gossip([record("node-x", MemberState.DOWN)])
    daemon.membership.on_gossip([record("node-x", MemberState.DOWN)])
    daemon.membership.on_gossip([record("node-y", MemberState.DOWN)])
    assert (downs("node-x"), downs("node-y")) == (1, 0)


# -- cluster-sim passes the flag on -------------------------------------------------------------

def test_node_command_carries_the_fault_injection_flag_only_when_asked():
    """`--allow-fault-injection` is on the noded command line of a fault-injection cluster only."""
    common = dict(data_dir="/d/node-1", port=0, node_id="node-1", secret_file="/d/s", profile="local")
    assert "--allow-fault-injection" in node_command(**common, allow_fault_injection=True)
    assert "--allow-fault-injection" not in node_command(**common)


def test_cluster_file_keeps_fault_injection_and_older_files_read_as_off(tmp_path):
    """cluster.json round-trips the flag (so add_node and restart keep it); a file written before
    the field existed loads with fault injection off."""
    write_cluster_file(tmp_path, ClusterFile(secret_file="/d/s", fault_injection=True))
    assert read_cluster_file(tmp_path).fault_injection is True
    older = ClusterFile(secret_file="/d/s").to_dict()
    del older["fault_injection"]
    assert ClusterFile.from_dict(older).fault_injection is False


def test_faults_on_a_cluster_without_fault_injection_are_refused_and_heal_has_nothing_to_do(tmp_path):
    """set_faults and partition say how to start the cluster instead; heal is a no-op."""
    cluster = LocalCluster(tmp_path)
    with pytest.raises(ClusterError) as info:
        cluster.partition("node-3", ["node-1"])
    assert info.value.message.endswith("start it with fault_injection=True (cluster-sim up --fault-injection)")
    cluster.heal()
