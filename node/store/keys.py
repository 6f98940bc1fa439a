"""Names of things on disk: share keys, LMDB keys, object references, and the order of versions.

A share is `(chunk_id, share_index, data_shares, parity_shares)`. A whole-chunk replica has
`share_index=None` and no geometry (0, 0); an erasure share has a zfec geometry K+M
(1 <= K, 1 <= M, K+M <= 256) and an index 0..K+M-1. The geometry is part of the key because one
chunk may be stored under several layouts at once (replicated for one object version, 4+2 for
another, 2+1 while `nodectl convert` rewrites it): share 3 of a 4+2 stripe and share 3 of a 6+3
stripe are different bytes and must be different files and index entries.

`chunks` db keys:

    replica        chunk_id + b"r"                          33 bytes
    erasure share  chunk_id + b"e" + bytes([K, M, index])   36 bytes

Why a tag byte and fixed widths instead of, say, `chunk_id + bytes([index])`: a one-byte tag has 256
values and we need 257 (256 share indexes plus the replica), and with two fixed lengths whose byte
32 differs (`r` vs `e`) no db key is a prefix of another. That is what makes every prefix scan on a
db key exact: the `refs` db keys its rows `db_key + ref_key`, and the rows of one share are
precisely the keys starting with its db key, never a neighbour's. All shares of one chunk still sit
next to each other under the 32-byte chunk id, and all shares of one layout under
`chunk_id + b"e" + K, M`.

File name suffixes are `r` for a replica and `<index>of<K>+<M>` for a share (`3of4+2`): readable in
`ls`, and distinct across geometries for the same reason the db keys are.

Placement records are kept per layout (`placement_key`): a replicated chunk's record under the bare
32-byte chunk id (as before erasure coding existed), an erasure layout's under
`chunk_id + b"e" + K, M` (35 bytes), so the replicated and the 4+2 placement of one chunk never
overwrite each other.

A reference row names the object version a copy was stored for (`ObjectRef`). Its key suffix,
`ref_key`, is a blake3 of a length-prefixed encoding of (tenant, bucket, key, physical_ms, logical,
node_id, rewrite): fixed at 32 bytes because LMDB keys are at most 511 bytes and object keys alone
may be 1024; our own encoding rather than protobuf's so that the key never changes with the
protobuf library (protobuf promises no canonical byte form across versions).

Manifest keys are `tenant \\0 bucket \\0 key` in UTF-8 and bucket keys `tenant \\0 name`. UTF-8 byte
order is code point order, so LMDB's byte order is the listing order and a prefix listing is one
cursor range scan. NUL never appears inside a part (the API layer rejects it), which keeps the
separator unambiguous; reaching here with one is our bug, hence an assert.

The same order makes a partition (a bucket's manifests, a tenant's bucket records) one contiguous
key range, and the partition's prefix with its last separator raised to 0x01 is the smallest key
after it: every key of partition `t \\0 b` starts `t \\0 b \\0`, and a key between those and
`t \\0 b \\x01` would have to start `t \\0 b` followed by a byte below 0x01, the separator itself.
So listing the distinct partitions is one cursor seek per partition (`key_partition`), however many
records each holds; bucket "abc" ends at `t \\0 abc \\x01`, before bucket "abcd" starts.

Long keys: LMDB keys are at most 511 bytes (LMDB_KEY_BYTES_MAX) and object keys may be 1024. A
manifest key longer than MANIFEST_DB_KEY_INLINE_BYTES_MAX (478) bytes is stored as its first 478
bytes (the "head"), a NUL and a blake3 of the whole key: 511 bytes; the manifest itself carries the
full key. Order is kept everywhere except inside one group of shortened keys sharing a head: a key
kept whole is at most 478 bytes, so against any shortened key it compares within the head (or is a
prefix of it, and then sorts first in both orders). Inside a group LMDB orders by hash, so a listing
reads the group whole and sorts it by full key (keeping only as many as the page needs, so memory
stays bounded). Only keys sharing their first 478 bytes pay that; a prefix or start_after longer
than the head seeks to its head and filters on the full key. Rejected alternatives: a second db
mapping hash -> key (one more write per put for what the value already says), and LMDB's
MDB_MAXKEYSIZE rebuilt larger (the lmdb wheel is built with the default; we would ship our own).

Versions order by `(physical_ms, logical, node_id, rewrite)` of the HLC stamp: last writer wins,
and every replica agrees on which writer was last.
"""

from __future__ import annotations

import dataclasses
import struct

import blake3

from node.hlc import stamp_key
from ringstore.v1 import common_pb2

from node.store.errors import InvalidArgument

# The version order is the HLC's; one definition, named here for the store's readers.
version_key = stamp_key


def ballot_key(ballot: common_pb2.Ballot) -> tuple[int, str]:
    """Total order of bucket register ballots: greater wins; unset (0, "") is the least."""
    return (ballot.counter, ballot.node_id)


def bucket_order_key(record: common_pb2.BucketRecord) -> tuple[tuple[int, str], tuple[int, int, str, int]]:
    """Which of two versions of one bucket record is newer: the ballot it was accepted under first
    (the register's own order, see node/objects/register.py), then its version stamp (the only order
    format 1 records, written before ballots, have)."""
    return (ballot_key(record.ballot), version_key(record.version))

CHUNK_ID_BYTES = 32
# zfec's limit: at most 256 shares per stripe, so K, M and the index each fit in one byte.
SHARES_PER_STRIPE_MAX = 256
SHARE_INDEX_MAX = SHARES_PER_STRIPE_MAX - 1
REPLICA_SUFFIX = "r"
REF_KEY_BYTES = 32
_REPLICA_TAG = b"r"
_SHARE_TAG = b"e"
_SEPARATOR = b"\0"
# The byte after the separator: `prefix + _PARTITION_END` sorts after every key of a partition.
_PARTITION_END = b"\x01"
REPLICA_DB_KEY_BYTES = CHUNK_ID_BYTES + 1
SHARE_DB_KEY_BYTES = CHUNK_ID_BYTES + 4
ERASURE_LAYOUT_KEY_BYTES = CHUNK_ID_BYTES + 3
# LMDB's compiled-in key size limit (lmdb.Environment.max_key_size(); the store checks it at open).
LMDB_KEY_BYTES_MAX = 511
# Manifest db keys up to this long are stored whole; longer ones (object keys may be 1024 bytes)
# become this head + NUL + a 32-byte blake3: LMDB_KEY_BYTES_MAX - 1 - 32.
MANIFEST_DB_KEY_INLINE_BYTES_MAX = LMDB_KEY_BYTES_MAX - 1 - 32
# Most bytes `tenant \0 bucket \0` may take, so a shortened key's head always holds the whole
# partition prefix (key_partition splits on it) plus at least this much of the object key.
MANIFEST_PARTITION_BYTES_MAX = 256
_MANIFEST_KEY_CONTEXT = b"ringstore.v1.ManifestKey\0"
# Domain separation: a ref key can never equal a blake3 the store computes for anything else.
_REF_KEY_CONTEXT = b"ringstore.v1.ObjectRef\0"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_chunk_id(chunk_id: object) -> bytes:
    if not isinstance(chunk_id, (bytes, bytearray, memoryview)):
        raise InvalidArgument(f"chunk id must be bytes, got {type(chunk_id).__name__}")
    raw = bytes(chunk_id)
    if len(raw) != CHUNK_ID_BYTES:
        raise InvalidArgument(f"chunk id must be {CHUNK_ID_BYTES} bytes (blake3), got {len(raw)}")
    return raw


def _check_geometry(data_shares: object, parity_shares: object) -> None:
    """Raise unless (data_shares, parity_shares) is a zfec geometry: K >= 1, M >= 1, K+M <= 256."""
    if not (_is_int(data_shares) and _is_int(parity_shares)):
        raise InvalidArgument(f"erasure geometry must be integers, got data_shares={data_shares!r} "
                              f"parity_shares={parity_shares!r}")
    assert isinstance(data_shares, int) and isinstance(parity_shares, int)  # for the type checker
    if data_shares < 1 or parity_shares < 1 or data_shares + parity_shares > SHARES_PER_STRIPE_MAX:
        raise InvalidArgument(
            f"erasure geometry {data_shares}+{parity_shares} is invalid: need data_shares >= 1, "
            f"parity_shares >= 1 and data_shares + parity_shares <= {SHARES_PER_STRIPE_MAX}")


def placement_key(chunk_id: bytes, data_shares: int = 0, parity_shares: int = 0) -> bytes:
    """Key of a layout's placement record: the chunk id for replication (0, 0), else
    `chunk_id + b"e" + K, M`. Raises InvalidArgument for a malformed chunk id or geometry."""
    chunk_id = _check_chunk_id(chunk_id)
    if data_shares == 0 and parity_shares == 0 and _is_int(data_shares) and _is_int(parity_shares):
        return chunk_id
    _check_geometry(data_shares, parity_shares)
    return chunk_id + _SHARE_TAG + bytes([data_shares, parity_shares])


def layout_db_prefix(chunk_id: bytes, data_shares: int = 0, parity_shares: int = 0) -> bytes:
    """Prefix of the `chunks` db keys of every share of one layout: the replica's own key
    `chunk_id + b"r"`, or `chunk_id + b"e" + K, M` for a K+M stripe. Exact, since no db key is a
    prefix of another. Raises InvalidArgument for a malformed chunk id or geometry."""
    key = placement_key(chunk_id, data_shares, parity_shares)
    return key + _REPLICA_TAG if len(key) == CHUNK_ID_BYTES else key


@dataclasses.dataclass(frozen=True)
class ShareKey:
    """One stored replica or erasure share of a chunk, under one layout."""

    chunk_id: bytes  # 32 bytes
    share_index: int | None = None  # None = whole-chunk replica; 0..K+M-1 = erasure share
    data_shares: int = 0  # K; 0 for a replica
    parity_shares: int = 0  # M; 0 for a replica

    def __post_init__(self) -> None:
        object.__setattr__(self, "chunk_id", _check_chunk_id(self.chunk_id))
        index, k, m = self.share_index, self.data_shares, self.parity_shares
        if index is None:
            if k != 0 or m != 0 or not (_is_int(k) and _is_int(m)):
                raise InvalidArgument(
                    f"a replica (share index None) has no erasure geometry, got "
                    f"data_shares={k!r} parity_shares={m!r}; give a share index for an erasure "
                    "share")
            return
        if not _is_int(index):
            raise InvalidArgument(
                f"share index must be None (replica) or an integer, got {index!r}")
        if k == 0 and m == 0:
            raise InvalidArgument(
                f"erasure share index {index} given without a geometry (data_shares=0, "
                "parity_shares=0); pass data_shares and parity_shares, or None for a replica")
        _check_geometry(k, m)
        if not 0 <= index < k + m:
            raise InvalidArgument(
                f"share index {index} is out of range for geometry {k}+{m}: need 0..{k + m - 1}")

    @property
    def is_replica(self) -> bool:
        return self.share_index is None

    def suffix(self) -> str:
        """File name suffix: "r" for a replica, "<index>of<K>+<M>" for an erasure share."""
        if self.share_index is None:
            return REPLICA_SUFFIX
        return f"{self.share_index}of{self.data_shares}+{self.parity_shares}"

    def db_key(self) -> bytes:
        """Key of this share's entry in the `chunks` db (33 bytes replica, 36 bytes share)."""
        if self.share_index is None:
            return self.chunk_id + _REPLICA_TAG
        return self.chunk_id + _SHARE_TAG + bytes(
            [self.data_shares, self.parity_shares, self.share_index])

    @classmethod
    def from_db_key(cls, raw: bytes) -> "ShareKey":
        """Inverse of `db_key`. The store only parses keys it wrote, so a malformed one is our bug
        (or a data dir of another layout version, which open refuses before we get here)."""
        raw = bytes(raw)
        chunk_id, tag = raw[:CHUNK_ID_BYTES], raw[CHUNK_ID_BYTES:]
        if tag == _REPLICA_TAG:
            return cls(chunk_id)
        assert len(tag) == 4 and tag[:1] == _SHARE_TAG, f"bad chunks db key {raw.hex()}"
        return cls(chunk_id, tag[3], tag[1], tag[2])

    def layout_key(self) -> bytes:
        """Key of the placement record of this share's layout (see `placement_key`)."""
        return placement_key(self.chunk_id, self.data_shares, self.parity_shares)

    def layout_db_prefix(self) -> bytes:
        """Prefix of the `chunks` db keys of every share of this share's layout on this node (see
        the module-level `layout_db_prefix`)."""
        return layout_db_prefix(self.chunk_id, self.data_shares, self.parity_shares)

    def __str__(self) -> str:
        return f"{self.chunk_id.hex()}.{self.suffix()}"

    @classmethod
    def from_file_name(cls, name: str) -> "ShareKey | None":
        """Inverse of `str()`, for re-indexing share files when the index is lost: the key a
        final file's name says, or None for a name this layout never writes."""
        hex_id, _, suffix = name.partition(".")
        try:
            chunk_id = bytes.fromhex(hex_id)
            if suffix == REPLICA_SUFFIX:
                return cls(chunk_id)
            index, _, geometry = suffix.partition("of")
            data_shares, _, parity_shares = geometry.partition("+")
            return cls(chunk_id, int(index), int(data_shares), int(parity_shares))
        except (ValueError, InvalidArgument):
            return None


def _length_prefixed(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack(">Q", len(raw)) + raw


def ref_key(ref: common_pb2.ObjectRef) -> bytes:
    """Deterministic 32-byte key suffix of an object version reference (see the module
    docstring). Equal refs give equal keys; different refs different keys (up to blake3)."""
    if not isinstance(ref, common_pb2.ObjectRef):
        raise InvalidArgument(f"reference must be an ObjectRef, got {type(ref).__name__}")
    stamp = ref.version
    encoded = b"".join([
        _REF_KEY_CONTEXT,
        _length_prefixed(ref.tenant), _length_prefixed(ref.bucket), _length_prefixed(ref.key),
        struct.pack(">QI", stamp.physical_ms, stamp.logical), _length_prefixed(stamp.node_id),
        struct.pack(">I", stamp.rewrite),
    ])
    return blake3.blake3(encoded).digest()


def ref_row_key(share: ShareKey, ref: common_pb2.ObjectRef) -> bytes:
    """Key of one reference row in the `refs` db: the share's db key, then `ref_key`."""
    return share.db_key() + ref_key(ref)


def _part(name: str, what: str) -> bytes:
    raw = name.encode("utf-8")
    assert _SEPARATOR not in raw, f"{what} {name!r} contains NUL; the API layer must reject it"
    return raw


def manifest_key_prefix(tenant: str, bucket: str) -> bytes:
    """Prefix shared by every manifest key of one bucket (ends with the separator)."""
    return _part(tenant, "tenant") + _SEPARATOR + _part(bucket, "bucket") + _SEPARATOR


def manifest_key(tenant: str, bucket: str, key: str) -> bytes:
    """The manifest's LMDB key: `tenant \\0 bucket \\0 key` when that is at most
    MANIFEST_DB_KEY_INLINE_BYTES_MAX bytes, else its first MANIFEST_DB_KEY_INLINE_BYTES_MAX bytes, a
    NUL and the blake3 of the whole (see the module docstring). Raises InvalidArgument when tenant
    and bucket alone leave no room for a key."""
    base = manifest_key_prefix(tenant, bucket)
    if len(base) > MANIFEST_PARTITION_BYTES_MAX:
        raise InvalidArgument(
            f"tenant and bucket take {len(base)} bytes of a manifest key; the limit is "
            f"{MANIFEST_PARTITION_BYTES_MAX}: use a shorter bucket or tenant name")
    return hashed_db_key(base + _part(key, "key"))


def hashed_db_key(raw: bytes) -> bytes:
    """`raw` itself when it fits MANIFEST_DB_KEY_INLINE_BYTES_MAX, else its inline head + NUL +
    blake3(raw): at most LMDB_KEY_BYTES_MAX bytes, and in `raw`'s order except among keys sharing
    the head (see the module docstring)."""
    if len(raw) <= MANIFEST_DB_KEY_INLINE_BYTES_MAX:
        return raw
    return (raw[:MANIFEST_DB_KEY_INLINE_BYTES_MAX] + _SEPARATOR
            + blake3.blake3(_MANIFEST_KEY_CONTEXT + raw).digest())


def is_hashed_db_key(db_key: bytes) -> bool:
    """True for a key `hashed_db_key` shortened (longer than any key it keeps whole)."""
    return len(db_key) > MANIFEST_DB_KEY_INLINE_BYTES_MAX


def hashed_group(db_key: bytes) -> bytes:
    """The head (and NUL) every shortened key of the same inline head starts with."""
    return db_key[:MANIFEST_DB_KEY_INLINE_BYTES_MAX + 1]


def bucket_key_prefix(tenant: str) -> bytes:
    """Prefix shared by every bucket record key of one tenant (ends with the separator)."""
    return _part(tenant, "tenant") + _SEPARATOR


def bucket_key(tenant: str, name: str) -> bytes:
    return bucket_key_prefix(tenant) + _part(name, "bucket")


def key_partition(db_key: bytes, parts: int) -> tuple[tuple[str, ...], bytes]:
    """The partition a manifest key (parts=2: tenant, bucket) or bucket key (parts=1: tenant) is
    in: its names, and the smallest key after every key of the partition, where the next partition
    starts at the earliest (see the module docstring)."""
    pieces = bytes(db_key).split(_SEPARATOR, parts)
    assert len(pieces) == parts + 1, f"key {db_key!r} has fewer than {parts} separators"
    prefix = _SEPARATOR.join(pieces[:parts])
    names = tuple(piece.decode("utf-8") for piece in pieces[:parts])
    return names, prefix + _PARTITION_END


def policy_geometry(policy: common_pb2.RedundancyPolicy) -> tuple[int, int]:
    """(data_shares, parity_shares) of the layout a policy stores chunks under: (0, 0) for
    replication. Raises InvalidArgument for an unset policy or an invalid K+M."""
    kind = policy.WhichOneof("policy")
    if kind == "replication":
        return 0, 0
    if kind == "erasure_coding":
        coding = policy.erasure_coding
        _check_geometry(coding.data_shares, coding.parity_shares)
        return coding.data_shares, coding.parity_shares
    raise InvalidArgument("redundancy policy is unset; set replication or erasure_coding")


def describe_geometry(data_shares: int, parity_shares: int) -> str:
    """"replication" or "erasure coding K+M", for messages."""
    if data_shares == 0 and parity_shares == 0:
        return "replication"
    return f"erasure coding {data_shares}+{parity_shares}"
