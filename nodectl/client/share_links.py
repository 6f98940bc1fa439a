"""Share link calls of `Client`: make, list and revoke links (ObjectService). Using a link is
`get(link=TOKEN)`, `get_bytes(link=...)` and `stat(link=...)` (objects.py).

A new link's token is in the `create_share_link` answer only, like an access key's secret: listings
show ids, objects, grantors, expiry and state. Creates are not retried (a lost answer would leave a
second link behind a retry); listings and revokes (idempotent) are.
"""

from __future__ import annotations

from ringstore.auth.keys import parse_duration
from ringstore.v1 import object_pb2

from nodectl.client.connection import _Connection
from nodectl.client.results import NewShareLink, ShareLinkInfo
from nodectl.client.validate import validate_bucket, validate_key, validate_range
from nodectl.errors import InvalidArgument


def share_link_from_pb(pb: object_pb2.ShareLinkInfo) -> ShareLinkInfo:
    return ShareLinkInfo(link_id=pb.link_id, key_id=pb.key_id, tenant=pb.tenant, bucket=pb.bucket, key=pb.key,
                         range_start_bytes=pb.range_start_bytes, range_length_bytes=pb.range_length_bytes,
                         created_at_unix_ms=pb.created_at_unix_ms, expires_at_unix_ms=pb.expires_at_unix_ms,
                         revoked_at_unix_ms=pb.revoked_at_unix_ms, state=pb.state)


class _ShareLinkCalls(_Connection):
    """Share links: make, list, revoke."""

    def create_share_link(self, bucket: str, key: str, *, expires_in: str | float | None = None,
                          range_start_bytes: int | None = None,
                          range_length_bytes: int | None = None) -> NewShareLink:
        """A link that lets anyone holding its token get `key` of `bucket` (or `range_length_bytes`
        from `range_start_bytes`; a start alone: to the end) through any node, without a key, until
        `expires_in` (seconds, or text like "1h"; default an hour, at most 30 days, never past this
        client's key) or until revoked. Needs read rights on the object."""
        validate_bucket(bucket)
        validate_key(key)
        validate_range(range_start_bytes, range_length_bytes)
        if range_length_bytes is not None and range_start_bytes is None:
            range_start_bytes = 0
        if range_length_bytes == 0:
            raise InvalidArgument("a share link's range must hold at least one byte")
        if isinstance(expires_in, str):
            try:
                expires_in = parse_duration(expires_in)
            except ValueError as err:
                raise InvalidArgument(str(err)) from None
        request = object_pb2.CreateShareLinkRequest(bucket=bucket, key=key, expires_in_s=float(expires_in or 0))
        if range_start_bytes is not None:
            request.range_start_bytes = range_start_bytes
        if range_length_bytes is not None:
            request.range_length_bytes = range_length_bytes
        pb = self._unary(self._objects.CreateShareLink, request, replayable=False)
        return NewShareLink(link=share_link_from_pb(pb.link), token=pb.token)

    def list_share_links(self, bucket: str = "") -> list[ShareLinkInfo]:
        """The links the caller may see (the operator: all; a tenant's key: its tenant's, within its
        scopes), oldest first; only `bucket`'s when given."""
        if bucket:
            validate_bucket(bucket)
        pb = self._unary(self._objects.ListShareLinks, object_pb2.ListShareLinksRequest(bucket=bucket))
        return [share_link_from_pb(link) for link in pb.links]

    def revoke_share_link(self, link_id: str) -> ShareLinkInfo:
        """Revoke a link: every node refuses it within a few seconds. Revoking it again is no error."""
        pb = self._unary(self._objects.RevokeShareLink, object_pb2.RevokeShareLinkRequest(link_id=link_id))
        return share_link_from_pb(pb.link)
