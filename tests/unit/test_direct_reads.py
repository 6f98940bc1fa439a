"""Direct reads: the read grant a node issues and checks, the plan it answers a get with, and the
client's read of one planned chunk from its holders (node/objects/direct.py, nodectl/client/direct.py)."""

from __future__ import annotations

import grpc
import pytest

from node import errors
from node.erasure import chunk_id_of
from node.objects.direct import DIRECT_BYTES_MIN, PLAN_CHUNKS_MAX, DirectReads, ReadGrants
from node.ring import Ring, RingMember
from nodectl.client.direct import DirectChunks, DirectReadFailed
from ringstore.v1 import common_pb2, object_pb2

KEY = bytes(range(32))
MIB = 1 << 20


class Clock:
    def __init__(self, now_ms: int = 1_800_000_000_000) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


def test_a_grant_reads_its_chunk_until_it_expires():
    clock = Clock()
    grants = ReadGrants(KEY, clock, ttl_s=300)
    chunk = chunk_id_of(b"some bytes")
    expires, grant = grants.issue(chunk)
    assert expires == clock.now_ms + 300_000
    grants.check(chunk, expires, grant)
    clock.now_ms = expires
    grants.check(chunk, expires, grant)  # still good at its last millisecond
    clock.now_ms = expires + 1500
    with pytest.raises(errors.Unauthenticated, match="expired 1.5 s ago: get the object again"):
        grants.check(chunk, expires, grant)


@pytest.mark.parametrize("change", ["chunk", "expiry", "grant", "key"])
def test_a_grant_does_not_check_out_for_anything_it_was_not_made_for(change):
    clock = Clock()
    grants = ReadGrants(KEY, clock)
    chunk = chunk_id_of(b"granted")
    expires, grant = grants.issue(chunk)
    if change == "chunk":
        chunk = chunk_id_of(b"another chunk")
    elif change == "expiry":
        expires += 60_000  # a holder must not let the caller extend its grant
    elif change == "grant":
        grant = bytes([grant[0] ^ 1]) + grant[1:]
    else:
        grants = ReadGrants(bytes(32), clock)  # another cluster's key
    with pytest.raises(errors.Unauthenticated, match="does not check out"):
        grants.check(chunk, expires, grant)


def test_a_malformed_grant_is_refused_before_any_mac():
    grants = ReadGrants(KEY, Clock())
    with pytest.raises(errors.Unauthenticated, match="32-byte chunk id"):
        grants.check(b"short", 1, bytes(32))
    with pytest.raises(errors.Unauthenticated, match="32-byte grant"):
        grants.check(bytes(32), 1, b"")


class View:
    """The ClusterView a plan reads: a ring of six nodes, some of them not live."""

    def __init__(self, node_id: str, down: set[str] = frozenset()) -> None:
        self.node_id = node_id
        self._ring = Ring([RingMember(f"n{i}") for i in range(6)], vnodes_per_node=16)
        self._down = down

    def ring(self) -> Ring:
        return self._ring

    def is_live(self, node_id: str) -> bool:
        return node_id not in self._down


def manifest(sizes: list[int], policy: common_pb2.RedundancyPolicy | None = None) -> common_pb2.Manifest:
    m = common_pb2.Manifest(bucket="b", key="k", size_bytes=sum(sizes),
                            policy=policy or common_pb2.RedundancyPolicy(
                                replication=common_pb2.Replication(replicas=3)))
    offset = 0
    for i, size in enumerate(sizes):
        m.chunks.add(chunk_id=chunk_id_of(i.to_bytes(4, "big")), offset_bytes=offset, size_bytes=size)
        offset += size
    return m


def planner(view: View, addresses: dict[str, str] | None = None) -> DirectReads:
    known = addresses if addresses is not None else {f"n{i}": f"127.0.0.1:{7000 + i}" for i in range(6)}
    return DirectReads(view, ReadGrants(KEY, Clock()), lambda node: known.get(node, ""))


def test_a_plan_names_the_chunks_of_the_range_with_live_holders_this_node_first():
    view = View("n0", down={"n3"})
    m = manifest([4 * MIB, 4 * MIB, 4 * MIB, MIB])
    plan = planner(view).plan(m, 5 * MIB, 4 * MIB)  # the 2nd chunk from its 2nd MiB, the 3rd's first
    assert [c.offset_bytes for c in plan] == [4 * MIB, 8 * MIB]
    grants = ReadGrants(KEY, Clock())
    for chunk, ref in zip(plan, m.chunks[1:3]):
        assert chunk.chunk_id == ref.chunk_id and chunk.size_bytes == ref.size_bytes
        ordered = [n for n in view.ring().ordered_nodes(_position(ref.chunk_id)) if n != "n3"][:5]
        expected = (["n0"] + [n for n in ordered if n != "n0"]) if "n0" in ordered[:3] else ordered
        assert list(chunk.addresses) == [f"127.0.0.1:{7000 + int(n[1:])}" for n in expected]
        grants.check(chunk.chunk_id, chunk.expires_unix_ms, chunk.grant)


def test_this_node_comes_first_only_where_it_is_a_home_holder():
    view = View("n0")
    m = manifest([4096] * 64)
    seen = set()
    for chunk in planner(view).plan(m, 0, m.size_bytes):
        ordered = view.ring().ordered_nodes(_position(chunk.chunk_id))
        home = "n0" in ordered[:3]
        seen.add(home)
        first = [f"127.0.0.1:{7000 + int(n[1:])}" for n in ordered[:5]]
        if home:
            assert chunk.addresses[0] == "127.0.0.1:7000"
        else:
            assert list(chunk.addresses) == first, "ring order, so a copy is asked where it should be"
    assert seen == {True, False}


def test_a_range_whose_every_chunk_is_held_here_is_streamed():
    """Streaming what this node holds costs the same one hop as a direct read, without a second call."""
    view = View("n0")
    size = 128 * 1024
    m = manifest([size] * 64)
    here = [i for i, ref in enumerate(m.chunks)
            if "n0" in view.ring().ordered_nodes(_position(ref.chunk_id))[:3]]
    elsewhere = next(i for i in range(64) if i not in here)
    p = planner(view)
    assert p.plan(m, here[0] * size, size) == [] and not p.applies(m, here[0] * size, size)
    assert len(p.plan(m, elsewhere * size, size)) == 1 and p.applies(m, elsewhere * size, size)
    assert p.plan(m, elsewhere * size, size)[0].grant  # applies() makes no grant; plan() does


def _position(chunk_id: bytes) -> int:
    from node.ring import chunk_position
    return chunk_position(chunk_id)


def test_holders_that_announced_no_client_address_are_left_out_and_none_at_all_means_stream():
    view = View("n0")
    m = manifest([MIB])
    plan = planner(view, {"n1": "a:1", "n2": "b:2"}).plan(m, 0, MIB)
    ordered = view.ring().ordered_nodes(_position(m.chunks[0].chunk_id))[:5]
    assert list(plan[0].addresses) == [{"n1": "a:1", "n2": "b:2"}[n] for n in ordered if n in ("n1", "n2")]
    assert planner(view, {}).plan(m, 0, MIB) == []


def test_inline_and_empty_ranges_are_streamed():
    p = planner(View("n0")).reading_shares(True)
    inline = common_pb2.Manifest(bucket="b", key="k", size_bytes=3, inline=True, inline_data=b"abc",
                                 policy=common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=3)))
    assert p.plan(inline, 0, 3) == []
    assert p.plan(manifest([MIB]), 0, 0) == []


EC = common_pb2.RedundancyPolicy(erasure_coding=common_pb2.ErasureCoding(data_shares=4, parity_shares=2))


def striped(sizes: list[int]) -> common_pb2.Manifest:
    """An ec 4+2 manifest whose chunks record a blake3 per share."""
    m = manifest(sizes, EC)
    for ref in m.chunks:
        ref.share_blake3.extend(chunk_id_of(ref.chunk_id + bytes([i])) for i in range(6))
    return m


def test_an_erasure_coded_range_is_planned_as_the_data_shares_holding_it_each_on_its_home():
    view = View("n0")
    m = striped([4 * MIB, 4 * MIB, 3 * MIB + 5])
    p = planner(view).reading_shares(True)
    last_share = -(-(3 * MIB + 5) // 4)  # ceil(size / K), as the encoder cuts
    # From the 2nd MiB of the first chunk to the first byte of the third chunk's last share.
    plan = p.plan(m, MIB + 10, 8 * MIB + 3 * last_share + 1 - (MIB + 10))
    assert [c.offset_bytes for c in plan] == [0, 4 * MIB, 8 * MIB]
    assert [[s.share_index for s in c.shares] for c in plan] == [[1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3]]
    grants = ReadGrants(KEY, Clock())
    for chunk, ref in zip(plan, m.chunks):
        assert (chunk.data_shares, chunk.parity_shares, list(chunk.addresses)) == (4, 2, [])
        homes = view.ring().ordered_nodes(_position(ref.chunk_id))
        for share in chunk.shares:
            assert share.blake3 == ref.share_blake3[share.share_index]
            assert list(share.addresses) == [f"127.0.0.1:{7000 + int(homes[share.share_index][1:])}"]
        grants.check(chunk.chunk_id, chunk.expires_unix_ms, chunk.grant)
    assert [s.share_index for s in p.plan(m, 8 * MIB, 3 * last_share)[0].shares] == [0, 1, 2]


def test_an_erasure_coded_chunk_is_streamed_when_a_client_reads_no_shares_or_a_share_home_is_down():
    view = View("n0")
    m = striped([4 * MIB])
    homes = view.ring().ordered_nodes(_position(m.chunks[0].chunk_id))
    assert planner(view).plan(m, 0, 4 * MIB) == [], "a client that reads no shares gets no ec plan"
    assert planner(View("n0", down={homes[1]})).reading_shares(True).plan(m, 0, 4 * MIB) == []
    # Only the shares holding the range matter: share 1's home down, the first MiB is still planned.
    plan = planner(View("n0", down={homes[1]})).reading_shares(True).plan(m, 0, MIB)
    assert [s.share_index for s in plan[0].shares] == [0]
    # A home that announced no client address, or a manifest whose share hashes do not fit 4+2.
    known = {n: f"127.0.0.1:{7000 + int(n[1:])}" for n in homes if n != homes[2]}
    assert planner(view, known).reading_shares(True).plan(m, 0, 4 * MIB) == []
    del m.chunks[0].share_blake3[5]
    assert planner(view).reading_shares(True).plan(m, 0, 4 * MIB) == []


def test_a_range_small_enough_for_the_first_message_is_streamed():
    view = View("outside")  # holds nothing: every chunk would be read from a holder
    m = manifest([MIB])
    assert planner(view).plan(m, 100, DIRECT_BYTES_MIN) == []
    assert len(planner(view).plan(m, 100, DIRECT_BYTES_MIN + 1)) == 1


def test_a_plan_stops_at_its_chunk_limit():
    m = manifest([4096] * (PLAN_CHUNKS_MAX + 3))
    plan = planner(View("n0")).plan(m, 0, m.size_bytes)
    assert len(plan) == PLAN_CHUNKS_MAX and plan[-1].offset_bytes == (PLAN_CHUNKS_MAX - 1) * 4096


class Holder:
    """A client port serving ReadChunk: good copies, a bad copy, or an error."""

    def __init__(self, data: bytes | None = None, code: grpc.StatusCode | None = None) -> None:
        self.data = data
        self.code = code
        self.calls = 0
        self.requests: list[object_pb2.ReadChunkRequest] = []

    def handlers(self) -> grpc.GenericRpcHandler:
        def read(request, context):
            self.calls += 1
            self.requests.append(request)
            if self.code is not None:
                context.abort(self.code, "refused")
            return object_pb2.ReadChunkResponse(data=self.data)

        return grpc.method_handlers_generic_handler("ringstore.v1.ObjectService", {
            "ReadChunk": grpc.unary_unary_rpc_method_handler(
                read, request_deserializer=object_pb2.ReadChunkRequest.FromString,
                response_serializer=object_pb2.ReadChunkResponse.SerializeToString)})


def planned(data: bytes, addresses: list[str]) -> object_pb2.DirectChunk:
    return object_pb2.DirectChunk(chunk_id=chunk_id_of(data), offset_bytes=0, size_bytes=len(data),
                                  addresses=addresses, expires_unix_ms=1, grant=bytes(32))


@pytest.fixture
def chunks():
    reader = DirectChunks(grpc.insecure_channel, timeout_s=10)
    yield reader
    reader.close()


def test_the_client_skips_a_copy_that_does_not_match_its_chunk_id(serve_grpc, chunks):
    data = b"x" * 100_000
    bad = Holder(b"x" * 99_999 + b"y")
    good = Holder(data)
    assert chunks.read(planned(data, [serve_grpc(bad.handlers()), serve_grpc(good.handlers())])) == data
    assert bad.calls == 1 and good.calls == 1


def test_no_intact_copy_fails_naming_what_each_holder_answered(serve_grpc, chunks):
    data = b"z" * 5000
    missing = serve_grpc(Holder(code=grpc.StatusCode.NOT_FOUND).handlers())
    short = serve_grpc(Holder(data[:-1]).handlers())
    with pytest.raises(DirectReadFailed) as info:
        chunks.read(planned(data, [missing, short]))
    text = str(info.value)
    assert f"{missing}: NOT_FOUND refused" in text and f"{short}: its copy does not match the chunk id" in text


def test_an_unreachable_holder_is_skipped_for_a_while(serve_grpc):
    clock = [100.0]
    reader = DirectChunks(grpc.insecure_channel, timeout_s=5, monotonic_s=lambda: clock[0])
    try:
        data = b"q" * 1000
        good = Holder(data)
        address = serve_grpc(good.handlers())
        dead = "127.0.0.1:1"  # nothing listens on port 1
        assert reader.read(planned(data, [dead, address])) == data
        with pytest.raises(DirectReadFailed, match="unreachable a moment ago"):
            reader.read(planned(data, [dead]))
        clock[0] += 31
        with pytest.raises(DirectReadFailed, match="UNAVAILABLE"):
            reader.read(planned(data, [dead]))
    finally:
        reader.close()


def planned_stripe(data: bytes, shares: dict[int, tuple[bytes, str]]) -> object_pb2.DirectChunk:
    """A 4+2 chunk of `data` whose planned shares {index: (the share's true bytes, holder address)}."""
    chunk = object_pb2.DirectChunk(chunk_id=chunk_id_of(data), offset_bytes=0, size_bytes=len(data),
                                   expires_unix_ms=1, grant=bytes(32), data_shares=4, parity_shares=2)
    for index, (share, address) in sorted(shares.items()):
        chunk.shares.add(share_index=index, blake3=chunk_id_of(share), addresses=[address])
    return chunk


def test_the_client_reads_an_erasure_coded_range_share_by_share_and_cuts_the_padding(serve_grpc, chunks):
    data = bytes(range(256)) * 4001  # 1,024,256 bytes: shares of 256,064, the last padded by 0
    size = len(data) // 4
    shares = [data[i * size:(i + 1) * size] for i in range(4)]
    odd = data + b"xyz"  # 1,024,259 bytes: shares of 256,065, the last one padded with 1 zero
    odd_size = -(-len(odd) // 4)
    odd_shares = [odd[i * odd_size:(i + 1) * odd_size].ljust(odd_size, b"\0") for i in range(4)]
    holders = [Holder(s) for s in odd_shares]
    plan = planned_stripe(odd, {i: (odd_shares[i], serve_grpc(h.handlers())) for i, h in enumerate(holders)})
    assert bytes(chunks.read(plan)) == odd
    assert [(r.share_index, r.data_shares, r.parity_shares, r.chunk_id) for h in holders for r in h.requests] == [
        (i, 4, 2, chunk_id_of(odd)) for i in range(4)]
    pieces = chunks.start(plan).result()
    assert [(at, len(piece)) for at, piece in pieces] == [(i * odd_size, odd_size) for i in range(3)] + [
        (3 * odd_size, len(odd) - 3 * odd_size)]
    # Two middle shares only: a range inside them.
    middle = planned_stripe(data, {i: (shares[i], serve_grpc(Holder(shares[i]).handlers())) for i in (1, 2)})
    assert [at for at, _ in chunks.start(middle).result()] == [size, 2 * size]


def test_a_bad_share_fails_the_chunk_naming_it(serve_grpc, chunks):
    data = b"s" * 40_000
    shares = [data[i * 10_000:(i + 1) * 10_000] for i in range(4)]
    bad = serve_grpc(Holder(b"t" + shares[2][1:]).handlers())
    plan = planned_stripe(data, {i: (shares[i], bad if i == 2 else serve_grpc(Holder(shares[i]).handlers()))
                                 for i in range(4)})
    with pytest.raises(DirectReadFailed, match=f"share 2 of chunk .*{bad}: its copy does not match the share's blake3"):
        chunks.read(plan)
