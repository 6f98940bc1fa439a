"""CallBatcher: concurrent calls to one peer coalesce into batch calls only while the peer is busy,
and every caller gets its own item's outcome.

`send` here is a function the tests hold at a gate, so "busy" is exact: a call is on the wire until
the test opens its gate. Every wait is bounded. The last tests put the batch calls on the wire:
PeerClient against a real PeerServicer and store over gRPC.
"""

from __future__ import annotations

import threading
import time

import grpc
import pytest

from node.api.peer_service import PeerServicer
from node.api.status import unary_method
from node.hlc import HybridLogicalClock
from node.metrics import Metrics
from node.peers.batch import CallBatcher, QueueTimeout
from node.peers.client import PEER_SERVICE, PeerClient, PeerError
from node.store import NodeStore
from ringstore.v1 import common_pb2, peer_pb2

WAIT_S = 10.0


class Wire:
    """A fake peer: records each batch it is sent and answers item * 10, or a ValueError for items
    below zero; each batch waits for its gate when `hold` is set."""

    def __init__(self, hold: bool = False) -> None:
        self.batches: list[tuple[str, list[int]]] = []
        self.hold = hold
        self.gates: list[threading.Event] = []
        self.arrived = threading.Condition()

    def send(self, address: str, items: list[int]) -> list[object]:
        gate = threading.Event()
        with self.arrived:
            self.batches.append((address, list(items)))
            self.gates.append(gate)
            self.arrived.notify_all()
        if self.hold:
            assert gate.wait(WAIT_S), "the test never opened this batch's gate"
        return [ValueError(f"bad item {i}") if i < 0 else i * 10 for i in items]

    def wait_for_batches(self, count: int) -> None:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.batches) >= count, WAIT_S), self.batches

    def open(self, index: int) -> None:
        self.gates[index].set()


def start_calls(batcher: CallBatcher, address: str, items: list[int]) -> tuple[list[threading.Thread], dict]:
    outcomes: dict[int, object] = {}

    def one(item: int) -> None:
        try:
            outcomes[item] = batcher.call(address, item)
        except Exception as err:  # noqa: BLE001 - recorded for the test to look at
            outcomes[item] = err

    threads = [threading.Thread(target=one, args=(item,), daemon=True) for item in items]
    for thread in threads:
        thread.start()
    return threads, outcomes


def join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(WAIT_S)
        assert not thread.is_alive(), "a caller was never answered"


def wait_queued(batcher: CallBatcher, address: str, count: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        with batcher._lock:
            peer = batcher._peers.get(address)
            if peer is not None and len(peer.queued) >= count:
                return
        time.sleep(0.001)
    raise AssertionError(f"{count} callers never queued")


def test_a_call_to_an_idle_peer_goes_at_once_and_alone():
    wire = Wire()
    batcher = CallBatcher(wire.send, size_of=lambda item: 1)
    assert batcher.call("a", 4) == 40
    assert batcher.call("a", 5) == 50
    assert wire.batches == [("a", [4]), ("a", [5])]
    assert batcher._peers == {}  # nothing kept for an idle peer


def test_calls_queued_behind_a_busy_peer_go_as_one_batch_each_with_its_own_answer():
    wire = Wire(hold=True)
    batcher = CallBatcher(wire.send, size_of=lambda item: 1, in_flight_max=1)
    first, first_outcomes = start_calls(batcher, "a", [1])
    wire.wait_for_batches(1)
    rest, outcomes = start_calls(batcher, "a", [2, -3, 4, 5])
    wait_queued(batcher, "a", 4)
    wire.open(0)
    wire.wait_for_batches(2)
    wire.open(1)
    join(first + rest)
    assert wire.batches[0] == ("a", [1]) and sorted(wire.batches[1][1]) == [-3, 2, 4, 5]
    assert len(wire.batches) == 2
    assert first_outcomes == {1: 10}
    assert {k: v for k, v in outcomes.items() if k != -3} == {2: 20, 4: 40, 5: 50}
    assert isinstance(outcomes[-3], ValueError) and str(outcomes[-3]) == "bad item -3"
    assert batcher._peers == {}


def test_in_flight_max_calls_go_at_once_before_any_queues():
    wire = Wire(hold=True)
    batcher = CallBatcher(wire.send, size_of=lambda item: 1, in_flight_max=2)
    threads, outcomes = start_calls(batcher, "a", [1, 2])
    wire.wait_for_batches(2)
    assert sorted(items[0] for _, items in wire.batches) == [1, 2]
    wire.open(0)
    wire.open(1)
    join(threads)
    assert outcomes == {1: 10, 2: 20}


def test_batches_keep_to_items_max_and_bytes_max():
    wire = Wire(hold=True)
    batcher = CallBatcher(wire.send, size_of=lambda item: item, in_flight_max=1, items_max=3, bytes_max=100)
    first, _ = start_calls(batcher, "a", [1])
    wire.wait_for_batches(1)
    queued = []
    for item in (2, 3, 4, 5, 150, 6):  # one at a time, so the queue's order is known
        threads, _ = start_calls(batcher, "a", [item])
        queued += threads
        wait_queued(batcher, "a", len(queued))
    for index in range(5):  # each batch is let go once it is on the wire; the next forms behind it
        wire.wait_for_batches(index + 1)
        wire.open(index)
    join(first + queued)
    assert [items for _, items in wire.batches] == [[1], [2, 3, 4], [5], [150], [6]]


def test_an_item_too_large_for_a_batch_still_goes_alone():
    wire = Wire()
    batcher = CallBatcher(wire.send, size_of=lambda item: item, bytes_max=10)
    assert batcher.call("a", 50) == 500
    assert wire.batches == [("a", [50])]


def test_a_send_that_raises_fails_its_batch_and_the_batcher_goes_on():
    calls = []

    def send(address: str, items: list[int]) -> list[object]:
        calls.append(items)
        if len(calls) == 1:
            raise KeyError("bug")
        return [item for item in items]

    batcher = CallBatcher(send, size_of=lambda item: 1)
    with pytest.raises(RuntimeError, match="batched call to a failed: 'bug'"):
        batcher.call("a", 1)
    assert batcher.call("a", 2) == 2
    assert batcher._peers == {}


def test_a_send_with_the_wrong_number_of_answers_fails_its_batch():
    batcher = CallBatcher(lambda address, items: [], size_of=lambda item: 1)
    with pytest.raises(RuntimeError, match="a batch of 1 calls to a got 0 answers"):
        batcher.call("a", 1)


def test_a_busy_peer_does_not_hold_up_calls_to_another():
    wire = Wire(hold=True)
    batcher = CallBatcher(wire.send, size_of=lambda item: 1, in_flight_max=1)
    busy, _ = start_calls(batcher, "a", [1])
    wire.wait_for_batches(1)
    other, outcomes = start_calls(batcher, "b", [7])
    wire.wait_for_batches(2)
    wire.open(1)
    join(other)
    assert outcomes == {7: 70}
    wire.open(0)
    join(busy)


def test_many_callers_are_all_answered_with_their_own_outcome():
    """200 callers on 4 peers at once, the wire answering after a short delay: every caller gets its
    own item's answer, whatever batch carried it, and nothing is left queued."""
    sent: list[list[int]] = []
    lock = threading.Lock()

    def send(address: str, items: list[int]) -> list[object]:
        time.sleep(0.002)
        with lock:
            sent.append(items)
        return [item * 10 for item in items]

    batcher = CallBatcher(send, size_of=lambda item: 1, in_flight_max=1, items_max=16)
    threads, outcomes = [], {}
    for peer in range(4):
        more, got = start_calls(batcher, f"p{peer}", list(range(peer * 50, peer * 50 + 50)))
        threads += more
        outcomes[peer] = got
    join(threads)
    for peer in range(4):
        assert outcomes[peer] == {item: item * 10 for item in range(peer * 50, peer * 50 + 50)}
    assert sorted(item for items in sent for item in items) == list(range(200))
    assert max(len(items) for items in sent) <= 16
    assert len(sent) < 200  # some calls did go together
    assert batcher._peers == {}


def test_a_caller_queued_past_its_timeout_gives_up_and_the_others_go_on():
    """Behind a stalled peer a queued call waits no longer than its own timeout (QueueTimeout), and
    leaves the queue: the batch sent once the stalled call ends does not carry it."""
    wire = Wire(hold=True)
    batcher = CallBatcher(wire.send, size_of=lambda item: 1, in_flight_max=1)
    busy, busy_outcomes = start_calls(batcher, "a", [1])
    wire.wait_for_batches(1)
    started = time.monotonic()
    with pytest.raises(QueueTimeout, match="waited 0.2 s behind a call to a that did not end"):
        batcher.call("a", 2, timeout_s=0.2)
    assert time.monotonic() - started < WAIT_S
    queued, outcomes = start_calls(batcher, "a", [3])
    wait_queued(batcher, "a", 1)
    wire.open(0)
    wire.wait_for_batches(2)
    wire.open(1)
    join(busy + queued)
    assert busy_outcomes == {1: 10} and outcomes == {3: 30}
    assert [items for _, items in wire.batches] == [[1], [3]]
    assert batcher._peers == {}


# -- the batch calls on the wire: a real PeerServicer over gRPC, a real store -----------------------

NOW_MS = 1_700_000_000_000


def _manifest(key: str, physical_ms: int) -> common_pb2.Manifest:
    return common_pb2.Manifest(format_version=1, tenant="t", bucket="b", key=key, size_bytes=1,
                               version=common_pb2.VersionStamp(physical_ms=physical_ms, node_id="n"))


@pytest.fixture
def peer(tmp_path, serve_grpc):
    """(store, servicer, a function serving a handler set on a port: returns its address)."""
    store = NodeStore(str(tmp_path / "b"), map_size_bytes=64 * 1024 * 1024)
    servicer = PeerServicer(store, HybridLogicalClock("node-b", lambda: NOW_MS), Metrics(),
                            frame_size_bytes=64 * 1024, chunk_size_bytes=4 * 1024 * 1024, node_id="node-b")
    yield store, servicer, serve_grpc
    store.close()


def test_batch_calls_answer_each_item_as_its_own_call_would(peer):
    """Through PeerClient to a real PeerServicer: a batch of writes gives each its superseded flag,
    a batch of reads each its manifest, absence, or its own error (a quarantined record: DATA_LOSS
    for that key alone); more items than the node takes is INVALID_ARGUMENT for the whole call."""
    store, servicer, serve = peer
    address = serve(servicer.handlers())
    store.put_manifest(_manifest("old", 5))
    store.put_manifest(_manifest("bad", 5))
    key = b"\0".join([b"t", b"b", b"bad"])
    with store._meta.env.begin(write=True) as txn:  # the disk changes under the running store
        raw = txn.get(key, db=store._meta.manifests)
        txn.put(key, raw[:-3] + bytes([raw[-3] ^ 1]) + raw[-2:], db=store._meta.manifests)
    peers = PeerClient(node_id="node-a", message_bytes_max=8 * 1024 * 1024)
    try:
        writes = [(peer_pb2.PutManifestRequest(manifest=_manifest(k, ms)), 10.0) for k, ms in (("new", 7), ("old", 1))]
        assert [r.superseded for r in peers._send_manifest_puts(address, writes)] == [False, True]
        reads = [(peer_pb2.GetManifestRequest(tenant="t", bucket="b", key=k), 10.0) for k in ("new", "none", "bad")]
        found, absent, failed = peers._send_manifest_gets(address, reads)
        assert found.found and found.manifest.version.physical_ms == 7 and not absent.found
        assert isinstance(failed, PeerError) and failed.code == grpc.StatusCode.DATA_LOSS
        assert "corrupt record in db manifests" in failed.details
        too_many = [(peer_pb2.GetManifestRequest(tenant="t", bucket="b", key=f"k{i}"), 10.0) for i in range(257)]
        outcomes = peers._send_manifest_gets(address, too_many)
        assert all(isinstance(o, PeerError) and o.code == grpc.StatusCode.INVALID_ARGUMENT
                   and o.details == "257 keys in one call; the limit is 256" for o in outcomes)
    finally:
        peers.close()


def test_a_peer_without_the_batch_calls_is_sent_single_calls(peer):
    """A node from before the batch calls answers UNIMPLEMENTED: the items go as single calls, each
    answered, and that peer gets single calls from then on until it is forgotten (back ALIVE)."""
    store, servicer, serve = peer
    address = serve(grpc.method_handlers_generic_handler(PEER_SERVICE.strip("/"), {
        "PutManifest": unary_method(servicer.PutManifest, peer_pb2.PutManifestRequest)}))
    peers = PeerClient(node_id="node-a", message_bytes_max=8 * 1024 * 1024)
    try:
        writes = [(peer_pb2.PutManifestRequest(manifest=_manifest(k, 3)), 10.0) for k in ("a", "b")]
        assert [r.superseded for r in peers._send_manifest_puts(address, writes)] == [False, False]
        assert address in peers._unbatched
        assert store.get_manifest("t", "b", "a") is not None and store.get_manifest("t", "b", "b") is not None
        peers.forget(address)
        assert address not in peers._unbatched
    finally:
        peers.close()
