"""Manifest writes tagged with the ring they were placed on (node/objects/ring_gate.py): a home on
another ring stores nothing and answers ABORTED, the coordinator writes again on its newer ring,
and a metadata sync pass takes its ring only between a check and its commit, never inside one."""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time

import grpc
import pytest

from node import errors
from node.api.peer_service import PeerServicer
from node.config import StorageConfig
from node.hlc import HybridLogicalClock
from node.metrics import Metrics
from node.objects.coordinator import Coordinator
from node.objects.replicas import HolderError, Replicas
from node.objects.ring_gate import PROMISE_S, RingGate, RingMismatch
from node.peers.client import PeerClient, PeerError
from node.repair.metadata_sync import MetadataSync
from node.ring import Ring, RingMember, metadata_position
from node.store import NodeStore
from ringstore.v1 import common_pb2, peer_pb2

NOW_MS = 1_700_000_000_000
OLD = Ring([RingMember(f"node-{i}") for i in range(1, 5)], vnodes_per_node=32)
NEW = OLD.with_member(RingMember("node-5"))


def _manifest(key: str, physical_ms: int = 5) -> common_pb2.Manifest:
    return common_pb2.Manifest(format_version=1, tenant="default", bucket="photos", key=key, size_bytes=1,
                               version=common_pb2.VersionStamp(physical_ms=physical_ms, node_id="n"))


@pytest.fixture
def store(tmp_path):
    with NodeStore(str(tmp_path / "store"), map_size_bytes=64 * 1024 * 1024) as s:
        yield s


def test_a_home_refuses_a_write_placed_on_another_ring_and_stores_nothing(store, serve_grpc):
    """Through PeerClient to a real PeerServicer whose node uses NEW: a write tagged OLD is ABORTED
    and not stored, one tagged NEW or untagged (a sync push) is stored, a stand-in's copy is never
    checked; in one batch each item gets its own answer."""
    servicer = PeerServicer(store, HybridLogicalClock("node-b", lambda: NOW_MS), Metrics(), frame_size_bytes=64 * 1024,
                            chunk_size_bytes=4 * 1024 * 1024, node_id="node-b",
                            ring_gate=RingGate(lambda: NEW.fingerprint))
    address = serve_grpc(servicer.handlers())
    peers = PeerClient(node_id="node-a", message_bytes_max=8 * 1024 * 1024)
    try:
        with pytest.raises(PeerError) as refused:
            peers.put_manifest(address, _manifest("stale"), "", 10.0, OLD.fingerprint)
        assert refused.value.code == grpc.StatusCode.ABORTED
        assert f"placed on ring {OLD.fingerprint:016x} but this node uses ring {NEW.fingerprint:016x}" \
            in refused.value.details
        assert store.get_manifest("default", "photos", "stale") is None
        peers.put_manifest(address, _manifest("handoff"), "node-c", 10.0, OLD.fingerprint)
        items = [(peer_pb2.PutManifestRequest(manifest=_manifest(key), ring_fingerprint=ring), 10.0)
                 for key, ring in (("current", NEW.fingerprint), ("old", OLD.fingerprint), ("push", 0))]
        current, old, push = peers._send_manifest_puts(address, items)
        assert isinstance(old, PeerError) and old.code == grpc.StatusCode.ABORTED
        assert not current.superseded and not push.superseded
        stored = {key for key in ("stale", "handoff", "current", "old", "push")
                  if store.get_manifest("default", "photos", key) is not None}
        assert stored == {"handoff", "current", "push"}
    finally:
        peers.close()


def test_this_nodes_own_copy_is_checked_like_a_peers(store):
    """The coordinator's local write goes through the same gate: kind "ring", nothing stored."""

    class View:
        node_id = "node-1"

    replicas = Replicas(view=View(), store=store, peers=None, frame_size_bytes=64 * 1024, timeout_s=1.0,
                        ring_gate=RingGate(lambda: NEW.fingerprint))
    with pytest.raises(HolderError) as refused:
        replicas.put_manifest("node-1", _manifest("k"), "", OLD.fingerprint)
    assert refused.value.kind == "ring"
    assert store.get_manifest("default", "photos", "k") is None
    replicas.put_manifest("node-1", _manifest("k"), "", NEW.fingerprint)
    assert store.get_manifest("default", "photos", "k") is not None


def test_this_nodes_concurrent_writes_commit_together_each_with_its_own_answer(store):
    """Writes that arrive while this node's own manifest write is committing wait for it and then
    commit in one transaction (group commit); a write placed on another ring among them is refused
    alone, and every other write of the batch is stored."""

    class View:
        node_id = "node-1"

    first_committing, release = threading.Event(), threading.Event()
    commits: list[list[str]] = []

    class PausingStore:
        """The real store; its first group commit waits until the test lets it go."""

        def put_manifests(self, manifests):
            commits.append([m.key for m in manifests])
            if len(commits) == 1:
                first_committing.set()
                assert release.wait(10)
            return store.put_manifests(manifests)

    batches: list[int] = []
    replicas = Replicas(view=View(), store=PausingStore(), peers=None, frame_size_bytes=64 * 1024, timeout_s=10.0,
                        ring_gate=RingGate(lambda: NEW.fingerprint), on_local_batch=batches.append)

    def put(key: str, ring: Ring) -> str:
        try:
            replicas.put_manifest("node-1", _manifest(key), "", ring.fingerprint)
        except HolderError as err:
            return err.kind
        return "stored"

    with cf.ThreadPoolExecutor(8) as pool:
        first = pool.submit(put, "first", NEW)
        assert first_committing.wait(10)
        rest = {key: pool.submit(put, key, OLD if key == "stale" else NEW)
                for key in ("a", "b", "stale", "c", "d")}
        deadline = time.monotonic() + 10
        while len(replicas._local_manifest_puts._peers["node-1"].queued) < len(rest):
            assert time.monotonic() < deadline, "the writes did not queue behind the commit"
            time.sleep(0.001)
        release.set()
        answers = {key: future.result(10) for key, future in rest.items()}
        assert first.result(10) == "stored"
    assert answers == {"a": "stored", "b": "stored", "stale": "ring", "c": "stored", "d": "stored"}
    assert batches == [1, 5] and commits[0] == ["first"] and sorted(commits[1]) == ["a", "b", "c", "d"]
    assert {key for key in ("first", "a", "b", "stale", "c", "d")
            if store.get_manifest("default", "photos", key) is not None} == {"first", "a", "b", "c", "d"}


class _ChangingView:
    """The coordinator's view: OLD until `advance()`, every node live."""

    node_id = "node-x"

    def __init__(self) -> None:
        self.current = OLD

    def ring(self) -> Ring:
        return self.current

    def is_live(self, node_id: str) -> bool:
        return True

    def state_name(self, node_id: str) -> str:
        return "ALIVE"


class _Homes:
    """Every node stores what it is sent, except that the nodes in `on_new` use NEW and refuse
    writes tagged otherwise; records (node, key, tag, handoff_for) of each accepted write."""

    def __init__(self, on_new: set[str], view: _ChangingView, advance_after: int) -> None:
        self.on_new = on_new
        self.view = view
        self.advance_after = advance_after
        self.refusals = 0
        self.accepted: list[tuple[str, str, int, str]] = []
        self.lock = threading.Lock()

    def put_manifest(self, node_id, manifest, handoff_for, ring_fingerprint):
        with self.lock:
            if not handoff_for and node_id in self.on_new and ring_fingerprint != NEW.fingerprint:
                self.refusals += 1
                if self.refusals >= self.advance_after:
                    self.view.current = NEW  # the ring change reaches the coordinator
                raise HolderError(node_id, "ring", "ABORTED: placed on another ring")
            self.accepted.append((node_id, manifest.key, ring_fingerprint, handoff_for))


@pytest.fixture
def pool():
    with cf.ThreadPoolExecutor(8) as p:
        yield p


def _coordinator(view, replicas, pool) -> Coordinator:
    return Coordinator(view=view, replicas=replicas, config=StorageConfig(),
                       hlc=HybridLogicalClock("node-x", lambda: 0), chunk_pool=pool, send_pool=pool,
                       wall_ms=lambda: 0)


def test_a_write_refused_by_homes_on_a_newer_ring_is_made_again_on_it(pool):
    """Two of the three OLD homes already use NEW and refuse the OLD-tagged write, which misses its
    quorum; once the coordinator's ring is NEW it writes again, tagged NEW, to NEW's homes, and the
    write is acknowledged by two of them. `settled` is called once, after both attempts ended."""
    position = metadata_position("default", "photos")
    old_homes = OLD.ordered_nodes(position)[:3]
    new_homes = NEW.ordered_nodes(position)[:3]
    view = _ChangingView()
    homes = _Homes(on_new=set(old_homes[1:]) | {"node-5"}, view=view, advance_after=2)
    settled = []
    _coordinator(view, homes, pool)._write_manifest(_manifest("k"), settled=lambda: settled.append(1))
    acked_new = {node for node, _, tag, handoff in homes.accepted if tag == NEW.fingerprint and not handoff}
    assert len(acked_new & set(new_homes)) >= 2, homes.accepted
    assert homes.refusals >= 2
    deadline = threading.Event()
    for _ in range(100):
        if settled:
            break
        deadline.wait(0.02)
    assert settled == [1]


def test_a_write_refused_for_longer_than_the_wait_fails_unavailable(pool, monkeypatch):
    """Homes that stay on another ring: the write gives up after RING_AGREEMENT_WAIT_S with the
    quorum error, which says it may or may not take effect."""
    monkeypatch.setattr("node.objects.coordinator.RING_AGREEMENT_WAIT_S", 0.3)
    position = metadata_position("default", "photos")
    view = _ChangingView()
    homes = _Homes(on_new=set(OLD.ordered_nodes(position)[:3]) | {"node-5"}, view=view, advance_after=10 ** 9)
    with pytest.raises(errors.Unavailable, match="write quorum not met.*may or may not take effect"):
        _coordinator(view, homes, pool)._write_manifest(_manifest("k"))
    assert homes.refusals >= 3


def test_a_sync_pass_takes_its_ring_only_outside_a_check_and_commit(store):
    """While a write holds the gate (checked under OLD, not yet committed) the ring turns NEW; the
    pass that starts meanwhile waits for the commit and then reads the record it made."""
    current = [OLD]
    gate = RingGate(lambda: current[0].fingerprint)

    class View:
        node_id = "node-1"

        def ring(self):
            return current[0]

        def is_live(self, node_id):
            return True

        def store_of(self, node_id):
            return node_id, 0

    class Pushes:
        def __init__(self):
            self.keys = []

        def put_manifest(self, node_id, manifest, handoff_for):
            self.keys.append((node_id, manifest.key))

        def put_bucket(self, node_id, record):
            pass

    pushes = Pushes()
    sync = MetadataSync(view=View(), store=store, replicas=pushes, metadata_replicas=3, settled=lambda: False,
                        wall_ms=lambda: NOW_MS, ring_gate=gate)
    started = threading.Event()
    finished = threading.Event()

    def pass_() -> None:
        started.set()
        sync.step()
        finished.set()

    with gate.held() as check:
        check(OLD.fingerprint, "the write")
        current[0] = NEW
        thread = threading.Thread(target=pass_)
        thread.start()
        started.wait(5)
        assert not finished.wait(0.2), "the pass ran inside a check and its commit"
        store.put_manifest(_manifest("late"))
    thread.join(10)
    assert finished.is_set()
    assert sync.handover().ring_fingerprint == NEW.fingerprint
    homes = NEW.ordered_nodes(metadata_position("default", "photos"))[:3]
    assert sorted(pushes.keys) == sorted((h, "late") for h in homes if h != "node-1")


def test_a_promise_to_readers_holds_writes_placed_on_a_newer_ring_until_it_ends():
    """A node that promised readers OLD refuses writes tagged NEW once it uses NEW, until the
    promise ends; a promise is given only for the node's ring now; a restarted node keeps one that
    allows no ring at first."""
    now, current = [50.0], [OLD]
    gate = RingGate(lambda: current[0].fingerprint, lambda: now[0])
    assert gate.promise(NEW.fingerprint) == 0.0
    assert gate.promise(OLD.fingerprint) == PROMISE_S
    with gate.held() as check:
        check(OLD.fingerprint, "w")
    current[0] = NEW
    now[0] += PROMISE_S - 0.1
    with gate.held() as check, pytest.raises(RingMismatch, match=r"told readers it uses ring .* for 0.1 s more"):
        check(NEW.fingerprint, "w")
    now[0] += 0.1
    with gate.held() as check:
        check(NEW.fingerprint, "w")
        check(0, "an untagged push")
    restarted = RingGate(lambda: NEW.fingerprint, lambda: now[0], restarted=True)
    with restarted.held() as check, pytest.raises(RingMismatch):
        check(NEW.fingerprint, "w")
    now[0] += PROMISE_S
    with restarted.held() as check:
        check(NEW.fingerprint, "w")
