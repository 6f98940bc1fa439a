"""Where things sit on the ring: every key becomes a 64-bit position.

Design: a position is the first 8 bytes, big-endian, of a blake3 digest. Chunk ids already are
blake3 digests of the chunk's plaintext, so a chunk's position is read straight off its id (no
second hash per 4 MiB chunk). Metadata is placed by hashing a domain-separated name: the manifests
of one bucket all share one position (`metadata_position`), so `ls --prefix` is a range scan on one
replica set, and the bucket records of one tenant share another (`bucket_directory_position`). The
prefixes `manifests\\0` and `buckets\\0` keep the two families apart from each other and from
anything we hash later, and NUL separates the fields, which is why names may not contain NUL.

Rejected: hashing each manifest by (tenant, bucket, key). It spreads metadata more evenly, but a
listing would then have to ask every node in the cluster instead of one replica set.

Rejected: 128- or 256-bit positions. 64 bits already make token collisions astronomically rare for
any cluster we can run, and Python ints of 64 bits compare and bisect quickly.
"""

from __future__ import annotations

import blake3

RING_BITS = 64
# Number of positions on the ring; positions are integers in [0, RING_SIZE).
RING_SIZE = 1 << RING_BITS
POSITION_MAX = RING_SIZE - 1

CHUNK_ID_BYTES = 32
_POSITION_BYTES = RING_BITS // 8

_MANIFESTS_DOMAIN = b"manifests\0"
_BUCKETS_DOMAIN = b"buckets\0"
_QUOTA_DOMAIN = b"quota\0"


def position_from_digest(digest: bytes) -> int:
    """The ring position of a hash digest: its first 8 bytes read as a big-endian integer."""
    if len(digest) < _POSITION_BYTES:
        raise ValueError(f"digest is {len(digest)} bytes; a ring position needs at least "
                         f"{_POSITION_BYTES}")
    return int.from_bytes(digest[:_POSITION_BYTES], "big")


def chunk_position(chunk_id: bytes) -> int:
    """Position of a chunk: chunk ids are blake3 digests (32 bytes), so their first 8 bytes."""
    if len(chunk_id) != CHUNK_ID_BYTES:
        raise ValueError(f"chunk id is {len(chunk_id)} bytes; expected a {CHUNK_ID_BYTES}-byte "
                         f"blake3 digest")
    return position_from_digest(chunk_id)


def metadata_position(tenant: str, bucket: str) -> int:
    """Position of a bucket's manifests: blake3(b"manifests\\0" + tenant + b"\\0" + bucket)."""
    digest = blake3.blake3(_MANIFESTS_DOMAIN + _name_bytes("tenant", tenant) + b"\0"
                           + _name_bytes("bucket", bucket)).digest()
    return position_from_digest(digest)


def bucket_directory_position(tenant: str) -> int:
    """Position of a tenant's bucket records: blake3(b"buckets\\0" + tenant)."""
    digest = blake3.blake3(_BUCKETS_DOMAIN + _name_bytes("tenant", tenant)).digest()
    return position_from_digest(digest)


def _name_bytes(what: str, name: str) -> bytes:
    # NUL separates fields in the hashed string; a NUL inside a name would let two different
    # (tenant, bucket) pairs share a position.
    if "\0" in name:
        raise ValueError(f"{what} name {name!r} contains NUL, which is not allowed")
    return name.encode("utf-8")


def quota_desk_position(owner: str) -> int:
    """Position of the quota desk of a tenant (its first live node keeps the tenant's quota holds,
    node/quota/desk.py): blake3(b"quota\\0" + owner); owner "" is the operator's buckets."""
    return position_from_digest(blake3.blake3(_QUOTA_DOMAIN + owner.encode("utf-8")).digest())
