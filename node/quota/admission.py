"""The coordinator's side of quotas: find the limits a put is under, ask the tenant's desk to hold
room for it (node/quota/desk.py), give the hold back when the put is over.

A put into a bucket with no quota, of a tenant with none, costs two cached record lookups and
nothing else. With a quota it costs one call to the desk and a release sent after the client has
its answer; near the limit, a refused put that overwrites a key asks again with what it replaces
(an overwrite adds only its difference, and no object), after a quorum read of the key.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import logging
import uuid

from node import errors
from node.auth.store import CredentialStore, QuotaRecord
from node.objects.coordinator import Coordinator
from node.objects.replicas import ClusterView
from node.peers.client import PeerClient, PeerError
from node.quota.desk import QuotaDesk
from node.ring import quota_desk_position
from ringstore.v1 import common_pb2, peer_pb2

log = logging.getLogger(__name__)

# Nodes tried, in ring order, when the desk's node does not answer (it just went down and the
# failure detector has not said so yet).
DESK_TRIES_MAX = 2
# A hold lapses this long after it was last asked for (a coordinator that died mid-put cannot give it
# back); a put still streaming asks again every HOLD_RENEW_S.
HOLD_TTL_S = 600
HOLD_RENEW_S = 120.0


@dataclasses.dataclass(frozen=True)
class Hold:
    hold_id: str
    node_id: str
    request: peer_pb2.ReserveQuotaRequest


def quota_message(record: QuotaRecord) -> common_pb2.Quota:
    return common_pb2.Quota(bytes=record.bytes, objects=record.objects)


class Admission:
    def __init__(self, *, coordinator: Coordinator, credentials: CredentialStore, view: ClusterView,
                 peers: PeerClient, desk: QuotaDesk, pool: cf.Executor, timeout_s: float) -> None:
        self._c = coordinator
        self._credentials = credentials
        self._view = view
        self._peers = peers
        self._desk = desk
        self._pool = pool
        self._timeout_s = timeout_s

    def bucket_quota(self, record: common_pb2.BucketRecord) -> QuotaRecord:
        """The quota of this incarnation of the bucket (unlimited when it has none)."""
        return self._credentials.quota("bucket", record.name, record.created_at_unix_ms)

    def tenant_quota(self, owner: str) -> QuotaRecord:
        """The quota of tenant `owner` (unlimited for none, and for the operator's buckets, owner "")."""
        return self._credentials.quota("tenant", owner) if owner else QuotaRecord(kind="tenant", name="")

    def admit(self, record: common_pb2.BucketRecord, key: str, size_bytes: int, *,
              new_object: bool = True) -> Hold | None:
        """Hold room for a put of `size_bytes` into `record`'s bucket at `key`; None when no quota
        applies. Raises ResourceExhausted naming the quota, the usage and the size asked.
        `new_object` False: bytes that become no object of the bucket (a multipart upload's part),
        held against byte quotas only."""
        bucket_quota, tenant_quota = self.bucket_quota(record), self.tenant_quota(record.owner)
        if bucket_quota.unlimited and tenant_quota.unlimited:
            return None
        # Asked first as a new object of its whole size (no read of the key: the common case costs
        # one call); only a refusal is asked again with what the put would replace, if anything.
        request = peer_pb2.ReserveQuotaRequest(
            hold_id=uuid.uuid4().hex, owner=record.owner, bucket=record.name, key=key,
            bucket_quota=quota_message(bucket_quota), tenant_quota=quota_message(tenant_quota), size_bytes=size_bytes,
            ttl_s=HOLD_TTL_S, replaces_object=not new_object)
        node_id, reply = self._ask(record.owner, request)
        if not reply.granted and not new_object:
            raise errors.QuotaExceeded(reply.message)
        if not reply.granted:
            if record.versioning == common_pb2.VERSIONING_ENABLED:  # what it replaces is kept
                raise errors.QuotaExceeded(reply.message)
            try:
                current = self._c.current_manifest(record.name, key)
            except errors.NotFound:
                raise errors.QuotaExceeded(reply.message) from None
            if current.version_id:  # suspended: the put replaces the null version, and this one is kept
                raise errors.QuotaExceeded(reply.message)
            request.replaces_bytes, request.replaces_object = current.size_bytes, True
            node_id, reply = self._ask(record.owner, request)
            if not reply.granted:
                raise errors.QuotaExceeded(reply.message)
        return Hold(request.hold_id, node_id, request)

    def renew(self, hold: Hold) -> None:
        """Ask the desk again for a put still streaming, so its hold does not lapse at HOLD_TTL_S.
        Never refuses the put: its room was granted; a desk that has moved meanwhile holds it anew."""
        try:
            self._ask(hold.request.owner, hold.request)
        except errors.Unavailable as err:
            log.warning("could not renew quota hold %s: %s", hold.hold_id, err)

    def release(self, hold: Hold) -> None:
        """Give the hold back, in the background (the client's answer does not wait for it)."""
        self._pool.submit(self._release, hold)

    def _release(self, hold: Hold) -> None:
        try:
            if hold.node_id == self._view.node_id:
                self._desk.release(hold.hold_id)
            else:
                self._peers.release_quota(self._view.address_of(hold.node_id), hold.hold_id, self._timeout_s)
        except (PeerError, KeyError) as err:
            # The hold lapses at its TTL instead; until then the desk counts the put twice.
            log.warning("could not give quota hold %s back to %s: %s", hold.hold_id, hold.node_id, err)

    def _ask(self, owner: str, request: peer_pb2.ReserveQuotaRequest) -> tuple[str, peer_pb2.ReserveQuotaResponse]:
        order = [n for n in self._view.ring().ordered_nodes(quota_desk_position(owner)) if self._view.is_live(n)]
        failures: list[str] = []
        for node_id in order[:DESK_TRIES_MAX]:
            if node_id == self._view.node_id:
                return node_id, self._desk.reserve(request)
            try:
                return node_id, self._peers.reserve_quota(self._view.address_of(node_id), request, self._timeout_s)
            except PeerError as err:
                failures.append(f"{node_id}: {err.code.name} {err.details}")
        raise errors.Unavailable("no quota desk answered for this put (" + ("; ".join(failures) or "no live node")
                                 + "); retry shortly")
