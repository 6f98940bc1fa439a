"""What a verified access key (or a call with none) may do with buckets and objects.

The operator's keys may do everything. A tenant's key may use the buckets its tenant owns, and the
buckets other tenants granted it: "read" (get, stat, list), "write" (also put, delete, convert) or
"owner" (also grant, set public read, remove the bucket). Within that, its own scopes narrow it: a
read-only key only reads, a bucket key only that bucket, a prefix key only keys that start with its
prefix (and listings inside it). A call with no signature at all may read a public-read bucket and
nothing else. A refusal is PERMISSION_DENIED naming the key, the action and the bucket (for an
unsigned call, UNAUTHENTICATED as before); a bucket that does not exist is NOT_FOUND for everyone, as
S3 tells NoSuchBucket from AccessDenied.

Bucket names are global, as in S3, Garage and MinIO: a bucket has one owner tenant, and another
tenant reaches it by the same name once granted. Rejected: a namespace of buckets per tenant. It
would let two tenants use one name, but an S3 path `/bucket/key` could not say whose bucket it means.
"""

from __future__ import annotations

from node import errors
from node.auth.principal import Anonymous, caller
from node.auth.store import Access
from ringstore.auth.keys import ROLE_OPERATOR

READ_ACTIONS = frozenset({"get", "stat", "list", "info"})
WRITE_ACTIONS = frozenset({"put", "delete", "convert"})
OWNER_ACTIONS = frozenset({"remove-bucket", "grant", "set-public-read"})
LEVEL_RANK = {"": 0, "read": 1, "write": 2, "owner": 3}
NEEDS_A_KEY = ("this call needs an access key: give --profile NAME, or set RINGSTORE_ACCESS_KEY_ID and "
               "RINGSTORE_SECRET_ACCESS_KEY")


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
    if key.read_only:
        raise errors.PermissionDenied(f"access key {key.key_id} is read-only: it cannot create bucket {bucket!r}")
    if key.bucket and key.bucket != bucket:
        raise errors.PermissionDenied(f"access key {key.key_id} is limited to bucket {key.bucket!r}: it cannot create "
                                      f"bucket {bucket!r}")
    return key.tenant


def level(owner: str, access: Access | None) -> str:
    """The caller's rights on a bucket owned by `owner` with `access` ("" for none; operator: owner)."""
    key = caller()
    if is_operator(key):
        return "owner"
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
    if isinstance(key, Anonymous) or (key.bucket and key.bucket != bucket):
        return False
    return owner == key.tenant or bool(access is not None and access.level_of(key.tenant))


def check(action: str, bucket: str, owner: str, key_name: str = "", *, prefix: str | None = None,
          access: Access | None = None) -> None:
    """Refuse `action` on `bucket` (owned by `owner`, shared as `access` says) and object
    `key_name` (or a listing under `prefix`) unless the caller may do it."""
    key = caller()
    if is_operator(key):
        return
    need = needed_level(action)
    have = level(owner, access)
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
