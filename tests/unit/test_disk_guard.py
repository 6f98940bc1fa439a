"""Disk-full safety on one node (node/store/disk.py and the store's write path).

The watermark arithmetic runs against the real data dir's statvfs with `bytes_max` set, so the room
is exactly what a row says whatever disk the test runs on; the byte count is a plain callable there
(it is one by design: the store's running total). Everything else uses a real `NodeStore` in
tmp_path: refusals at the watermark, metadata (manifests, tombstones, bucket and placement records)
that is never refused, chunks stored earlier that still read back and verify, and the peer service
answering RESOURCE_EXHAUSTED on a real gRPC server. Repair runs over a cluster of real stores in one
process (each node's calls go to its own store through the path a node uses for itself), so a full
store refuses a repair copy exactly as it would refuse a peer.

A real ENOSPC needs a filesystem the test can fill: a small tmpfs, mounted when the test may mount
one (root here) and always unmounted, else skipped with the reason. Each such test fills it with a
file from "another process" at a chosen point of a chunk write, which is how a disk fills mid-write
for real, rather than faking an OSError.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import blake3
import grpc
import pytest

from node.api.peer_service import PeerServicer
from node.config import RepairConfig
from node.gossip.clock import ManualClock
from node.hlc import HybridLogicalClock
from node.metrics import Metrics
from node.objects.replicas import HolderError, Replicas
from node.peers.client import PeerClient
from node.repair.gc import KeyState, can_be_current
from node.repair.queue import RepairQueue
from node.repair.repairer import GARBAGE_RECHECK_S, Repairer
from node.ring import Ring, RingMember, chunk_position
from node.store import DiskGuard, NodeStore, ShareKey, StoreFull, format_bytes
from node.store.disk import WHAT_TO_DO
from ringstore.v1 import common_pb2

KIB = 1024
MIB = 1024 * KIB
NOW_MS = 1_700_000_000_000
# Room the arithmetic tests give their guard (bytes_max); the data dir's filesystem must have more.
ROOM_BYTES = 100 * MIB
# The tmpfs the ENOSPC tests fill, and the size of each chunk they store on it.
TMPFS_BYTES = 8 * MIB
TMPFS_CHUNK_BYTES = 256 * KIB
# LMDB map on the tmpfs: sparse, so larger than the tmpfs costs nothing until written.
TMPFS_MAP_BYTES = 64 * MIB
# The two nodes of the peer-service tests.
PAIR_RING = Ring([RingMember("node-a"), RingMember("node-b")], vnodes_per_node=8)


def _data(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _digest(data: bytes) -> bytes:
    return blake3.blake3(data).digest()


def _ref(key: str) -> common_pb2.ObjectRef:
    return common_pb2.ObjectRef(tenant="t", bucket="b", key=key,
                                version=common_pb2.VersionStamp(physical_ms=NOW_MS, node_id="node-a"))


def _put(store: NodeStore, data: bytes, key: str = "k") -> ShareKey:
    share = ShareKey(_digest(data))
    store.put_share(share, data, expected_blake3=_digest(data), placement=None, referenced_by=_ref(key))
    return share


def _temp_files(store: NodeStore) -> list[str]:
    return os.listdir(os.path.join(store.data_dir, "tmp"))


def _assert_intact(store: NodeStore, stored: dict[ShareKey, bytes]) -> None:
    """Every chunk stored earlier is still indexed and reads back with its blake3."""
    for share, data in stored.items():
        read = store.read_share(share)
        assert read == data and _digest(read) == share.chunk_id


def _guard(tmp_path: Path, stored_bytes: int, **limits) -> DiskGuard:
    st = os.statvfs(tmp_path)
    if st.f_bavail * st.f_frsize < 2 * ROOM_BYTES:
        pytest.skip(f"the filesystem of {tmp_path} has less than {format_bytes(2 * ROOM_BYTES)} free, so "
                    "bytes_max would not set the room")
    return DiskGuard(str(tmp_path), lambda: stored_bytes, node_id="node-3", bytes_max=ROOM_BYTES, **limits)


@pytest.fixture
def store(tmp_path):
    with NodeStore(str(tmp_path / "data"), map_size_bytes=64 * MIB, now_unix_ms=lambda: NOW_MS) as s:
        yield s


# -- watermarks -------------------------------------------------------------------------------------

@pytest.mark.parametrize("size_bytes, text", [
    (0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (12 * MIB, "12.0 MiB"), (3 * 2**40 // 2, "1.5 TiB"),
])
def test_format_bytes(size_bytes, text):
    """Byte counts in messages: plain bytes below 1 KiB, else binary units with one decimal."""
    assert format_bytes(size_bytes) == text


@pytest.mark.parametrize("ratio, free_min, stored, incoming, refused", [
    pytest.param(0.9, 0, 80 * MIB, 10 * MIB - 1, "", id="ratio-just-under"),
    pytest.param(0.9, 0, 80 * MIB, 10 * MIB, "90.0 % used, at or over storage.disk_full_ratio=0.9", id="ratio-reached"),
    pytest.param(1.0, 16 * MIB, 80 * MIB, 4 * MIB, "", id="free-floor-exactly-left"),
    pytest.param(1.0, 16 * MIB, 80 * MIB, 5 * MIB,
                 "15.0 MiB free, under storage.disk_free_bytes_min=16.0 MiB", id="free-floor-crossed"),
    pytest.param(1.0, 0, 100 * MIB, 1, "100.0 % used, at or over storage.disk_full_ratio=1", id="no-room-left"),
    pytest.param(0.95, 16 * MIB, 120 * MIB, 0, "100.0 % used, at or over storage.disk_full_ratio=0.95",
                 id="stored-beyond-bytes-max"),
])
def test_check_room_by_ratio_and_by_free_bytes(tmp_path, ratio, free_min, stored, incoming, refused):
    """With bytes_max set the room is bytes_max minus what is stored; a copy is refused when storing it
    would reach the ratio or leave less than the free floor, with one line naming the node, the room,
    the watermark (as the setting to change) and what to do."""
    guard = _guard(tmp_path, stored, full_ratio=ratio, free_bytes_min=free_min)
    if not refused:
        guard.check_room(incoming, "share r of chunk ab")
        return
    with pytest.raises(StoreFull) as info:
        guard.check_room(incoming, "share r of chunk ab")
    free = max(0, ROOM_BYTES - stored)
    assert str(info.value) == (
        f"node-3 is full: refusing {format_bytes(incoming)} for share r of chunk ab: {format_bytes(free)} free "
        f"of 100.0 MiB (storage.disk_bytes_max=100.0 MiB); storing it would leave {refused}; {WHAT_TO_DO}")


@pytest.mark.parametrize("stored, full", [(91 * MIB - 1, False), (91 * MIB, True)])
def test_usage_is_full_once_one_more_largest_copy_would_be_refused(tmp_path, stored, full):
    """usage() counts headroom_bytes (one chunk) as taken: the node says it is full exactly when it would
    refuse a full-size copy, so what gossip announces matches what the store refuses."""
    guard = _guard(tmp_path, stored, full_ratio=0.95, free_bytes_min=0, headroom_bytes=4 * MIB)
    usage = guard.usage()
    assert (usage.size_bytes, usage.free_bytes, usage.used_bytes) == (ROOM_BYTES, ROOM_BYTES - stored, stored)
    assert usage.full is full
    if full:
        assert usage.reason == ("node-3 is full: 9.0 MiB free of 100.0 MiB (storage.disk_bytes_max=100.0 MiB); "
                                "one more 4.0 MiB copy would leave 95.0 % used, at or over "
                                "storage.disk_full_ratio=0.95")
        with pytest.raises(StoreFull):
            guard.check_room(4 * MIB, "a chunk")
    else:
        assert usage.reason == ""
        guard.check_room(4 * MIB, "a chunk")


def test_without_bytes_max_the_room_is_the_filesystem(tmp_path):
    """Without bytes_max, size and free are the data dir's filesystem as an unprivileged writer sees it;
    a ratio no disk can be under makes the node full, the default guard (no watermarks) does not."""
    st = os.statvfs(tmp_path)
    usage = DiskGuard(str(tmp_path), lambda: 0).usage()
    assert usage.size_bytes == (st.f_blocks - st.f_bfree + st.f_bavail) * st.f_frsize
    assert usage.size_bytes == usage.free_bytes + usage.used_bytes and usage.free_bytes > 0
    assert usage.full is False
    tiny = DiskGuard(str(tmp_path), lambda: 0, full_ratio=1e-12).usage()
    assert tiny.full is True and "storage.disk_full_ratio=1e-12" in tiny.reason


def test_reservations_count_writes_in_flight(store):
    """A copy being written holds its declared bytes: a second writer cannot pass the check with the same
    free bytes; an aborted writer gives them back; a committed one is counted once, by the store."""
    store.set_disk_limits(node_id="node-t", full_ratio=1.0, free_bytes_min=0, bytes_max=MIB)
    first, second = _data(600 * KIB, 1), _data(600 * KIB, 2)
    writer = store.begin_share(ShareKey(_digest(first)), len(first))
    assert store.disk.usage().free_bytes == MIB - len(first)
    with pytest.raises(StoreFull, match=r"refusing 600\.0 KiB for share r of chunk "):
        store.begin_share(ShareKey(_digest(second)), len(second))
    writer.abort()
    assert store.disk.usage().free_bytes == MIB
    _put(store, second)
    assert store.disk.usage().free_bytes == MIB - len(second)
    with pytest.raises(StoreFull):
        _put(store, first)
    assert _temp_files(store) == []


def test_a_stream_of_undeclared_size_is_refused_when_it_grows_past_the_watermark(store):
    """A writer that did not say its size reserves as bytes arrive; the write that would cross the
    watermark is refused, its temp file removed and nothing indexed."""
    store.set_disk_limits(node_id="node-t", full_ratio=1.0, free_bytes_min=0, bytes_max=MIB)
    data = _data(MIB, 3)
    share = ShareKey(_digest(data))
    writer = store.begin_share(share)
    writer.write(data[:MIB // 2])
    with pytest.raises(StoreFull, match=r"node-t is full: refusing 512\.0 KiB"):
        writer.write(data[MIB // 2:])
    assert _temp_files(store) == [] and not store.has_share(share)
    assert store.stats() == (0, 0) and store.disk.usage().free_bytes == MIB


# -- the store at the watermark ------------------------------------------------------------------

def test_store_refuses_chunks_at_the_watermark_but_never_metadata_and_keeps_what_it_has(store):
    """At the watermark a new chunk copy is refused with nothing written, while manifests, tombstones,
    bucket and placement records still land (deletes work on a full node), a copy already here still
    takes new references, every earlier chunk reads back and verifies, and releasing one makes room."""
    store.set_disk_limits(node_id="node-t", full_ratio=0.5, free_bytes_min=0, bytes_max=MIB,
                          headroom_bytes=128 * KIB)
    stored = {}
    for seed in range(3):
        data = _data(128 * KIB, seed)
        stored[_put(store, data, f"k{seed}")] = data
    assert store.disk.usage().full is True  # one more 128 KiB copy would reach 50 %
    extra = _data(128 * KIB, 99)
    with pytest.raises(StoreFull) as info:
        _put(store, extra, "extra")
    assert str(info.value).startswith(
        f"node-t is full: refusing 128.0 KiB for share r of chunk {_digest(extra).hex()}: 640.0 KiB free of "
        "1.0 MiB (storage.disk_bytes_max=1.0 MiB); storing it would leave 50.0 % used")
    assert not store.has_share(ShareKey(_digest(extra))) and _temp_files(store) == []
    assert store.stats() == (3, 3 * 128 * KIB)

    stamp = common_pb2.VersionStamp(physical_ms=NOW_MS + 1, node_id="node-t")
    store.put_manifest(common_pb2.Manifest(format_version=1, tenant="t", bucket="b", key="k0", version=stamp,
                                           tombstone=True))
    store.put_bucket(common_pb2.BucketRecord(format_version=1, tenant="t", name="b", version=stamp))
    first = next(iter(stored))
    store.put_placement(common_pb2.PlacementRecord(
        format_version=1, chunk_id=first.chunk_id, size_bytes=128 * KIB,
        policy=common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=3))))
    assert store.get_manifest("t", "b", "k0").tombstone and store.get_bucket("t", "b") is not None
    assert store.put_share(first, stored[first], expected_blake3=first.chunk_id, placement=None,
                           referenced_by=_ref("another")) is True
    assert store.reference_count(first) == 2
    _assert_intact(store, stored)

    assert store.release_share(first, _ref("k0")).deleted is False
    assert store.release_share(first, _ref("another")).deleted is True
    del stored[first]
    stored[_put(store, extra, "extra")] = extra
    _assert_intact(store, stored)


def test_a_full_local_holder_is_a_full_holder_error(store):
    """The coordinator's or repair's write to its own store fails as HolderError kind "full", the kind a
    remote holder's RESOURCE_EXHAUSTED becomes, so both are handled alike."""
    store.set_disk_limits(node_id="node-b", full_ratio=1.0, free_bytes_min=0, bytes_max=64 * KIB)
    replicas = Replicas(view=_View("node-b", ""), store=store, peers=None, frame_size_bytes=64 * KIB,
                        timeout_s=5.0)
    data = _data(64 * KIB, 5)
    with pytest.raises(HolderError) as info:
        replicas.store_share("node-b", ShareKey(_digest(data)), data, None, _digest(data), "", _ref("k"))
    assert info.value.kind == "full"
    assert info.value.detail.startswith("RESOURCE_EXHAUSTED: node-b is full: refusing 64.0 KiB")


class _View:
    """A ClusterView where every node is ALIVE: `full` is what gossip says about full disks."""

    def __init__(self, node_id: str, peer_address: str, ring: Ring = PAIR_RING,
                 full: dict[str, int] | None = None) -> None:
        self.node_id = node_id
        self._peer_address = peer_address
        self._ring = ring
        self.full = full or {}

    def ring(self) -> Ring:
        return self._ring

    def is_live(self, node_id: str) -> bool:
        return True

    def address_of(self, node_id: str) -> str:
        return self._peer_address

    def state_name(self, node_id: str) -> str:
        return "ALIVE"

    def live_count(self) -> int:
        return 2

    def full_nodes(self) -> dict[str, int]:
        return dict(self.full)

    def store_of(self, node_id: str) -> tuple[str, int]:
        return ("", 0)


def test_peer_store_chunk_answers_resource_exhausted_on_the_wire(store):
    """A StoreChunk past the watermark is refused before its data is read: the caller gets
    RESOURCE_EXHAUSTED with the holder's one-line reason, which Replicas turns into kind "full"."""
    store.set_disk_limits(node_id="node-b", full_ratio=0.5, free_bytes_min=0, bytes_max=MIB)
    servicer = PeerServicer(store, HybridLogicalClock("node-b", lambda: NOW_MS), Metrics(),
                            frame_size_bytes=64 * KIB, chunk_size_bytes=4 * MIB, node_id="node-b")
    server = grpc.server(cf.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((servicer.handlers(),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    peers = PeerClient(node_id="node-a", message_bytes_max=8 * MIB)
    try:
        replicas = Replicas(view=_View("node-a", f"127.0.0.1:{port}"), store=None, peers=peers,
                            frame_size_bytes=64 * KIB, timeout_s=10.0)
        small, large = _data(256 * KIB, 6), _data(300 * KIB, 7)
        replicas.store_share("node-b", ShareKey(_digest(small)), small, None, _digest(small), "", _ref("s"))
        with pytest.raises(HolderError) as info:
            replicas.store_share("node-b", ShareKey(_digest(large)), large, None, _digest(large), "", _ref("l"))
        assert info.value.kind == "full"
        assert info.value.detail.startswith("RESOURCE_EXHAUSTED: node-b is full: refusing 300.0 KiB for share r")
        assert store.stats() == (1, 256 * KIB) and _temp_files(store) == []
    finally:
        peers.close()
        server.stop(None)


# -- repair around full nodes --------------------------------------------------------------------

REPAIR_NODES = tuple(f"node-{i}" for i in range(1, 6))
REPAIR_RING = Ring([RingMember(n) for n in REPAIR_NODES], vnodes_per_node=32)


class _LocalCluster:
    """Replicas over a cluster of real stores in one process: each call runs on the named node's own
    store through `Replicas`' local path (the one a node uses for itself), so a full store refuses
    exactly as it would for a peer, as HolderError kind "full"."""

    def __init__(self, stores: dict[str, NodeStore]) -> None:
        self._by_node = {node: Replicas(view=_View(node, "", REPAIR_RING), store=store, peers=None,
                                        frame_size_bytes=64 * KIB, timeout_s=5.0)
                         for node, store in stores.items()}

    def __getattr__(self, name: str):
        def call(node_id: str, *args, **kwargs):
            return getattr(self._by_node[node_id], name)(node_id, *args, **kwargs)
        return call


@pytest.fixture
def lost_copy(tmp_path):
    """replicas=3 of one chunk on a 5-node ring of real stores: the first two homes hold it, the third
    home's copy is lost. Yields (stores, ring order, share, data, a Repairer factory run on the first
    home, which is the node responsible for the chunk)."""
    data = _data(64 * KIB, 70)
    share = ShareKey(_digest(data))
    order = REPAIR_RING.ordered_nodes(chunk_position(share.chunk_id))
    record = common_pb2.PlacementRecord(
        format_version=1, chunk_id=share.chunk_id, size_bytes=len(data), updated_at_unix_ms=NOW_MS,
        policy=common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=3)),
        holders=[common_pb2.ShareHolder(node_id=node, share_index=i, blake3=share.chunk_id)
                 for i, node in enumerate(order[:3])])
    with contextlib.ExitStack() as stack:
        stores = {node: stack.enter_context(NodeStore(str(tmp_path / node), map_size_bytes=64 * MIB))
                  for node in REPAIR_NODES}
        for node in order[:2]:
            stores[node].put_share(share, data, expected_blake3=share.chunk_id, placement=record,
                                   referenced_by=_ref("k"))

        def repairer(full: dict[str, int], clock: ManualClock | None = None, **kwargs) -> Repairer:
            clock = clock or ManualClock(wall_start_ms=NOW_MS + 60_000)
            made = Repairer(view=_View(order[0], "", REPAIR_RING, full), store=stores[order[0]],
                            replicas=_LocalCluster(stores), clock=clock,
                            config=RepairConfig.local(),
                            queue=RepairQueue(), metrics=None, ring_changed_at_s=lambda: 0.0, **kwargs)
            stack.callback(made.close)
            return made

        yield stores, order, share, data, repairer


def test_repair_puts_a_full_homes_lost_copy_on_a_stand_in_and_leaves_it_there(lost_copy):
    """Gossip says the third home is full: repair makes its lost copy on the next node after the homes,
    stored and recorded as a handoff for the full home, and a second scan moves nothing."""
    stores, order, share, data, repairer = lost_copy
    repair = repairer({order[2]: 3 * MIB})
    repair.scan_and_repair()
    assert stores[order[3]].read_share(share) == data
    assert stores[order[3]].share_info(share).handoff_for_node_id == order[2]
    assert not stores[order[2]].has_share(share)
    for node in (order[0], order[1], order[3]):
        record = stores[node].get_placement(share.chunk_id)
        assert [(h.node_id, h.share_index, h.handoff_for_node_id) for h in record.holders] == [
            (order[0], 0, ""), (order[1], 1, ""), (order[3], 2, order[2])]
    repair.scan_and_repair()
    assert [node for node in REPAIR_NODES if stores[node].has_share(share)] == sorted(order[:2] + [order[3]])
    assert repair.status().unrepairable == ()


def test_a_home_refusing_a_repair_copy_as_full_is_a_listed_failure_with_back_off(lost_copy):
    """Gossip has not yet said the third home is full, but its disk refuses the copy: the layout is listed
    as failed with the holder's reason and retried later, nothing is left on the full node, and the scan
    does not crash."""
    stores, order, share, data, repairer = lost_copy
    stores[order[2]].set_disk_limits(node_id=order[2], full_ratio=1.0, free_bytes_min=0, bytes_max=KIB)
    repair = repairer({})
    repair.scan_and_repair()
    [(chunk_id, failure)] = repair.status().unrepairable
    assert chunk_id == share.chunk_id and failure.attempts == 1
    assert f"{order[2]}: RESOURCE_EXHAUSTED: {order[2]} is full: refusing 64.0 KiB" in failure.reason
    assert not stores[order[2]].has_share(share) and _temp_files(stores[order[2]]) == []
    repair.scan_and_repair()  # backing off: not attempted again yet
    assert repair.status().unrepairable[0][1].attempts == 1


def test_repair_does_not_copy_back_a_chunk_only_superseded_versions_reference(lost_copy):
    """The third home already collected its copy of a deleted object's chunk while the others have not
    yet: repair asks about the copy's references (through the collector's rule) and, with a tombstone
    on every metadata replica, copies nothing. With the version still current it copies as before."""
    stores, order, share, data, repairer = lost_copy
    tombstone = common_pb2.Manifest(tombstone=True, version=common_pb2.VersionStamp(
        physical_ms=NOW_MS + 1000, node_id="node-a"))
    asked: list[list[str]] = []

    def superseded(refs) -> bool:
        asked.append([ref.key for ref in refs])
        key = KeyState(complete=True, versions=(tombstone,) * 3)
        return any(can_be_current(ref, key, NOW_MS + 60_000, 100.0) for ref in refs)

    repairer({}, needed=superseded).scan_and_repair()
    assert asked == [["k"]]
    assert not stores[order[2]].has_share(share)
    assert [node for node in REPAIR_NODES if stores[node].has_share(share)] == sorted(order[:2])
    repair = repairer({}, needed=lambda refs: True)
    repair.scan_and_repair()
    assert stores[order[2]].read_share(share) == data and repair.status().unrepairable == ()


def test_a_chunk_only_superseded_versions_reference_is_not_repair_debt_and_is_not_reread(lost_copy):
    """Once repair has found that every version a layout serves is superseded, `repair status` does
    not count it below full redundancy (the collectors delete it, after a grace of a day by default,
    and until then repair debt would never reach 0), and later scans do not read it again. It is
    looked at again when its placement record changes (a put of the same bytes) or after
    GARBAGE_RECHECK_S; a copy then needed is repaired."""
    stores, order, share, data, repairer = lost_copy
    asked: list[str] = []
    current = {"yes": False}

    def needed(refs) -> bool:
        asked.extend(ref.key for ref in refs)
        return current["yes"]

    clock = ManualClock(wall_start_ms=NOW_MS + 60_000)
    repair = repairer({}, clock=clock, needed=needed)
    repair.scan_and_repair()
    assert asked == ["k"] and repair.status().chunks_below_full == 0 and repair.status().unrepairable == ()
    repair.scan_and_repair()
    assert asked == ["k"] and repair.status().chunks_below_full == 0
    assert not stores[order[2]].has_share(share)
    # The record changes (a put stored the same bytes again): judged afresh, still garbage.
    record = stores[order[0]].get_placement(share.chunk_id)
    record.updated_at_unix_ms += 1
    stores[order[0]].put_share(share, data, expected_blake3=share.chunk_id, placement=record,
                               referenced_by=_ref("k2"))
    repair.scan_and_repair()
    assert asked[1:] == ["k", "k2"] and repair.status().chunks_below_full == 0
    # Past the recheck a version has become current again: the copy is restored.
    current["yes"] = True
    clock.advance(GARBAGE_RECHECK_S + 1)
    repair.scan_and_repair()
    assert stores[order[2]].read_share(share) == data
    repair.scan_and_repair()
    assert repair.status().chunks_below_full == 0 and repair.status().unrepairable == ()


# -- a real ENOSPC -------------------------------------------------------------------------------

@contextlib.contextmanager
def _tmpfs(path: Path, size_bytes: int) -> Iterator[Path]:
    path.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(path)],
                              capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        pytest.skip("no mount(8) on this machine: cannot make a small filesystem to fill")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a {format_bytes(size_bytes)} tmpfs to fill (needs root or CAP_SYS_ADMIN): "
                    f"{done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True, timeout=30)


def _fill(path: Path) -> Path:
    """Write a file until the filesystem is out of space, to the last byte: another process filling the
    disk. Returns the file, to delete when the test frees the space."""
    filler = path / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for block in (MIB, 64 * KIB, 4 * KIB, 1):
            while True:
                try:
                    os.write(fd, b"\xff" * block)
                except OSError:
                    break
    finally:
        os.close(fd)
    assert os.statvfs(path).f_bavail == 0
    return filler


@pytest.fixture
def small_disk(tmp_path):
    with _tmpfs(tmp_path / "disk", TMPFS_BYTES) as mount:
        yield mount


def _store_chunks(store: NodeStore, count: int) -> dict[ShareKey, bytes]:
    stored = {}
    for seed in range(count):
        data = _data(TMPFS_CHUNK_BYTES, seed)
        stored[_put(store, data, f"k{seed}")] = data
    return stored


def test_chunks_fill_a_small_disk_up_to_the_watermarks_and_deletes_still_work(small_disk):
    """Storing chunks on an 8 MiB disk stops at the watermarks with StoreFull, never an OSError; the slack
    left takes tombstones; nothing is left in tmp/ and every chunk stored reads back and verifies."""
    with NodeStore(str(small_disk / "data"), map_size_bytes=TMPFS_MAP_BYTES) as store:
        store.set_disk_limits(node_id="node-t", full_ratio=0.9, free_bytes_min=MIB, bytes_max=0,
                              headroom_bytes=TMPFS_CHUNK_BYTES)
        stored: dict[ShareKey, bytes] = {}
        with pytest.raises(StoreFull, match=r"node-t is full: refusing 256\.0 KiB .*; " + WHAT_TO_DO):
            for seed in range(TMPFS_BYTES // TMPFS_CHUNK_BYTES):
                data = _data(TMPFS_CHUNK_BYTES, seed)
                stored[_put(store, data, f"k{seed}")] = data
        assert len(stored) >= 16  # the watermarks, not an early failure, stopped the writes
        usage = store.disk.usage()
        assert usage.full and usage.free_bytes >= MIB
        assert _temp_files(store) == []
        for seed in range(len(stored)):
            stamp = common_pb2.VersionStamp(physical_ms=NOW_MS + seed, node_id="node-t")
            store.put_manifest(common_pb2.Manifest(format_version=1, tenant="t", bucket="b", key=f"k{seed}",
                                                   version=stamp, tombstone=True))
        _assert_intact(store, stored)


def test_enospc_mid_write_removes_the_temp_file_and_touches_nothing_stored(small_disk):
    """The disk fills (another process) while a chunk streams in: the write fails as StoreFull, its
    temp file is gone, the chunks stored earlier read back and verify, and once space is freed the
    same chunk stores."""
    with NodeStore(str(small_disk / "data"), map_size_bytes=TMPFS_MAP_BYTES) as store:
        stored = _store_chunks(store, 4)
        data = _data(TMPFS_CHUNK_BYTES, 50)
        share = ShareKey(_digest(data))
        writer = store.begin_share(share, len(data))
        writer.write(data[:len(data) // 2])
        filler = _fill(small_disk)
        with pytest.raises(StoreFull, match=r"data filesystem full while writing .*/tmp/"):
            writer.write(data[len(data) // 2:])
        assert _temp_files(store) == [] and not store.has_share(share)
        _assert_intact(store, stored)
        filler.unlink()
        stored[_put(store, data)] = data
        _assert_intact(store, stored)


def test_enospc_at_the_index_commit_removes_the_unindexed_file_and_touches_nothing_stored(small_disk):
    """The disk fills after a chunk's bytes are written but before its index entry commits (an LMDB
    commit that needs new pages): StoreFull, no temp file and no unindexed final file left behind,
    earlier chunks intact, and the index still takes writes once space is freed."""
    with NodeStore(str(small_disk / "data"), map_size_bytes=TMPFS_MAP_BYTES) as store:
        stored = _store_chunks(store, 4)
        data = _data(TMPFS_CHUNK_BYTES, 60)
        share = ShareKey(_digest(data))
        # Enough reference rows that the commit must grow the LMDB file instead of reusing free pages.
        references = [_ref(f"key-{i:05d}-" + "x" * 40) for i in range(10_000)]
        writer = store.begin_share(share, len(data))
        writer.write(data)
        filler = _fill(small_disk)
        with pytest.raises(StoreFull, match=r"metadata write to .* failed, the disk is full"):
            writer.commit(expected_blake3=share.chunk_id, placement=None, references=references)
        final = store._files.final_path(share)
        assert _temp_files(store) == [] and not os.path.exists(final) and not store.has_share(share)
        _assert_intact(store, stored)
        filler.unlink()
        store.put_share(share, data, expected_blake3=share.chunk_id, placement=None, references=references)
        stored[share] = data
        assert store.reference_count(share) == 10_000
        _assert_intact(store, stored)
