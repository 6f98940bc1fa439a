"""Direct puts through real TLS clusters: the client writes each replicated chunk's copies straight to
its holders and the coordinator writes only the manifest (node/objects/direct_put.py). Every way off
that path (a holder the client cannot reach, a holder killed just before the put, a policy or size
that streams) still stores the right bytes; a forged grant or receipt stores nothing; and the copies
of a direct put that never ends are collected after the grace, while a finished one's stay."""

from __future__ import annotations

import os
import time

import grpc
import pytest

from cluster_sim import LocalCluster
from node.erasure import chunk_id_of
from nodectl.client import Client
from nodectl.errors import NotFound
from ringstore import frames
from ringstore.v1 import object_pb2, object_pb2_grpc, peer_pb2
from cluster_checks import copies_stored, metric, payload, raw_channel, wait_copies

MIB = 1024 * 1024
CLUSTER_NODES = 5
WRITTEN = "ringstore_direct_put_chunks_total"
WRITES = "ringstore_direct_chunk_writes_total"
RECEIVED = "ringstore_peer_shares_received_total"


@pytest.fixture(scope="module")
def cluster(module_cluster):
    return module_cluster


@pytest.fixture(scope="module")
def client(cluster):
    with Client(address=cluster.nodes["node-1"].address, timeout_s=60.0) as c:
        c.create_bucket("direct")
        yield c


def counted(cluster: LocalCluster, name: str, label: str) -> float:
    total = 0.0
    for node_id in cluster.running():
        for line in cluster.metrics_text(node_id).splitlines():
            if line.startswith(name + "{") and label in line:
                total += float(line.rsplit(" ", 1)[1])
    return total


def received(cluster: LocalCluster) -> float:
    return sum(metric(cluster, n, RECEIVED) for n in cluster.running())


def test_a_large_put_writes_every_copy_straight_to_its_holders(cluster, client):
    data = payload(10 * MIB + 123, 1)  # 3 chunks, the last short
    written, writes, peer_copies = (counted(cluster, WRITTEN, 'how="written"'), counted(cluster, WRITES, 'outcome="ok"'),
                                    received(cluster))
    info = client.put("direct", "large", data, replicas=3)
    assert counted(cluster, WRITTEN, 'how="written"') == written + 3
    assert counted(cluster, WRITES, 'outcome="ok"') == writes + 9
    # No copy went node to node: the coordinator relayed no byte.
    assert received(cluster) == peer_copies
    assert info.size_bytes == len(data) and info.blake3_hex == "" and info.chunks_blake3_hex
    stat = client.stat("direct", "large")
    assert [c.size_bytes for c in stat.chunks] == [4 * MIB, 4 * MIB, 2 * MIB + 123]
    assert all(len({h.node_id for h in c.holders}) == 3 for c in stat.chunks)
    assert client.get_bytes("direct", "large") == data
    # Through another node too, and a range across a chunk boundary.
    with Client(address=cluster.nodes["node-4"].address, timeout_s=60.0) as other:
        assert other.get_bytes("direct", "large", range_start_bytes=4 * MIB - 10, range_length_bytes=20) == \
            data[4 * MIB - 10:4 * MIB + 10]


def test_an_object_of_one_chunk_an_erasure_coded_or_a_compressed_one_streams(cluster, client):
    written = counted(cluster, WRITTEN, "how=")
    one_chunk = payload(4 * MIB, 2)
    assert client.put("direct", "one-chunk", one_chunk).blake3_hex  # streamed: whole-object blake3 kept
    ec = payload(9 * MIB, 3)
    client.put("direct", "ec", ec, ec=(2, 1))
    zstd = bytes(9 * MIB)
    client.put("direct", "zstd", zstd, compression="zstd")
    assert counted(cluster, WRITTEN, "how=") == written
    assert client.get_bytes("direct", "one-chunk") == one_chunk
    assert client.get_bytes("direct", "ec") == ec
    assert client.get_bytes("direct", "zstd") == zstd


def test_chunks_a_holder_the_client_cannot_reach_would_hold_go_through_the_coordinator(cluster):
    data = payload(8 * 4 * MIB, 4)  # 8 chunks
    unreachable = "node-3"
    with Client(address=cluster.nodes["node-1"].address, timeout_s=60.0) as c:
        c._direct.mark_unreachable(cluster.nodes[unreachable].address)  # as after a failed connection
        written, streamed = counted(cluster, WRITTEN, 'how="written"'), counted(cluster, WRITTEN, 'how="streamed"')
        c.put("direct", "around", data)
        stat = c.stat("direct", "around")
        assert c.get_bytes("direct", "around") == data
    through = sum(1 for chunk in stat.chunks if unreachable in {h.node_id for h in chunk.holders})
    assert counted(cluster, WRITTEN, 'how="streamed"') - streamed == through
    assert counted(cluster, WRITTEN, 'how="written"') - written == 8 - through


def _plan(channel: grpc.Channel, key: str, data: bytes) -> object_pb2.PlanPutResponse:
    """A plan of `data` as the first of two such chunks (an object of one chunk streams)."""
    stub = object_pb2_grpc.ObjectServiceStub(channel)
    header = object_pb2.PutObjectHeader(bucket="direct", key=key, size_bytes=len(data) * 2)
    first = stub.PlanPut(object_pb2.PlanPutRequest(header=header), timeout=30)
    assert first.direct, first.reason
    return stub.PlanPut(object_pb2.PlanPutRequest(
        header=header, put_token=first.put_token,
        chunks=[object_pb2.KnownChunk(chunk_id=chunk_id_of(data), size_bytes=len(data))]), timeout=30)


def _write(copy: object_pb2.CopyWrite, data: bytes, **change) -> object_pb2.WriteChunkResponse:
    """One WriteChunk call as any protobuf client makes it: the data in the message, the grant in the
    metadata (no signature: the grant is the proof)."""
    with open(os.environ["RINGSTORE_CA"], "rb") as f:
        channel = grpc.secure_channel(copy.address, grpc.ssl_channel_credentials(f.read()),
                                      options=[("grpc.max_send_message_length", 8 * MIB)])
    with channel:
        fields = dict(header=copy.header, expires_unix_ms=copy.expires_unix_ms, grant=copy.grant) | change
        call = channel.unary_unary("/ringstore.v1.ObjectService/WriteChunk",
                                   request_serializer=object_pb2.WriteChunkRequest.SerializeToString,
                                   response_deserializer=object_pb2.WriteChunkResponse.FromString)
        proof = object_pb2.WriteChunkHeader(**fields).SerializeToString()
        return call(object_pb2.WriteChunkRequest(data=data), timeout=30,
                    metadata=((frames.WRITE_COPY_METADATA, proof),))


def test_a_forged_grant_or_receipt_stores_nothing(cluster, client):
    data = payload(4 * MIB, 5)
    with raw_channel(cluster.nodes["node-2"].address, options=[("grpc.max_send_message_length", 16 * MIB)]) as ch:
        plan = _plan(ch, "forged", data)
        copy = plan.chunks[0].copies[0]
        denied = counted(cluster, WRITES, 'outcome="denied"')
        with pytest.raises(grpc.RpcError) as refused:
            _write(copy, data, grant=bytes(32))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "write grant does not check out" in refused.value.details()
        # A header of the client's own making (another reference, say) is not what was granted.
        header = peer_pb2.StoreChunkHeader.FromString(copy.header)
        header.referenced_by.key = "elsewhere"
        with pytest.raises(grpc.RpcError) as refused:
            _write(copy, data, header=header.SerializeToString())
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # The grant of one holder does not let the client write the copy on another.
        elsewhere = object_pb2.CopyWrite()
        elsewhere.CopyFrom(copy)
        elsewhere.address = plan.chunks[0].copies[1].address
        with pytest.raises(grpc.RpcError) as refused:
            _write(elsewhere, data)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert counted(cluster, WRITES, 'outcome="denied"') == denied + 3
        # Bytes that are not the planned chunk fail their hash on the holder.
        with pytest.raises(grpc.RpcError) as refused:
            _write(copy, payload(4 * MIB, 6))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT

        # A stream naming the chunk with a receipt the holders never gave: nothing is stored.
        stub = object_pb2_grpc.ObjectServiceStub(ch)
        header = object_pb2.PutObjectHeader(bucket="direct", key="forged", size_bytes=len(data) * 2,
                                             direct_put=plan.put_token)
        chunk = object_pb2.WrittenChunk(chunk_id=plan.chunks[0].chunk_id, size_bytes=len(data), copies=[
            object_pb2.WrittenCopy(node_id=c.node_id, header=c.header, receipt=bytes(32))
            for c in plan.chunks[0].copies])
        stream = [object_pb2.PutObjectRequest(header=header), object_pb2.PutObjectRequest(written_chunk=chunk),
                  object_pb2.PutObjectRequest(written_chunk=chunk),
                  object_pb2.PutObjectRequest(end=object_pb2.PutObjectEnd(size_bytes=len(data) * 2))]
        with pytest.raises(grpc.RpcError) as refused:
            stub.PutObject(iter(stream), timeout=30)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "receipt" in refused.value.details()
        # Written chunks in a stream that is not a direct put's.
        stream[0].header.ClearField("direct_put")
        with pytest.raises(grpc.RpcError) as refused:
            stub.PutObject(iter(stream), timeout=30)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        # The token of one key does not commit another.
        stream[0].header.direct_put = plan.put_token
        stream[0].header.key = "another"
        with pytest.raises(grpc.RpcError) as refused:
            stub.PutObject(iter(stream), timeout=30)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for key in ("forged", "another"):
        with pytest.raises(NotFound):
            client.stat("direct", key)


def test_a_holder_killed_just_before_a_direct_put_loses_nothing(cluster_factory):
    """4 nodes, replicas=3: node-3 is killed -9 and the put starts at once, before the others see it
    down, so the plans still name it. Its writes fail, those chunks go through the coordinator,
    which stands a spare in for it; every byte reads back, also after node-3 returns."""
    cluster = cluster_factory(nodes=4)
    data = payload(6 * 4 * MIB, 7)
    with Client(address=cluster.nodes["node-1"].address, timeout_s=10.0) as c:
        c.create_bucket("killed")
        cluster.kill("node-3")
        c.put("killed", "k", data, replicas=3)
        assert c.get_bytes("killed", "k") == data
        stat = c.stat("killed", "k")
        assert all("node-3" not in {h.node_id for h in chunk.holders} or not chunk.holders for chunk in stat.chunks)
        cluster.restart("node-3")
        cluster.wait_state("node-3", "ALIVE", timeout_s=30)
        assert c.get_bytes("killed", "k") == data


def test_copies_of_a_direct_put_that_never_ends_are_collected_after_the_grace(cluster_factory):
    """Copies written for a plan whose PutObject stream never comes are referenced by a version no
    manifest holds: collected once the grace has passed, like a torn streamed put's. A finished direct
    put's copies, two versions in a versioned bucket, are left alone."""
    cluster = cluster_factory(nodes=4, settings={"repair.gc_grace_s": "3", "repair.gc_interval_s": "0.5"})
    with Client(address=cluster.nodes["node-1"].address, timeout_s=60.0) as c:
        c.create_bucket("direct")
        c.set_versioning("direct", "enabled")
        first, second = payload(9 * MIB, 8), payload(9 * MIB, 9)
        c.put("direct", "kept", first)
        c.put("direct", "kept", second)
        kept = 2 * 3 * 3  # two versions x three chunks x three copies
        wait_copies(cluster, kept, "the finished puts' copies to be stored")
        data = payload(3 * MIB, 10)
        with raw_channel(cluster.nodes["node-2"].address) as ch:
            plan = _plan(ch, "torn", data)
        for copy in plan.chunks[0].copies:
            _write(copy, data)
        assert sum(copies_stored(cluster).values()) == kept + 3
        started = time.monotonic()
        wait_copies(cluster, kept, "the torn direct put's copies to be collected")
        assert time.monotonic() - started >= 1.0, "collected before the grace could pass"
        versions = list(c.versions("direct", "kept"))
        assert len(versions) == 2
        assert c.get_bytes("direct", "kept") == second
        assert c.get_bytes("direct", "kept", version=versions[-1].version_id) == first
