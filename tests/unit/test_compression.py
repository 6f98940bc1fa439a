"""Chunk compression (node/objects/compression.py): kept only when it saves enough, marked with the
chunk's own blake3 and length, and every decompression checked against them."""

from __future__ import annotations

import os

import blake3
import pytest

from node import errors
from node.objects import compression
from ringstore.v1 import common_pb2

TEXT = b"".join(f"line {i}: the quick brown fox jumps over the lazy dog\n".encode() for i in range(2000))


def test_text_is_kept_compressed_random_bytes_are_not():
    packed = compression.compressed(TEXT, level=3, saving_min=0.1)
    assert packed is not None and len(packed) < len(TEXT) / 5
    assert compression.compressed(os.urandom(len(TEXT)), level=3, saving_min=0.1) is None
    # The threshold: a saving of exactly what is asked is enough, a little less is not.
    assert compression.compressed(TEXT, level=3, saving_min=1 - len(packed) / len(TEXT)) == packed
    assert compression.compressed(TEXT, level=3, saving_min=1 - (len(packed) - 1) / len(TEXT)) is None


def test_deterministic_so_identical_chunks_deduplicate():
    assert compression.compressed(TEXT, level=3, saving_min=0.1) == compression.compressed(TEXT, level=3,
                                                                                              saving_min=0.1)


def _ref(plain: bytes, stored: bytes) -> common_pb2.ChunkRef:
    ref = common_pb2.ChunkRef(chunk_id=blake3.blake3(stored).digest(), size_bytes=len(stored), offset_bytes=4096)
    compression.mark(ref, plain)
    return ref


def test_round_trip_and_identity():
    stored = compression.compressed(TEXT, level=3, saving_min=0.1)
    ref = _ref(TEXT, stored)
    assert compression.is_compressed(ref) and compression.plain_size(ref) == len(TEXT)
    assert compression.identity(ref) == blake3.blake3(TEXT).digest()
    assert compression.decompressed(ref, stored, "b/k") == TEXT
    raw = common_pb2.ChunkRef(chunk_id=blake3.blake3(TEXT).digest(), size_bytes=len(TEXT))
    assert not compression.is_compressed(raw) and compression.plain_size(raw) == len(TEXT)
    assert compression.identity(raw) == raw.chunk_id


@pytest.mark.parametrize("damage", ["other plain hash", "other plain size", "not zstd"])
def test_a_manifest_that_disagrees_with_its_copies_is_data_loss(damage):
    stored = compression.compressed(TEXT, level=3, saving_min=0.1)
    ref = _ref(TEXT, stored)
    if damage == "other plain hash":
        ref.plain_blake3 = blake3.blake3(b"something else").digest()
    elif damage == "other plain size":
        ref.plain_size_bytes = len(TEXT) - 1
    else:
        stored = b"\x00" * len(stored)
    with pytest.raises(errors.DataLoss, match="manifest is damaged"):
        compression.decompressed(ref, stored, "b/k")


def test_a_chunk_whose_start_does_not_shrink_is_not_tried():
    from node.objects.compression import SAMPLE_BYTES

    head = os.urandom(SAMPLE_BYTES)
    # Random first 64 KiB, then very compressible: taken for incompressible (stored raw).
    assert compression.compressed(head + b"\0" * (4 * SAMPLE_BYTES), level=3, saving_min=0.1) is None
    # A compressible start: the whole chunk is tried and kept.
    assert compression.compressed(b"\0" * SAMPLE_BYTES + head, level=3, saving_min=0.1) is not None
