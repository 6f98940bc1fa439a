"""What a verified access key may do with buckets and objects.

The operator's keys may do everything. A tenant's key may use the buckets its tenant owns (grants
and public buckets are the next step), within its own scopes: a read-only key only reads, a bucket
key only that bucket, a prefix key only keys that start with its prefix (and listings inside it). A
refusal is PERMISSION_DENIED naming the key, the action and the bucket; a bucket that does not exist
is NOT_FOUND as for anyone, as S3 answers NoSuchBucket and AccessDenied apart.

Bucket names are global, as in S3, Garage and MinIO: a bucket has one owner tenant, and another
tenant reaches it by the same name once granted. Rejected: a namespace of buckets per tenant. It
would let two tenants use one name, but an S3 path `/bucket/key` could not say whose bucket it means.
"""

from __future__ import annotations

from node import errors
from node.auth.principal import caller
from ringstore.auth.keys import AccessKey

READ_ACTIONS = frozenset({"get", "stat", "list"})
WRITE_ACTIONS = frozenset({"put", "delete", "convert", "remove-bucket"})
OPERATOR_ROLE = "operator"


def is_operator(key: AccessKey | None) -> bool:
    """True for nobody checked (--insecure, peer calls) and for operator keys."""
    return key is None or key.role == OPERATOR_ROLE


def owner_for_new_bucket(bucket: str) -> str:
    """The owner a bucket created now gets: the caller's tenant ("" for the operator), after the
    caller's own scopes allow the create."""
    key = caller()
    if is_operator(key):
        return ""
    if key.read_only:
        raise errors.PermissionDenied(f"access key {key.key_id} is read-only: it cannot create bucket {bucket!r}")
    if key.bucket and key.bucket != bucket:
        raise errors.PermissionDenied(f"access key {key.key_id} is limited to bucket {key.bucket!r}: it cannot create "
                                      f"bucket {bucket!r}")
    return key.tenant


def may_see(bucket: str, owner: str) -> bool:
    """Whether the caller's listing of buckets shows `bucket` (owned by `owner`)."""
    key = caller()
    if is_operator(key):
        return True
    return owner == key.tenant and (not key.bucket or key.bucket == bucket)


def check(action: str, bucket: str, owner: str, key_name: str = "", *, prefix: str | None = None) -> None:
    """Refuse `action` on `bucket` (owned by `owner`) and object `key_name` (or a listing under
    `prefix`) unless the caller may do it."""
    key = caller()
    if is_operator(key):
        return
    assert action in READ_ACTIONS | WRITE_ACTIONS, action
    if owner != key.tenant:
        raise errors.PermissionDenied(f"access key {key.key_id} (tenant {key.tenant}) may not {action} in bucket "
                                      f"{bucket!r}: it belongs to another tenant")
    if key.read_only and action in WRITE_ACTIONS:
        raise errors.PermissionDenied(f"access key {key.key_id} is read-only: it may not {action} in bucket {bucket!r}")
    if key.bucket and key.bucket != bucket:
        raise errors.PermissionDenied(f"access key {key.key_id} is limited to bucket {key.bucket!r}: it may not "
                                      f"{action} in bucket {bucket!r}")
    if key.prefix:
        inside = prefix.startswith(key.prefix) if prefix is not None else key_name.startswith(key.prefix)
        if not inside:
            what = f"list {prefix!r}" if prefix is not None else f"{action} {key_name!r}"
            raise errors.PermissionDenied(f"access key {key.key_id} is limited to keys starting with {key.prefix!r} "
                                          f"in bucket {bucket!r}: it may not {what}")
