"""Object versions: what a metadata home keeps of one key, and how a new manifest joins it.

A key's versions are a map from version id to manifest, one manifest per id, the newest by its
stamp (`Manifest.version`) winning within an id:

- the **null** version (empty id) is the one an unversioned bucket keeps and the one a put replaces
  while versioning is suspended. Under one id, a newer put replaces an older one: last writer wins,
  exactly as before versions existed;
- a put into a bucket with versioning enabled gets a new id (`version_id_of`), derived from the
  stamp it starts with, so nothing else ever writes that id but a conversion of it (same stamp,
  `rewrite` + 1) and a permanent delete;
- a permanent delete (`nodectl rm --version`) writes an **erased** record into the id, stamped now:
  newer than the version it hides, so it wins on every home whatever order the two arrive in, and
  a copy of the old version pushed late by a stand-in loses to it. Erased records are purged like
  tombstones (node/repair/tombstones.py), once every home holds them.

The key's **current** version is its newest non-erased manifest (a delete marker can be current:
the key then reads as absent). Since each id is last-writer-wins and "current" is a function of
the set, homes converge however writes, syncs and read repairs interleave: the same argument as
for one manifest per key, per id.

On disk (node/store/metadata.py) the current version stays in the `manifests` db under its key,
as before, so reads, listings and an unversioned bucket's writes cost what they did; every other
manifest of the key (versions behind the current, erased records) is in the `versions` db under
`version_db_key`: the bucket's partition prefix, a 16-byte hash of the key, the 16-byte id. A key
with no current version has only erased records left, which nothing lists. Rejected: the key's
whole name in the versions db key, for listing order: keys are up to 1024 bytes and LMDB's keys
511, and the listing order comes from the manifests db already (every key with a version to list
has a current one).

Version ids are 16 bytes: the stamp's physical_ms (8, big-endian) and logical (4), then the first
4 bytes of the blake3 of its node id; shown as 32 hex digits. Two puts of one key get the same id
only if two nodes stamped the same millisecond and counter and their node ids share those 4 bytes.
"""

from __future__ import annotations

import struct

import blake3

from ringstore.v1 import common_pb2

from node.hlc import stamp_key
from node.store.errors import InvalidArgument

VERSION_ID_BYTES = 16
# How the null version's id is shown (S3's name for it).
NULL_VERSION_ID = "null"
# The null version's slot in the versions db (no real id is all zeros: physical_ms > 0).
_NULL_SLOT = bytes(VERSION_ID_BYTES)
_KEY_HASH_BYTES = 16
_KEY_HASH_CONTEXT = b"ringstore.v1.VersionKey\0"


def version_id_of(stamp: common_pb2.VersionStamp) -> bytes:
    """The id a versioned put stamped `stamp` gets (a rewrite keeps the original's)."""
    node = blake3.blake3(stamp.node_id.encode("utf-8")).digest()[:4]
    return struct.pack(">QI", stamp.physical_ms, stamp.logical) + node


def show_version_id(version_id: bytes) -> str:
    """"null" or 32 hex digits."""
    return version_id.hex() if version_id else NULL_VERSION_ID


def parse_version_id(text: str) -> bytes:
    """The id `show_version_id` showed as `text`; InvalidArgument for anything else."""
    if text == NULL_VERSION_ID:
        return b""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != VERSION_ID_BYTES or raw == _NULL_SLOT:
        raise InvalidArgument(f"version id {text[:80]!r} is not one this cluster issued: give \"null\" "
                              f"or the {2 * VERSION_ID_BYTES} hex digits `nodectl versions` lists")
    return raw


def key_hash(key: str) -> bytes:
    return blake3.blake3(_KEY_HASH_CONTEXT + key.encode("utf-8")).digest()[:_KEY_HASH_BYTES]


def version_db_prefix(partition: bytes, key: str) -> bytes:
    """Prefix of every versions-db key of one object key; `partition` is its manifest_key_prefix."""
    return partition + key_hash(key)


def version_db_key(partition: bytes, key: str, version_id: bytes) -> bytes:
    return version_db_prefix(partition, key) + (version_id or _NULL_SLOT)


def is_current_candidate(manifest: common_pb2.Manifest) -> bool:
    """Whether the manifest can be its key's current version (everything but an erased record)."""
    return not manifest.erased


def newest(manifests: list[common_pb2.Manifest]) -> common_pb2.Manifest | None:
    """The newest non-erased manifest of a key's, the one that is current; None when all are erased."""
    return max((m for m in manifests if not m.erased), key=lambda m: stamp_key(m.version), default=None)


def newest_first(manifests: list[common_pb2.Manifest]) -> list[common_pb2.Manifest]:
    """A key's versions in the order listings show them: newest first."""
    return sorted(manifests, key=lambda m: stamp_key(m.version), reverse=True)


def same_version(a: common_pb2.Manifest, b: common_pb2.Manifest) -> bool:
    """Whether two manifests are of one version (a conversion's rewrite or a tag change of it)."""
    return (a.version.physical_ms, a.version.logical, a.version.node_id) == (
        b.version.physical_ms, b.version.logical, b.version.node_id)


def _tagging_key(manifest: common_pb2.Manifest) -> tuple:
    return stamp_key(manifest.tagging.changed) if manifest.HasField("tagging") else (0, 0, "", 0)


def order_key(manifest: common_pb2.Manifest) -> tuple:
    """Orders the manifests of one version id: by stamp, then by when their tags were set, then by
    when the version was last read."""
    return stamp_key(manifest.version), _tagging_key(manifest), manifest.read_at_unix_ms


def merged(a: common_pb2.Manifest | None, b: common_pb2.Manifest | None) -> common_pb2.Manifest | None:
    """What a home keeps of two manifests of one version id (None counts as nothing): the newer by
    stamp, except that two manifests of the same version (a conversion's rewrite, a tag change or a
    read mark, which keep the stamp) give the body of the higher rewrite with the newer of the two
    tag sets and the later of the two read marks. So a tag change or a read mark racing a conversion
    loses nothing, and neither ever reinstates an older version (each carries that version's stamp,
    and a newer write's wins). The result is at least both in `order_key`, and the same whichever
    way round the two come."""
    if a is None or b is None:
        return a if b is None else b
    if not same_version(a, b):
        return a if stamp_key(a.version) >= stamp_key(b.version) else b
    body, other = (a, b) if a.version.rewrite >= b.version.rewrite else (b, a)
    newer_tags = _tagging_key(other) > _tagging_key(body)
    read_at = max(a.read_at_unix_ms, b.read_at_unix_ms)
    if not newer_tags and read_at == body.read_at_unix_ms:
        return body
    out = common_pb2.Manifest()
    out.CopyFrom(body)
    if newer_tags:
        out.tagging.CopyFrom(other.tagging)
    out.read_at_unix_ms = read_at
    return out
