"""Unit tests for tombstone purging and the contact guard (node/repair/tombstones.py), over real
NodeStores, one per node, with a manual clock: a tombstone goes only once it is past the grace,
every home holds it and the homes have been ALIVE and unchanged for the stable window; a home
lacking it is sent it first; a DOWN or silent home holds the purge back; a node the cluster counted
gone drops its manifests on return instead of bringing deleted keys back."""

from __future__ import annotations

import contextlib

import pytest

from node.gossip.clock import ManualClock
from node.objects.replicas import HolderError
from node.repair.tombstones import ReturnGuard, TombstonePurger
from node.ring import Ring, RingMember, metadata_position
from node.store import NodeStore
from node.store.versions import version_id_of
from ringstore.v1 import common_pb2

MIB = 1024 * 1024
NODES = ("node-1", "node-2", "node-3", "node-4")
RING = Ring([RingMember(n) for n in NODES], vnodes_per_node=16)
GRACE_S = 100.0
INTERVAL_S = 5.0
STABLE_S = 12.0
START_MS = 1_700_000_000_000
BUCKET = next(f"b{i}" for i in range(100)
              if "node-1" in RING.ordered_nodes(metadata_position("default", f"b{i}"))[:3])
HOMES = tuple(RING.ordered_nodes(metadata_position("default", BUCKET))[:3])
OTHER_HOMES = tuple(h for h in HOMES if h != "node-1")


def _stamp(ms: int) -> common_pb2.VersionStamp:
    return common_pb2.VersionStamp(physical_ms=ms, node_id="node-9")


def _tombstone(key: str, ms: int) -> common_pb2.Manifest:
    return common_pb2.Manifest(format_version=1, tenant="default", bucket=BUCKET, key=key, version=_stamp(ms),
                               tombstone=True)


def _live(key: str, ms: int) -> common_pb2.Manifest:
    return common_pb2.Manifest(format_version=1, tenant="default", bucket=BUCKET, key=key, version=_stamp(ms))


class _View:
    node_id = "node-1"

    def __init__(self) -> None:
        self.states = {n: "ALIVE" for n in NODES}

    def ring(self) -> Ring:
        return RING

    def state_name(self, node_id: str) -> str:
        return self.states[node_id]

    def is_live(self, node_id: str) -> bool:
        return self.states[node_id] in ("ALIVE", "SUSPECT")


class _Replicas:
    """Every node's calls run on its own store; `silent` nodes raise HolderError unavailable."""

    def __init__(self, stores: dict[str, NodeStore]) -> None:
        self.stores = stores
        self.silent: set[str] = set()
        self.calls: list[tuple[str, str]] = []

    def _check(self, node_id: str, what: str) -> NodeStore:
        self.calls.append((what, node_id))
        if node_id in self.silent:
            raise HolderError(node_id, "unavailable", "UNAVAILABLE: connection refused")
        return self.stores[node_id]

    def get_manifest(self, node_id: str, tenant: str, bucket: str, key: str,
                     version_id: bytes | None = None) -> common_pb2.Manifest | None:
        store = self._check(node_id, "get")
        if version_id is not None:
            return store.get_manifest_version(tenant, bucket, key, version_id)
        return store.get_manifest(tenant, bucket, key)

    def put_manifest(self, node_id: str, manifest: common_pb2.Manifest, handoff_for: str) -> None:
        self._check(node_id, "put").put_manifest(manifest)

    def purge_tombstone(self, node_id: str, tombstone: common_pb2.Manifest) -> bool:
        return self._check(node_id, "purge").purge_manifest_if(tombstone)


@pytest.fixture
def cluster(tmp_path):
    with contextlib.ExitStack() as stack:
        stores = {n: stack.enter_context(NodeStore(str(tmp_path / n), map_size_bytes=64 * MIB)) for n in NODES}
        clock = ManualClock(wall_start_ms=START_MS)
        view, replicas = _View(), _Replicas(stores)
        epochs = {n: (1, 0) for n in NODES}
        purger = TombstonePurger(view=view, store=stores["node-1"], replicas=replicas, clock=clock,
                                 metadata_replicas=3, grace_s=GRACE_S, interval_s=INTERVAL_S, stable_s=STABLE_S,
                                 settled=lambda: True, member_epoch=lambda n: epochs[n])
        yield stores, clock, view, replicas, epochs, purger


def _everywhere(stores: dict[str, NodeStore], manifest: common_pb2.Manifest, nodes=HOMES) -> None:
    for node in nodes:
        stores[node].put_manifest(manifest)


def _passes(clock: ManualClock, purger: TombstonePurger, count: int) -> None:
    for _ in range(count):
        clock.advance(INTERVAL_S)
        assert purger.step()


def _held(stores: dict[str, NodeStore], key: str) -> dict[str, common_pb2.Manifest | None]:
    return {n: stores[n].get_manifest("default", BUCKET, key) for n in HOMES}


def test_a_tombstone_every_home_holds_goes_only_after_the_grace_and_the_stable_window(cluster):
    """A tombstone on every home is kept while the homes have not been seen ALIVE for the stable
    window, and while it is younger than the grace; then it is purged from every home. A live key
    and a younger tombstone stay. The status counts what is kept and the oldest's age."""
    stores, clock, view, replicas, epochs, purger = cluster
    old, young = _tombstone("gone", START_MS - round(GRACE_S * 1000)), _tombstone("young", START_MS)
    _everywhere(stores, old)
    _everywhere(stores, young)
    _everywhere(stores, _live("kept", START_MS - 1000))
    _passes(clock, purger, 3)  # the window starts at the first pass: 10 s < STABLE_S
    assert all(_held(stores, "gone").values())
    assert purger.status().held == 2 and purger.status().held_back == 1
    assert purger.status().oldest_age_s == pytest.approx(GRACE_S + 3 * INTERVAL_S)
    _passes(clock, purger, 1)
    assert _held(stores, "gone") == {n: None for n in HOMES}
    assert all(_held(stores, "young").values()) and all(_held(stores, "kept").values())
    clock.advance(GRACE_S - 4 * INTERVAL_S - 1)
    assert purger.step() and all(_held(stores, "young").values())
    status = purger.status()
    assert (status.held, status.purged_total, status.held_back) == (1, 1, 0)
    assert status.oldest_age_s == pytest.approx(GRACE_S - 1)
    _passes(clock, purger, 1)
    assert _held(stores, "young") == {n: None for n in HOMES} and purger.status().held == 0


def test_a_home_lacking_the_tombstone_or_holding_an_older_version_is_sent_it_first(cluster):
    """One home still has the live version the delete superseded, another has nothing: both get the
    tombstone on one pass, and the purge happens on the next, from every home."""
    stores, clock, view, replicas, epochs, purger = cluster
    stores[OTHER_HOMES[0]].put_manifest(_live("k", START_MS - 5000))
    tombstone = _tombstone("k", START_MS)
    stores["node-1"].put_manifest(tombstone)
    clock.advance(GRACE_S + STABLE_S)
    assert purger.step()  # starts the stable window
    _passes(clock, purger, 3)
    assert _held(stores, "k") == {n: tombstone for n in HOMES}
    assert purger.status().pushed_total == 1
    _passes(clock, purger, 1)
    assert _held(stores, "k") == {n: None for n in HOMES}


@pytest.mark.parametrize("fault,passes_after", [("down", 4), ("suspect", 4), ("restarted", 2), ("silent", 1)])
def test_a_home_that_is_down_silent_or_just_back_holds_the_purge_back(cluster, fault, passes_after):
    """A home DOWN or SUSPECT, one that does not answer, or one whose generation changed (it
    restarted: a stand-in may still push to it) holds the purge back. The stable window starts
    again when a home is seen ALIVE again (4 passes of 5 s reach 12 s) or with its new generation
    (2 passes more); a home that was only silent lets the next pass purge."""
    stores, clock, view, replicas, epochs, purger = cluster
    tombstone = _tombstone("k", START_MS)
    _everywhere(stores, tombstone)
    clock.advance(GRACE_S)
    assert purger.step()
    home = OTHER_HOMES[1]
    if fault == "down":
        view.states[home] = "DOWN"
    elif fault == "suspect":
        view.states[home] = "SUSPECT"
    elif fault == "silent":
        replicas.silent.add(home)
    _passes(clock, purger, 2)
    if fault == "restarted":
        epochs[home] = (2, 0)
    _passes(clock, purger, 2)
    assert _held(stores, "k") == {n: tombstone for n in HOMES}
    assert purger.status().held_back == 1
    view.states[home] = "ALIVE"
    replicas.silent.clear()
    _passes(clock, purger, passes_after - 1)
    assert all(_held(stores, "k").values())
    _passes(clock, purger, 1)
    assert _held(stores, "k") == {n: None for n in HOMES}


def test_a_newer_write_after_the_delete_is_never_purged(cluster):
    """The key was written again after its delete on two homes: the third still has the tombstone,
    which is superseded; the purge deletes only exact tombstones, so the new version stays."""
    stores, clock, view, replicas, epochs, purger = cluster
    tombstone, again = _tombstone("k", START_MS), _live("k", START_MS + 1000)
    stores["node-1"].put_manifest(tombstone)
    _everywhere(stores, again, OTHER_HOMES)
    clock.advance(GRACE_S)
    _passes(clock, purger, 4)
    assert stores["node-1"].get_manifest("default", BUCKET, "k") is None
    assert all(stores[n].get_manifest("default", BUCKET, "k") == again for n in OTHER_HOMES)


def test_only_homes_drive_a_purge(cluster):
    """A stand-in's copy of a tombstone (this node not a home of the key's partition) is counted but
    left to metadata sync: this node asks nobody about it."""
    stores, clock, view, replicas, epochs, purger = cluster
    bucket = next(f"s{i}" for i in range(100)
                  if "node-1" not in RING.ordered_nodes(metadata_position("default", f"s{i}"))[:3])
    stores["node-1"].put_manifest(common_pb2.Manifest(format_version=1, tenant="default", bucket=bucket, key="k",
                                                      version=_stamp(START_MS), tombstone=True))
    clock.advance(GRACE_S + STABLE_S)
    _passes(clock, purger, 4)
    assert replicas.calls == [] and purger.status().held == 1
    assert stores["node-1"].get_manifest("default", bucket, "k") is not None


# -- return guard ----------------------------------------------------------------------------------


def test_a_node_the_cluster_counted_gone_drops_its_manifests_on_return(tmp_path):
    """The Join answer says this node id's earlier record was OUT (or LEFT): every manifest it kept
    is dropped. A node that was merely DOWN, or new, keeps everything."""
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as store:
        store.put_manifest(_live("a", START_MS))
        store.put_manifest(_tombstone("b", START_MS))
        guard = ReturnGuard(store=store, gone_verdicts=lambda: 0)
        assert guard.after_join("DOWN") is None and guard.after_join(None) is None
        assert store.get_manifest("default", BUCKET, "a") is not None
        assert guard.after_join("OUT") == 2
        assert store.get_manifest("default", BUCKET, "a") is None and store.get_manifest("default", BUCKET, "b") is None
        store.put_manifest(_live("c", START_MS))
        assert guard.after_join("LEFT") == 1


def test_a_refuted_out_verdict_at_run_time_drops_the_manifests_once(tmp_path):
    """A running node refutes an OUT verdict about itself (a long partition healed): the next check
    drops its manifests, once per verdict."""
    verdicts = {"n": 3}
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as store:
        store.put_manifest(_live("a", START_MS))
        guard = ReturnGuard(store=store, gone_verdicts=lambda: verdicts["n"])
        assert guard.check() is None, "verdicts before the guard existed are not news"
        verdicts["n"] += 1
        assert guard.check() == 1 and store.get_manifest("default", BUCKET, "a") is None
        store.put_manifest(_live("a", START_MS + 1))
        assert guard.check() is None and store.get_manifest("default", BUCKET, "a") is not None


def _versioned(manifest: common_pb2.Manifest) -> common_pb2.Manifest:
    """The same write made while the bucket's versioning was enabled: a version id of its own."""
    manifest.version_id = version_id_of(manifest.version)
    return manifest


def test_delete_markers_and_the_versions_they_hide_are_not_purged_but_erased_records_are(cluster):
    """Versions (node/store/versions.py): a delete marker of a versioned bucket is a version and
    stays; a null tombstone with an older version kept behind it stays too (purging it would make
    that version current again); a record of a version deleted for good is purged like a tombstone,
    from every home, once every home holds it, and the version stays hidden."""
    stores, clock, view, replicas, epochs, purger = cluster
    kept = _versioned(_live("hidden", START_MS - 9000))
    null_tombstone = _tombstone("hidden", START_MS - 8000)
    marker = _versioned(_tombstone("marked", START_MS - 7000))
    doomed = _versioned(_live("erased", START_MS - 6000))
    erased = common_pb2.Manifest(format_version=1, tenant="default", bucket=BUCKET, key="erased", erased=True,
                                 tombstone=True, version_id=doomed.version_id,
                                 version=common_pb2.VersionStamp(physical_ms=START_MS - 5000, node_id="node-9"))
    for manifest in (kept, null_tombstone, marker, doomed):
        _everywhere(stores, manifest)
    _everywhere(stores, erased, ("node-1", OTHER_HOMES[0]))  # the third home has not heard of the permanent delete yet
    clock.advance(GRACE_S + STABLE_S)
    assert purger.step()
    _passes(clock, purger, 3)
    assert _held(stores, "hidden") == {n: null_tombstone for n in HOMES}
    assert _held(stores, "marked") == {n: marker for n in HOMES}
    assert [stores[n].get_manifest_version("default", BUCKET, "erased", doomed.version_id) for n in HOMES] == \
        [erased] * 3  # sent to the home that lacked it first
    _passes(clock, purger, 1)
    for node in HOMES:
        assert stores[node].key_manifests("default", BUCKET, "erased") == []
        assert stores[node].key_manifests("default", BUCKET, "hidden") == [null_tombstone, kept]
        assert stores[node].key_manifests("default", BUCKET, "marked") == [marker]
