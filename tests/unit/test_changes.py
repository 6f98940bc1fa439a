"""Unit tests of the change log (node/store/changes.py) on a real store and of a watch's merge and
cursors (node/objects/watch.py) over three real stores as homes: what is logged and what is not,
arrival order, reads from a position or a time, pruning; one event per change whatever home it is
read from, cursors that continue exactly, and the errors of bad and stale cursors."""

from __future__ import annotations

import pytest

from ringstore.v1 import common_pb2, peer_pb2

from node import errors
from node.objects.replicas import changes_reply
from node.objects.watch import Watch, WatchSlots, decode_cursor, encode_cursor
from node.store import NodeStore
from node.store.versions import version_id_of

MIB = 1024 * 1024
HOMES = ("node-1", "node-2", "node-3")


BASE_MS = 1_800_000_000_000  # the stores' clock starts here: versions are stamped around it


def _manifest(key: str, ms: int, *, tombstone: bool = False, versioned: bool = False) -> common_pb2.Manifest:
    """A version stamped `ms` after BASE_MS (before it when negative)."""
    stamp = common_pb2.VersionStamp(physical_ms=BASE_MS + ms, node_id="n")
    m = common_pb2.Manifest(format_version=1, tenant="t", bucket="b", key=key, version=stamp, tombstone=tombstone,
                            version_id=version_id_of(stamp) if versioned else b"")
    if not tombstone:
        m.inline, m.inline_data, m.size_bytes = True, b"x", 1
    return m


@pytest.fixture()
def clock():
    return {"ms": BASE_MS}


@pytest.fixture()
def stores(tmp_path, clock):
    made = {n: NodeStore(str(tmp_path / n), map_size_bytes=64 * MIB, now_unix_ms=lambda: clock["ms"]) for n in HOMES}
    yield made
    for store in made.values():
        store.close()


def _kinds(store: NodeStore) -> list[tuple[str, str, bool]]:
    _, entries, _, _ = store.read_changes("t", "b")
    return [(r.key, common_pb2.ChangeKind.Name(r.kind), r.current) for _, r in entries]


def test_what_a_home_applies_is_logged_in_arrival_order(stores, clock):
    store = stores["node-1"]
    store.put_manifest(_manifest("a", 20))
    store.put_manifest(_manifest("a", 10))  # older: loses, nothing applied, nothing logged
    store.put_manifest(_manifest("b", 15))  # older stamp than a's, arrived later: logged after it
    tagged = _manifest("a", 20)
    tagged.tagging.tags["k"] = "v"
    tagged.tagging.changed.CopyFrom(common_pb2.VersionStamp(physical_ms=BASE_MS + 30, node_id="n"))
    store.put_manifest(tagged)
    marked = common_pb2.Manifest()
    marked.CopyFrom(tagged)
    marked.read_at_unix_ms = 99  # a read mark: not a change
    store.put_manifest(marked)
    converted = common_pb2.Manifest()
    converted.CopyFrom(tagged)
    converted.version.rewrite = 1
    store.put_manifest(converted)
    store.put_manifest(_manifest("a", 40, tombstone=True))
    old = _manifest("v", 50, versioned=True)
    store.put_manifest(_manifest("v", 60, versioned=True))
    store.put_manifest(old)  # an older version arriving late: logged, not current
    erased = common_pb2.Manifest(format_version=1, tenant="t", bucket="b", key="v", version_id=old.version_id,
                                 erased=True, tombstone=True,
                                 version=common_pb2.VersionStamp(physical_ms=BASE_MS + 70, node_id="n"))
    store.put_manifest(erased)
    assert _kinds(store) == [("a", "CHANGE_PUT", True), ("b", "CHANGE_PUT", True), ("a", "CHANGE_TAGS", True),
                             ("a", "CHANGE_REWRITE", True), ("a", "CHANGE_DELETE", True), ("v", "CHANGE_PUT", True),
                             ("v", "CHANGE_PUT", False), ("v", "CHANGE_ERASE", False)]


def test_reads_from_a_position_or_a_time_and_pruning(stores, clock):
    store = stores["node-1"]
    for i in range(10):
        clock["ms"] += 1000
        store.put_manifest(_manifest(f"k{i}", 100 + i))
    store_id, entries, first, last = store.read_changes("t", "b", after_seq=7)
    assert (store_id, [seq for seq, _ in entries], first, last) == (store.identity.store_id, [8, 9, 10], 1, 10)
    since = clock["ms"] - 2500  # the last three arrived at or after it
    assert [seq for seq, _ in store.read_changes("t", "b", since_ms=since)[1]] == [8, 9, 10]
    assert store.read_changes("t", "b", since_ms=clock["ms"] + 1)[1:] == ([], 1, 10)
    assert [seq for seq, _ in store.read_changes("t", "b", limit=2)[1]] == [1, 2]
    assert store.prune_changes(since) == 7
    assert store.read_changes("t", "b")[2:] == (8, 10)
    store.put_manifest(_manifest("k9", 200))
    assert store.read_changes("t", "b")[3] == 11  # sequence numbers go on from the last


class _Homes:
    """Three real stores as a bucket's homes; `down` ones raise like a dead peer."""

    def __init__(self, stores: dict[str, NodeStore]) -> None:
        self.stores = stores
        self.down: set[str] = set()

    def read(self, node: str, after_seq: int, since_ms: int, limit: int) -> peer_pb2.ReadChangesResponse:
        from node.objects.replicas import HolderError
        if node in self.down:
            raise HolderError(node, "unavailable", "down")
        return changes_reply(self.stores[node], peer_pb2.ReadChangesRequest(
            tenant="t", bucket="b", after_seq=after_seq, since_unix_ms=since_ms, limit=limit))

    def watch(self, clock, *, cursor: str = "", from_now: bool = False, prefix: str = "",
              retention_s: float = 3600.0) -> Watch:
        return Watch(tenant="t", bucket="b", prefix=prefix, cursor=cursor, from_now=from_now, read=self.read,
                     homes=lambda: list(HOMES), is_live=lambda n: n not in self.down, wall_ms=lambda: clock["ms"],
                     retention_s=retention_s, poll_s=0, progress_s=3600)

    def put(self, manifest: common_pb2.Manifest, on: tuple[str, ...] = HOMES) -> None:
        for node in on:
            self.stores[node].put_manifest(manifest)


def _drain(watch: Watch, polls: int = 2) -> list[tuple[str, str]]:
    """Changes a watch sends within `polls` polls, as (key, kind)."""
    got = []
    left = [polls]

    def active() -> bool:
        left[0] -= 1
        return left[0] >= 0

    for event in watch.events(active):
        if event.HasField("change"):
            got.append((event.change.key, event.change.kind))
    return got


def test_a_watch_sends_each_change_once_and_a_cursor_continues_exactly(stores, clock):
    homes = _Homes(stores)
    homes.put(_manifest("a", 10))
    homes.put(_manifest("b", 20), on=("node-1", "node-2"))  # a write quorum: two of three
    homes.put(_manifest("c", 30), on=("node-2", "node-3"))
    watch = homes.watch(clock)
    assert _drain(watch) == [("a", "put"), ("b", "put"), ("c", "put")]
    cursor = watch.cursor()
    homes.put(_manifest("d", 40), on=("node-1", "node-3"))
    homes.down.add("node-1")  # one home down: what it logged is on another too
    again = homes.watch(clock, cursor=cursor)
    assert _drain(again) == [("d", "put")]
    homes.down.clear()
    # node-1 was not read while down: its copy of d may come again (at least once), nothing else.
    assert _drain(homes.watch(clock, cursor=again.cursor())) in ([], [("d", "put")])
    # A late copy (sync bringing c to node-1) is not sent again by the watch that sent c.
    homes.put(_manifest("c", 30), on=("node-1",))
    assert _drain(watch) == [("d", "put")]
    # From now: nothing before; only what comes after.
    now = homes.watch(clock, from_now=True, prefix="e")
    homes.put(_manifest("e1", 50))
    homes.put(_manifest("f1", 60))
    assert _drain(now) == [("e1", "put")]


def test_cursors_of_another_bucket_damaged_or_too_old_are_refused(stores, clock):
    homes = _Homes(stores)
    homes.put(_manifest("a", 10))
    watch = homes.watch(clock)
    cursor = watch.cursor()
    assert decode_cursor(cursor, "t", "b").bucket == "b"
    with pytest.raises(errors.InvalidArgument, match="is for bucket 'b', not 'other'"):
        decode_cursor(cursor, "t", "other")
    for bad in ("", "c1.", "c1.@@@", "x" * 5000, cursor[:-4] + "AAAA"):
        with pytest.raises(errors.InvalidArgument):
            decode_cursor(bad, "t", "b")
    clock["ms"] += 7200_000
    with pytest.raises(errors.FailedPrecondition, match="resync"):
        homes.watch(clock, cursor=cursor)
    taken = decode_cursor(cursor, "t", "b")
    assert encode_cursor(taken) == cursor


def test_a_node_serves_a_bounded_number_of_watches():
    slots = WatchSlots(limit=2)
    with slots.held(), slots.held():
        with pytest.raises(errors.ResourceExhausted, match="watch through another node"):
            with slots.held():
                pass
    with slots.held():  # released when the streams ended
        pass


def test_old_versions_arriving_by_refill_are_not_logged_but_changes_to_them_are(stores, clock):
    store = stores["node-1"]
    store.set_change_retention(3600.0)
    old = _manifest("ancient", -7200_000)
    store.put_manifest(old)  # as a refill brings it: older than the retention, nothing of it here
    store.put_manifest(_manifest("fresh", -1000))
    converted = common_pb2.Manifest()
    converted.CopyFrom(old)
    converted.version.rewrite = 1
    store.put_manifest(converted)  # a conversion of the old version now: a change
    assert _kinds(store) == [("fresh", "CHANGE_PUT", True), ("ancient", "CHANGE_REWRITE", True)]
