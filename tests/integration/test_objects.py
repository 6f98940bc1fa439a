"""Objects through a real 5-node cluster: round trips, listing, bad input, corruption, node loss.

Every test talks to real noded processes started by cluster-sim on free loopback ports; the module's
cluster is shared by the tests that do not kill nodes, and torn down (every pid) at the end.
"""

from __future__ import annotations

import hashlib
import pathlib
import random

import pytest
from click.testing import CliRunner

from cluster_checks import raw_channel
from cluster_sim.cluster import LocalCluster
from nodectl.cli import main
from nodectl.client import Client
from nodectl.errors import (AlreadyExists, DataLoss, FailedPrecondition, InvalidArgument, NotFound, OutOfRange,
                            Unavailable)

KIB = 1024
MIB = 1024 * KIB
SIZES = [0, 1, 4 * KIB, 4 * KIB + 1, 4 * MIB - 1, 4 * MIB, 4 * MIB + 1, 50 * MIB]


def payload(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def chunk_file(cluster: LocalCluster, node_id: str, chunk_hex: str) -> pathlib.Path:
    """Where a node keeps its whole-chunk replica (the on-disk layout of node/store)."""
    return pathlib.Path(cluster.nodes[node_id].data_dir, "store", "chunks", chunk_hex[:2], chunk_hex[2:4],
                        f"{chunk_hex}.r")


CLUSTER_NODES = 5


@pytest.fixture(scope="module")
def cluster(module_cluster):
    return module_cluster


@pytest.fixture(scope="module")
def client(cluster):
    with Client(address=cluster.any_address(), timeout_s=60.0) as c:
        yield c


@pytest.fixture(scope="module")
def bucket(client):
    client.create_bucket("objects")
    return "objects"


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_is_byte_identical(client, cluster, bucket, size):
    """Objects on both sides of the inline and chunk boundaries read back identical, from any node."""
    data = payload(size, size)
    info = client.put(bucket, f"size/{size}", data)
    assert info.size_bytes == size
    assert info.inline == (size <= 4 * KIB)
    for address in cluster.addresses()[:2]:
        with Client(address=address, timeout_s=60.0) as other:
            got = other.get_bytes(bucket, f"size/{size}")
            assert len(got) == size and hashlib.sha256(got).digest() == hashlib.sha256(data).digest()


def test_ranges_within_and_across_chunks(client, bucket):
    """A byte range returns exactly those bytes, across chunk boundaries; a range past the end is OUT_OF_RANGE."""
    data = payload(9 * MIB + 17, 7)
    client.put(bucket, "ranged", data)
    for start, length in [(0, 10), (4 * MIB - 5, 10), (4 * MIB, 4 * MIB), (8 * MIB + 3, None), (len(data) - 1, 5)]:
        got = client.get_bytes(bucket, "ranged", range_start_bytes=start, range_length_bytes=length)
        end = len(data) if length is None else min(len(data), start + length)
        assert got == data[start:end], (start, length)
    with pytest.raises(OutOfRange, match="range starts at byte"):
        client.get_bytes(bucket, "ranged", range_start_bytes=len(data))


def test_any_range_of_an_empty_object_is_out_of_range(client, cluster, bucket):
    """A 0-byte object has no byte a range could start at: range 0-0 (and 0-) is OUT_OF_RANGE with
    one line (exit 7 from nodectl), like a range past the end of any object; without a range the
    empty object reads back."""
    client.put(bucket, "empty", b"")
    for length in (1, None):
        with pytest.raises(OutOfRange, match="is empty") as info:
            client.get_bytes(bucket, "empty", range_start_bytes=0, range_length_bytes=length)
        assert "\n" not in str(info.value)
    result = CliRunner().invoke(main, ["--addr", cluster.any_address(), "get", f"{bucket}/empty", "-",
                                       "--range", "0-0"])
    assert result.exit_code == 7 and result.stderr.startswith("nodectl: error: range starts at byte 0"), \
        result.output
    assert client.get_bytes(bucket, "empty") == b""


def test_overwrite_newest_wins_and_delete_hides(client, bucket):
    """A second put replaces the object everywhere; delete makes it NOT_FOUND and drops it from ls."""
    client.put(bucket, "over", b"first version")
    client.put(bucket, "over", b"second")
    assert client.get_bytes(bucket, "over") == b"second"
    client.delete(bucket, "over")
    with pytest.raises(NotFound):
        client.get_bytes(bucket, "over")
    assert "over" not in [o.key for o in client.list_objects(bucket, prefix="over")]
    with pytest.raises(NotFound):
        client.delete(bucket, "over")


def test_ls_prefixes_and_pagination(client):
    """Listing returns current keys in order, filtered by prefix, the same across every page size."""
    client.create_bucket("listing")
    keys = [f"photos/{i:03d}.jpg" for i in range(23)] + [f"docs/{i}.txt" for i in range(5)] + ["zeta", "ünïcode"]
    for k in keys:
        client.put("listing", k, k.encode())
    client.delete("listing", "photos/005.jpg")
    expected_photos = sorted(k for k in keys if k.startswith("photos/") and k != "photos/005.jpg")
    for page_size in (1, 4, 7, 1000):
        pages = list(client.list("listing", prefix="photos/", page_size=page_size))
        got = [o.key for p in pages for o in p.objects]
        assert got == expected_photos, page_size
        assert all(len(p.objects) <= page_size for p in pages)
    everything = [o.key for o in client.list_objects("listing")]
    assert everything == sorted(set(keys) - {"photos/005.jpg"})
    assert [o.key for o in client.list_objects("listing", prefix="nothing-here")] == []


def test_buckets_create_list_remove(client):
    """mb/ls/rb: duplicates refused, non-empty refused, unknown bucket NOT_FOUND."""
    client.create_bucket("scratch", replicas=2)
    with pytest.raises(AlreadyExists):
        client.create_bucket("scratch")
    assert "scratch" in [b.name for b in client.list_buckets()]
    client.put("scratch", "k", b"v")
    with pytest.raises(FailedPrecondition, match="not empty"):
        client.delete_bucket("scratch")
    client.delete("scratch", "k")
    client.delete_bucket("scratch")
    assert "scratch" not in [b.name for b in client.list_buckets()]
    with pytest.raises(NotFound, match="bucket"):
        client.put("scratch", "k", b"v")


@pytest.mark.parametrize("bucket_name,key,error,fragment", [
    ("objects", "", InvalidArgument, "empty"),
    ("objects", "k" * 1025, InvalidArgument, "1024"),
    ("objects", "nul\0key", InvalidArgument, "NUL"),
    ("Bad_Bucket", "k", InvalidArgument, "bucket name"),
    ("no-such-bucket", "k", NotFound, "does not exist"),
])
def test_bad_keys_and_buckets_get_one_line_errors(client, bucket, bucket_name, key, error, fragment):
    """Bad input is refused with the right error class and a message naming the problem; nothing is stored."""
    with pytest.raises(error, match=fragment) as info:
        client.put(bucket_name, key, b"data")
    assert "\n" not in str(info.value)


def test_server_rejects_bad_keys_even_from_a_client_that_skips_validation(cluster, bucket):
    """The node itself enforces key rules (a raw gRPC client gets INVALID_ARGUMENT, not a crash)."""
    import grpc

    from ringstore import frames
    from ringstore.v1 import object_pb2

    with raw_channel(cluster.any_address()) as channel:
        put = channel.stream_unary("/ringstore.v1.ObjectService/PutObject", request_serializer=frames.encode,
                                   response_deserializer=object_pb2.PutObjectResponse.FromString)
        for key in ("", "x" * 2000, "a\0b"):
            header = object_pb2.PutObjectRequest(header=object_pb2.PutObjectHeader(bucket=bucket, key=key))
            with pytest.raises(grpc.RpcError) as err:
                put(iter([header, b"abc"]), timeout=10)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
        # A string field holding invalid UTF-8 (hand-encoded) is refused the same way.
        bad = b"\x0a" + bytes([9]) + b"\x0a\x01b\x12\x03\xff\xfe\xfd"
        with pytest.raises(grpc.RpcError) as err:
            put(iter([bad]), timeout=10)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_small_put_in_one_message_is_checked_like_a_stream(cluster, client, bucket):
    """PutSmallObject (what the client sends for objects up to 1 MiB) stores only what its end message
    vouches for, refuses more than the small put limit, and refuses a bad key, each with one line and
    nothing stored; a good one reads back from another node."""
    import blake3
    import grpc

    from ringstore.frames import SMALL_PUT_BYTES_MAX
    from ringstore.v1 import object_pb2, object_pb2_grpc

    def request(key: str, data: bytes, *, size: int | None = None, digest: bytes | None = None, end=True):
        header = object_pb2.PutObjectHeader(bucket=bucket, key=key)
        end_message = object_pb2.PutObjectEnd(size_bytes=len(data) if size is None else size,
                                              blake3=blake3.blake3(data).digest() if digest is None else digest)
        return object_pb2.PutSmallObjectRequest(header=header, data=data, **({"end": end_message} if end else {}))

    data = payload(SMALL_PUT_BYTES_MAX, 77)
    refused = [
        (request("small/too-big", data + b"x"), f"at most {SMALL_PUT_BYTES_MAX}"),
        (request("small/short", data, size=len(data) - 1), "the client says it sent"),
        (request("small/altered", data, digest=b"\0" * 32), "hash to"),
        (request("small/no-end", data, end=False), "needs a header and an end"),
        (request("", b"abc"), "key"),
    ]
    with raw_channel(cluster.any_address()) as channel:
        stub = object_pb2_grpc.ObjectServiceStub(channel)
        for message, fragment in refused:
            with pytest.raises(grpc.RpcError) as err:
                stub.PutSmallObject(message, timeout=30)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
            assert fragment in err.value.details() and "\n" not in err.value.details()
            if message.header.key:
                with pytest.raises(NotFound):
                    client.stat(bucket, message.header.key)
        info = stub.PutSmallObject(request("small/exact", data), timeout=30).object
    assert info.size_bytes == len(data) and info.blake3 == blake3.blake3(data).digest()
    with Client(address=cluster.addresses()[-1], timeout_s=60.0) as other:
        assert other.get_bytes(bucket, "small/exact") == data


@pytest.mark.parametrize("field,header_fields,fragment", [
    ("content_type", {"content_type": "t/" + "x" * (1 << 20)}, "content type is 1048578 bytes"),
    ("content_type", {"content_type": "text/plain\nX-Evil: 1"}, "control character"),
    ("metadata name", {"metadata": {"n" * 129: "v"}}, "metadata name"),
    ("metadata value", {"metadata": {"n": "v" * 2049}}, "metadata value of 'n' is 2049 bytes"),
    ("metadata count", {"metadata": {f"k{i}": "v" for i in range(65)}}, "65 metadata entries"),
])
def test_server_limits_every_string_field_of_a_put(cluster, bucket, field, header_fields, fragment):
    """A raw gRPC put (no client-side checks) with a content type, metadata name, value or count
    past its limit is INVALID_ARGUMENT with one line naming the field and limit, and nothing is
    stored (a 1 MiB content type used to be stored in every manifest copy)."""
    import grpc

    from ringstore import frames
    from ringstore.v1 import object_pb2

    key = f"limits/{field.replace(' ', '-')}"
    with raw_channel(cluster.any_address(), options=[
            ("grpc.max_send_message_length", 4 << 20)]) as channel:
        put = channel.stream_unary("/ringstore.v1.ObjectService/PutObject", request_serializer=frames.encode,
                                   response_deserializer=object_pb2.PutObjectResponse.FromString)
        header = object_pb2.PutObjectRequest(header=object_pb2.PutObjectHeader(bucket=bucket, key=key,
                                                                               **header_fields))
        with pytest.raises(grpc.RpcError) as err:
            put(iter([header, b"abc"]), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    assert fragment in err.value.details() and "\n" not in err.value.details()
    with Client(address=cluster.any_address(), timeout_s=60.0) as client:
        with pytest.raises(NotFound):
            client.stat(bucket, key)


def test_server_limits_listing_prefix_and_page_token(cluster, bucket):
    """ListObjects with a prefix longer than any key, or a page token longer than any the node
    issues, is INVALID_ARGUMENT with one line."""
    import grpc

    from ringstore.v1 import object_pb2

    with raw_channel(cluster.any_address()) as channel:
        list_objects = channel.unary_unary("/ringstore.v1.ObjectService/ListObjects",
                                           request_serializer=object_pb2.ListObjectsRequest.SerializeToString,
                                           response_deserializer=object_pb2.ListObjectsResponse.FromString)
        for request, fragment in [
                (object_pb2.ListObjectsRequest(bucket=bucket, prefix="p" * 1025), "prefix is 1025 bytes"),
                (object_pb2.ListObjectsRequest(bucket=bucket, page_token="A" * 1400), "page_token is 1400 bytes")]:
            with pytest.raises(grpc.RpcError) as err:
                list_objects(request, timeout=30)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
            assert fragment in err.value.details()


def test_replicas_above_live_nodes_is_unavailable(client, bucket):
    """Asking for more copies than live nodes fails cleanly with the numbers."""
    with pytest.raises(Unavailable, match="replicas=6 puts 6 copies on 6 distinct nodes, but only 5 nodes are ALIVE"):
        client.put(bucket, "too-many", b"x" * 10_000, replicas=6)
    with pytest.raises(NotFound):
        client.stat(bucket, "too-many")


def test_stat_names_three_distinct_holders_per_chunk(client, bucket):
    """Every chunk of a replicas=3 object has 3 distinct ALIVE holders in its placement record."""
    data = payload(9 * MIB, 99)
    client.put(bucket, "placed", data)
    stat = client.stat(bucket, "placed")
    assert len(stat.chunks) == 3
    for chunk in stat.chunks:
        holders = [h.node_id for h in chunk.holders]
        assert len(holders) == 3 and len(set(holders)) == 3
        assert all(h.state == "ALIVE" for h in chunk.holders)


def test_flipped_byte_in_a_chunk_file_is_detected_and_served_from_another_copy(client, cluster, bucket):
    """Corrupting one copy on disk never yields wrong bytes: the read verifies blake3 and uses another holder."""
    data = payload(5 * MIB, 1234)
    client.put(bucket, "bitrot", data)
    stat = client.stat(bucket, "bitrot")
    chunk = stat.chunks[0]
    victim = chunk.holders[0].node_id
    path = chunk_file(cluster, victim, chunk.chunk_id_hex)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    # Read through the victim itself, which prefers its own (now corrupt) copy.
    with Client(address=cluster.nodes[victim].address, timeout_s=60.0) as via_victim:
        assert via_victim.get_bytes(bucket, "bitrot") == data
    assert not path.exists(), "the corrupt copy is quarantined, never served again"


def test_every_copy_corrupt_is_data_loss_naming_the_chunk_and_nodes(client, cluster, bucket):
    """With no intact copy anywhere the read fails with DATA_LOSS naming the chunk and each node asked."""
    client.put(bucket, "doomed", payload(5 * MIB, 4321))
    chunk = client.stat(bucket, "doomed").chunks[1]
    for holder in chunk.holders:
        path = chunk_file(cluster, holder.node_id, chunk.chunk_id_hex)
        raw = bytearray(path.read_bytes())
        raw[7] ^= 0xFF
        path.write_bytes(bytes(raw))
    with pytest.raises(DataLoss) as info:
        client.get_bytes(bucket, "doomed")
    message = str(info.value)
    assert chunk.chunk_id_hex[:16] in message and "no intact copy" in message
    assert all(h.node_id in message for h in chunk.holders)
    # The first chunk is intact: a range inside it still reads.
    assert len(client.get_bytes(bucket, "doomed", range_start_bytes=0, range_length_bytes=1000)) == 1000


def test_interrupted_put_leaves_no_visible_object(cluster, bucket):
    """A client that dies mid-upload leaves no object behind (the manifest is written last)."""
    import grpc

    from ringstore import frames
    from ringstore.v1 import object_pb2

    with raw_channel(cluster.any_address()) as channel:
        put = channel.stream_unary("/ringstore.v1.ObjectService/PutObject", request_serializer=frames.encode,
                                   response_deserializer=object_pb2.PutObjectResponse.FromString)

        def requests():
            yield object_pb2.PutObjectRequest(header=object_pb2.PutObjectHeader(bucket=bucket, key="torn"))
            for _ in range(6):
                yield b"z" * MIB
            raise RuntimeError("client died mid-upload")

        with pytest.raises(grpc.RpcError):
            put(requests(), timeout=30)
    with Client(address=cluster.any_address()) as c:
        with pytest.raises(NotFound):
            c.stat(bucket, "torn")
        assert "torn" not in [o.key for o in c.list_objects(bucket)]


def test_a_stream_without_its_end_message_or_with_a_wrong_hash_stores_nothing(cluster, bucket):
    """A put is stored only when the stream ends with the end message and that message's size and blake3
    match what arrived; a clean half-close without it (how gRPC can show a dead client) stores nothing."""
    import blake3
    import grpc

    from ringstore import frames
    from ringstore.v1 import object_pb2

    data = b"q" * (5 * MIB)
    ends = {
        "no-end": None,
        "short": object_pb2.PutObjectEnd(size_bytes=len(data) + 1),
        "wrong-hash": object_pb2.PutObjectEnd(size_bytes=len(data), blake3=blake3.blake3(b"other").digest()),
    }
    with raw_channel(cluster.any_address()) as channel:
        put = channel.stream_unary("/ringstore.v1.ObjectService/PutObject", request_serializer=frames.encode,
                                   response_deserializer=object_pb2.PutObjectResponse.FromString)
        for key, end in ends.items():
            messages = [object_pb2.PutObjectRequest(header=object_pb2.PutObjectHeader(bucket=bucket, key=key)),
                        data[:MIB], data[MIB:]]
            if end is not None:
                messages.append(object_pb2.PutObjectRequest(end=end))
            with pytest.raises(grpc.RpcError) as err:
                put(iter(messages), timeout=30)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (key, err.value.details())
            assert "nothing was stored" in err.value.details()
        good = object_pb2.PutObjectEnd(size_bytes=len(data), blake3=blake3.blake3(data).digest())
        put(iter([object_pb2.PutObjectRequest(header=object_pb2.PutObjectHeader(bucket=bucket, key="ended")),
                  data, object_pb2.PutObjectRequest(end=good)]), timeout=30)
    with Client(address=cluster.any_address()) as c:
        for key in ends:
            with pytest.raises(NotFound):
                c.stat(bucket, key)
        assert c.get_bytes(bucket, "ended") == data


def test_kill_two_of_five_and_every_acknowledged_object_reads_back(tmp_path, session_ca, session_operator):
    """With replicas=3 and metadata on 3 nodes, losing any 2 nodes (kill -9) loses nothing
    acknowledged. While both are DOWN a read returns the right bytes or fails UNAVAILABLE (when
    both were metadata homes of the bucket it cannot be sure it sees the newest version: never a
    stale answer or NOT_FOUND); a put either succeeds or fails UNAVAILABLE; once the pair is back,
    every acknowledged object, old and new, reads back."""
    with LocalCluster.up(tmp_path / "c", nodes=5, ca_dir=session_ca, operator=session_operator) as c:
        seed_address = c.any_address()
        objects: dict[str, bytes] = {}
        with Client(address=seed_address, timeout_s=60.0) as client:
            client.create_bucket("durable")
            for i, size in enumerate([0, 100, 5 * KIB, 4 * MIB + 1, 9 * MIB]):
                data = payload(size, 1000 + i)
                client.put("durable", f"obj-{i}", data)
                objects[f"obj-{i}"] = data
        ids = sorted(c.nodes)
        outcomes = {"read": 0, "unavailable": 0}
        for pair in [(ids[0], ids[1]), (ids[2], ids[4])]:
            for node_id in pair:
                c.kill(node_id, "KILL")
            survivors = [n for n in ids if n not in pair]
            for node_id in pair:
                c.wait_state(node_id, "DOWN", observers=survivors, timeout_s=20)
            with Client(address=c.nodes[survivors[0]].address, timeout_s=60.0, retries_max=0) as client:
                for key, data in objects.items():
                    try:
                        assert client.get_bytes("durable", key) == data, (pair, key)
                        outcomes["read"] += 1
                    except Unavailable as err:
                        assert "metadata home replicas" in str(err), err
                        outcomes["unavailable"] += 1
                # New writes succeed when two metadata homes are live (handoff copies stand in for
                # the dead chunk holders), and are refused, not half-acknowledged, otherwise.
                try:
                    client.put("durable", f"during-{pair[0]}", b"w" * (5 * MIB))
                    objects[f"during-{pair[0]}"] = b"w" * (5 * MIB)
                except Unavailable as err:
                    assert "metadata home replicas" in str(err), err
            for node_id in pair:
                c.restart(node_id)
            for node_id in pair:
                c.wait_state(node_id, "ALIVE", timeout_s=30)
        assert outcomes["read"] > 0
        with Client(address=c.any_address(), timeout_s=60.0) as client:
            for key, data in objects.items():
                assert client.get_bytes("durable", key) == data, key


def test_put_with_a_down_node_records_handoff_copies(tmp_path, session_ca, session_operator):
    """While a home holder is DOWN its copy goes to the next live node and is recorded as a handoff."""
    with LocalCluster.up(tmp_path / "c", nodes=4, ca_dir=session_ca, operator=session_operator) as c:
        ids = sorted(c.nodes)
        c.kill(ids[3], "KILL")
        c.wait_state(ids[3], "DOWN", observers=ids[:3], timeout_s=20)
        with Client(address=c.nodes[ids[0]].address, timeout_s=60.0) as client:
            client.create_bucket("handoff")
            handoffs = 0
            for i in range(12):
                client.put("handoff", f"k{i}", payload(5 * KIB, i))
                for chunk in client.stat("handoff", f"k{i}").chunks:
                    holders = [h.node_id for h in chunk.holders]
                    assert ids[3] not in holders and len(set(holders)) == 3
                    handoffs += sum(1 for h in chunk.holders if h.handoff_for_node_id == ids[3])
        assert handoffs > 0, "some chunk had the dead node in its home set"
        with pytest.raises(Unavailable):
            with Client(address=c.nodes[ids[0]].address, timeout_s=10.0) as client:
                client.put("handoff", "four", b"x" * 10_000, replicas=4)
