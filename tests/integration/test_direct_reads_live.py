"""Direct reads through a real 5-node TLS cluster: a get is answered with a plan, the client reads
each replicated chunk, or each data share of an erasure-coded one, from a holder with its grant, and
every way off that path (no grant, a bad copy or share, a share link, a client that does not want
it or reads no shares) ends in the right bytes or a clear refusal."""

from __future__ import annotations

import os
import pathlib

import grpc
import pytest

from cluster_sim import LocalCluster
from nodectl.client import Client
from ringstore.v1 import object_pb2, object_pb2_grpc
from ringstore.auth.links import HEADER_LINK
from cluster_checks import metric, payload, raw_channel

MIB = 1024 * 1024
CLUSTER_NODES = 5
PLANS = "ringstore_direct_read_plans_total"
READS = "ringstore_direct_chunk_reads_total"


@pytest.fixture(scope="module")
def cluster(module_cluster):
    return module_cluster


@pytest.fixture(scope="module")
def client(cluster):
    with Client(address=cluster.any_address(), timeout_s=60.0) as c:
        c.create_bucket("direct")
        yield c


def reads(cluster: LocalCluster, outcome: str, nodes=None) -> float:
    total = 0.0
    for node_id in nodes or cluster.nodes:
        for line in cluster.metrics_text(node_id).splitlines():
            if line.startswith(READS + "{") and f'outcome="{outcome}"' in line:
                total += float(line.rsplit(" ", 1)[1])
    return total


def unsigned_channel(address: str) -> grpc.Channel:
    with open(os.environ["RINGSTORE_CA"], "rb") as f:
        return grpc.secure_channel(address, grpc.ssl_channel_credentials(f.read()),
                                   options=[("grpc.max_receive_message_length", 8 * MIB)])


def outsider(cluster: LocalCluster, client: Client, key: str, chunk: int = 0) -> str:
    """A node that holds no copy of the object's chunk `chunk`."""
    holders = {h.node_id for h in client.stat("direct", key).chunks[chunk].holders}
    return next(n for n in sorted(cluster.nodes) if n not in holders)


def test_a_node_without_a_copy_sends_the_client_to_a_holder(cluster, client):
    data = payload(3 * MIB, 1)
    client.put("direct", "three", data)
    via = outsider(cluster, client, "three")
    plans, ok = metric(cluster, via, PLANS), reads(cluster, "ok")
    with Client(address=cluster.nodes[via].address, timeout_s=60.0) as c:
        assert c.get_bytes("direct", "three") == data
        assert c.get_bytes("direct", "three", range_start_bytes=MIB, range_length_bytes=100_000) == \
            data[MIB:MIB + 100_000]
        # A range small enough for the first message comes in it: no plan.
        assert c.get_bytes("direct", "three", range_start_bytes=MIB, range_length_bytes=10) == data[MIB:MIB + 10]
    assert metric(cluster, via, PLANS) == plans + 2
    assert reads(cluster, "ok") == ok + 2
    # Through a holder, OpenObject's plan names that holder first: the client reads the copy from the
    # node it asked, which does not ask the manifest's homes a second time as a GetObject stream
    # after the answer would. A GetObject stream, which can carry the bytes itself, streams them.
    holder = client.stat("direct", "three").chunks[0].holders[0].node_id
    address = cluster.nodes[holder].address
    plans, ok_there = metric(cluster, holder, PLANS), reads(cluster, "ok", [holder])
    with Client(address=address, timeout_s=60.0) as c:
        assert c.get_bytes("direct", "three") == data
    assert metric(cluster, holder, PLANS) == plans + 1
    assert reads(cluster, "ok", [holder]) == ok_there + 1
    answers = raw_get(address, "three")
    assert not answers[0].info.direct and b"".join(bytes(a.data) for a in answers[1:]) == data
    assert metric(cluster, holder, PLANS) == plans + 1


def raw_open(address: str, key: str, bucket: str = "direct", *, direct: bool = True, signed: bool = True,
             metadata=(), **fields) -> object_pb2.OpenObjectResponse:
    """OpenObject of BUCKET/KEY as our client sends it (signed with the operator key unless not
    `signed`), with `fields` (a range) added to the request."""
    request = object_pb2.GetObjectRequest(bucket=bucket, key=key, info_may_carry_data=True, direct_ok=direct,
                                          direct_shares_ok=direct, **fields)
    channel = raw_channel(address) if signed else unsigned_channel(address)
    with channel:
        return object_pb2_grpc.ObjectServiceStub(channel).OpenObject(request, timeout=30, metadata=metadata)


def test_open_object_answers_a_small_range_or_a_plan_or_says_to_stream(cluster, client):
    """One OpenObject call: a range of at most 64 KiB comes whole, a larger one as a plan (with
    direct_ok), or, for a client that reads no plans, no bytes and `streamed` for GetObject to fetch."""
    data = payload(3 * MIB, 11)
    client.put("direct", "open", data)
    client.put("direct", "tiny", b"t" * 5000)
    via = cluster.nodes[outsider(cluster, client, "open")].address
    small = raw_open(via, "open", range_start_bytes=100, range_length_bytes=64 * 1024)
    assert bytes(small.info.data) == data[100:100 + 64 * 1024] and not small.streamed and not small.info.direct
    tiny = raw_open(via, "tiny")
    assert bytes(tiny.info.data) == b"t" * 5000 and tiny.info.object.size_bytes == 5000 and not tiny.streamed
    planned = raw_open(via, "open")
    assert len(planned.info.direct) == 1 and not planned.info.data and not planned.streamed
    assert planned.info.range_length_bytes == 3 * MIB
    streamed = raw_open(via, "open", direct=False, range_start_bytes=1)
    assert streamed.streamed and not streamed.info.data and not streamed.info.direct
    assert (streamed.info.range_start_bytes, streamed.info.range_length_bytes) == (1, 3 * MIB - 1)
    with pytest.raises(grpc.RpcError) as missing:
        raw_open(via, "nothing-here")
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as past:
        raw_open(via, "open", range_start_bytes=3 * MIB)
    assert past.value.code() == grpc.StatusCode.OUT_OF_RANGE


def test_open_object_keeps_a_share_link_to_its_range_and_an_anonymous_call_to_public_buckets(cluster, client):
    data = payload(MIB, 12)
    client.put("direct", "linked", data)
    address = cluster.any_address()
    link = client.create_share_link("direct", "linked", range_start_bytes=10, range_length_bytes=100).token
    answer = raw_open(address, "linked", signed=False, metadata=((HEADER_LINK, link),))
    assert bytes(answer.info.data) == data[10:110] and not answer.info.direct
    with pytest.raises(grpc.RpcError) as other:
        raw_open(address, "open", signed=False, metadata=((HEADER_LINK, link),))
    assert other.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as anonymous:
        raw_open(address, "linked", signed=False)
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    client.create_bucket("direct-public")
    client.put("direct-public", "page", b"hello")
    client.set_public_read("direct-public", True)
    public = raw_open(address, "page", "direct-public", signed=False)
    assert bytes(public.info.data) == b"hello"


def test_a_plan_covers_every_chunk_of_the_range(cluster, client):
    data = payload(9 * MIB + 123, 5)
    client.put("direct", "nine", data)
    via = outsider(cluster, client, "nine")
    plans, ok = metric(cluster, via, PLANS), reads(cluster, "ok")
    with Client(address=cluster.nodes[via].address, timeout_s=60.0) as c:
        assert c.get_bytes("direct", "nine") == data
        # Across the 1st/2nd chunk boundary: two chunks read whole, 100 kB kept.
        assert c.get_bytes("direct", "nine", range_start_bytes=4 * MIB - 50_000, range_length_bytes=100_000) == \
            data[4 * MIB - 50_000:4 * MIB + 50_000]
    assert metric(cluster, via, PLANS) == plans + 2
    assert reads(cluster, "ok") == ok + 3 + 2


def test_gets_that_stream_instead_get_no_plan(cluster, client):
    data = payload(3 * MIB, 2)
    client.put("direct", "rep", data)
    client.put("direct", "ec-old", data, ec="2+1")
    via = outsider(cluster, client, "rep")
    link = client.create_share_link("direct", "rep", range_start_bytes=10, range_length_bytes=100).token
    plans, ok = metric(cluster, via, PLANS), reads(cluster, "ok")
    with Client(address=cluster.nodes[via].address, timeout_s=60.0) as c:
        assert c.get_bytes("direct", "rep", link=link) == data[10:110]
    with Client(address=cluster.nodes[via].address, timeout_s=60.0, direct_reads=False) as streaming:
        assert streaming.get_bytes("direct", "rep") == data
    # A client from before share reads (direct_ok without direct_shares_ok) gets ec objects streamed.
    answers = raw_get(cluster.nodes[via].address, "ec-old")
    assert not answers[0].info.direct and b"".join(bytes(a.data) for a in answers[1:]) == data
    assert metric(cluster, via, PLANS) == plans
    assert reads(cluster, "ok") == ok


def test_an_erasure_coded_get_reads_the_data_shares_from_their_holders(cluster, client):
    data = payload(5 * MIB + 7, 6)  # two chunks of 2+1: shares of 2 MiB and of 512 KiB + 4 bytes
    client.put("direct", "ec", data, ec="2+1")
    via = cluster.any_address()
    node = cluster_node(cluster, via)
    plans, ok = metric(cluster, node, PLANS), reads(cluster, "ok")
    with Client(address=via, timeout_s=60.0) as c:
        assert c.get_bytes("direct", "ec") == data
        # Inside the first chunk's second share, then across the two chunks.
        assert c.get_bytes("direct", "ec", range_start_bytes=3 * MIB, range_length_bytes=200_000) == \
            data[3 * MIB:3 * MIB + 200_000]
        assert c.get_bytes("direct", "ec", range_start_bytes=4 * MIB - 100_000, range_length_bytes=700_000) == \
            data[4 * MIB - 100_000:4 * MIB + 600_000]
    assert metric(cluster, node, PLANS) == plans + 3
    assert reads(cluster, "ok") == ok + 4 + 1 + 3


def test_a_bad_data_share_sends_the_client_back_to_the_streamed_get(cluster, client):
    data = payload(3 * MIB, 7)
    client.put("direct", "ec-rot", data, ec="2+1")
    via = cluster.any_address()
    info = raw_get(via, "ec-rot", shares=True)[0].info
    share = info.direct[0].shares[1]
    victim = cluster_node(cluster, share.addresses[0])
    chunk_hex = info.direct[0].chunk_id.hex()
    path = chunk_file(cluster, victim, chunk_hex, "1of2+1")
    raw = bytearray(path.read_bytes())
    raw[100] ^= 0x01
    path.write_bytes(bytes(raw))
    corrupt = reads(cluster, "corrupt", [victim])
    reports = metric(cluster, victim, "ringstore_repair_reports_total")
    with Client(address=via, timeout_s=60.0) as c:
        assert c.get_bytes("direct", "ec-rot") == data  # decoded from share 0 and the parity share
    assert reads(cluster, "corrupt", [victim]) == corrupt + 1
    assert metric(cluster, victim, "ringstore_repair_reports_total") >= reports + 1
    assert not path.exists(), "the corrupt share is quarantined, never served again"


def test_read_chunk_needs_the_grant_made_for_that_chunk(cluster, client):
    data = payload(6 * MIB, 3)
    client.put("direct", "granted", data)
    address = cluster.nodes[outsider(cluster, client, "granted")].address
    answers = raw_get(address, "granted")
    assert len(answers) == 1, "a planned get sends its info and no data"
    first, second = answers[0].info.direct
    with unsigned_channel(first.addresses[0]) as channel:
        read = object_pb2_grpc.ObjectServiceStub(channel).ReadChunk
        got = read(object_pb2.ReadChunkRequest(chunk_id=first.chunk_id, expires_unix_ms=first.expires_unix_ms,
                                               grant=first.grant), timeout=30).data
        assert got == data[:4 * MIB]
        denied = reads(cluster, "denied", [cluster_node(cluster, first.addresses[0])])
        for request in (
            object_pb2.ReadChunkRequest(chunk_id=first.chunk_id, expires_unix_ms=first.expires_unix_ms),
            # the first chunk's grant for the second chunk
            object_pb2.ReadChunkRequest(chunk_id=second.chunk_id, expires_unix_ms=first.expires_unix_ms,
                                        grant=first.grant),
            # its own grant with a later expiry
            object_pb2.ReadChunkRequest(chunk_id=first.chunk_id, expires_unix_ms=first.expires_unix_ms + 1,
                                        grant=first.grant)):
            with pytest.raises(grpc.RpcError) as info:
                read(request, timeout=30)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "get the object again" in info.value.details()
        assert reads(cluster, "denied", [cluster_node(cluster, first.addresses[0])]) == denied + 3
        # A good grant with a share that cannot exist: refused in one line, nothing read.
        with pytest.raises(grpc.RpcError) as info:
            read(object_pb2.ReadChunkRequest(chunk_id=first.chunk_id, expires_unix_ms=first.expires_unix_ms,
                                              grant=first.grant, data_shares=2, parity_shares=1, share_index=5),
                 timeout=30)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "out of range for geometry 2+1" in info.value.details() and "\n" not in info.value.details()


def cluster_node(cluster: LocalCluster, address: str) -> str:
    return next(node_id for node_id, node in cluster.nodes.items() if node.address == address)


def raw_get(address: str, key: str, *, shares: bool = False) -> list[object_pb2.GetObjectResponse]:
    """Every message of a signed GetObject of direct/KEY that allows a plan (of shares too with
    `shares`), as our client sends it but without reading the plan."""
    with raw_channel(address) as signed:
        return list(object_pb2_grpc.ObjectServiceStub(signed).GetObject(
            object_pb2.GetObjectRequest(bucket="direct", key=key, direct_ok=True, direct_shares_ok=shares),
            timeout=30))


def chunk_file(cluster: LocalCluster, node_id: str, chunk_hex: str, suffix: str = "r") -> pathlib.Path:
    """A node's file of a chunk's replica ("r") or share ("1of2+1": share 1 of ec 2+1)."""
    return pathlib.Path(cluster.nodes[node_id].data_dir, "store", "chunks", chunk_hex[:2], chunk_hex[2:4],
                        f"{chunk_hex}.{suffix}")


def test_a_bad_copy_on_the_first_holder_is_skipped_quarantined_and_reported(cluster, client):
    data = payload(3 * MIB, 4)
    client.put("direct", "rot", data)
    via = cluster.nodes[outsider(cluster, client, "rot")].address
    info = raw_get(via, "rot")[0].info
    victim = cluster_node(cluster, info.direct[0].addresses[0])
    path = chunk_file(cluster, victim, info.direct[0].chunk_id.hex())
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    corrupt = reads(cluster, "corrupt", [victim])
    reports = metric(cluster, victim, "ringstore_repair_reports_total")
    with Client(address=via, timeout_s=60.0) as c:
        assert c.get_bytes("direct", "rot") == data
    assert reads(cluster, "corrupt", [victim]) == corrupt + 1
    assert metric(cluster, victim, "ringstore_repair_reports_total") >= reports + 1
    assert not path.exists(), "the corrupt copy is quarantined, never served again"


def test_a_missing_data_share_is_reported_by_its_holder(cluster, client):
    data = payload(2 * MIB, 8)
    client.put("direct", "ec-gone", data, ec="2+1")
    via = cluster.any_address()
    info = raw_get(via, "ec-gone", shares=True)[0].info
    share = info.direct[0].shares[0]
    victim = cluster_node(cluster, share.addresses[0])
    chunk_hex = info.direct[0].chunk_id.hex()
    chunk_file(cluster, victim, chunk_hex, "0of2+1").unlink()
    missing = reads(cluster, "not_found", [victim])
    reports = metric(cluster, victim, "ringstore_repair_reports_total")
    # Through another node: the streamed get that follows reports to its own coordinator's repair.
    with Client(address=cluster.any_address(exclude=[victim]), timeout_s=60.0) as c:
        assert c.get_bytes("direct", "ec-gone") == data
    assert reads(cluster, "not_found", [victim]) == missing + 1
    assert metric(cluster, victim, "ringstore_repair_reports_total") >= reports + 1, \
        "its own placement record names it: the holder reports the loss"


def test_a_get_is_counted_once_whichever_calls_it_took(cluster, client):
    """ringstore_object_requests_total counts gets, not calls: a streamed get is an OpenObject answer
    saying `streamed` and then a GetObject stream, and counts once, as a small or planned get does."""
    data = payload(3 * MIB, 13)
    client.put("direct", "counted", data)
    client.put("direct", "counted-small", b"s" * 100)
    via = outsider(cluster, client, "counted")
    address = cluster.nodes[via].address
    before = metric(cluster, via, "ringstore_object_requests_total")
    with Client(address=address, timeout_s=60.0, direct_reads=False) as streaming:
        assert streaming.get_bytes("direct", "counted") == data
    with Client(address=address, timeout_s=60.0) as c:
        assert c.get_bytes("direct", "counted") == data
        assert c.get_bytes("direct", "counted-small") == b"s" * 100
    assert metric(cluster, via, "ringstore_object_requests_total") == before + 3
