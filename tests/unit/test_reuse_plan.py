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
