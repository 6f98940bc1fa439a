"""Puts that send only new chunks (HasChunks and known chunks) through real noded processes: an
appended file sends only its new chunk, under replication and erasure coding, and reads back
whole and in ranges; HasChunks answers for the asking bucket only, so another tenant (or another
bucket) can neither learn that a chunk is stored nor reference it by its hash; a named chunk that
is not stored is refused with nothing written; known chunks that do not start at a chunk boundary
or that lie about their size are refused."""

from __future__ import annotations

import os

import blake3
import grpc
import pytest

from nodectl.client import Client
from nodectl.client.reuse import TransferStats
from nodectl.errors import NotFound
from ringstore.auth.credentials import Credentials
from ringstore.v1 import object_pb2

CHUNK = 64 * 1024  # the cluster's chunk size here, so files of a few chunks stay small


def _put_stream(client: Client, bucket: str, key: str, items: list, end_size: int) -> object_pb2.PutObjectResponse:
    """A raw PutObject stream: header, then `items` (bytes or KnownChunk), then the end message."""
    def requests():
        yield object_pb2.PutObjectRequest(header=object_pb2.PutObjectHeader(bucket=bucket, key=key))
        for item in items:
            if isinstance(item, object_pb2.KnownChunk):
                yield object_pb2.PutObjectRequest(known_chunk=item)
            else:
                yield item
        yield object_pb2.PutObjectRequest(end=object_pb2.PutObjectEnd(size_bytes=end_size))
    return client._put_rpc(requests(), timeout=30)


def test_appends_send_only_new_chunks_and_only_within_the_bucket(cluster_factory, tmp_path):
    cluster = cluster_factory(nodes=5, settings={"storage.chunk_size_bytes": str(CHUNK),
                                                 "storage.frame_size_bytes": str(CHUNK // 4),
                                                 "storage.peer_frame_size_bytes": str(CHUNK),
                                                 "storage.inline_max_bytes": "4096"})
    big = os.urandom(20 * CHUNK)
    path = tmp_path / "grows.bin"
    path.write_bytes(big)
    with cluster.client(timeout_s=60.0) as client:
        client.create_bucket("rep")
        assert client.chunk_size_bytes("rep") == CHUNK
        client.create_bucket("ecb", ec="3+2")
        client.create_bucket("other")
        for bucket in ("rep", "ecb"):
            first = TransferStats()
            info = client.put(bucket, "f", path, reuse_chunks=True, stats=first)
            assert first.sent_bytes == len(big) and first.reused_bytes == 0 and info.blake3_hex
            # Append a little: only the new chunk travels; the version reads back whole and in ranges.
            with open(path, "ab") as f:
                f.write(b"appended" * 1000)
            appended = TransferStats()
            info = client.put(bucket, "f", path, reuse_chunks=True, stats=appended)
            data = path.read_bytes()
            assert appended.sent_bytes == len(data) - len(big) and appended.reused_bytes == len(big)
            assert info.size_bytes == len(data) and info.blake3_hex == "" and info.chunks_blake3_hex and info.etag
            assert client.get_bytes(bucket, "f") == data
            assert client.get_bytes(bucket, "f", range_start_bytes=CHUNK - 10,
                                    range_length_bytes=CHUNK + 20) == data[CHUNK - 10:2 * CHUNK + 10]
            # Overwrite one chunk in place: that chunk travels, the rest is named.
            with open(path, "r+b") as f:
                f.seek(5 * CHUNK + 3)
                f.write(b"edited")
            edited = TransferStats()
            client.put(bucket, "f", path, reuse_chunks=True, stats=edited)
            assert edited.sent_bytes == CHUNK
            assert client.get_bytes(bucket, "f") == path.read_bytes()
            path.write_bytes(big)
        ids = [blake3.blake3(big[i:i + CHUNK]).digest() for i in range(0, len(big), CHUNK)]
        assert client.has_chunks("rep", ids) == [True] * len(ids)
        # Under another policy the copies are not those: nothing counts.
        assert client.has_chunks("rep", ids[:3], ec="3+2") == [False] * 3
        # Another bucket of the same tenant does not see them either, and may not name them.
        assert client.has_chunks("other", ids) == [False] * len(ids)
        with pytest.raises(grpc.RpcError) as caught:
            _put_stream(client, "other", "stolen", [object_pb2.KnownChunk(chunk_id=ids[0], size_bytes=CHUNK)], CHUNK)
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "not stored for bucket other" in caught.value.details()
        with pytest.raises(NotFound):
            client.stat("other", "stolen")
        # Known chunks must start where a chunk starts, and say their true size.
        with pytest.raises(grpc.RpcError) as caught:
            _put_stream(client, "rep", "bad", [b"x" * 10, object_pb2.KnownChunk(chunk_id=ids[0], size_bytes=CHUNK)],
                        10 + CHUNK)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "whole chunks" in caught.value.details()
        with pytest.raises(grpc.RpcError) as caught:
            _put_stream(client, "rep", "bad", [object_pb2.KnownChunk(chunk_id=ids[0], size_bytes=CHUNK - 1)], CHUNK - 1)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "not the" in caught.value.details()
        # A raw stream naming stored chunks and sending one new: stored, read back.
        response = _put_stream(client, "rep", "mixed", [object_pb2.KnownChunk(chunk_id=ids[1], size_bytes=CHUNK),
                                                       b"tail bytes"], CHUNK + 10)
        assert response.object.size_bytes == CHUNK + 10
        assert client.get_bytes("rep", "mixed") == big[CHUNK:2 * CHUNK] + b"tail bytes"

        # A compressed bucket: its copies are keyed by their compressed bytes, so the bucket-wide
        # question finds nothing, but the key's own current version does (HasChunks with the key).
        client.create_bucket("zbk")
        client.set_compression("zbk", "zstd")
        text = path.parent / "log.txt"
        text.write_bytes(b"".join(b"%06d the same old line of a log file\n" % (i % 977) for i in range(20_000)))
        client.put("zbk", "log.txt", text, reuse_chunks=True)
        with open(text, "ab") as f:
            f.write(b"one more line\n")
        grown = TransferStats()
        info = client.put("zbk", "log.txt", text, reuse_chunks=True, stats=grown)
        data = text.read_bytes()
        last = (len(data) - 1) // CHUNK * CHUNK
        assert grown.sent_bytes == len(data) - last and grown.reused_bytes == last
        assert client.get_bytes("zbk", "log.txt") == data and info.size_bytes == len(data)
        stat = client.stat("zbk", "log.txt")
        assert stat.compressed_chunks == len(stat.chunks) and stat.stored_bytes < len(data) / 4
        assert client.get_bytes("zbk", "log.txt", range_start_bytes=CHUNK - 5, range_length_bytes=10) == \
            data[CHUNK - 5:CHUNK + 5]
        # Another key in the bucket cannot name the log's chunks through its own (absent) version.
        ids_log = [blake3.blake3(data[i:i + CHUNK]).digest() for i in range(0, last, CHUNK)]
        assert client.has_chunks("zbk", ids_log, key="other.txt") == [False] * len(ids_log)
        assert client.has_chunks("zbk", ids_log, key="log.txt") == [True] * len(ids_log)

        client.create_tenant("stranger")
        made = client.create_key("stranger")
    with cluster.client(credentials=Credentials(made.key.key_id, made.secret), timeout_s=60.0) as stranger:
        stranger.create_bucket("mine")
        assert stranger.has_chunks("mine", ids) == [False] * len(ids)
        with pytest.raises(grpc.RpcError) as caught:
            _put_stream(stranger, "mine", "stolen", [object_pb2.KnownChunk(chunk_id=ids[0], size_bytes=CHUNK)], CHUNK)
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        # The stranger's own copy of the same bytes is stored, and then its own to reuse.
        stranger.put("mine", "same", path, reuse_chunks=True)
        assert stranger.has_chunks("mine", ids) == [True] * len(ids)
        assert stranger.get_bytes("mine", "same") == big
