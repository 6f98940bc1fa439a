"""A put that names stored chunks (nodectl/client/reuse.py): the file is cut where the cluster cuts,
held chunks become KnownChunk messages and the others frames; a file that changes between hashing
and sending (in a chunk that is sent or in one that is named) stops the stream before its end."""

from __future__ import annotations

import os

import blake3
import pytest

from nodectl.client import reuse
from ringstore.etag import chunks_digest
from ringstore.v1 import object_pb2

CHUNK = 64 * 1024


def _file(tmp_path, size: int):
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(size))
    return path


def test_digest_and_body(tmp_path):
    path = _file(tmp_path, 3 * CHUNK + 5)
    data = path.read_bytes()
    digest = reuse.digest_file(path, CHUNK)
    assert digest.whole == blake3.blake3(data).digest()
    assert [size for _, size in digest.ids] == [CHUNK, CHUNK, CHUNK, 5]
    assert digest.ids[1][0] == blake3.blake3(data[CHUNK:2 * CHUNK]).digest()
    assert digest.chunks_blake3 == chunks_digest(chunk_id for chunk_id, _ in digest.ids)
    asked: list[list[bytes]] = []
    plan = reuse.Plan.of(path, digest, CHUNK, lambda ids: asked.append(ids) or [True, False, True, False])
    assert asked == [[chunk_id for chunk_id, _ in digest.ids]]
    stats = reuse.TransferStats()
    items = list(plan.body(stats))
    known = [i for i in items if isinstance(i, object_pb2.KnownChunk)]
    sent = b"".join(bytes(i) for i in items if not isinstance(i, object_pb2.KnownChunk))
    assert [bytes(k.chunk_id) for k in known] == [digest.ids[0][0], digest.ids[2][0]]
    assert sent == data[CHUNK:2 * CHUNK] + data[3 * CHUNK:]
    assert (stats.sent_bytes, stats.reused_bytes) == (CHUNK + 5, 2 * CHUNK)


@pytest.mark.parametrize("held", [[False, False, False], [True, True, True]])
def test_a_file_changed_after_hashing_is_refused(tmp_path, held):
    """Same size, one byte changed: a sent chunk fails its hash; a named one the stat check."""
    path = _file(tmp_path, 3 * CHUNK)
    plan = reuse.Plan.of(path, reuse.digest_file(path, CHUNK), CHUNK, lambda ids: held)
    with open(path, "r+b") as f:
        f.seek(CHUNK + 7)
        f.write(b"!")
    os.utime(path, ns=(plan.signature[1] + 1_000_000, plan.signature[1] + 1_000_000))
    with pytest.raises(reuse.FileChanged):
        list(plan.body(reuse.TransferStats()))


def test_probe_gives_up_on_new_files(tmp_path):
    path = _file(tmp_path, (reuse.PROBE_CHUNKS + 4) * CHUNK)
    calls: list[int] = []
    assert reuse.plan(path, CHUNK, lambda ids: calls.append(len(ids)) or [False] * len(ids)) is None
    assert calls == [reuse.PROBE_CHUNKS]  # only the first chunks were hashed and asked about
    planned = reuse.plan(path, CHUNK, lambda ids: [True] * len(ids))
    assert planned is not None and all(planned.held) and len(planned.ids) == reuse.PROBE_CHUNKS + 4
    assert reuse.plan(_file(tmp_path, CHUNK), CHUNK, lambda ids: [True]) is None  # one chunk: a plain put


def test_an_encrypted_plan_names_the_encrypted_blocks_and_sends_the_others_encrypted(tmp_path):
    """Under a client-side key the chunks are the file's blocks encrypted: ids are the ciphertexts'
    blake3s (the same for the same key, so they deduplicate), sent blocks decrypt to the file, and
    a cluster whose chunk is not the block's size reuses nothing."""
    from nodectl.client.encryption import BLOCK_CIPHER_BYTES, BLOCK_PLAIN_BYTES, EncryptionKey, cipher_size

    key = EncryptionKey.new()
    path = _file(tmp_path, 2 * BLOCK_PLAIN_BYTES + 10)
    data = path.read_bytes()
    blocks = [key.encrypt_block(data[i:i + BLOCK_PLAIN_BYTES]) for i in range(0, len(data), BLOCK_PLAIN_BYTES)]
    asked: list[list[bytes]] = []
    plan = reuse.plan(path, BLOCK_CIPHER_BYTES, lambda ids: asked.append(ids) or [True, False, False], key=key)
    assert asked == [[blake3.blake3(b).digest() for b in blocks]]
    assert plan.size_bytes == cipher_size(len(data)) == sum(len(b) for b in blocks)
    stats = reuse.TransferStats()
    items = list(plan.body(stats))
    assert isinstance(items[0], object_pb2.KnownChunk) and items[0].size_bytes == BLOCK_CIPHER_BYTES
    sent = b"".join(bytes(i) for i in items[1:])
    assert sent == blocks[1] + blocks[2]
    assert key.decrypt_block(blocks[2], "x") == data[2 * BLOCK_PLAIN_BYTES:]
    assert (stats.sent_bytes, stats.reused_bytes) == (len(blocks[1]) + len(blocks[2]), BLOCK_CIPHER_BYTES)
    assert reuse.plan(path, CHUNK, lambda ids: [True] * len(ids), key=key) is None
