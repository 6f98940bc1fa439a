"""Cut a stream of buffers into fixed-size chunks and address them by blake3.

The coordinator receives an object as gRPC frames of arbitrary sizes; placement works on chunks of
exactly `chunk_size_bytes` (the last one shorter). Chunk boundaries are fixed offsets, not
content-defined: content-defined chunking finds more duplicates across edited files, but costs a
rolling hash over every byte in Python, and our users mostly store whole immutable files.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import blake3

Buffer = bytes | bytearray | memoryview

CHUNK_ID_BYTES = 32


def chunk_id_of(data: Buffer) -> bytes:
    """The content address of a chunk: blake3 of its bytes (multi-threaded above 1 MiB)."""
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO if len(data) >= (1 << 20) else 1)
    hasher.update(data)
    return hasher.digest()


def rechunk(frames: Iterable[Buffer], chunk_size_bytes: int) -> Iterator[Buffer]:
    """Yield consecutive chunks of exactly chunk_size_bytes (the last may be shorter, never empty).

    Frames are copied once, into the chunk being filled, which is yielded as it is (a bytearray the
    generator never touches again); a frame that holds a whole chunk is passed on as a view of it,
    without a copy.
    """
    if chunk_size_bytes <= 0:
        raise ValueError("chunk_size_bytes must be > 0")
    pending = bytearray()
    for frame in frames:
        view = memoryview(frame)
        while len(view):
            if not pending and len(view) >= chunk_size_bytes:
                yield view[:chunk_size_bytes]
                view = view[chunk_size_bytes:]
                continue
            room = chunk_size_bytes - len(pending)
            pending += view[:room]
            view = view[room:]
            if len(pending) == chunk_size_bytes:
                yield pending
                pending = bytearray()
    if pending:
        yield pending


def slices(data: Buffer, size_bytes: int) -> Iterator[memoryview]:
    """Consecutive views of at most size_bytes over data (wire frames of a chunk)."""
    view = memoryview(data)
    for start in range(0, len(view), size_bytes):
        yield view[start:start + size_bytes]
