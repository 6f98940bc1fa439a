"""Chunk compression (zstandard): a chunk is stored compressed when that saves enough, else as it is.

A put that compresses (PutObjectHeader.compression, else the bucket's BucketRecord.compression)
runs each chunk through zstd at `storage.compression_level` and keeps the result only when it is
at most (1 - `storage.compression_saving_min`) of the chunk: already-compressed media, ciphertext
and random bytes stay raw and cost one failed attempt, not a read-time decompression.

The stored form is a chunk of its own to everything below the manifest: its ChunkRef's chunk_id
and size_bytes are the compressed bytes' blake3 and length, so replicas, erasure shares, placement
records, repair, scrub, fsck and garbage collection handle it without knowing it is compressed,
and check the stored bytes as they check any. The chunk's identity (what the object is made of)
is kept beside it: plain_blake3 and plain_size_bytes, the uncompressed chunk's blake3 and length,
and every read checks the decompressed bytes against them. Compression is deterministic for one
zstd version and level, so identical chunks put compressed deduplicate as raw ones do (a raw and a
compressed copy of one chunk are two stored chunks, as a replicated and an erasure-coded one are).

Reads: a range inside a compressed chunk reads and decompresses the whole chunk (zstd frames are not
seekable), then slices; a degraded erasure-coded read decodes the compressed stripe first. Direct
reads (clients fetching chunks from holders) are not planned for objects with compressed chunks:
the node decompresses and streams them.

Rejected: compressing whole objects (a range would read from the start), and keying the stored
copy by the uncompressed blake3 with a "compressed" flag in the copy's layout (every holder-side
path, file name and db key would learn a new layout, and a copy's key would no longer be the hash
its bytes are checked against).
"""

from __future__ import annotations

import threading

import blake3
import zstandard

from node import errors
from ringstore.v1 import common_pb2

_local = threading.local()
# The sample of a large chunk tried first, at level 1, and the share of it the sample must shrink
# to for the whole chunk to be tried.
SAMPLE_BYTES = 64 * 1024
SAMPLE_RATIO_MAX = 0.98


def _compressor(level: int) -> zstandard.ZstdCompressor:
    """One compressor per thread and level (a ZstdCompressor must not be used by two threads at once)."""
    cached = getattr(_local, "compressors", None)
    if cached is None:
        cached = _local.compressors = {}
    if level not in cached:
        # No frame content size or checksum: the ChunkRef records the length and blake3 already.
        cached[level] = zstandard.ZstdCompressor(level=level, write_content_size=False, write_checksum=False)
    return cached[level]


def _decompressor() -> zstandard.ZstdDecompressor:
    found = getattr(_local, "decompressor", None)
    if found is None:
        found = _local.decompressor = zstandard.ZstdDecompressor()
    return found


def compressed(data: bytes | bytearray | memoryview, *, level: int, saving_min: float) -> bytes | None:
    """The chunk compressed, or None when that would not save at least `saving_min` of it. A large
    chunk whose first SAMPLE_BYTES do not shrink at all is taken for incompressible without trying
    the rest (media, archives, ciphertext: the whole attempt cost 2.7 ms of CPU per MB)."""
    if len(data) >= 4 * SAMPLE_BYTES:
        sample = memoryview(data)[:SAMPLE_BYTES]
        if len(_compressor(1).compress(sample)) > len(sample) * SAMPLE_RATIO_MAX:
            return None
    out = _compressor(level).compress(data)
    return out if len(out) <= len(data) * (1.0 - saving_min) else None


def mark(ref: common_pb2.ChunkRef, plain: bytes | bytearray | memoryview, plain_blake3: bytes | None = None) -> None:
    """Record in `ref` (the stored form's) that it holds `plain` compressed."""
    ref.compression = common_pb2.COMPRESSION_ZSTD
    ref.plain_blake3 = plain_blake3 if plain_blake3 is not None else blake3.blake3(plain).digest()
    ref.plain_size_bytes = len(plain)


def mark_as(ref: common_pb2.ChunkRef, source: common_pb2.ChunkRef) -> None:
    """Copy `source`'s stored-form fields (compression, encryption at rest) to `ref`, a new
    placement of the same stored bytes."""
    ref.compression, ref.plain_blake3, ref.plain_size_bytes = (source.compression, source.plain_blake3,
                                                               source.plain_size_bytes)
    ref.encryption, ref.data_key_id = source.encryption, source.data_key_id


def is_compressed(ref: common_pb2.ChunkRef) -> bool:
    return ref.compression == common_pb2.COMPRESSION_ZSTD


def is_transformed(ref: common_pb2.ChunkRef) -> bool:
    """Whether the stored bytes differ from the chunk: compressed, or encrypted at rest
    (node/objects/at_rest.py); then plain_blake3 and plain_size_bytes describe the chunk."""
    return ref.compression == common_pb2.COMPRESSION_ZSTD or ref.encryption == common_pb2.ENCRYPTION_AES256_GCM


def plain_size(ref: common_pb2.ChunkRef) -> int:
    """The chunk's length in the object."""
    return ref.plain_size_bytes if is_transformed(ref) else ref.size_bytes


def identity(ref: common_pb2.ChunkRef) -> bytes:
    """The chunk's identity: blake3 of its bytes in the object (uncompressed); for a chunk
    encrypted at rest, the keyed form of that (node/objects/at_rest.py)."""
    return bytes(ref.plain_blake3) if is_transformed(ref) else bytes(ref.chunk_id)


def inflated(ref: common_pb2.ChunkRef, packed: bytes | bytearray | memoryview, where: str) -> bytes:
    """The chunk from its zstd form, checked against its recorded length."""
    try:
        plain = _decompressor().decompress(packed, max_output_size=ref.plain_size_bytes)
    except zstandard.ZstdError as err:
        raise errors.DataLoss(f"{where}: its stored bytes match their blake3 but do not decompress ({err}); "
                              "the manifest is damaged") from None
    if len(plain) != ref.plain_size_bytes:
        raise errors.DataLoss(f"{where}: decompresses to {len(plain)} bytes, not the {ref.plain_size_bytes} the "
                              "manifest records; the manifest is damaged")
    return plain


def decompressed(ref: common_pb2.ChunkRef, stored: bytes | bytearray | memoryview, name: str) -> bytes:
    """The chunk from its verified stored form, checked against its recorded length and blake3: a
    mismatch means the manifest and the copies disagree (DataLoss, never wrong bytes)."""
    where = f"chunk {bytes(ref.plain_blake3).hex()[:16]} of {name} (offset {ref.offset_bytes})"
    plain = inflated(ref, stored, where)
    if blake3.blake3(plain).digest() != ref.plain_blake3:
        raise errors.DataLoss(f"{where}: decompresses to bytes other than the manifest records; the manifest "
                              "is damaged")
    return plain
