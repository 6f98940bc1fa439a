"""Direct puts: the token, grants and receipts a node makes and checks, the plan of one chunk, the
check of a written chunk's receipts, and the client's cut of an object into chunks
(node/objects/direct_put.py, nodectl/client/direct_put.py)."""

from __future__ import annotations

import pytest

from node import errors
from node.erasure import chunk_id_of
from node.objects.direct_put import CopyWriter, DirectPuts, WriteKeys, not_direct_because
from node.ring import Ring, RingMember
from nodectl.client.direct_put import _chunks
from ringstore.v1 import common_pb2, object_pb2, peer_pb2

KEY = bytes(range(32))
CHUNK = 4 << 20


class Clock:
    def __init__(self, now_ms: int = 1_800_000_000_000) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


class View:
    """The ClusterView a plan reads: a ring of six nodes, some of them not live or full."""

    def __init__(self, down: set[str] = frozenset(), full: dict[str, int] | None = None) -> None:
        self.node_id = "n0"
        self._ring = Ring([RingMember(f"n{i}") for i in range(6)], vnodes_per_node=16)
        self._down = down
        self._full = full or {}

    def ring(self) -> Ring:
        return self._ring

    def is_live(self, node_id: str) -> bool:
        return node_id not in self._down

    def full_nodes(self) -> dict[str, int]:
        return self._full


def replicas(n: int = 3) -> common_pb2.RedundancyPolicy:
    return common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=n))


def token(clock: Clock, key: str = "k", n: int = 3) -> object_pb2.DirectPutToken:
    ref = common_pb2.ObjectRef(tenant="default", bucket="b", key=key,
                               version=common_pb2.VersionStamp(physical_ms=clock.now_ms, node_id="n0"))
    return object_pb2.DirectPutToken(ref=ref, policy=replicas(n), size_bytes=3 * CHUNK,
                                     expires_unix_ms=clock.now_ms + 60_000)


def planner(clock: Clock, view: View | None = None, address=lambda node: f"{node}.client:1") -> DirectPuts:
    return DirectPuts(view or View(), WriteKeys(KEY, clock), address, clock)


def planned(puts: DirectPuts, body: object_pb2.DirectPutToken, data: bytes) -> object_pb2.ChunkWrite:
    return puts.plan(body, object_pb2.KnownChunk(chunk_id=chunk_id_of(data), size_bytes=len(data)), CHUNK)


def written(puts: DirectPuts, plan: object_pb2.ChunkWrite, size: int) -> object_pb2.WrittenChunk:
    """What a client names after writing every copy of `plan`: each holder's receipt."""
    return object_pb2.WrittenChunk(chunk_id=plan.chunk_id, size_bytes=size, copies=[
        object_pb2.WrittenCopy(node_id=c.node_id, header=c.header, receipt=puts.keys.receipt(c.node_id, c.header))
        for c in plan.copies])


def test_a_put_token_opens_until_it_expires_and_only_under_its_key():
    clock = Clock()
    keys = WriteKeys(KEY, clock)
    body = token(clock)
    raw = keys.token(body)
    assert keys.open_token(raw) == body
    with pytest.raises(errors.Unauthenticated, match="does not check out"):
        WriteKeys(bytes(32), clock).open_token(raw)
    with pytest.raises(errors.Unauthenticated, match="does not check out"):
        keys.open_token(raw[:-1] + bytes([raw[-1] ^ 1]))
    with pytest.raises(errors.Unauthenticated, match="does not check out"):
        keys.open_token(b"short")
    clock.now_ms = body.expires_unix_ms + 2500
    with pytest.raises(errors.FailedPrecondition, match="expired 2.5 s ago"):
        keys.open_token(raw)


@pytest.mark.parametrize("change", ["node", "expiry", "header", "grant", "key"])
def test_a_write_grant_allows_one_copy_on_one_holder(change):
    clock = Clock()
    keys = WriteKeys(KEY, clock)
    node, expires, header = "n2", clock.now_ms + 1000, b"a store header"
    grant = keys.grant(node, expires, header)
    keys.check_grant(node, expires, header, grant)
    if change == "node":
        node = "n3"  # a grant made for one holder does not let the client write another
    elif change == "expiry":
        expires += 60_000
    elif change == "header":
        header = b"another header"
    elif change == "grant":
        grant = bytes([grant[0] ^ 1]) + grant[1:]
    else:
        keys = WriteKeys(bytes(32), clock)
    with pytest.raises(errors.Unauthenticated, match="does not check out"):
        keys.check_grant(node, expires, header, grant)


def test_a_write_grant_expires():
    clock = Clock()
    keys = WriteKeys(KEY, clock)
    grant = keys.grant("n1", clock.now_ms + 1000, b"h")
    clock.now_ms += 3000
    with pytest.raises(errors.Unauthenticated, match="expired 2.0 s ago"):
        keys.check_grant("n1", clock.now_ms - 2000, b"h", grant)


def test_a_plan_names_every_home_with_a_header_the_holder_stores_and_its_grant():
    clock = Clock()
    puts = planner(clock)
    body = token(clock)
    data = b"x" * 1000
    plan = planned(puts, body, data)
    assert len(plan.copies) == 3 and len({c.node_id for c in plan.copies}) == 3
    for copy in plan.copies:
        assert copy.address == f"{copy.node_id}.client:1"
        puts.keys.check_grant(copy.node_id, copy.expires_unix_ms, copy.header, copy.grant)
        header = peer_pb2.StoreChunkHeader.FromString(copy.header)
        assert bytes(header.share.chunk_id) == chunk_id_of(data) and header.blake3 == chunk_id_of(data)
        assert header.size_bytes == 1000 and header.referenced_by == body.ref
        assert {h.node_id for h in header.placement.holders} == {c.node_id for c in plan.copies}
        assert not header.handoff_for_node_id


def test_a_plan_stands_in_for_a_down_home_and_leaves_a_holder_without_an_address_to_the_stream():
    clock = Clock()
    data = b"y" * 10
    chunk = object_pb2.KnownChunk(chunk_id=chunk_id_of(data), size_bytes=len(data))
    first = planner(clock).plan(token(clock), chunk, CHUNK)
    homes = [c.node_id for c in first.copies]
    plan = planner(clock, View(down={homes[0]})).plan(token(clock), chunk, CHUNK)
    standing_in = [peer_pb2.StoreChunkHeader.FromString(c.header).handoff_for_node_id for c in plan.copies]
    assert homes[0] not in {c.node_id for c in plan.copies} and standing_in.count(homes[0]) == 1
    silent = planner(clock, address=lambda node: "" if node == homes[1] else "x:1").plan(token(clock), chunk, CHUNK)
    assert list(silent.copies) == []
    with pytest.raises(errors.Unavailable):
        planner(clock, View(down=set(homes[:2]) | {"n0", "n1", "n2", "n3"})).plan(token(clock), chunk, CHUNK)


@pytest.mark.parametrize("size", [0, CHUNK + 1])
def test_a_plan_refuses_a_chunk_of_no_size_or_larger_than_the_cluster_cuts(size):
    clock = Clock()
    with pytest.raises(errors.InvalidArgument, match="1..4194304 bytes"):
        planner(clock).plan(token(clock), object_pb2.KnownChunk(chunk_id=bytes(32), size_bytes=size), CHUNK)


def test_a_written_chunk_checks_out_only_with_every_holders_receipt_for_this_put():
    clock = Clock()
    puts = planner(clock)
    body = token(clock)
    data = b"z" * 5000
    plan = planned(puts, body, data)
    good = written(puts, plan, len(data))
    puts.check_written(good, body, CHUNK)

    missing = object_pb2.WrittenChunk()
    missing.CopyFrom(good)
    del missing.copies[2]
    with pytest.raises(errors.InvalidArgument, match="not from every holder"):
        puts.check_written(missing, body, CHUNK)

    twice = object_pb2.WrittenChunk()
    twice.CopyFrom(good)
    twice.copies[2].CopyFrom(twice.copies[0])  # one holder's receipt twice is not three copies
    with pytest.raises(errors.InvalidArgument, match="not from every holder"):
        puts.check_written(twice, body, CHUNK)

    forged = object_pb2.WrittenChunk()
    forged.CopyFrom(good)
    forged.copies[1].receipt = bytes(32)
    with pytest.raises(errors.Unauthenticated, match="does not check out"):
        puts.check_written(forged, body, CHUNK)

    resized = object_pb2.WrittenChunk()
    resized.CopyFrom(good)
    resized.size_bytes = 4000
    with pytest.raises(errors.InvalidArgument, match="another chunk or put"):
        puts.check_written(resized, body, CHUNK)

    # Receipts of another put's copies (another key, or another version of this one) name another reference.
    with pytest.raises(errors.InvalidArgument, match="another chunk or put"):
        puts.check_written(good, token(clock, key="other"), CHUNK)


def test_a_holder_stores_a_granted_copy_and_answers_a_receipt_the_coordinator_accepts():
    clock = Clock()
    puts = planner(clock)
    body = token(clock)
    data = b"w" * 300
    plan = planned(puts, body, data)
    stored = []
    copy = plan.copies[0]
    writer = CopyWriter(WriteKeys(KEY, clock), copy.node_id, lambda header, data: stored.append((header, data)) or False)
    answer = writer.write(object_pb2.WriteChunkHeader(header=copy.header, expires_unix_ms=copy.expires_unix_ms,
                                                      grant=copy.grant), memoryview(data))
    assert puts.keys.receipt_ok(copy.node_id, copy.header, answer.receipt)
    assert stored[0][0].referenced_by == body.ref and bytes(stored[0][1]) == data
    # Another holder will not take the copy granted to this one.
    other = CopyWriter(WriteKeys(KEY, clock), plan.copies[1].node_id, lambda header, data: False)
    with pytest.raises(errors.Unauthenticated):
        other.write(object_pb2.WriteChunkHeader(header=copy.header, expires_unix_ms=copy.expires_unix_ms,
                                                grant=copy.grant), memoryview(data))


def test_what_streams_and_why():
    header = object_pb2.PutObjectHeader(bucket="b", key="k", size_bytes=CHUNK + 1)
    assert not_direct_because(replicas(), header, compress=False, encrypt=False, chunk_size_bytes=CHUNK) == ""
    ec = common_pb2.RedundancyPolicy(erasure_coding=common_pb2.ErasureCoding(data_shares=4, parity_shares=2))
    assert "erasure-coded" in not_direct_because(ec, header, compress=False, encrypt=False, chunk_size_bytes=CHUNK)
    assert "compressed" in not_direct_because(replicas(), header, compress=True, encrypt=False,
                                              chunk_size_bytes=CHUNK)
    assert "encrypted" in not_direct_because(replicas(), header, compress=False, encrypt=True, chunk_size_bytes=CHUNK)
    small = object_pb2.PutObjectHeader(bucket="b", key="k", size_bytes=CHUNK)
    assert "one chunk" in not_direct_because(replicas(), small, compress=False, encrypt=False, chunk_size_bytes=CHUNK)
    unknown = object_pb2.PutObjectHeader(bucket="b", key="k")
    assert "unknown size" in not_direct_because(replicas(), unknown, compress=False, encrypt=False,
                                                chunk_size_bytes=CHUNK)
    part = object_pb2.PutObjectHeader(bucket="b", key="k", size_bytes=CHUNK + 1, upload_id="u", part_number=1)
    assert "multipart" in not_direct_because(replicas(), part, compress=False, encrypt=False, chunk_size_bytes=CHUNK)


def test_the_client_cuts_an_object_where_the_cluster_does():
    data = bytes(range(256)) * 40  # 10,240 bytes
    frames = [data[i:i + 700] for i in range(0, len(data), 700)]
    chunks = [b"".join(parts) for parts in _chunks(frames, 4096)]
    assert [len(c) for c in chunks] == [4096, 4096, 2048] and b"".join(chunks) == data
    assert [b"".join(parts) for parts in _chunks([data[:4096]], 4096)] == [data[:4096]]
    assert list(_chunks([], 4096)) == []
