"""Secondary indexes of a home's current objects, for `find` without a scan of the bucket.

Beside each bucket's manifests a home keeps, in the `object_index` db and in the same LMDB
transaction as every change of a key's current version (node/store/store.py), one entry per indexed
fact of each current object (tombstones and versions behind the current one have none):

    partition + b"t" + blake3(name, value)[:16] + key hash   a tag name=value
    partition + b"m" + blake3(name, value)[:16] + key hash   a user metadata entry
    partition + b"c" + blake3(content type)[:16] + key hash  the exact content type
    partition + b"C" + blake3(major type)[:16] + key hash    its major type ("image" of image/png)
    partition + b"s" + size (8 bytes, big-endian) + key hash the size
    partition + b"w" + written at (8 bytes) + key hash       when it was written

with the object's key as the value (keys may be 1024 bytes, LMDB's keys 511, hence the hashes).
The partition is the bucket's manifest_key_prefix, so a bucket's indexes move, drop and rebuild with
its manifests, and a refill or a sync that brings manifests brings their entries (they are derived,
never sent). A query walks the range of one condition (`plan`: an equality if it has one, else a
size or time range; only a prefix alone walks the manifests themselves) and checks every other
condition on the manifest the entry names: its cost grows with what matches that condition, not
with the bucket. Positions (the index key past the partition) order the same on every home, so the
coordinator merges the homes' pages by position as it merges listings by key.

Rejected: an index over every version (find answers about current objects, as `ls` does), and
indexes in their own LMDB environment (an entry must commit with the manifest it describes).
"""

from __future__ import annotations

import dataclasses
import struct

import blake3

from ringstore.v1 import common_pb2

from node.store.versions import key_hash

TAG, META, TYPE, MAJOR, SIZE, WRITTEN = b"t", b"m", b"c", b"C", b"s", b"w"
_TERM_BYTES = 16
_TERM_CONTEXT = b"ringstore.v1.IndexTerm\0"
# The prefix scan of the manifests themselves (a query with a prefix alone): positions are keys.
BY_KEY = b"k"


def _term(*parts: str) -> bytes:
    hasher = blake3.blake3(_TERM_CONTEXT)
    for part in parts:
        encoded = part.encode("utf-8")
        hasher.update(len(encoded).to_bytes(4, "big") + encoded)
    return hasher.digest()[:_TERM_BYTES]


def _major(content_type: str) -> str:
    return content_type.split("/", 1)[0].strip().lower()


def entries(manifest: common_pb2.Manifest) -> list[bytes]:
    """The index positions (past the partition) of a current version; none for a tombstone."""
    if manifest.tombstone or manifest.erased:
        return []
    suffix = key_hash(manifest.key)
    found = [TAG + _term(name, value) + suffix for name, value in manifest.tagging.tags.items()]
    found += [META + _term(name, value) + suffix for name, value in manifest.metadata.items()]
    if manifest.content_type:
        found.append(TYPE + _term(manifest.content_type.lower()) + suffix)
        found.append(MAJOR + _term(_major(manifest.content_type)) + suffix)
    found.append(SIZE + struct.pack(">Q", manifest.size_bytes) + suffix)
    found.append(WRITTEN + struct.pack(">Q", max(0, manifest.created_at_unix_ms)) + suffix)
    return found


@dataclasses.dataclass(frozen=True)
class Plan:
    """The range of positions a query walks: [low, high), each position past the partition."""

    low: bytes
    high: bytes

    @property
    def by_key(self) -> bool:
        return self.low[:1] == BY_KEY


def plan(query: common_pb2.ObjectQuery) -> Plan:
    """The range to walk: a tag, a metadata entry or the content type if the query names one (the
    fewest matches, as a rule), else its size or time range, else the keys under its prefix."""
    if query.tags:
        name, value = sorted(query.tags.items())[0]
        term = TAG + _term(name, value)
        return Plan(term, term + b"\xff" * 17)
    if query.metadata:
        name, value = sorted(query.metadata.items())[0]
        term = META + _term(name, value)
        return Plan(term, term + b"\xff" * 17)
    if query.content_type:
        text = query.content_type.lower()
        term = MAJOR + _term(_major(text)) if text.endswith("/*") else TYPE + _term(text)
        return Plan(term, term + b"\xff" * 17)
    if query.HasField("larger_than_bytes") or query.HasField("smaller_than_bytes"):
        low = query.larger_than_bytes + 1 if query.HasField("larger_than_bytes") else 0
        high = query.smaller_than_bytes if query.HasField("smaller_than_bytes") else 2 ** 64
        return Plan(SIZE + _u64(low), SIZE + (_u64(high) if high < 2 ** 64 else b"\xff" * 9))
    if query.HasField("modified_after_unix_ms") or query.HasField("modified_before_unix_ms"):
        low = query.modified_after_unix_ms + 1 if query.HasField("modified_after_unix_ms") else 0
        high = query.modified_before_unix_ms if query.HasField("modified_before_unix_ms") else 2 ** 63
        return Plan(WRITTEN + _u64(max(0, low)), WRITTEN + _u64(max(0, high)))
    return Plan(BY_KEY + query.prefix.encode("utf-8"), BY_KEY + query.prefix.encode("utf-8") + b"\xff")


def _u64(value: int) -> bytes:
    return struct.pack(">Q", min(max(0, value), 2 ** 64 - 1))


def matches(query: common_pb2.ObjectQuery, manifest: common_pb2.Manifest, now_ms: int) -> bool:
    """Whether a current version meets every condition of the query (tombstones and objects past
    their own expiry never do)."""
    if manifest.tombstone or manifest.erased or not manifest.key.startswith(query.prefix):
        return False
    if manifest.expires_at_unix_ms and now_ms >= manifest.expires_at_unix_ms:
        return False
    tags, metadata = manifest.tagging.tags, manifest.metadata
    if any(tags.get(name) != value for name, value in query.tags.items()):
        return False
    if any(metadata.get(name) != value for name, value in query.metadata.items()):
        return False
    if query.content_type:
        wanted, have = query.content_type.lower(), manifest.content_type.lower()
        if wanted.endswith("/*") and _major(have) != _major(wanted):
            return False
        if not wanted.endswith("/*") and have != wanted:
            return False
    size, written = manifest.size_bytes, manifest.created_at_unix_ms
    if query.HasField("larger_than_bytes") and not size > query.larger_than_bytes:
        return False
    if query.HasField("smaller_than_bytes") and not size < query.smaller_than_bytes:
        return False
    if query.HasField("modified_after_unix_ms") and not written > query.modified_after_unix_ms:
        return False
    if query.HasField("modified_before_unix_ms") and not written < query.modified_before_unix_ms:
        return False
    return True


def position(query: common_pb2.ObjectQuery, manifest: common_pb2.Manifest) -> bytes:
    """Where a matching current version sits in the query's walk (what the homes page by)."""
    walk = plan(query)
    if walk.by_key:
        return BY_KEY + manifest.key.encode("utf-8")
    kind = walk.low[:1]
    return next(entry for entry in entries(manifest) if entry[:1] == kind and walk.low <= entry < walk.high)
