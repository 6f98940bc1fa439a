"""One exception hierarchy for everything the node says no to.

Each class is a kind of answer a client can act on; `node/api/status.py` maps each to one gRPC status
code, once, at the edge. Messages are one line, carry numbers and node ids, and say what to do
("write quorum not met: 1 of 2 manifest acks (node-c: deadline exceeded after 0.50 s)").
Our own bugs are not here: they are assertions and surface as INTERNAL.
"""

from __future__ import annotations


class RingstoreError(Exception):
    """Base of every error the node reports to a caller."""


class InvalidArgument(RingstoreError):
    """The request itself is wrong (bad key, bad bucket name, bad policy)."""


class NotFound(RingstoreError):
    """The bucket, object or chunk does not exist."""


class NoSuchBucket(NotFound):
    """The bucket does not exist (the S3 gateway answers NoSuchBucket, gRPC NOT_FOUND as for any)."""


class NoSuchKey(NotFound):
    """The object does not exist, or its newest version is a delete (S3: NoSuchKey)."""


class NoSuchVersion(NotFound):
    """The object has no version of that id, or it was deleted for good (S3: NoSuchVersion)."""


class NoSuchUpload(NotFound):
    """The multipart upload does not exist: never made, completed or aborted (S3: NoSuchUpload)."""


class AlreadyExists(RingstoreError):
    """Creating something that is already there (a bucket)."""


class InvalidTag(InvalidArgument):
    """Too many tags, or a tag key or value too long or malformed (S3: InvalidTag)."""


class InvalidPart(InvalidArgument):
    """A completion names a part that was not uploaded, or with another ETag (S3: InvalidPart)."""


class InvalidPartOrder(InvalidArgument):
    """A completion's parts are not in ascending order (S3: InvalidPartOrder)."""


class EntityTooSmall(InvalidArgument):
    """A part other than the last is below the minimum part size (S3: EntityTooSmall)."""


class FailedPrecondition(RingstoreError):
    """The request is valid but the state does not allow it (removing a non-empty bucket)."""


class ConditionFailed(FailedPrecondition):
    """A conditional put's condition did not hold, or it lost the race for the key (S3: 412)."""


class VersionIsDeleteMarker(FailedPrecondition):
    """The version asked for is a delete marker: it has no bytes to read or roll back to."""


class BucketNotEmpty(FailedPrecondition):
    """Removing a bucket that still holds objects (S3: BucketNotEmpty)."""


class OutOfRange(RingstoreError):
    """A byte range starts past the end of the object."""


class Aborted(RingstoreError):
    """A check of the cluster's state failed against a concurrent change (a write tagged with a ring
    this node no longer uses); the caller retries once the state settles."""


class Unavailable(RingstoreError):
    """Too few live nodes (or replicas) answered to do this safely now; retrying later may work."""


class DataLoss(RingstoreError):
    """No intact copy of some data could be found anywhere the cluster looked."""


class ResourceExhausted(RingstoreError):
    """A limit was hit: object too large, disks full."""


class QuotaExceeded(ResourceExhausted):
    """A put would take a bucket or tenant past its quota (S3: QuotaExceeded, 403)."""


class Unauthenticated(RingstoreError):
    """The caller did not prove who it is (no access key, or one that does not check out)."""


class PermissionDenied(RingstoreError):
    """The caller's access key is valid but does not allow this action on this bucket or key."""
