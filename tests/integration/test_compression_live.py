"""Chunk compression through real noded processes: a bucket set to zstd stores text-like chunks
compressed and random ones raw; objects of the chunk-edge sizes read back whole and in ranges
across chunk edges, under replication and erasure coding, and with two of five nodes killed (the
compressed stripe decoded from parity, then decompressed); a conversion keeps the chunks
compressed; a multipart upload compresses its parts; identical compressed objects share their
copies; stat shows stored against logical bytes; asking to compress an inline object is one line."""

from __future__ import annotations

import os
import random

import pytest
from click.testing import CliRunner

from nodectl.cli import main
from nodectl.errors import InvalidArgument

CHUNK = 64 * 1024
INLINE = 4096


def _text(size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    words = [b"ring", b"store", b"chunk", b"replica", b"share", b"zstd", b"node", b"gossip", b"\n"]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + b" "
    return bytes(out[:size])


def test_compressed_buckets_round_trip_at_every_edge(cluster_factory, tmp_path):
    cluster = cluster_factory(nodes=5, settings={"storage.chunk_size_bytes": str(CHUNK),
                                                 "storage.frame_size_bytes": str(CHUNK // 4),
                                                 "storage.inline_max_bytes": str(INLINE)})
    sizes = [0, 1, INLINE, INLINE + 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17]
    with cluster.client(timeout_s=60.0) as client:
        client.create_bucket("zrep")
        client.create_bucket("zec", ec="3+2")
        for bucket in ("zrep", "zec"):
            assert client.set_compression(bucket, "zstd").compression == "zstd"
        objects: dict[tuple[str, str], bytes] = {}
        for bucket in ("zrep", "zec"):
            for size in sizes:
                for kind, data in (("text", _text(size, size)), ("random", os.urandom(size))):
                    key = f"{kind}-{size}"
                    client.put(bucket, key, data)
                    objects[(bucket, key)] = data
            # A file of text and random chunks alternating: each chunk decides for itself.
            mixed = b"".join(_text(CHUNK, i) if i % 2 else os.urandom(CHUNK) for i in range(4))
            client.put(bucket, "mixed", mixed)
            objects[(bucket, "mixed")] = mixed
        for (bucket, key), data in objects.items():
            stat = client.stat(bucket, key)
            if key.startswith("text") and len(data) > INLINE:
                # Every chunk but a tail too short to gain from it (the 1 byte after a full chunk).
                full = sum(1 for c in stat.chunks if c.object_bytes > 100)
                assert stat.compressed_chunks == full and stat.stored_bytes < len(data) / 2, key
            if key.startswith("random"):
                assert stat.compressed_chunks == 0, key
        assert client.stat("zrep", "mixed").compressed_chunks == 2

        def check_all() -> None:
            for (bucket, key), data in objects.items():
                assert client.get_bytes(bucket, key) == data, (bucket, key)
                for start, length in ((0, 1), (CHUNK - 3, 10), (CHUNK, CHUNK), (2 * CHUNK + 5, None), (7, 3 * CHUNK)):
                    if start < len(data):
                        end = None if length is None else start + length
                        got = client.get_bytes(bucket, key, range_start_bytes=start, range_length_bytes=length)
                        assert got == data[start:end], (bucket, key, start, length)

        check_all()
        # Identical compressed chunks are one set of copies.
        client.put("zrep", "text-again", objects[("zrep", f"text-{3 * CHUNK + 17}")])
        first, again = client.stat("zrep", f"text-{3 * CHUNK + 17}"), client.stat("zrep", "text-again")
        assert [c.chunk_id_hex for c in first.chunks] == [c.chunk_id_hex for c in again.chunks]
        assert first.chunks[0].compression == "zstd" and first.chunks[0].plain_size_bytes == CHUNK

        # A put may say otherwise: raw in a compressed bucket; refused for an inline object.
        assert client.put("zrep", "raw", _text(2 * CHUNK, 9), compression="none") is not None
        assert client.stat("zrep", "raw").compressed_chunks == 0
        with pytest.raises(InvalidArgument, match="kept inline in its manifest and never compressed"):
            client.put("zrep", "tiny", b"tiny", compression="zstd")

        # Converted to erasure coding, the chunks stay compressed and read back.
        client.convert("zrep", "mixed", ec="3+2")
        assert client.stat("zrep", "mixed").compressed_chunks == 2
        assert client.get_bytes("zrep", "mixed") == objects[("zrep", "mixed")]

        # A multipart upload in a compressed bucket compresses its parts.
        upload = client.create_upload("zrep", "multi")
        parts = [client.upload_part("zrep", "multi", upload, n, _text(5 * 1024 * 1024 if n == 1 else 1000, n))
                 for n in (1, 2)]
        client.complete_upload("zrep", "multi", upload, parts)
        whole = _text(5 * 1024 * 1024, 1) + _text(1000, 2)
        assert client.get_bytes("zrep", "multi") == whole
        assert client.get_bytes("zrep", "multi", range_start_bytes=5 * 1024 * 1024 - 10, range_length_bytes=20) == \
            whole[5 * 1024 * 1024 - 10:5 * 1024 * 1024 + 10]
        assert client.stat("zrep", "multi").compressed_chunks > 0
        # Usage counts the stored (compressed) copies: text compresses well, so the bucket's three
        # copies of everything take less than its logical bytes once over.
        used = client.usage(bucket="zrep").buckets[0]
        random_bytes = sum(len(d) for (b, k), d in objects.items() if b == "zrep" and k.startswith("random"))
        assert used.physical_bytes < 3 * random_bytes + used.logical_bytes

    # The CLI: stat shows stored against logical; put --compress on an inline object is one line, exit 2.
    runner = CliRunner()
    cli = lambda *args: runner.invoke(main, ["--addr", cluster.any_address(), *args])  # noqa: E731
    result = cli("stat", f"zrep/text-{3 * CHUNK + 17}")
    assert result.exit_code == 0 and "zstd-compressed" in result.output and "zstd 65536 ->" in result.output
    info = cli("bucket", "info", "zrep")
    assert "compression: zstd" in info.output
    tiny = tmp_path / "tiny.txt"
    tiny.write_bytes(b"tiny")
    refused = cli("put", str(tiny), "zrep/tiny.txt", "--compress", "zstd")
    assert refused.exit_code == 2 and len(refused.output.strip().splitlines()) == 1
    assert "never compressed" in refused.output

    # Two of five nodes down: every erasure-coded object is decoded from parity, then decompressed.
    # (Read at once: their holders refuse connections, so the reads go to the parity shares.)
    for node_id in ("node-4", "node-5"):
        cluster.kill(node_id)
    with cluster.client(address=cluster.nodes["node-1"].address, timeout_s=60.0) as client:
        for (bucket, key), data in objects.items():
            if bucket == "zec":
                assert client.get_bytes(bucket, key) == data, key
                if len(data) > CHUNK:
                    assert client.get_bytes(bucket, key, range_start_bytes=CHUNK - 1, range_length_bytes=2) == \
                        data[CHUNK - 1:CHUNK + 1]
