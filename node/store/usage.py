"""Usage counters: what one metadata home holds of each bucket, kept exact by construction.

Every change to a home's manifests of a bucket (a put, an overwrite, a delete's tombstone, a sync or
refill bringing a version in, garbage collection purging a tombstone, a handed-off version dropped)
commits in the same LMDB transaction as a change to that bucket's `UsageRecord` by the difference
between the old and the new manifest's contribution (`contribution`). So a home's record always
equals the sum over the manifests it holds, whatever order versions arrive in, and reading a
bucket's usage is one record per home, never a scan. Quotas (node/quota.py) and `nodectl usage`
read these; fsck's audit, which walks every object, checks them.

A record the home cannot trust (a manifest of the bucket was quarantined as corrupt: what it
contributed is unknown) is recounted from the bucket's manifests, the one scan there is.
"""

from __future__ import annotations

import dataclasses

from ringstore.v1 import common_pb2

from node.erasure.codec import Geometry
from node.store.errors import InvalidArgument

USAGE_RECORD_FORMAT_VERSION = 1
# Breakdowns of a bucket's record, kept beside it in the usage db under the bucket's key + b"\x01" +
# kind + name: by top-level prefix (the key up to and with its first "/", "" for a key without one),
# by content type (lowercase, "" for none) and by redundancy policy ("replicas=3", "ec=4+2"). Names are cut to BREAKDOWN_NAME_BYTES_MAX bytes.
BY_PREFIX, BY_TYPE, BY_POLICY = b"p", b"c", b"r"
# The bucket's record as it stood at the end of each day it changed (HISTORY_DAYS kept), under the
# bucket's key + b"\x01h" + the day's number (8 bytes, big-endian; days since the epoch).
HISTORY = b"h"
HISTORY_DAYS = 30
# In a usage db key, what only history keys hold (a bucket's key ends in NUL; names hold none).
HISTORY_MARK = b"\0\x01" + HISTORY
BREAKDOWN_NAME_BYTES_MAX = 200
_BREAKDOWN = b"\x01"


def breakdown_names(manifest: common_pb2.Manifest) -> list[tuple[bytes, str]]:
    """(kind, name) of the breakdown records a manifest counts in."""
    cut = manifest.key.find("/")
    prefix = manifest.key[:cut + 1] if cut >= 0 else ""
    return [(BY_PREFIX, _cut(prefix)), (BY_TYPE, _cut(manifest.content_type.lower())),
            (BY_POLICY, policy_name(manifest.policy))]


def policy_name(policy: common_pb2.RedundancyPolicy) -> str:
    """"replicas=N", "ec=K+M", or "" when unset."""
    kind = policy.WhichOneof("policy")
    if kind == "erasure_coding":
        return f"ec={policy.erasure_coding.data_shares}+{policy.erasure_coding.parity_shares}"
    return f"replicas={policy.replication.replicas}" if kind == "replication" else ""


def _cut(name: str) -> str:
    raw = name.encode("utf-8")[:BREAKDOWN_NAME_BYTES_MAX]
    return raw.decode("utf-8", "ignore")


def history_key(partition: bytes, day: int) -> bytes:
    return partition + _BREAKDOWN + HISTORY + max(0, day).to_bytes(8, "big")


def breakdown_kind(text: str) -> bytes:
    """BY_PREFIX for "prefix", BY_TYPE for "type", HISTORY for "history"; InvalidArgument otherwise."""
    kinds = {"prefix": BY_PREFIX, "type": BY_TYPE, "policy": BY_POLICY, "history": HISTORY}
    if text not in kinds:
        raise InvalidArgument(f"a usage breakdown is by prefix or by type, not {text[:20]!r}")
    return kinds[text]


def breakdown_key(partition: bytes, kind: bytes, name: str) -> bytes:
    """The usage db key of one breakdown record of the bucket whose key is `partition`."""
    return partition + _BREAKDOWN + kind + name.encode("utf-8")


def breakdown_prefix(partition: bytes, kind: bytes) -> bytes:
    return partition + _BREAKDOWN + kind


@dataclasses.dataclass(frozen=True)
class Contribution:
    """One manifest's share of its bucket's UsageRecord."""

    objects: int = 0
    logical_bytes: int = 0
    chunk_bytes: int = 0
    inline_bytes: int = 0
    tombstones: int = 0
    noncurrent_versions: int = 0
    noncurrent_bytes: int = 0
    expiring_objects: int = 0


NOTHING = Contribution()
_FIELDS = tuple(field.name for field in dataclasses.fields(Contribution))


def _copy_bytes(policy: common_pb2.RedundancyPolicy, chunk_size_bytes: int) -> int:
    """Bytes all copies or shares of one chunk take under `policy`."""
    if policy.WhichOneof("policy") == "erasure_coding":
        geometry = Geometry(policy.erasure_coding.data_shares, policy.erasure_coding.parity_shares)
        return geometry.total_shares * geometry.share_size_bytes(chunk_size_bytes)
    return max(1, policy.replication.replicas) * chunk_size_bytes


def contribution(manifest: common_pb2.Manifest | None, *, current: bool = True) -> Contribution:
    """What `manifest` adds to its bucket's record as its key's current version, or (`current`
    False) as a version kept behind it (node/store/versions.py). An erased record adds nothing."""
    if manifest is None or manifest.erased:
        return NOTHING
    if manifest.tombstone:
        return Contribution(tombstones=1)
    stored = (dict(inline_bytes=manifest.size_bytes) if manifest.inline else
              dict(chunk_bytes=sum(_copy_bytes(manifest.policy, ref.size_bytes) for ref in manifest.chunks)))
    if current:
        return Contribution(objects=1, logical_bytes=manifest.size_bytes,
                            expiring_objects=int(bool(manifest.expires_at_unix_ms)), **stored)
    return Contribution(noncurrent_versions=1, noncurrent_bytes=manifest.size_bytes, **stored)


def applied(record: common_pb2.UsageRecord | None, old: Contribution, new: Contribution,
            version: common_pb2.VersionStamp | None) -> common_pb2.UsageRecord:
    """`record` (a new one when None) with `old` taken out and `new` put in; `version` (the
    manifest version written, None for a removal) becomes `changed` when newer."""
    out = common_pb2.UsageRecord(format_version=USAGE_RECORD_FORMAT_VERSION)
    if record is not None:
        out.CopyFrom(record)
    for name in _FIELDS:
        delta = getattr(new, name) - getattr(old, name)
        if delta:
            # A negative count means the record was already wrong: clamp, and fsck will say so.
            setattr(out, name, max(0, getattr(out, name) + delta))
    if version is not None and _stamp(version) > _stamp(out.changed):
        out.changed.CopyFrom(version)
    return out


def _stamp(version: common_pb2.VersionStamp) -> tuple:
    return (version.physical_ms, version.logical, version.node_id, version.rewrite)


def is_empty(record: common_pb2.UsageRecord) -> bool:
    return not (record.objects or record.logical_bytes or record.chunk_bytes or record.inline_bytes
                or record.tombstones or record.noncurrent_versions or record.noncurrent_bytes
                or record.expiring_objects)
