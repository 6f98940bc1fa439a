"""Share links on the node: the record kept per link, and the check of a token at use.

A token (ringstore/auth/links.py) proves what was granted and until when; it cannot be taken back.
So the cluster also keeps one `ShareLink` record per link (`links/<id>` in the auth bucket, beside
the access keys, node/auth/store.py), and a link works only while

  1. its token is well formed and its MAC checks out under this cluster's link subkey;
  2. it has not expired (the expiry is in the signed token, so this needs no metadata: an expired
     link fails on every node, even one cut off from the records);
  3. its record exists and names the same grant (a token whose record was never written, because
     the write failed, grants nothing), and it is not revoked;
  4. the access key that granted it exists, is not revoked and has not expired: revoking a key
     revokes every link it made, with no second write per link.

Records and keys are read through the credential cache (2 s; a miss 1 s), so a revocation is in
force on every node within that plus one quorum read. What the link may touch (its one object, its
range, read only) and whether its granting key may still read that object now are checked by the
handler (node/auth/policy.py), where the bucket record is at hand.

Rejected: tokens alone, unrevocable (S3's presigned URLs), because the issue asks for revocation;
a revocation list gossiped to every node (converges, but is never acknowledged by a quorum, and
the records already have a replicated home).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from node.auth.principal import LinkHolder
from ringstore.auth import links
from ringstore.auth.keys import AccessKey
from ringstore.auth.links import LinkError, LinkGrant, utc_text

RECORD_FORMAT = 1
STATES = ("active", "expired", "revoked", "grantor-revoked", "grantor-expired", "grantor-unknown", "bucket-removed")


@dataclasses.dataclass(frozen=True)
class ShareLink:
    """The cluster's record of one link: its grant, and when it was revoked (0: not)."""

    grant: LinkGrant
    revoked_at_unix_ms: int = 0

    @property
    def link_id(self) -> str:
        return self.grant.link_id

    def to_json(self) -> bytes:
        return json.dumps({"format": RECORD_FORMAT, "grant": self.grant.to_payload(),
                           "revoked_at_unix_ms": self.revoked_at_unix_ms},
                          separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> ShareLink:
        """ValueError, one line, for a record this software did not write."""
        try:
            raw: Any = json.loads(data)
        except (ValueError, UnicodeDecodeError) as err:
            raise ValueError(f"share link record is not valid JSON: {str(err).splitlines()[0]}") from None
        if not isinstance(raw, dict) or set(raw) != {"format", "grant", "revoked_at_unix_ms"}:
            raise ValueError("share link record does not have the fields format, grant and revoked_at_unix_ms")
        if raw["format"] != RECORD_FORMAT:
            raise ValueError(f"share link record has format {raw['format']!r}, this node reads {RECORD_FORMAT}: "
                             "upgrade it")
        revoked = raw["revoked_at_unix_ms"]
        if type(revoked) is not int or revoked < 0:
            raise ValueError("share link record field revoked_at_unix_ms is not a whole number >= 0")
        return cls(grant=LinkGrant.from_payload(raw["grant"]), revoked_at_unix_ms=revoked)


_NOT_ASKED: Any = object()


def state(record: ShareLink, grantor: AccessKey | None, now_ms: int, *,
          bucket_created_at_unix_ms: int | None = _NOT_ASKED) -> str:
    """One of STATES, the first that applies in that order after "revoked" (revocation wins, as
    for keys): revoked, expired, the granting key's state, the bucket gone (when the caller knows
    the bucket's current creation time, None for a bucket that does not exist; not given: not
    asked)."""
    grant = record.grant
    if record.revoked_at_unix_ms:
        return "revoked"
    if grant.expired(now_ms):
        return "expired"
    if grantor is None:
        return "grantor-unknown"
    grantor_state = grantor.state(now_ms)
    if grantor_state != "active":
        return f"grantor-{grantor_state}"
    if bucket_created_at_unix_ms is not _NOT_ASKED and bucket_created_at_unix_ms != grant.bucket_created_at_unix_ms:
        return "bucket-removed"
    return "active"


def check(token: str, *, link_key: bytes, now_ms: int, record: Callable[[str], ShareLink | None],
          access_key: Callable[[str], AccessKey | None]) -> LinkHolder:
    """Steps 1-4 of the module docstring. `record(link_id)` and `access_key(key_id)` read through the
    credential cache (they may raise errors.Unavailable). Returns the caller the handlers see;
    LinkError (reason, one line) otherwise."""
    grant = links.verify(token, link_key)
    if grant.expired(now_ms):
        raise LinkError("link_expired", grant.expired_message(now_ms))
    found = record(grant.link_id)
    if found is None:
        raise LinkError("link_unknown", f"share link {grant.link_id} is not known to this cluster: it was never "
                                        "completed; ask for a new link")
    if found.grant != grant:
        raise LinkError("link_unknown", f"share link {grant.link_id} does not match the cluster's record of it; ask "
                                        "for a new link")
    if found.revoked_at_unix_ms:
        raise LinkError("link_revoked", f"share link {grant.link_id} was revoked at "
                                        f"{utc_text(found.revoked_at_unix_ms)}; ask whoever shared "
                                        f"{grant.bucket}/{grant.key} for a new link")
    grantor = access_key(grant.key_id)
    grantor_state = "unknown" if grantor is None else grantor.state(now_ms)
    if grantor is None or grantor.tenant != grant.tenant or grantor_state != "active":
        if grantor is None or grantor.tenant != grant.tenant:
            what = "is not known to this cluster"
        elif grantor_state == "revoked":
            what = f"was revoked at {grantor.revoked_at_text}"
        else:
            what = f"expired at {grantor.expires_at_text}"
        raise LinkError("link_grantor_invalid", f"share link {grant.link_id} was made with access key {grant.key_id}, "
                                                f"which {what}: links die with the key that made them")
    return LinkHolder(grant=grant, grantor=grantor)
