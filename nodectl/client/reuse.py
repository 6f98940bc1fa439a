"""Puts of a file that send only the chunks its bucket does not already store.

The file is cut where the cluster cuts objects (HasChunksResponse.chunk_size_bytes, 4 MiB by
default) and each piece hashed; `HasChunks` says which of those chunk ids the bucket already
stores, and the put stream names those (`KnownChunk`) instead of carrying their bytes
(node/objects/known_chunks.py). Appending 1 MiB to a stored 1 GiB file sends about 1 MiB.

The file is read twice: once to hash, once to send the new chunks. Each chunk sent is hashed again
on the way and must match the id the first pass found, and the file's size, modification and
change times must be what they were when hashing began, or the stream is cancelled before its
end message (so the node stores nothing) and the put starts over, up to FILE_CHANGE_RETRIES times:
a manifest never mixes two versions of a file. (A change that keeps the size and lands within the
file system's timestamp granularity of the first read is beyond what a stat can see.)

Cost for a file nothing of which is stored yet: the hash pass of its first PROBE_CHUNKS chunks and
one HasChunks call, after which the put streams as any other. A file whose first PROBE_CHUNKS
chunks are all new is taken for new: fixed-size chunks reuse appended and overwritten-in-place
files, and an edit that moved every byte of the first 64 MiB has moved the rest too.

A put encrypted in the client (encryption.py) works the same on its ciphertext: the file is cut
into plaintext blocks, each encrypted (deterministically under the key) into the block the cluster
stores as one chunk, and the chunk ids asked about are the blake3s of those blocks; the blocks
sent are encrypted again from the file and checked against their ids. Only when the cluster's
chunk is the block's size (4 MiB): otherwise the blocks would straddle chunks and nothing is reused.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import blake3
from ringstore.etag import chunks_digest
from ringstore.v1 import object_pb2

from nodectl.client.limits import FRAME_SIZE_BYTES

if TYPE_CHECKING:
    from nodectl.client.encryption import EncryptionKey

# Chunks hashed and asked about before deciding that nothing of a file is stored.
PROBE_CHUNKS = 16
# Most chunk ids per HasChunks call (the node's limit).
HAS_CHUNKS_IDS_MAX = 1024
# Times a put starts over because the file changed under it.
FILE_CHANGE_RETRIES = 3


@dataclasses.dataclass
class TransferStats:
    """What puts sent: object bytes carried over the wire, and bytes named as already stored."""

    sent_bytes: int = 0
    reused_bytes: int = 0
    objects: int = 0

    def add(self, other: TransferStats) -> None:
        self.sent_bytes += other.sent_bytes
        self.reused_bytes += other.reused_bytes
        self.objects += other.objects


class FileChanged(Exception):
    """The file changed between hashing and sending (internal: the put starts over)."""


def signature(st: os.stat_result) -> tuple[int, int, int, int]:
    """What says a file is unchanged: its size, modification and change times, and inode."""
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def path_signature(path: os.PathLike[str] | str) -> tuple[int, int, int, int] | None:
    """`signature` of the file at `path`; None when there is none."""
    try:
        return signature(os.stat(path))
    except FileNotFoundError:
        return None


@dataclasses.dataclass
class Plan:
    """One file cut into chunks: (blake3, size) per chunk, and which the bucket holds."""

    path: os.PathLike[str] | str
    signature: tuple[int, int, int, int]
    chunk_size_bytes: int
    ids: list[tuple[bytes, int]]  # (chunk id, stored size) per piece
    held: list[bool]
    # A put encrypted in the client: each piece of the file is one plaintext block, stored encrypted.
    key: EncryptionKey | None = None

    @classmethod
    def of(cls, path: os.PathLike[str] | str, digest: FileDigest, chunk_size_bytes: int,
           ask: Callable[[list[bytes]], list[bool]]) -> Plan:
        """The plan of a file already digested, asking about its chunks `HAS_CHUNKS_IDS_MAX` at a time."""
        held: list[bool] = []
        for start in range(0, len(digest.ids), HAS_CHUNKS_IDS_MAX):
            held += ask([chunk_id for chunk_id, _ in digest.ids[start:start + HAS_CHUNKS_IDS_MAX]])
        return cls(path, digest.signature, chunk_size_bytes, list(digest.ids), held)

    @property
    def size_bytes(self) -> int:
        """The object's size: the file's, or its ciphertext's when encrypted."""
        if self.key is None:
            return self.signature[0]
        from nodectl.client.encryption import cipher_size
        return cipher_size(self.signature[0])

    @property
    def piece_bytes(self) -> int:
        """How much of the file each chunk holds."""
        return _piece_bytes(self.chunk_size_bytes, self.key)

    @property
    def reused_bytes(self) -> int:
        return sum(size for (_, size), held in zip(self.ids, self.held) if held)

    def body(self, stats: TransferStats) -> Iterator[bytes | memoryview | object_pb2.KnownChunk]:
        """The put's payload: known chunks for held ones, frames of the others, each checked
        against its id; FileChanged when the file is no longer what was hashed."""
        with open(self.path, "rb", buffering=0) as f:
            if signature(os.fstat(f.fileno())) != self.signature:
                raise FileChanged()
            offset = 0
            for (chunk_id, size), held in zip(self.ids, self.held):
                piece = min(self.piece_bytes, self.signature[0] - offset)
                if held:
                    yield object_pb2.KnownChunk(chunk_id=chunk_id, size_bytes=size)
                else:
                    # A buffer per chunk, never refilled: gRPC may still hold its frames.
                    view = memoryview(bytearray(piece))
                    if _read_at(f, view, offset) != piece:
                        raise FileChanged()
                    if self.key is not None:
                        view = memoryview(self.key.encrypt_block(bytes(view)))
                    if len(view) != size or blake3.blake3(view).digest() != chunk_id:
                        raise FileChanged()
                    for start in range(0, size, FRAME_SIZE_BYTES):
                        yield view[start:start + FRAME_SIZE_BYTES]
                    stats.sent_bytes += size
                offset += piece
            if signature(os.fstat(f.fileno())) != self.signature or signature(os.stat(self.path)) != self.signature:
                raise FileChanged()
        stats.reused_bytes += self.reused_bytes


def _pieces(f: Any, size_bytes: int, chunk_size_bytes: int) -> Iterator[memoryview]:
    """The file's chunk_size_bytes pieces up to `size_bytes`, each a view of one buffer that the
    next piece overwrites; FileChanged when the file is shorter than that."""
    buffer = bytearray(chunk_size_bytes)
    offset = 0
    while offset < size_bytes:
        view = memoryview(buffer)[:min(chunk_size_bytes, size_bytes - offset)]
        if _read_at(f, view, offset) != len(view):
            raise FileChanged()
        yield view
        offset += len(view)


def _read_at(f: Any, view: memoryview, offset: int) -> int:
    done = 0
    while done < len(view):
        got = os.preadv(f.fileno(), [view[done:]], offset + done)
        if not got:
            break
        done += got
    return done


@dataclasses.dataclass(frozen=True)
class FileDigest:
    """What a file held when it was read: its stat signature, the blake3 of all of it, and the
    (blake3, size) of each chunk_size_bytes piece."""

    signature: tuple[int, int, int, int]
    whole: bytes
    ids: list[tuple[bytes, int]]

    @property
    def chunks_blake3(self) -> bytes:
        """What a put naming its chunks records as the object's Manifest.chunks_blake3."""
        return chunks_digest(chunk_id for chunk_id, _ in self.ids)


def digest_file(path: os.PathLike[str] | str, chunk_size_bytes: int) -> FileDigest:
    """Read the file once: FileChanged when it changed while being read."""
    with open(path, "rb", buffering=0) as f:
        signed = signature(os.fstat(f.fileno()))
        whole = blake3.blake3(max_threads=blake3.blake3.AUTO)
        ids: list[tuple[bytes, int]] = []
        for view in _pieces(f, signed[0], chunk_size_bytes):
            whole.update(view)
            ids.append((blake3.blake3(view, max_threads=blake3.blake3.AUTO).digest(), len(view)))
        if _read_at(f, memoryview(bytearray(1)), signed[0]):
            raise FileChanged()  # it grew
    if signature(os.stat(path)) != signed:
        raise FileChanged()
    return FileDigest(signed, whole.digest(), ids)


def _piece_bytes(chunk_size_bytes: int, key: EncryptionKey | None) -> int:
    if key is None:
        return chunk_size_bytes
    from nodectl.client.encryption import BLOCK_PLAIN_BYTES
    return BLOCK_PLAIN_BYTES


def plan(path: os.PathLike[str] | str, chunk_size_bytes: int,
         ask: Callable[[list[bytes]], list[bool]], *, key: EncryptionKey | None = None) -> Plan | None:
    """Hash the file's chunks and ask which the bucket holds (`ask`: one HasChunks call, at most
    HAS_CHUNKS_IDS_MAX ids). None when the file is at most one chunk or none of its first
    PROBE_CHUNKS chunks is held: a plain put is as cheap then. With `key`, the chunks are the
    file's blocks encrypted under it (None when the cluster's chunk is not the block's size)."""
    if key is not None:
        from nodectl.client.encryption import BLOCK_CIPHER_BYTES
        if chunk_size_bytes != BLOCK_CIPHER_BYTES:
            return None
    piece_bytes = _piece_bytes(chunk_size_bytes, key)
    with open(path, "rb", buffering=0) as f:
        signed = signature(os.fstat(f.fileno()))
        if signed[0] <= piece_bytes:
            return None
        ids: list[tuple[bytes, int]] = []
        held: list[bool] = []
        offset = 0
        for view in _pieces(f, signed[0], piece_bytes):
            stored = view if key is None else key.encrypt_block(bytes(view))
            ids.append((blake3.blake3(stored, max_threads=blake3.blake3.AUTO).digest(), len(stored)))
            offset += len(view)
            asked = len(held)
            if len(ids) - asked == (PROBE_CHUNKS if not asked else HAS_CHUNKS_IDS_MAX) or offset >= signed[0]:
                held += ask([chunk_id for chunk_id, _ in ids[asked:]])
                if asked == 0 and not any(held):
                    return None
    if signature(os.stat(path)) != signed:
        raise FileChanged()
    return Plan(path, signed, chunk_size_bytes, ids, held, key)
