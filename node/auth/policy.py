"""What a verified access key (or a call with none) may do with buckets and objects.

The operator's keys may do everything. A tenant's key may use the buckets its tenant owns, and the
buckets other tenants granted it: "read" (get, stat, list), "write" (also put, delete, convert) or
"owner" (also grant, set public read, remove the bucket). Within that, its own scopes narrow it: a
read-only key only reads, a bucket key only that bucket, a prefix key only keys that start with its
prefix (and listings inside it). A call with no signature at all may read a public-read bucket and
nothing else. A refusal is PERMISSION_DENIED naming the key, the action and the bucket (for an
unsigned call, UNAUTHENTICATED as before); a bucket that does not exist is NOT_FOUND for everyone, as
S3 tells NoSuchBucket from AccessDenied.

A share link (node/auth/links.py) may get and stat its one object, within its byte range, and
nothing else: no listing, no other key, no write. It is never worth more than its granting key is
now: each use checks that the key may still read the object (a tenant whose grant on the bucket was
taken away, or a key narrowed since, takes its links down with it), and that the bucket is the one
the link was made for (a bucket removed and made again under the name is another bucket).

Bucket names are global, as in S3, Garage and MinIO: a bucket has one owner tenant, and another
tenant reaches it by the same name once granted. Rejected: a namespace of buckets per tenant. It
would let two tenants use one name, but an S3 path `/bucket/key` could not say whose bucket it means.
"""

from __future__ import annotations

from node import errors
from node.auth.principal import Anonymous, LinkHolder, caller
from node.auth.store import Access
from ringstore.auth.keys import ROLE_OPERATOR
from ringstore.auth.links import utc_text

READ_ACTIONS = frozenset({"get", "stat", "list", "info"})
WRITE_ACTIONS = frozenset({"put", "delete", "convert"})
OWNER_ACTIONS = frozenset({"remove-bucket", "grant", "set-public-read", "set-versioning", "set-lifecycle", "set-bucket-tags",
                           "set-compression", "set-encryption"})
# What a share link's holder may do with its one object.
LINK_ACTIONS = frozenset({"get", "stat"})
LEVEL_RANK = {"": 0, "read": 1, "write": 2, "owner": 3}
NEEDS_A_KEY = ("this call needs an access key: give --profile NAME, or set RINGSTORE_ACCESS_KEY_ID and "
               "RINGSTORE_SECRET_ACCESS_KEY")


class LinkBucketGone(errors.Unauthenticated):
    """A share link whose bucket was removed (and perhaps made again): the link is dead."""

    reason = "link_bucket_gone"


def needed_level(action: str) -> str:
    if action in READ_ACTIONS:
        return "read"
    if action in WRITE_ACTIONS:
        return "write"
    assert action in OWNER_ACTIONS, action
    return "owner"


def is_operator(key) -> bool:
    """True for nobody checked (--insecure, peer calls) and for operator keys."""
    return key is None or key.role == ROLE_OPERATOR


def owner_for_new_bucket(bucket: str) -> str:
    """The owner a bucket created now gets: the caller's tenant ("" for the operator), after the
    caller's own scopes allow the create."""
    key = caller()
    if is_operator(key):
        return ""
    if isinstance(key, Anonymous):
        raise errors.Unauthenticated(NEEDS_A_KEY)
    if isinstance(key, LinkHolder):
        raise errors.PermissionDenied(f"{key.key_id} only reads its object: it cannot create bucket {bucket!r}")
    if key.read_only:
        raise errors.PermissionDenied(f"access key {key.key_id} is read-only: it cannot create bucket {bucket!r}")
    if key.bucket and key.bucket != bucket:
        raise errors.PermissionDenied(f"access key {key.key_id} is limited to bucket {key.bucket!r}: it cannot create "
                                      f"bucket {bucket!r}")
    return key.tenant


def level(owner: str, access: Access | None) -> str:
    """The caller's rights on a bucket owned by `owner` with `access` ("" for none; operator: owner)."""
    return _level(caller(), owner, access)


def _level(key, owner: str, access: Access | None) -> str:
    if is_operator(key):
        return "owner"
    if isinstance(key, LinkHolder):
        return ""  # what a link may do is decided by its scope and its grantor's rights (check)
    if isinstance(key, Anonymous):
        return "read" if access is not None and access.public_read else ""
    if owner == key.tenant:
        return "owner"
    return access.level_of(key.tenant) if access is not None else ""


def may_see(bucket: str, owner: str, access: Access | None) -> bool:
    """Whether the caller's listing of buckets shows `bucket`."""
    key = caller()
    if is_operator(key):
        return True
    if isinstance(key, (Anonymous, LinkHolder)) or (key.bucket and key.bucket != bucket):
        return False
    return owner == key.tenant or bool(access is not None and access.level_of(key.tenant))


def check(action: str, bucket: str, owner: str, key_name: str = "", *, prefix: str | None = None,
          access: Access | None = None, bucket_created_at_unix_ms: int | None = None) -> None:
    """Refuse `action` on `bucket` (owned by `owner`, shared as `access` says, created at
    `bucket_created_at_unix_ms`) and object `key_name` (or a listing under `prefix`) unless the
    caller may do it."""
    key = caller()
    if isinstance(key, LinkHolder):
        _check_link(key, action, bucket, owner, key_name, prefix, access, bucket_created_at_unix_ms)
        return
    _check_key(key, action, bucket, owner, key_name, prefix, access)


def check_link_scope(link: LinkHolder, action: str, bucket: str, key_name: str = "", prefix: str | None = None
                     ) -> None:
    """Refuse, before any lookup, whatever lies outside the link's one object and its reads (so a
    link cannot even learn whether another bucket exists)."""
    grant = link.grant
    if action not in LINK_ACTIONS or prefix is not None:
        what = f"list {bucket!r}" if prefix is not None else f"{action} in bucket {bucket!r}"
        raise errors.PermissionDenied(f"{link.key_id} may only get and stat {grant.bucket}/{grant.key}: it may "
                                      f"not {what}")
    if (bucket, key_name) != (grant.bucket, grant.key):
        raise errors.PermissionDenied(f"{link.key_id} is for {grant.bucket}/{grant.key} only: it may not {action} "
                                      f"{bucket}/{key_name}")


def _check_link(link: LinkHolder, action: str, bucket: str, owner: str, key_name: str, prefix: str | None,
                access: Access | None, bucket_created_at_unix_ms: int | None) -> None:
    check_link_scope(link, action, bucket, key_name, prefix)
    grant = link.grant
    if bucket_created_at_unix_ms is not None and bucket_created_at_unix_ms != grant.bucket_created_at_unix_ms:
        raise bucket_gone(link)
    try:
        _check_key(link.grantor, action, bucket, owner, key_name, None, access)
    except errors.PermissionDenied as err:
        raise errors.PermissionDenied(f"{link.key_id} no longer works: the key that made it may not read "
                                      f"{bucket}/{key_name} now ({err})") from None


def bucket_gone(link: LinkHolder) -> LinkBucketGone:
    grant = link.grant
    return LinkBucketGone(f"{link.key_id} no longer works: it was made for bucket {grant.bucket!r} as created at "
                          f"{utc_text(grant.bucket_created_at_unix_ms)}, which has been removed")


def link_range(start: int | None, length: int | None) -> tuple[int | None, int | None]:
    """The range a get of (`start`, `length`) reads (None: from the start, to the end): as asked,
    except that a share link's holder reads its link's range when it asks for none and is refused
    any byte outside it."""
    link = caller()
    if not isinstance(link, LinkHolder) or link.grant.whole_object:
        return start, length
    grant = link.grant
    low = grant.range_start_bytes
    high = low + grant.range_length_bytes if grant.range_length_bytes else None  # exclusive; None: the end
    start = low if start is None else start
    if length is None and high is not None:
        length = high - start
    inside = start >= low and (high is None or (start < high and length is not None and start + length <= high))
    if not inside:
        asked = f"bytes {start}-{start + length - 1}" if length else f"bytes {start}-"
        raise errors.PermissionDenied(f"{link.key_id} covers {grant.range_text} of {grant.bucket}/{grant.key}: it "
                                      f"may not read {asked}")
    return start, length


def _check_key(key, action: str, bucket: str, owner: str, key_name: str, prefix: str | None,
               access: Access | None) -> None:
    if is_operator(key):
        return
    need = needed_level(action)
    have = _level(key, owner, access)
    if isinstance(key, Anonymous):
        if LEVEL_RANK[have] < LEVEL_RANK[need]:
            raise errors.Unauthenticated(NEEDS_A_KEY)
        return
    if LEVEL_RANK[have] < LEVEL_RANK[need]:
        why = "it belongs to another tenant" if not have else f"tenant {key.tenant} has {have} rights only"
        raise errors.PermissionDenied(f"access key {key.key_id} (tenant {key.tenant}) may not {action} in bucket "
                                      f"{bucket!r}: {why}")
    if key.read_only and need != "read":
        raise errors.PermissionDenied(f"access key {key.key_id} is read-only: it may not {action} in bucket {bucket!r}")
    if key.bucket and key.bucket != bucket:
        raise errors.PermissionDenied(f"access key {key.key_id} is limited to bucket {key.bucket!r}: it may not "
                                      f"{action} in bucket {bucket!r}")
    if key.prefix and action in OWNER_ACTIONS:
        raise errors.PermissionDenied(f"access key {key.key_id} is limited to keys starting with {key.prefix!r}: "
                                      f"it may not {action} bucket {bucket!r}")
    if key.prefix and action != "info":
        inside = prefix.startswith(key.prefix) if prefix is not None else key_name.startswith(key.prefix)
        if not inside:
            what = f"list {prefix!r}" if prefix is not None else f"{action} {key_name!r}"
            raise errors.PermissionDenied(f"access key {key.key_id} is limited to keys starting with {key.prefix!r} "
                                          f"in bucket {bucket!r}: it may not {what}")


def may_manage_link(grant) -> bool:
    """Whether the caller may see and revoke the share link `grant` (ringstore.auth.links.LinkGrant):
    the operator any link; a tenant's key the links of its tenant that its own scopes would have let
    it make (a bucket key those in its bucket, a prefix key those under its prefix)."""
    key = caller()
    if is_operator(key):
        return True
    if isinstance(key, (Anonymous, LinkHolder)):
        return False
    return (grant.tenant == key.tenant and (not key.bucket or key.bucket == grant.bucket)
            and grant.key.startswith(key.prefix))
