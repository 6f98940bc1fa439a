"""A tenant's quota desk: the one node that says yes or no to every put under the tenant's quotas.

Usage is never counted by scanning: each metadata home keeps a usage record per bucket, changed in
the transaction of every manifest change (node/store/usage.py), and `usage_of` reads a bucket's by
quorum. What those records cannot show is a put still in flight: its chunks are on the wire and its
manifest not yet written. Two coordinators each reading "9 of 10 objects" would both let an object
in. So every put into a bucket with a quota (or of a tenant with one) first asks the tenant's desk,
the first live node at `quota_desk_position(owner)`, to hold room for it, and gives the hold back
once every metadata home's write of its manifest has ended, or the put failed. The desk answers from

    committed usage (read fresh) + every hold not yet given back
                                 + holds given back after that read started

so two puts racing through different coordinators are decided one after the other, by one node.
A hold given back stays counted until a read that started after it, whether its put wrote its
manifest or failed: an estimate that can only be high, so the desk grants on it without reading,
and reads the committed usage again (at most USAGE_FRESH_S old otherwise) only before it refuses.

Where it can still overshoot (docs/design.md, "Quotas"):
- while the desk moves (its node goes down, or the ring changes which node is first) two nodes may
  hold for the same tenant at once, for up to one failure-detection time;
- a hold lapses after its TTL (HOLD_TTL_S, renewed by a put that runs longer) if the coordinator
  died mid-put without giving it back, and a desk that restarts forgets its holds: the puts in
  flight then are not counted until their manifests are;
- a usage read takes the record of the home that saw the latest change, which can miss an older
  write that only reached the other homes so far (a window of one in-flight manifest write).
A put never waits for the desk longer than one peer call; a desk that cannot be reached is
UNAVAILABLE, not a free pass.

Rejected: each coordinator checking counters on its own (overshoot grows with the number of
coordinators times puts in flight), and counters kept in gossip (converge in seconds, so a burst
overshoots by seconds of writes).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable

from ringstore.v1 import common_pb2, peer_pb2

# A bucket's committed usage is read again when the last read is older than this (a desk that
# missed puts, say through another desk while this one was down, catches up this fast).
USAGE_FRESH_S = 1.0
# How long the list of a tenant's buckets is reused for a tenant quota.
TENANT_BUCKETS_FRESH_S = 5.0
# A given-back hold is forgotten once a usage read started after it, or after this long.
RELEASED_KEPT_S = 60.0
# Most holds a desk keeps (each is a put in flight); past it, puts are refused as busy.
HOLDS_MAX = 100_000


@dataclasses.dataclass
class Hold:
    owner: str
    bucket: str
    bytes: int  # logical bytes the put adds (its size less the version it replaces); may be < 0
    objects: int  # 1 for a new key, 0 for an overwrite
    expires_at: float
    released_at: float | None = None


@dataclasses.dataclass(frozen=True)
class Seen:
    """A bucket's committed usage, read by quorum starting at `started_at`."""

    started_at: float
    objects: int
    bytes: int


def _count(value: int) -> str:
    return f"{value:,}"


class QuotaDesk:
    """Holds room for puts under quotas. Thread-safe; one per node (it serves the tenants whose
    desk position falls to it)."""

    def __init__(self, *, usage_of: Callable[[str], common_pb2.UsageRecord],
                 buckets_of: Callable[[str], list[str]], monotonic_s: Callable[[], float] = time.monotonic) -> None:
        self._usage_of = usage_of
        self._buckets_of = buckets_of
        self._monotonic_s = monotonic_s
        self._lock = threading.Lock()
        self._holds: dict[str, Hold] = {}
        self._seen: dict[str, Seen] = {}
        self._owner_buckets: dict[str, tuple[float, list[str]]] = {}

    def holds(self) -> int:
        with self._lock:
            return sum(1 for hold in self._holds.values() if hold.released_at is None)

    # -- usage as the desk sees it -----------------------------------------------------------------

    def _counted(self, hold: Hold, seen: Seen) -> bool:
        return hold.released_at is None or hold.released_at >= seen.started_at

    def _used(self, bucket: str, now: float, *, fresh: bool = False) -> tuple[int, int]:
        """(objects, logical bytes) of `bucket`: committed, plus the holds the read cannot show
        (`fresh`: read the committed usage now whatever the last read's age)."""
        seen = self._seen.get(bucket)
        if fresh or seen is None or seen.started_at < now - USAGE_FRESH_S:
            record = self._usage_of(bucket)
            seen = Seen(started_at=now, objects=record.objects, bytes=record.logical_bytes)
            self._seen[bucket] = seen
            for hold_id in [i for i, h in self._holds.items()
                            if h.bucket == bucket and h.released_at is not None and h.released_at < now]:
                del self._holds[hold_id]
        assert seen is not None
        held = [hold for hold in self._holds.values() if hold.bucket == bucket and self._counted(hold, seen)]
        return (seen.objects + sum(hold.objects for hold in held),
                seen.bytes + sum(hold.bytes for hold in held))

    def _tenant_buckets(self, owner: str, now: float) -> list[str]:
        cached = self._owner_buckets.get(owner)
        if cached is None or now - cached[0] > TENANT_BUCKETS_FRESH_S:
            cached = (now, sorted(self._buckets_of(owner)))
            self._owner_buckets[owner] = cached
        return cached[1]

    def _expire(self, now: float) -> None:
        for hold_id in [i for i, h in self._holds.items()
                        if (h.released_at is None and h.expires_at < now)
                        or (h.released_at is not None and now - h.released_at > RELEASED_KEPT_S)]:
            del self._holds[hold_id]

    # -- the two calls -------------------------------------------------------------------------------

    def reserve(self, request: peer_pb2.ReserveQuotaRequest) -> peer_pb2.ReserveQuotaResponse:
        """Hold room for one put, or refuse naming the quota, the usage and the size asked. A put
        that adds nothing (an overwrite no larger than what it replaces) is never refused."""
        adds_objects = 0 if request.replaces_object else 1
        adds_bytes = request.size_bytes - (request.replaces_bytes if request.replaces_object else 0)
        now = self._monotonic_s()
        with self._lock:
            self._expire(now)
            held = self._holds.get(request.hold_id)
            if held is not None:  # a retried call, or a long put renewing its hold
                if held.released_at is None:
                    held.expires_at = max(held.expires_at, now + max(1, request.ttl_s or 1))
                return peer_pb2.ReserveQuotaResponse(granted=True)
            if len(self._holds) >= HOLDS_MAX:
                return peer_pb2.ReserveQuotaResponse(
                    granted=False, message=f"the quota desk holds {HOLDS_MAX} puts in flight; retry shortly")
            refusal = self._refusal(request, now, adds_objects, adds_bytes, fresh=False)
            if refusal:
                # Only ever refuse on a fresh read: a delete made a moment ago has made room.
                refusal = self._refusal(request, self._monotonic_s(), adds_objects, adds_bytes, fresh=True)
            if refusal:
                return peer_pb2.ReserveQuotaResponse(granted=False, message=refusal)
            self._holds[request.hold_id] = Hold(owner=request.owner, bucket=request.bucket, bytes=adds_bytes,
                                                objects=adds_objects,
                                                expires_at=now + max(1, request.ttl_s or 1))
            return peer_pb2.ReserveQuotaResponse(granted=True)

    def _refusal(self, request: peer_pb2.ReserveQuotaRequest, now: float, adds_objects: int, adds_bytes: int, *,
                 fresh: bool) -> str:
        if request.bucket_quota.bytes or request.bucket_quota.objects:
            objects, used = self._used(request.bucket, now, fresh=fresh)
            refusal = _over(f"bucket {request.bucket!r}", request.bucket_quota, objects, used, adds_objects,
                            adds_bytes, f"--bucket {request.bucket}")
            if refusal:
                return refusal
        if request.tenant_quota.bytes or request.tenant_quota.objects:
            names = set(self._tenant_buckets(request.owner, now)) | {request.bucket}
            objects = used = 0
            for name in sorted(names):
                bucket_objects, bucket_bytes = self._used(name, now, fresh=fresh)
                objects += bucket_objects
                used += bucket_bytes
            return _over(f"tenant {request.owner!r}", request.tenant_quota, objects, used, adds_objects, adds_bytes,
                         f"--tenant {request.owner}")
        return ""

    def release(self, hold_id: str) -> bool:
        """The put the hold was for is over (its manifest written, or it failed)."""
        with self._lock:
            hold = self._holds.get(hold_id)
            if hold is None or hold.released_at is not None:
                return False
            hold.released_at = self._monotonic_s()
            return True


def _over(whose: str, quota: common_pb2.Quota, objects: int, used: int, adds_objects: int, adds_bytes: int,
          flag: str) -> str:
    """The refusal message when the put goes over `quota`, else ""."""
    if quota.objects and adds_objects > 0 and objects + adds_objects > quota.objects:
        return (f"{whose} is at its quota of {_count(quota.objects)} objects (it holds {_count(objects)}, counting "
                f"puts in flight); delete objects, or ask the operator to raise it with `nodectl admin quota set "
                f"{flag} --objects N`")
    if quota.bytes and adds_bytes > 0 and used + adds_bytes > quota.bytes:
        return (f"{whose} would go over its quota of {_count(quota.bytes)} bytes: it holds {_count(used)} bytes "
                f"(counting puts in flight and unfinished uploads' parts) and this put adds {_count(adds_bytes)}; "
                f"delete objects or abort unfinished uploads, or ask the operator to raise it with "
                f"`nodectl admin quota set {flag} --bytes N`")
    return ""
