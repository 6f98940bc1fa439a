"""Unit tests of node/repair/gc: `ref_verdict` table-driven over every rule, then the
GarbageCollector over a real NodeStore in tmp_path, with the metadata replicas played by a dict and
time by a ManualClock (the store stamps stored_at from the same clock)."""

from __future__ import annotations

import blake3
import pytest

from ringstore.v1 import common_pb2

from node.gossip import ManualClock
from node.repair import gc
from node.repair.gc import (COLLECT, KEEP, LIVE, GarbageCollector, GcStatus, KeyState,
                            ahead_of_metadata, ref_verdict)
from node.store import NodeStore, ShareKey

MIB = 1024 * 1024
T0_MS = 1_700_000_000_000          # the ManualClock's wall time at virtual 0
GRACE_S = 100.0
GRACE_MS = 100_000
HOUR_MS = 3_600_000


def stamp(physical_ms: int, *, logical: int = 0, node_id: str = "node-a",
          rewrite: int = 0) -> common_pb2.VersionStamp:
    return common_pb2.VersionStamp(physical_ms=physical_ms, logical=logical, node_id=node_id,
                                   rewrite=rewrite)


def ref(version: common_pb2.VersionStamp, key: str = "cat.jpg") -> common_pb2.ObjectRef:
    return common_pb2.ObjectRef(tenant="default", bucket="photos", key=key, version=version)


def manifest(version: common_pb2.VersionStamp, *, tombstone: bool = False,
             created_at_unix_ms: int | None = None, key: str = "cat.jpg") -> common_pb2.Manifest:
    return common_pb2.Manifest(
        format_version=1, tenant="default", bucket="photos", key=key, version=version,
        tombstone=tombstone,
        created_at_unix_ms=(version.physical_ms if created_at_unix_ms is None
                            else created_at_unix_ms))


def everywhere(m: common_pb2.Manifest | None, replicas: int = 3) -> KeyState:
    return KeyState(complete=True, versions=(m,) * replicas)


# -- ref_verdict -----------------------------------------------------------------------------------

A = stamp(T0_MS)                                   # the version the copy was stored for
A_R1 = stamp(T0_MS, rewrite=1)                     # A rewritten under another policy
B = stamp(T0_MS + HOUR_MS)                         # a later write (put or delete)
OLDER = stamp(T0_MS - HOUR_MS)
LONG_AFTER_MS = T0_MS + 10 * HOUR_MS               # well past every grace below

# (id, ref version, stored_at, key state, now, expected decision, fragment of the reason)
VERDICT_CASES = [
    # -- partial knowledge never collects
    ("incomplete-names-replica", A, T0_MS,
     KeyState(complete=False, versions=(manifest(B),) * 2, unreachable=("node-c",)),
     LONG_AFTER_MS, KEEP, "metadata replica node-c of default/photos/cat.jpg unreachable"),
    ("incomplete-even-if-superseded-everywhere-answered", A, T0_MS,
     KeyState(complete=False, versions=(manifest(B, tombstone=True),) * 3), LONG_AFTER_MS, KEEP,
     "partial knowledge"),
    ("complete-but-no-replicas-known", A, T0_MS, KeyState(complete=True, versions=()),
     LONG_AFTER_MS, KEEP, "no metadata replicas known"),
    # -- live: the newest version is exactly the ref's
    ("live-everywhere", A, T0_MS, everywhere(manifest(A)), LONG_AFTER_MS, LIVE, "current"),
    ("live-on-one-replica-newest", A, T0_MS,
     KeyState(complete=True, versions=(manifest(A), None, manifest(OLDER))), LONG_AFTER_MS, LIVE,
     "current"),
    ("live-after-conversion", A_R1, T0_MS, everywhere(manifest(A_R1)), LONG_AFTER_MS, LIVE,
     "current"),
    ("same-stamp-tombstone-is-left-alone", A, T0_MS, everywhere(manifest(A, tombstone=True)),
     LONG_AFTER_MS, KEEP, "is a tombstone; left alone"),
    # -- superseded on every replica: collect after the grace
    ("superseded-by-tombstone-everywhere", A, T0_MS, everywhere(manifest(B, tombstone=True)),
     LONG_AFTER_MS, COLLECT, "superseded by tombstone"),
    ("superseded-by-rewrite-only", A, T0_MS, everywhere(manifest(A_R1)), LONG_AFTER_MS, COLLECT,
     "on all 3 metadata replicas; grace over"),
    ("superseded-by-different-newer-versions", A, T0_MS,
     KeyState(complete=True, versions=(manifest(A_R1), manifest(B), manifest(B))),
     LONG_AFTER_MS, COLLECT, "grace over"),
    ("superseded-grace-from-newer-version-creation", A, T0_MS, everywhere(manifest(B)),
     B.physical_ms + GRACE_MS - 1, KEEP, "collectable in 1 s"),
    ("superseded-grace-boundary-is-inclusive", A, T0_MS, everywhere(manifest(B)),
     B.physical_ms + GRACE_MS, COLLECT, "grace over"),
    ("superseded-grace-from-stored-at-when-later", A, B.physical_ms + HOUR_MS,
     everywhere(manifest(B)), B.physical_ms + HOUR_MS + GRACE_MS - 30_000, KEEP,
     "collectable in 30 s"),
    # -- superseded on only some replicas: keep
    ("tombstone-on-2-of-3-third-has-ref", A, T0_MS,
     KeyState(complete=True, versions=(manifest(B, tombstone=True),) * 2 + (manifest(A),)),
     LONG_AFTER_MS, KEEP, "on only 2 of 3 metadata replicas"),
    ("tombstone-on-2-of-3-third-has-nothing", A, T0_MS,
     KeyState(complete=True, versions=(manifest(B, tombstone=True),) * 2 + (None,)),
     LONG_AFTER_MS, KEEP, "on only 2 of 3"),
    ("rewrite-on-1-of-3", A, T0_MS,
     KeyState(complete=True, versions=(manifest(A_R1), manifest(A), manifest(A))),
     LONG_AFTER_MS, KEEP, "on only 1 of 3"),
    # -- no manifest for the ref's version yet: a put in flight, or dead; collect after the grace
    ("no-version-anywhere-young", A, T0_MS, everywhere(None), T0_MS + GRACE_MS - 1000, KEEP,
     "no metadata replica has a version of it; its write is running or died; collectable in 1 s"),
    ("no-version-anywhere-past-grace", A, T0_MS, everywhere(None), T0_MS + GRACE_MS, COLLECT,
     "grace over"),
    ("newest-older-than-ref-young", A, T0_MS, everywhere(manifest(OLDER)), T0_MS + 5000, KEEP,
     "is older"),
    ("newest-older-than-ref-past-grace", A, T0_MS, everywhere(manifest(OLDER)),
     T0_MS + GRACE_MS, COLLECT, "has no manifest"),
    ("conversion-in-flight-counts-from-stored-at", A_R1, T0_MS + 20 * HOUR_MS,
     everywhere(manifest(A)), T0_MS + 20 * HOUR_MS + 1000, KEEP, "collectable in 99 s"),
    ("dead-conversion-past-grace", A_R1, T0_MS, everywhere(manifest(A)), T0_MS + GRACE_MS,
     COLLECT, "grace over"),
    # A put's reference deduped onto a copy stored long before: the put's stamp, not the copy's
    # stored_at, says when it began.
    ("dedup-put-in-flight-counts-from-its-stamp", B, T0_MS - 50 * HOUR_MS,
     everywhere(manifest(A)), B.physical_ms + 1000, KEEP, "collectable in 99 s"),
    ("dedup-put-dead-past-grace-from-its-stamp", B, T0_MS - 50 * HOUR_MS,
     everywhere(manifest(A)), B.physical_ms + GRACE_MS, COLLECT, "grace over"),
]


@pytest.mark.parametrize("version, stored_at_ms, key, now_ms, decision, fragment",
                         [case[1:] for case in VERDICT_CASES], ids=[c[0] for c in VERDICT_CASES])
def test_ref_verdict(version, stored_at_ms, key, now_ms, decision, fragment):
    verdict = ref_verdict(ref(version), stored_at_ms, key, now_ms, GRACE_S)
    assert verdict.decision == decision, verdict.reason
    assert fragment in verdict.reason
    assert "\n" not in verdict.reason
    assert verdict == (decision, verdict.reason)       # unpacks as the (decision, reason) pair


@pytest.mark.parametrize("version, key, expected", [
    (A, everywhere(None), True),
    (A, everywhere(manifest(OLDER)), True),
    (A_R1, everywhere(manifest(A)), True),
    (A, everywhere(manifest(A)), False),
    (A, everywhere(manifest(B)), False),
    (A, KeyState(complete=False, versions=()), False),
    (A, KeyState(complete=True, versions=()), False),
])
def test_ahead_of_metadata(version, key, expected):
    """Ahead = the replicas answered and none has the ref's version or a newer one."""
    assert ahead_of_metadata(ref(version), key) is expected


@pytest.mark.parametrize("version, key, now_ms, expected", [
    # superseded on every replica: never current again, however young
    (A, everywhere(manifest(B, tombstone=True)), T0_MS + 1, False),
    (A, everywhere(manifest(A_R1)), T0_MS + 1, False),
    # superseded on only some replicas, or partial knowledge: may still be served
    (A, KeyState(complete=True, versions=(manifest(B),) * 2 + (manifest(A),)), LONG_AFTER_MS, True),
    (A, KeyState(complete=True, versions=(manifest(B),) * 2 + (None,)), LONG_AFTER_MS, True),
    (A, KeyState(complete=False, versions=(manifest(B),) * 3, unreachable=("node-c",)), LONG_AFTER_MS, True),
    (A, KeyState(complete=True, versions=()), LONG_AFTER_MS, True),
    (A, everywhere(manifest(A)), LONG_AFTER_MS, True),
    # no manifest yet: a put within the grace may still land; past it, it died
    (A, everywhere(None), T0_MS + GRACE_MS - 1, True),
    (A, everywhere(None), T0_MS + GRACE_MS, False),
    (A, everywhere(manifest(OLDER)), T0_MS + GRACE_MS, False),
    # a conversion's stamp says nothing about when it began: always possibly current
    (A_R1, everywhere(manifest(A)), LONG_AFTER_MS, True),
], ids=["tombstone-everywhere", "rewrite-everywhere", "newer-on-2-of-3", "newer-on-2-of-3-third-empty",
        "incomplete", "no-replicas-known", "live", "put-in-flight", "put-dead", "put-dead-older-exists",
        "conversion-ahead"])
def test_can_be_current(version, key, now_ms, expected):
    assert gc.can_be_current(ref(version), key, now_ms, GRACE_S) is expected


def test_some_can_be_current_asks_once_per_key_and_keeps_on_failure():
    calls = []
    states = {"old": everywhere(manifest(B, key="old"), 3), "new": everywhere(manifest(A, key="new"), 3)}

    def lookup(tenant, bucket, key, version_id):
        calls.append(key)
        if key == "down":
            raise ConnectionError("metadata replica unreachable")
        return states[key]

    dead = [ref(A, key="old"), ref(stamp(T0_MS + 1), key="old")]
    assert gc.some_can_be_current(dead, lookup, LONG_AFTER_MS, GRACE_S) is False
    assert calls == ["old"]
    assert gc.some_can_be_current(dead + [ref(A, key="new")], lookup, LONG_AFTER_MS, GRACE_S) is True
    assert gc.some_can_be_current(dead + [ref(A, key="down")], lookup, LONG_AFTER_MS, GRACE_S) is True
    assert gc.some_can_be_current([], lookup, LONG_AFTER_MS, GRACE_S) is True


# -- GarbageCollector over a real NodeStore --------------------------------------------------------

class Metadata:
    """The metadata replicas of every key: a dict of KeyState (absent = no replica has a version);
    a key in `failing` raises as an unreachable lookup would. Counts lookups per key."""

    def __init__(self) -> None:
        self.states: dict[str, KeyState] = {}
        self.failing: set[str] = set()
        self.lookups: list[str] = []

    def __call__(self, tenant: str, bucket: str, key: str, version_id: bytes = b"") -> KeyState:
        assert (tenant, bucket) == ("default", "photos")
        self.lookups.append(key)
        if key in self.failing:
            raise ConnectionError(f"metadata replica node-c unreachable for {key}")
        return self.states.get(key, everywhere(None))


@pytest.fixture
def clock():
    return ManualClock(wall_start_ms=T0_MS)


@pytest.fixture
def store(tmp_path, clock):
    s = NodeStore(str(tmp_path / "data"), map_size_bytes=64 * MIB, now_unix_ms=clock.wall_ms)
    yield s
    s.close()


@pytest.fixture
def metadata():
    return Metadata()


@pytest.fixture
def collector(store, clock, metadata):
    return GarbageCollector(store, metadata, clock, GRACE_S, interval_s=3600.0)


def _put(store: NodeStore, data: bytes, *refs: common_pb2.ObjectRef) -> ShareKey:
    """Store a replica of `data` once per reference (the later ones are dedups); none: no refs."""
    chunk_id = blake3.blake3(data).digest()
    share = ShareKey(chunk_id)
    for r in refs or (None,):
        store.put_share(share, data, expected_blake3=chunk_id, placement=None, referenced_by=r)
    return share


def _pass(collector: GarbageCollector) -> None:
    assert collector.request_pass()
    steps = 0
    while collector.step():
        steps += 1
        assert steps < 10_000, "gc pass never ended"


def _stamp_now(clock: ManualClock, **kw) -> common_pb2.VersionStamp:
    return stamp(clock.wall_ms(), **kw)


def test_superseded_everywhere_copy_is_deleted_after_grace_and_not_before(
        store, clock, metadata, collector):
    """The only reference's version was deleted (tombstone on all 3 replicas) 10 s after the copy
    was stored: kept until 10 s + grace, then the copy and its file go and the status counts it."""
    v1 = _stamp_now(clock)
    share = _put(store, b"old cat", ref(v1))
    path = store._files.final_path(share)
    clock.advance(10.0)
    metadata.states["cat.jpg"] = everywhere(manifest(_stamp_now(clock), tombstone=True))
    clock.advance(GRACE_S - 0.001)
    _pass(collector)
    assert store.has_share(share)
    assert collector.status().refs_released == 0
    clock.advance(0.001)
    _pass(collector)
    assert not store.has_share(share)
    assert not store.references(share)
    with pytest.raises(FileNotFoundError):
        open(path, "rb")
    assert collector.status() == GcStatus(
        running=False, copies_checked=2, refs_released=1, copies_collected=1,
        bytes_collected=len(b"old cat"), lookups_failed=0, passes_completed=2,
        last_pass_finished_unix_ms=clock.wall_ms())


def test_copy_with_one_live_and_one_dead_ref_loses_only_the_dead_ref(
        store, clock, metadata, collector):
    """Two objects share the bytes; one was overwritten everywhere long ago, the other is current:
    the dead reference goes, the copy stays with the live one."""
    dead, live = ref(_stamp_now(clock), "old.jpg"), ref(_stamp_now(clock, logical=1), "new.jpg")
    share = _put(store, b"shared bytes", dead, live)
    metadata.states["old.jpg"] = everywhere(manifest(_stamp_now(clock, logical=5), key="old.jpg"))
    metadata.states["new.jpg"] = everywhere(manifest(live.version, key="new.jpg"))
    clock.advance(GRACE_S)
    _pass(collector)
    assert store.has_share(share)
    assert [r.key for r in store.references(share)] == ["new.jpg"]
    status = collector.status()
    assert (status.refs_released, status.copies_collected) == (1, 0)


def test_incomplete_key_state_keeps_everything(store, clock, metadata, collector):
    """With one metadata replica silent, a reference superseded on the two that answered stays,
    however old."""
    r = ref(_stamp_now(clock))
    share = _put(store, b"maybe still needed", r)
    metadata.states["cat.jpg"] = KeyState(
        complete=False, versions=(manifest(_stamp_now(clock, logical=1), tombstone=True),) * 2,
        unreachable=("node-c",))
    clock.advance(100 * GRACE_S)
    _pass(collector)
    assert store.has_share(share)
    assert len(store.references(share)) == 1


def test_lookup_that_raises_keeps_the_copy_counts_it_and_goes_on(
        store, clock, metadata, collector):
    """A failing lookup keeps that key's copies and is counted; other keys in the same pass are
    still collected."""
    kept = _put(store, b"unknown fate", ref(_stamp_now(clock), "flaky.jpg"))
    gone = _put(store, b"orphan of a dead put", ref(_stamp_now(clock), "dead.jpg"))
    metadata.failing.add("flaky.jpg")
    clock.advance(GRACE_S)
    _pass(collector)
    assert store.has_share(kept)
    assert not store.has_share(gone)
    status = collector.status()
    assert (status.lookups_failed, status.copies_collected) == (1, 1)


def test_one_lookup_per_key_per_pass(store, clock, metadata, collector):
    """Three copies of one object ask its metadata once per pass, not once per copy."""
    v = ref(_stamp_now(clock))
    for i in range(3):
        _put(store, b"chunk %d" % i, v)
    metadata.states["cat.jpg"] = everywhere(manifest(v.version))
    _pass(collector)
    assert metadata.lookups == ["cat.jpg"]
    _pass(collector)
    assert metadata.lookups == ["cat.jpg"] * 2


def test_lookup_cache_is_dropped_when_full(store, clock, metadata, collector, monkeypatch):
    """With room for 2 keys, a pass over keys k0 k1 k2 k0 (in walk order) drops the cache at k2
    and asks about k0 again."""
    monkeypatch.setattr(gc, "LOOKUP_CACHE_KEYS_MAX", 2)
    shares = sorted((_put(store, b"bytes %d" % i) for i in range(4)), key=ShareKey.db_key)
    for share, key in zip(shares, ["k0", "k1", "k2", "k0"]):
        _add_ref(store, share, ref(_stamp_now(clock), key))
    _pass(collector)
    assert metadata.lookups == ["k0", "k1", "k2", "k0"]


def _add_ref(store: NodeStore, share: ShareKey, r: common_pb2.ObjectRef) -> None:
    """Add a reference to an existing copy the way a put does: a dedup write of the same bytes."""
    data = store.read_share(share)
    store.put_share(share, data, expected_blake3=share.chunk_id, placement=None, referenced_by=r)


def test_copy_without_references_is_collected_after_its_grace(store, clock, metadata, collector):
    share = _put(store, b"stored by nobody")
    clock.advance(GRACE_S - 1.0)
    _pass(collector)
    assert store.has_share(share)
    clock.advance(1.0)
    _pass(collector)
    assert not store.has_share(share)
    assert collector.status().copies_collected == 1
    assert metadata.lookups == []


def test_reupload_of_the_same_bytes_survives_gc_during_and_after_the_put(
        store, clock, metadata, collector):
    """Version 1 stored long ago; a put of version 2 with the same bytes dedups onto the old copy
    (stored_at does not move). GC during the put keeps v2's reference (the put began just now);
    once v2's manifest lands, v1's reference goes and the copy stays for v2."""
    v1 = ref(_stamp_now(clock))
    share = _put(store, b"same photo", v1)
    metadata.states["cat.jpg"] = everywhere(manifest(v1.version))
    clock.advance(50 * GRACE_S)
    v2 = ref(_stamp_now(clock))
    _add_ref(store, share, v2)                   # the put's chunk write; no manifest yet
    _pass(collector)
    assert len(store.references(share)) == 2
    metadata.states["cat.jpg"] = everywhere(manifest(v2.version))
    clock.advance(GRACE_S)
    _pass(collector)
    assert store.has_share(share)
    assert [r.version.physical_ms for r in store.references(share)] == [v2.version.physical_ms]


def test_conversion_reference_ahead_of_metadata_counts_from_first_sighting(
        store, clock, metadata, collector):
    """A conversion's reference (rewrite 1, old physical time) deduped onto an old copy while the
    manifest still says rewrite 0: kept for a full grace after the collector first saw it, then
    released as a dead conversion's (the copy stays for the live rewrite-0 reference)."""
    v = ref(_stamp_now(clock))
    share = _put(store, b"converted in place", v)
    metadata.states["cat.jpg"] = everywhere(manifest(v.version))
    clock.advance(50 * GRACE_S)
    converted = ref(stamp(v.version.physical_ms, rewrite=1))
    _add_ref(store, share, converted)
    _pass(collector)                             # first sighting
    clock.advance(GRACE_S - 1.0)
    _pass(collector)
    assert len(store.references(share)) == 2
    clock.advance(1.0)
    _pass(collector)
    assert [r.version.rewrite for r in store.references(share)] == [0]
    assert store.has_share(share)


def test_step_is_bounded_and_passes_resume(store, clock, metadata, collector):
    for i in range(5):
        _put(store, b"live %d" % i, ref(_stamp_now(clock)))
    metadata.states["cat.jpg"] = everywhere(manifest(_stamp_now(clock)))
    assert collector.request_pass()
    assert collector.step(max_copies=2) is True
    assert collector.status().copies_checked == 2
    assert collector.request_pass() is False          # already running: no-op
    assert collector.step(max_copies=2) is True
    assert collector.step(max_copies=2) is False      # the fifth copy, then the end
    status = collector.status()
    assert (status.copies_checked, status.passes_completed, status.running) == (5, 1, False)
    assert collector.step() is False                  # no pass was queued by the second request


def test_passes_start_by_themselves_every_interval(store, clock, metadata):
    _put(store, b"x", ref(_stamp_now(clock)))
    collector = GarbageCollector(store, metadata, clock, GRACE_S, interval_s=60.0)
    clock.advance(59.0)
    assert collector.step() is False
    assert collector.status().passes_completed == 0
    clock.advance(1.0)
    while collector.step():
        pass
    assert collector.status().passes_completed == 1
    clock.advance(59.0)
    assert collector.step() is False
    clock.advance(1.0)
    while collector.step():
        pass
    assert collector.status().passes_completed == 2


def test_set_grace_applies_to_the_next_pass(store, clock, metadata, collector):
    share = _put(store, b"orphan", ref(_stamp_now(clock)))
    clock.advance(GRACE_S)
    collector.set_grace(2 * GRACE_S)
    _pass(collector)
    assert store.has_share(share)
    collector.set_grace(GRACE_S)
    _pass(collector)
    assert not store.has_share(share)
    with pytest.raises(ValueError, match="gc grace must be > 0 s"):
        collector.set_grace(0)
