"""Names of things on disk: share keys, LMDB keys, and the order of versions.

A share is `(chunk_id, share_index)`: `share_index=None` is a whole-chunk replica, 0..255 an erasure
share. Its file name suffix is `r` or the decimal index; its `chunks` db key is the chunk id plus
`b"r"` (replica) or `b"e"` + one byte of index (erasure share).

Why `b"e" + index` and not the single byte `bytes([index])`: a one-byte tag has 256 values and we
need 257 (256 share indexes plus the replica); `bytes([114])` is `b"r"`, so share 114 would share its
index entry with the replica. Replica keys are 33 bytes and share keys 34, so they can never collide,
and all shares of one chunk still sit next to each other under the 32-byte chunk id prefix.

Manifest keys are `tenant \\0 bucket \\0 key` in UTF-8 and bucket keys `tenant \\0 name`. UTF-8 byte
order is code point order, so LMDB's byte order is the listing order and a prefix listing is one
cursor range scan. NUL never appears inside a part (the API layer rejects it), which keeps the
separator unambiguous; reaching here with one is our bug, hence an assert.

Versions order by `(physical_ms, logical, node_id)` of the HLC stamp: last writer wins, and every
replica agrees on which writer was last.
"""

from __future__ import annotations

import dataclasses

from node.hlc import stamp_key
from ringstore.v1 import common_pb2

from node.store.errors import InvalidArgument

# The version order is the HLC's; one definition, named here for the store's readers.
version_key = stamp_key

CHUNK_ID_BYTES = 32
SHARE_INDEX_MAX = 255
REPLICA_SUFFIX = "r"
_REPLICA_TAG = b"r"
_SHARE_TAG = b"e"
_SEPARATOR = b"\0"


@dataclasses.dataclass(frozen=True)
class ShareKey:
    """One stored replica or erasure share of a chunk."""

    chunk_id: bytes  # 32 bytes
    share_index: int | None = None  # None = whole-chunk replica; 0..255 = erasure share

    def __post_init__(self) -> None:
        if not isinstance(self.chunk_id, (bytes, bytearray, memoryview)):
            raise InvalidArgument(f"chunk id must be bytes, got {type(self.chunk_id).__name__}")
        if not isinstance(self.chunk_id, bytes):
            object.__setattr__(self, "chunk_id", bytes(self.chunk_id))
        if len(self.chunk_id) != CHUNK_ID_BYTES:
            raise InvalidArgument(
                f"chunk id must be {CHUNK_ID_BYTES} bytes (blake3), got {len(self.chunk_id)}")
        index = self.share_index
        if index is not None and (isinstance(index, bool) or not isinstance(index, int)
                                  or not 0 <= index <= SHARE_INDEX_MAX):
            raise InvalidArgument(
                f"share index must be None (replica) or 0..{SHARE_INDEX_MAX}, got {index!r}")

    def suffix(self) -> str:
        """File name suffix: "r" for a replica, the decimal index for an erasure share."""
        return REPLICA_SUFFIX if self.share_index is None else str(self.share_index)

    def db_key(self) -> bytes:
        """Key of this share's entry in the `chunks` db."""
        if self.share_index is None:
            return self.chunk_id + _REPLICA_TAG
        return self.chunk_id + _SHARE_TAG + bytes([self.share_index])

    @classmethod
    def from_db_key(cls, raw: bytes) -> "ShareKey":
        """Inverse of `db_key`."""
        chunk_id, tag = raw[:CHUNK_ID_BYTES], raw[CHUNK_ID_BYTES:]
        if tag == _REPLICA_TAG:
            return cls(chunk_id)
        assert len(tag) == 2 and tag[:1] == _SHARE_TAG, f"bad chunks db key {raw.hex()}"
        return cls(chunk_id, tag[1])

    def __str__(self) -> str:
        return f"{self.chunk_id.hex()}.{self.suffix()}"


def _part(name: str, what: str) -> bytes:
    raw = name.encode("utf-8")
    assert _SEPARATOR not in raw, f"{what} {name!r} contains NUL; the API layer must reject it"
    return raw


def manifest_key_prefix(tenant: str, bucket: str) -> bytes:
    """Prefix shared by every manifest key of one bucket (ends with the separator)."""
    return _part(tenant, "tenant") + _SEPARATOR + _part(bucket, "bucket") + _SEPARATOR


def manifest_key(tenant: str, bucket: str, key: str) -> bytes:
    return manifest_key_prefix(tenant, bucket) + _part(key, "key")


def bucket_key_prefix(tenant: str) -> bytes:
    """Prefix shared by every bucket record key of one tenant (ends with the separator)."""
    return _part(tenant, "tenant") + _SEPARATOR


def bucket_key(tenant: str, name: str) -> bytes:
    return bucket_key_prefix(tenant) + _part(name, "bucket")
