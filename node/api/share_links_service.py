"""ObjectService calls for share links: create, list, revoke (the token's use is node/api/auth.py and
node/auth/policy.py).

Creating a link needs the rights to read the object: whoever may get it may let someone else get
it, as they could hand over the bytes themselves. The link records the calling key as its grantor
and the bucket's creation time; the token is in the answer only, like an access key's secret.
Revoking rewrites the record with the time, in force everywhere within the credential cache's
2 s. The operator sees and revokes every link; a tenant's key those of its tenant within its own
scopes (node/auth/policy.py, `may_manage_link`). A link to another tenant's object is refused as
PERMISSION_DENIED without saying whose it is.

Served under ObjectService rather than AdminService: tenants make and manage their own links, as
they do their buckets' grants, and AdminService is the operator's alone.
"""

from __future__ import annotations

import dataclasses
import math

import grpc

from node import errors
from node.api.status import unary, unary_method
from node.auth import links as link_records
from node.auth import policy
from node.auth.links import ShareLink
from node.auth.principal import caller
from node.auth.store import CredentialStore
from node.metrics import Metrics
from node.objects.coordinator import Coordinator
from ringstore.auth import links
from ringstore.auth.keys import AccessKey, SecretBox
from ringstore.v1 import object_pb2

SERVICE = "ringstore.v1.ObjectService"


def link_info(record: ShareLink, state: str) -> object_pb2.ShareLinkInfo:
    grant = record.grant
    return object_pb2.ShareLinkInfo(
        link_id=grant.link_id, key_id=grant.key_id, tenant=grant.tenant, bucket=grant.bucket, key=grant.key,
        range_start_bytes=grant.range_start_bytes, range_length_bytes=grant.range_length_bytes,
        created_at_unix_ms=grant.created_at_unix_ms, expires_at_unix_ms=grant.expires_at_unix_ms,
        revoked_at_unix_ms=record.revoked_at_unix_ms, state=state)


class ShareLinkServicer:
    def __init__(self, coordinator: Coordinator, store: CredentialStore, box: SecretBox, metrics: Metrics, *,
                 wall_ms, enabled: bool) -> None:
        self._c = coordinator
        self._store = store
        self._box = box
        self._metrics = metrics
        self._wall_ms = wall_ms
        # False on an --insecure node: nothing checks who calls, so a link would guard nothing.
        self._enabled = enabled

    def _grantor(self) -> AccessKey:
        if not self._enabled:
            raise errors.FailedPrecondition("this node runs --insecure: share links need TLS and access keys")
        key = caller()
        if not isinstance(key, AccessKey):
            raise errors.Unauthenticated(policy.NEEDS_A_KEY)
        return key

    def _state(self, record: ShareLink, now_ms: int, created: dict[str, int] | None = None) -> str:
        """The link's state; `created` (bucket -> created_at) also tells a removed bucket."""
        grantor = self._store.key(record.grant.key_id)
        if created is None:
            return link_records.state(record, grantor, now_ms)
        return link_records.state(record, grantor, now_ms, bucket_created_at_unix_ms=created.get(record.grant.bucket))

    @unary
    def CreateShareLink(self, request: object_pb2.CreateShareLinkRequest, context
                        ) -> object_pb2.CreateShareLinkResponse:
        grantor = self._grantor()
        if not (math.isfinite(request.expires_in_s) and 0 <= request.expires_in_s <= links.EXPIRES_IN_S_MAX):
            raise errors.InvalidArgument(f"expires_in_s must be in 0..{links.EXPIRES_IN_S_MAX:.0f} (0: the default, "
                                         f"{links.EXPIRES_IN_S_DEFAULT:.0f}), got {request.expires_in_s!r}")
        has_start, has_length = request.HasField("range_start_bytes"), request.HasField("range_length_bytes")
        if has_length and not has_start:
            raise errors.InvalidArgument("range_length_bytes needs range_start_bytes")
        if has_length and request.range_length_bytes < 1:
            raise errors.InvalidArgument("range_length_bytes must be at least 1")
        start = request.range_start_bytes if has_start else 0
        length = request.range_length_bytes if has_length else 0
        if start > links.NUMBER_MAX or length > links.NUMBER_MAX - start:
            raise errors.InvalidArgument(f"the range must end below byte {links.NUMBER_MAX}")
        record = self._c.bucket(request.bucket)
        access = self._store.access(record.name, record.created_at_unix_ms)
        try:
            policy.check("get", request.bucket, record.owner, request.key, access=access)
        except errors.PermissionDenied:
            self._metrics.auth_failures.labels("denied").inc()
            raise
        self._c.current_manifest(request.bucket, request.key)  # NotFound: nothing to share
        now_ms = self._wall_ms()
        expires_at_ms = now_ms + int((request.expires_in_s or links.EXPIRES_IN_S_DEFAULT) * 1000)
        if grantor.expires_at_unix_ms:
            expires_at_ms = min(expires_at_ms, grantor.expires_at_unix_ms)  # it would die with the key anyway
        try:
            grant = links.LinkGrant(
                link_id=links.new_link_id(), key_id=grantor.key_id, tenant=grantor.tenant, bucket=request.bucket,
                bucket_created_at_unix_ms=record.created_at_unix_ms, key=request.key, created_at_unix_ms=now_ms,
                expires_at_unix_ms=expires_at_ms, range_start_bytes=start, range_length_bytes=length)
            token = links.encode(grant, self._box.link_key())
        except ValueError as err:
            raise errors.InvalidArgument(str(err)) from None
        # The record first: a token whose record was never written grants nothing (link_unknown).
        made = ShareLink(grant=grant)
        self._store.put_link(made)
        return object_pb2.CreateShareLinkResponse(link=link_info(made, "active"), token=token)

    @unary
    def ListShareLinks(self, request: object_pb2.ListShareLinksRequest, context) -> object_pb2.ListShareLinksResponse:
        self._grantor()
        now_ms = self._wall_ms()
        created = {b.name: b.created_at_unix_ms for b in self._c.list_buckets()}
        shown = [r for r in self._store.links()
                 if (not request.bucket or r.grant.bucket == request.bucket) and policy.may_manage_link(r.grant)]
        return object_pb2.ListShareLinksResponse(links=[link_info(r, self._state(r, now_ms, created)) for r in shown])

    @unary
    def RevokeShareLink(self, request: object_pb2.RevokeShareLinkRequest, context
                        ) -> object_pb2.RevokeShareLinkResponse:
        key = self._grantor()
        if not links.is_link_id(request.link_id):
            raise errors.InvalidArgument(f"{request.link_id[:40]!r} is not a share link id ({links.LINK_ID_PREFIX} and "
                                         f"{links.LINK_ID_RANDOM_CHARS} of A-Z, 2-7)")
        record = self._store.link(request.link_id, fresh=True)
        if record is None:
            raise errors.NotFound(f"share link {request.link_id} does not exist; `nodectl share ls` lists them")
        if not policy.may_manage_link(record.grant):
            self._metrics.auth_failures.labels("denied").inc()
            raise errors.PermissionDenied(f"access key {key.key_id} (tenant {key.tenant}) may not revoke share link "
                                          f"{request.link_id}: it was made for another tenant or outside the key's "
                                          "scopes")
        now_ms = self._wall_ms()
        if not record.revoked_at_unix_ms:
            record = dataclasses.replace(record, revoked_at_unix_ms=now_ms)
            self._store.put_link(record)
        return object_pb2.RevokeShareLinkResponse(link=link_info(record, self._state(record, now_ms)))

    def handlers(self) -> grpc.GenericRpcHandler:
        o = object_pb2
        return grpc.method_handlers_generic_handler(SERVICE, {
            "CreateShareLink": unary_method(self.CreateShareLink, o.CreateShareLinkRequest),
            "ListShareLinks": unary_method(self.ListShareLinks, o.ListShareLinksRequest),
            "RevokeShareLink": unary_method(self.RevokeShareLink, o.RevokeShareLinkRequest),
        })
