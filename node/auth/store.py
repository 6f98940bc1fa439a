"""The cluster's credential records, kept in the cluster itself.

Access keys, tenants, grants and share links (and, as they arrive, quotas) are small JSON records
stored as objects of the `auth` bucket of a tenant no client can name (`_system`), through a
Coordinator of their own. So they are written to a quorum of metadata homes, read by quorum,
read-repaired, synced, refilled after a replaced disk and checked by fsck exactly as users'
manifests are: no second replication scheme to get right. Records are far below the inline limit,
so they live inside their manifests and no chunk copy is involved.

Every call a node serves looks up its key here. A lookup is cached for `CACHE_TTL_S`, so a record
written through any node (a revoked key) is in force on every node within that long plus one
quorum read; a key that was not found is cached for `MISS_TTL_S`, so a stream of calls with a bogus
key id costs one quorum read per second, not one per call. When a quorum read fails (the records'
metadata homes are down), a cached record keeps answering for `STALE_MAX_S`: a brief metadata
outage must not lock every client out, and a revocation made during it takes effect when it ends.

Rejected: a credentials file per node (the operator would have to keep every node's copy in step,
and a node that missed an update would accept a revoked key forever), and a gossiped table (gossip
converges, but a write is not acknowledged by a quorum and cannot be read back consistently).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from node import errors
from node.auth.links import ShareLink
from node.objects.coordinator import Coordinator, replication
from ringstore.auth.keys import AccessKey
from ringstore.v1 import object_pb2

SYSTEM_TENANT = "_system"
AUTH_BUCKET = "auth"
KEY_PREFIX = "keys/"
TENANT_PREFIX = "tenants/"
TENANT_FORMAT = 1
ACCESS_PREFIX = "access/"
# Format 1: one record per bucket with every grant (read, no longer written). Format 2: one record
# per grant (`access/<bucket>/grant/<tenant>`) and one for public read (`access/<bucket>/public`).
ACCESS_FORMAT = 1
ACCESS_ENTRY_FORMAT = 2
LINK_PREFIX = "links/"
GRANT_LEVELS = ("read", "write", "owner")
QUOTA_PREFIX = "quotas/"
QUOTA_FORMAT = 1
CACHE_TTL_S = 2.0
MISS_TTL_S = 1.0
# A cut-off node must still take its operator's calls (heal a partition, drain, status): the full
# partition scenario keeps a node cut off for over a minute, and 30 s left it refusing the heal.
STALE_MAX_S = 600.0
# Most cached lookups; past it the cache starts again empty, so calls with made-up key ids cannot
# grow a node's memory without bound.
CACHE_ENTRIES_MAX = 10_000
# Longest list of keys `keys()` reads (one page per call below this).
KEYS_MAX = 100_000


# The tenant operator keys are filed under (no one may create it) and the longest description a
# tenant or key record keeps.
OPERATOR_TENANT = "operator"
DESCRIPTION_CHARS_MAX = 200

NOT_INITIALISED = ("the cluster has no access keys yet: make the operator's with `nodectl admin init "
                   "--cluster-secret-file FILE`")


@dataclasses.dataclass(frozen=True)
class Tenant:
    name: str
    created_at_unix_ms: int
    description: str = ""


def _tenant(data: bytes) -> Tenant:
    raw = json.loads(data)
    if not isinstance(raw, dict) or raw.get("format") != TENANT_FORMAT:
        raise errors.DataLoss("a tenant record is not one this software wrote")
    return Tenant(name=str(raw["name"]), created_at_unix_ms=int(raw["created_at_unix_ms"]),
                  description=str(raw.get("description", "")))


@dataclasses.dataclass(frozen=True)
class Access:
    """Who may use a bucket besides its owner. The grants belong to one incarnation of the bucket
    (its creation time): a bucket removed and made again under the same name starts with none."""

    bucket: str
    bucket_created_at_unix_ms: int
    grants: tuple[tuple[str, str], ...] = ()  # (tenant, level), sorted by tenant
    public_read: bool = False

    def level_of(self, tenant: str) -> str:
        return dict(self.grants).get(tenant, "")

    def to_json(self) -> bytes:
        return json.dumps({"format": ACCESS_FORMAT, "bucket": self.bucket,
                           "bucket_created_at_unix_ms": self.bucket_created_at_unix_ms,
                           "grants": dict(self.grants), "public_read": self.public_read}, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "Access":
        raw = json.loads(data)
        if not isinstance(raw, dict) or raw.get("format") != ACCESS_FORMAT:
            raise errors.DataLoss("a bucket access record is not one this software wrote")
        grants = raw.get("grants", {})
        if not isinstance(grants, dict) or any(level not in GRANT_LEVELS for level in grants.values()):
            raise errors.DataLoss(f"the access record of bucket {raw.get('bucket')!r} has grants this software "
                                  "does not know")
        return cls(bucket=str(raw["bucket"]), bucket_created_at_unix_ms=int(raw["bucket_created_at_unix_ms"]),
                   grants=tuple(sorted((str(t), str(lv)) for t, lv in grants.items())),
                   public_read=bool(raw.get("public_read", False)))


@dataclasses.dataclass(frozen=True)
class QuotaRecord:
    """The most a tenant's buckets together, or one bucket, may hold (0: no limit). A bucket's quota
    belongs to one incarnation of the bucket, as its grants do."""

    kind: str  # "tenant" or "bucket"
    name: str
    bytes: int = 0
    objects: int = 0
    bucket_created_at_unix_ms: int = 0

    @property
    def unlimited(self) -> bool:
        return not (self.bytes or self.objects)

    def to_json(self) -> bytes:
        return json.dumps({"format": QUOTA_FORMAT, "kind": self.kind, "name": self.name, "bytes": self.bytes,
                           "objects": self.objects, "bucket_created_at_unix_ms": self.bucket_created_at_unix_ms},
                          sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "QuotaRecord":
        raw = json.loads(data)
        if not isinstance(raw, dict) or raw.get("format") != QUOTA_FORMAT or raw.get("kind") not in ("tenant", "bucket"):
            raise errors.DataLoss("a quota record is not one this software wrote")
        return cls(kind=raw["kind"], name=str(raw["name"]), bytes=int(raw["bytes"]), objects=int(raw["objects"]),
                   bucket_created_at_unix_ms=int(raw.get("bucket_created_at_unix_ms", 0)))


def _quota_record_name(kind: str, name: str) -> str:
    return f"{QUOTA_PREFIX}{kind}/{name}"


def _access_entry(data: bytes) -> dict:
    """A format 2 access record: one grant (tenant, level) or the public-read switch."""
    raw = json.loads(data)
    if not isinstance(raw, dict) or raw.get("format") != ACCESS_ENTRY_FORMAT:
        raise errors.DataLoss("a bucket access record is not one this software wrote")
    if "public_read" in raw:
        return {"bucket_created_at_unix_ms": int(raw["bucket_created_at_unix_ms"]),
                "public_read": bool(raw["public_read"])}
    if raw.get("level") not in ("", *GRANT_LEVELS):
        raise errors.DataLoss(f"a grant on bucket {raw.get('bucket')!r} has a level this software does not know")
    return {"bucket_created_at_unix_ms": int(raw["bucket_created_at_unix_ms"]), "tenant": str(raw["tenant"]),
            "level": str(raw["level"])}


def _access_key(bucket: str) -> str:
    """The cache name of a bucket's access record (a NUL never occurs in a key id)."""
    return "\0access\0" + bucket


def _link_key(link_id: str) -> str:
    """The cache name of a share link's record."""
    return "\0link\0" + link_id


class SystemRecords:
    """Small JSON records kept as inline objects of one bucket of the system tenant, through a
    Coordinator of that tenant: each written to a write quorum of metadata homes, read and listed
    by quorum. The credential records below and the data keys of encryption at rest
    (node/objects/at_rest.py) are kept this way."""

    def __init__(self, coordinator: Coordinator, bucket: str, *, metadata_replicas: int,
                 live_count: Callable[[], int]) -> None:
        assert coordinator.tenant == SYSTEM_TENANT, "system records live in the system tenant"
        self._c = coordinator
        self.bucket = bucket
        self._metadata_replicas = metadata_replicas
        self._live_count = live_count

    def exists(self) -> bool:
        try:
            self._c.bucket(self.bucket)
        except errors.NotFound:
            return False
        return True

    def ensure_bucket(self) -> None:
        """Create the bucket unless it exists."""
        if not self.exists():
            try:
                self._c.create_bucket(self.bucket, replication(1))
            except errors.AlreadyExists:
                pass  # another node made it meanwhile

    def put(self, name: str, data: bytes) -> None:
        """Write (create or replace) record `name`, acknowledged once a write quorum has it."""
        header = object_pb2.PutObjectHeader(
            bucket=self.bucket, key=name, content_type="application/json", size_bytes=len(data),
            policy=replication(max(1, min(self._metadata_replicas, self._live_count()))))
        self._c.put_object(header, iter([memoryview(data)]))

    def record(self, name: str) -> bytes | None:
        """The JSON of record `name` (quorum read), or None when there is none."""
        try:
            manifest = self._c.current_manifest(self.bucket, name)
        except errors.NotFound:
            return None
        if not manifest.inline:
            raise errors.DataLoss(f"the record {name} of the {self.bucket} bucket is not stored inline; it was not "
                                  "written by this software")
        return bytes(manifest.inline_data)

    def list(self, prefix: str, limit: int) -> list:
        """Every live record under `prefix` (quorum listing, page by page), at most about `limit`."""
        found = []
        token = ""
        while True:
            page, token = self._c.list_objects(self.bucket, prefix, 1000, token)
            found.extend(m for m in page if m.inline)
            if not token or len(found) >= limit:
                return found

    def delete(self, name: str) -> None:
        self._c.delete_object(self.bucket, name)


class NotInitialised(errors.Unauthenticated):
    """No InitCluster has run: there is no key any call could be signed with."""


class CredentialStore:
    """Access-key records over a Coordinator whose tenant is SYSTEM_TENANT. Thread-safe."""

    def __init__(self, coordinator: Coordinator, *, metadata_replicas: int, live_count: Callable[[], int],
                 monotonic_s: Callable[[], float] = time.monotonic,
                 on_quota_unread: Callable[[], None] = lambda: None) -> None:
        assert coordinator.tenant == SYSTEM_TENANT, "credential records live in the system tenant"
        self._records = SystemRecords(coordinator, AUTH_BUCKET, metadata_replicas=metadata_replicas,
                                      live_count=live_count)
        self._monotonic_s = monotonic_s
        self._lock = threading.Lock()
        # key id (or _access_key(bucket), _link_key(link id)) -> (when read, the record or None).
        self._cache: dict[str, tuple[float, AccessKey | Access | ShareLink | None]] = {}
        self._initialised = False
        # Called for each quota lookup answered "no quota" because the records could not be read.
        self._on_quota_unread = on_quota_unread

    def _cached(self, name: str) -> tuple[float, object] | None:
        with self._lock:
            return self._cache.get(name)

    def _remember(self, name: str, record: object, at: float | None = None) -> None:
        with self._lock:
            if len(self._cache) >= CACHE_ENTRIES_MAX:
                self._cache.clear()
            self._cache[name] = (self._monotonic_s() if at is None else at, record)

    # -- writing ---------------------------------------------------------------------------------

    def ensure_bucket(self) -> None:
        """Create the `auth` bucket unless it exists (init does this once per cluster)."""
        self._records.ensure_bucket()

    def put_key(self, record: AccessKey) -> None:
        """Write (create or replace) a key's record; in force here at once, elsewhere within CACHE_TTL_S."""
        self._put(KEY_PREFIX + record.key_id, record.to_json())
        self._remember(record.key_id, record)

    def _put(self, name: str, data: bytes) -> None:
        self._records.put(name, data)

    def _list(self, prefix: str) -> list:
        """Every live record under `prefix` (quorum listing, page by page)."""
        if not self.initialised():
            return []
        return self._records.list(prefix, KEYS_MAX)

    # -- reading ---------------------------------------------------------------------------------

    def key(self, key_id: str, *, fresh: bool = False) -> AccessKey | None:
        """The key's record (None when there is none), from the cache while fresh (`fresh`: read it)."""
        return self._lookup(key_id, lambda: self._read(key_id), fresh=fresh)

    def _lookup(self, name: str, read: Callable[[], object], *, fresh: bool) -> Any:
        """read() through the cache under `name`: a record for CACHE_TTL_S, a miss (None) for
        MISS_TTL_S, and a record up to STALE_MAX_S while reading fails with Unavailable."""
        now = self._monotonic_s()
        cached = None if fresh else self._cached(name)
        if cached is not None:
            age = now - cached[0]
            if age < (CACHE_TTL_S if cached[1] is not None else MISS_TTL_S):
                return cached[1]
        try:
            record = read()
        except errors.Unavailable:
            if cached is not None and cached[1] is not None and now - cached[0] < STALE_MAX_S:
                return cached[1]
            raise
        self._remember(name, record, now)
        return record

    def initialised(self) -> bool:
        """Whether InitCluster has run (the auth bucket exists); once seen, remembered."""
        if self._initialised:
            return True
        if not self._records.exists():
            return False
        self._initialised = True
        return True

    def _record(self, name: str) -> bytes | None:
        """The JSON of record `name` of the auth bucket (quorum read), or None when there is none."""
        return self._records.record(name)

    def _read(self, key_id: str) -> AccessKey | None:
        if not self.initialised():
            raise NotInitialised(NOT_INITIALISED)
        data = self._record(KEY_PREFIX + key_id)
        return AccessKey.from_json(data) if data is not None else None

    def keys(self) -> list[AccessKey]:
        """Every key record (a quorum list of the bucket), sorted by key id."""
        found = [AccessKey.from_json(bytes(m.inline_data)) for m in self._list(KEY_PREFIX)]
        return sorted(found, key=lambda record: record.key_id)

    # -- bucket access ---------------------------------------------------------------------------

    def access(self, bucket: str, created_at_unix_ms: int, *, fresh: bool = False) -> Access:
        """The grants of this incarnation of `bucket` (none when it has none), cached CACHE_TTL_S
        (`fresh`: read by quorum now, as every change of them and every owner action does).

        Each grant, and public read, is a record of its own, so two owners changing different
        tenants' grants at once through different nodes both take effect; the same tenant's grant
        changed twice at once keeps the later write. A format 1 record (every grant in one, from
        before) is read underneath them."""
        now = self._monotonic_s()
        cached = None if fresh else self._cached(_access_key(bucket))
        if cached is not None and now - cached[0] < CACHE_TTL_S:
            legacy, entries = cached[1]
        else:
            legacy, entries = self._access_records(bucket) if self.initialised() else (None, ())
            self._remember(_access_key(bucket), (legacy, entries), now)
        grants: dict[str, str] = {}
        public_read = False
        if legacy is not None and legacy.bucket_created_at_unix_ms == created_at_unix_ms:
            grants, public_read = dict(legacy.grants), legacy.public_read
        for entry in entries:
            if entry["bucket_created_at_unix_ms"] != created_at_unix_ms:
                continue  # an earlier bucket of the same name
            if "public_read" in entry:
                public_read = entry["public_read"]
            elif entry["level"]:
                grants[entry["tenant"]] = entry["level"]
            else:
                grants.pop(entry["tenant"], None)
        return Access(bucket=bucket, bucket_created_at_unix_ms=created_at_unix_ms,
                      grants=tuple(sorted(grants.items())), public_read=public_read)

    def _access_records(self, bucket: str) -> tuple[Access | None, tuple[dict, ...]]:
        data = self._record(ACCESS_PREFIX + bucket)
        legacy = Access.from_json(data) if data is not None else None
        return legacy, tuple(_access_entry(bytes(m.inline_data)) for m in self._list(f"{ACCESS_PREFIX}{bucket}/"))

    def change_access(self, bucket: str, created_at_unix_ms: int, *, grant: tuple[str, str] | None = None,
                      public_read: bool | None = None) -> Access:
        """Write one grant (tenant, level; level "" takes it away) or the public-read switch of this
        incarnation of `bucket`, and return the grants as they now are (read by quorum)."""
        common = {"format": ACCESS_ENTRY_FORMAT, "bucket": bucket, "bucket_created_at_unix_ms": created_at_unix_ms}
        if grant is not None:
            tenant, level = grant
            assert level in ("", *GRANT_LEVELS), level
            self._put(f"{ACCESS_PREFIX}{bucket}/grant/{tenant}",
                      json.dumps({**common, "tenant": tenant, "level": level}, sort_keys=True).encode())
        if public_read is not None:
            self._put(f"{ACCESS_PREFIX}{bucket}/public",
                      json.dumps({**common, "public_read": public_read}, sort_keys=True).encode())
        return self.access(bucket, created_at_unix_ms, fresh=True)

    # -- tenants ---------------------------------------------------------------------------------

    def put_tenant(self, tenant: Tenant) -> None:
        data = json.dumps({"format": TENANT_FORMAT, "name": tenant.name, "created_at_unix_ms": tenant.created_at_unix_ms,
                           "description": tenant.description}, sort_keys=True).encode()
        self._put(TENANT_PREFIX + tenant.name, data)

    def tenant(self, name: str) -> Tenant | None:
        if not self.initialised():
            return None
        data = self._record(TENANT_PREFIX + name)
        return _tenant(data) if data is not None else None

    def tenants(self) -> list[Tenant]:
        return sorted((_tenant(bytes(m.inline_data)) for m in self._list(TENANT_PREFIX)), key=lambda t: t.name)

    def delete_tenant(self, name: str) -> None:
        self._records.delete(TENANT_PREFIX + name)

    # -- quotas ----------------------------------------------------------------------------------

    def quota(self, kind: str, name: str, bucket_created_at_unix_ms: int = 0, *, fresh: bool = False) -> QuotaRecord:
        """The quota of tenant or bucket `name` (unlimited when it has none), cached CACHE_TTL_S. A
        bucket's quota set on an earlier bucket of the same name does not apply."""
        cache_name = "\0quota\0" + _quota_record_name(kind, name)
        now = self._monotonic_s()
        cached = None if fresh else self._cached(cache_name)
        if cached is not None and now - cached[0] < CACHE_TTL_S:
            found = cached[1]
        else:
            try:
                data = self._record(_quota_record_name(kind, name)) if self.initialised() else None
                found = QuotaRecord.from_json(data) if data is not None else None
                self._remember(cache_name, found, now)
            except errors.Unavailable:
                # The records' homes are out of reach: a put must not fail for want of a quota it may
                # not have. The last quota read holds for STALE_MAX_S; never read, none is enforced.
                if cached is None or now - cached[0] >= STALE_MAX_S:
                    self._on_quota_unread()
                    return QuotaRecord(kind=kind, name=name, bucket_created_at_unix_ms=bucket_created_at_unix_ms)
                found = cached[1]
        if found is None or (kind == "bucket" and found.bucket_created_at_unix_ms != bucket_created_at_unix_ms):
            return QuotaRecord(kind=kind, name=name, bucket_created_at_unix_ms=bucket_created_at_unix_ms)
        return found

    def put_quota(self, record: QuotaRecord) -> None:
        """Write (or, when unlimited, remove) a quota; in force here at once, elsewhere within CACHE_TTL_S."""
        name = _quota_record_name(record.kind, record.name)
        if record.unlimited:
            try:
                self._records.delete(name)
            except errors.NotFound:
                pass
        else:
            self._put(name, record.to_json())
        self._remember("\0quota\0" + name, None if record.unlimited else record)

    def quotas(self) -> list[QuotaRecord]:
        return sorted((QuotaRecord.from_json(bytes(m.inline_data)) for m in self._list(QUOTA_PREFIX)),
                      key=lambda q: (q.kind, q.name))

    # -- share links -----------------------------------------------------------------------------

    def put_link(self, record: ShareLink) -> None:
        """Write (create or revoke) a link's record; in force here at once, elsewhere within CACHE_TTL_S."""
        self._put(LINK_PREFIX + record.link_id, record.to_json())
        self._remember(_link_key(record.link_id), record)

    def link(self, link_id: str, *, fresh: bool = False) -> ShareLink | None:
        """The link's record (None when there is none), cached as keys are (`fresh`: read it)."""
        def read() -> ShareLink | None:
            if not self.initialised():
                raise NotInitialised(NOT_INITIALISED)
            data = self._record(LINK_PREFIX + link_id)
            return _link(data) if data is not None else None

        return self._lookup(_link_key(link_id), read, fresh=fresh)

    def links(self) -> list[ShareLink]:
        """Every link record (a quorum list, at most KEYS_MAX), oldest first."""
        found = [_link(bytes(m.inline_data)) for m in self._list(LINK_PREFIX)]
        return sorted(found, key=lambda r: (r.grant.created_at_unix_ms, r.link_id))


def _link(data: bytes) -> ShareLink:
    try:
        return ShareLink.from_json(data)
    except ValueError as err:
        raise errors.DataLoss(f"a share link record is not one this software wrote: {err}") from None
