"""The table digest: a fixed number of bucket hashes two nodes compare instead of their tables.

Design. The periodic push-pull sync used to send the whole table both ways, so its cost grew with
N (2.9 KB/s of payload per node at N = 1000). Now the caller sends a digest: each record goes to
bucket `bucket_of(node_id)` of a fixed `bucket_count`, and a bucket's hash is the XOR of the
`record_hash` of its records. The answer names the buckets whose hashes differ and carries the
answering node's records in them; the caller applies those and pushes back only its own records
there that the other side lacks or holds older (`Membership.on_sync_digest_reply`). A converged
cluster therefore exchanges 8 bytes per bucket per sync and no records, whatever its size, and a
divergence costs the records of the buckets it touches.

What a record hash covers: the node id and the record's version (generation, incarnation, state),
nothing else. Two records with equal versions never replace each other (`supersedes` is strict), so
a field outside the version that differed between two nodes could never be made equal by a sync;
hashing it would make those buckets differ, and be re-sent, at every sync forever. The accuser
named in a SUSPECT record (`suspected_by`) is such a field: two nodes legitimately hold the same
suspicion with different first accusers. Everything else a node announces changes only with a
new incarnation, so the version covers it.

XOR makes the digest incremental: adding a record, or replacing one, is one or two XORs into one
bucket, never a pass over the table. The hashes are BLAKE2b with an 8-byte digest, independent of
the process (not Python's `hash`), so nodes of different builds and hash seeds agree; the wire
contract (membership.proto, SyncDigestRequest) spells them out. Two nodes holding different records
in one bucket see equal hashes with probability 2^-64 per comparison; such a miss leaves that
difference to the next change in the bucket, as if gossip had missed it.

Rejected: a per-member version list (node id, generation, incarnation per member). Exact and
simple, but still O(N) bytes per sync (about 20 B per member); at N = 1000 it would cut the
payload by half, not make it flat. Rejected: a Merkle tree (buckets of buckets). It narrows a
difference down to a few records with small messages, but one round trip per level makes every sync
a conversation; with at most MEMBERS_MAX records one level already bounds what a difference costs to
the records of one bucket (N / bucket_count: about 16 at N = 1000 with 64 buckets).

Pure: values and functions, no clock, no I/O. Not thread-safe on its own: `Membership` guards its
`TableDigest` with its lock.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence

from node.errors import InvalidArgument
from node.gossip.member import MemberInfo

# Most buckets one digest may have: 32 KiB of hashes, far below the gRPC message limit, and more
# than MEMBERS_MAX records would fill.
BUCKETS_MAX = 4096
# (node id, bucket count) -> bucket pairs remembered: twice membership.MEMBERS_MAX, so a full table
# fits under two bucket counts (a peer asking with another count); a unit test checks the relation.
BUCKET_CACHE_MAX = 8192
_HASH_BYTES = 8
_UINT64_BYTES = 8


class InvalidDigest(InvalidArgument):
    """A digest, or an answer to one, from the network is malformed."""


@functools.lru_cache(maxsize=BUCKET_CACHE_MAX)
def bucket_of(node_id: str, bucket_count: int) -> int:
    """The bucket a node's record goes to: 8-byte BLAKE2b of the node id (little-endian), modulo
    the count."""
    digest = hashlib.blake2b(node_id.encode(), digest_size=_HASH_BYTES).digest()
    return int.from_bytes(digest, "little") % bucket_count


def record_hash(info: MemberInfo) -> int:
    """64-bit hash of a record's identity and version (see the module docstring for why only
    those): 8-byte BLAKE2b of node id, NUL, generation and incarnation (8 bytes big-endian each)
    and state (one byte), little-endian."""
    data = (info.node_id.encode() + b"\0" + info.generation.to_bytes(_UINT64_BYTES, "big")
            + info.incarnation.to_bytes(_UINT64_BYTES, "big") + bytes((int(info.state),)))
    return int.from_bytes(hashlib.blake2b(data, digest_size=_HASH_BYTES).digest(), "little")


def check_bucket_count(bucket_count: int) -> None:
    """Raise InvalidDigest unless 1 <= bucket_count <= BUCKETS_MAX."""
    if not 1 <= bucket_count <= BUCKETS_MAX:
        raise InvalidDigest(f"a table digest has 1..{BUCKETS_MAX} bucket hashes, got {bucket_count}")


def bucket_hashes(infos: Iterable[MemberInfo], bucket_count: int) -> list[int]:
    """The digest of a table computed from scratch, O(N): for a peer that asks with another bucket
    count than this node keeps, and for tests."""
    check_bucket_count(bucket_count)
    hashes = [0] * bucket_count
    for info in infos:
        hashes[bucket_of(info.node_id, bucket_count)] ^= record_hash(info)
    return hashes


def differing(mine: Sequence[int], theirs: Sequence[int]) -> list[int]:
    """Indices of the buckets whose hashes differ (same bucket count), ascending."""
    assert len(mine) == len(theirs), (len(mine), len(theirs))
    return [i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b]


class TableDigest:
    """The bucket hashes of one table, kept as its records change, and which node ids each bucket
    holds (records are never removed from the table, so neither are ids here)."""

    def __init__(self, bucket_count: int) -> None:
        check_bucket_count(bucket_count)
        self.bucket_count = bucket_count
        self._hashes = [0] * bucket_count
        self._ids: list[list[str]] = [[] for _ in range(bucket_count)]

    def hashes(self) -> tuple[int, ...]:
        return tuple(self._hashes)

    def bucket(self, node_id: str) -> int:
        """The bucket of a node's record."""
        return bucket_of(node_id, self.bucket_count)

    def ids(self, bucket: int) -> list[str]:
        """The node ids in one bucket (the digest's own list: do not modify)."""
        return self._ids[bucket]

    def add(self, info: MemberInfo) -> None:
        """A record about a node new to the table (the table checks it is new)."""
        bucket = bucket_of(info.node_id, self.bucket_count)
        self._ids[bucket].append(info.node_id)
        self._hashes[bucket] ^= record_hash(info)

    def replace(self, old: MemberInfo, new: MemberInfo) -> None:
        """A node's record `old` was replaced by `new`."""
        assert old.node_id == new.node_id, (old.node_id, new.node_id)
        bucket = bucket_of(new.node_id, self.bucket_count)
        self._hashes[bucket] ^= record_hash(old) ^ record_hash(new)

    def check(self, infos: Iterable[MemberInfo]) -> None:
        """Assert the kept hashes equal the digest of `infos` computed from scratch (tests)."""
        infos = list(infos)
        assert self._hashes == bucket_hashes(infos, self.bucket_count)
        assert sorted(i for ids in self._ids for i in ids) == sorted(i.node_id for i in infos)
        assert all(bucket_of(i, self.bucket_count) == b for b, ids in enumerate(self._ids) for i in ids)
