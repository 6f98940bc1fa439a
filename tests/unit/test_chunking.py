"""Chunking and content addressing (node/erasure/chunking.py)."""

import random

import blake3
import pytest

from node.erasure import chunk_id_of, rechunk, slices

CHUNK = 64 * 1024


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 7])
@pytest.mark.parametrize("frame", [1000, CHUNK, CHUNK + 3, 5 * CHUNK])
def test_rechunk_cuts_fixed_size_chunks_whatever_the_frames(size, frame):
    """Chunks are exactly chunk_size except the last, never empty, and concatenate to the input."""
    data = random.Random(size * 31 + frame).randbytes(size)
    frames = [data[i:i + frame] for i in range(0, size, frame)]
    chunks = list(rechunk(frames, CHUNK))
    assert b"".join(chunks) == data
    assert all(len(c) == CHUNK for c in chunks[:-1])
    assert all(len(c) > 0 for c in chunks)
    assert len(chunks) == -(-size // CHUNK)


def test_chunk_id_is_blake3_of_content_single_and_multithreaded():
    """The content address is plain blake3, whichever hashing mode the size picks."""
    for size in (0, 10, (1 << 20) + 5):
        data = random.Random(size).randbytes(size)
        assert chunk_id_of(data) == blake3.blake3(data).digest()


def test_slices_cover_the_buffer_in_frame_sized_views():
    """Wire frames of a chunk are consecutive views of at most frame size."""
    data = bytes(range(256)) * 10
    views = list(slices(data, 1000))
    assert [len(v) for v in views] == [1000, 1000, 560]
    assert b"".join(views) == data
