"""Bucket calls of `Client`: create, delete and list buckets; grants, public read and info.

Creates and deletes carry a fresh request id, the same on each of their retries, so a retry after
a lost answer gets the answer of its own call instead of AlreadyExists or NotFound.
"""

from __future__ import annotations

import uuid

from ringstore.v1 import common_pb2, object_pb2

from nodectl.client.connection import _Connection
from nodectl.client.from_pb import bucket_access_from_pb, bucket_info_from_pb, bucket_usage_from_pb, quota_from_pb
from nodectl.client.results import BucketAccess, BucketDetails, BucketInfo, Usage
from nodectl.client.validate import compression_pb, policy_pb, validate_bucket
from nodectl.errors import InvalidArgument


class _BucketCalls(_Connection):
    """Buckets: create, delete, list."""

    def create_bucket(self, bucket: str, *, replicas: int | None = None,
                      ec: str | tuple[int, int] | None = None) -> BucketInfo:
        """Create a bucket whose objects default to `replicas` copies or `ec` K+M erasure coding.

        `ec` is "K+M" or (K, M). Give at most one; neither means the cluster's default policy.
        AlreadyExists when the bucket exists, whoever created it and with whatever policy: of many
        concurrent creates of one name exactly one succeeds. The call carries a fresh request id,
        the same on every retry, so a retry after a lost answer gets the answer of its own create.
        """
        validate_bucket(bucket)
        policy = policy_pb(replicas, ec)
        request = object_pb2.CreateBucketRequest(bucket=bucket, default_policy=policy, request_id=uuid.uuid4().hex)
        response = self._unary(self._objects.CreateBucket, request)
        return bucket_info_from_pb(response.bucket)

    def delete_bucket(self, bucket: str) -> None:
        """Remove an empty bucket (FailedPrecondition when it still holds objects). Retried with the
        same request id, so a retry after a lost answer succeeds rather than raising NotFound."""
        validate_bucket(bucket)
        request = object_pb2.DeleteBucketRequest(bucket=bucket, request_id=uuid.uuid4().hex)
        self._unary(self._objects.DeleteBucket, request)

    def list_buckets(self) -> list[BucketInfo]:
        """Every bucket the caller may use (the operator: every bucket), sorted by name."""
        response = self._unary(self._objects.ListBuckets, object_pb2.ListBucketsRequest())
        return [bucket_info_from_pb(b) for b in response.buckets]

    def grant_bucket(self, bucket: str, tenant: str, level: str) -> BucketAccess:
        """Give `tenant` "read", "write" or "owner" rights on `bucket` ("" takes them away). The
        bucket's owner, a tenant with owner rights, or the operator."""
        validate_bucket(bucket)
        if level not in ("", "read", "write", "owner"):
            raise InvalidArgument(f"level {level!r} is not one of read, write, owner (or \"\" to take it away)")
        request = object_pb2.SetBucketGrantRequest(bucket=bucket, tenant=tenant, level=level)
        return bucket_access_from_pb(self._unary(self._objects.SetBucketGrant, request))

    def set_public_read(self, bucket: str, public_read: bool) -> BucketAccess:
        """Let anyone get, stat and list the bucket's objects without a key, or stop."""
        validate_bucket(bucket)
        request = object_pb2.SetBucketPublicReadRequest(bucket=bucket, public_read=public_read)
        return bucket_access_from_pb(self._unary(self._objects.SetBucketPublicRead, request))

    def set_versioning(self, bucket: str, state: str) -> BucketInfo:
        """Turn the bucket's versioning "enabled" or "suspended" (never back to unversioned): while
        enabled, every put and delete makes a new version and keeps the ones before."""
        validate_bucket(bucket)
        states = {"enabled": common_pb2.VERSIONING_ENABLED, "suspended": common_pb2.VERSIONING_SUSPENDED}
        if state not in states:
            raise InvalidArgument(f"versioning {state!r} is not enabled or suspended")
        request = object_pb2.SetBucketVersioningRequest(bucket=bucket, versioning=states[state])
        return bucket_info_from_pb(self._unary(self._objects.SetBucketVersioning, request).bucket)

    def set_compression(self, bucket: str, compression: str) -> BucketInfo:
        """How the bucket's puts compress their chunks unless they say: "zstd" or "none" (objects
        already stored keep their chunks as they are)."""
        validate_bucket(bucket)
        request = object_pb2.SetBucketCompressionRequest(bucket=bucket, compression=compression_pb(compression))
        return bucket_info_from_pb(self._unary(self._objects.SetBucketCompression, request).bucket)

    def set_encryption(self, bucket: str, on: bool) -> BucketInfo:
        """Whether the bucket's puts that do not say have the nodes encrypt their chunks at rest
        (objects already stored keep their chunks as they are). FailedPrecondition when the nodes
        have no master key."""
        validate_bucket(bucket)
        request = object_pb2.SetBucketEncryptionRequest(
            bucket=bucket, encryption=common_pb2.ENCRYPTION_AES256_GCM if on else common_pb2.ENCRYPTION_NONE)
        return bucket_info_from_pb(self._unary(self._objects.SetBucketEncryption, request).bucket)

    def set_bucket_tags(self, bucket: str, tags: dict[str, str]) -> BucketInfo:
        """Replace the bucket's own tags (at most 50); an empty mapping removes them."""
        validate_bucket(bucket)
        request = object_pb2.SetBucketTagsRequest(bucket=bucket, tags=dict(tags))
        return bucket_info_from_pb(self._unary(self._objects.SetBucketTags, request).bucket)

    def bucket_info(self, bucket: str) -> BucketDetails:
        """The bucket's policy and owner, who else may use it, what it holds and its quota."""
        validate_bucket(bucket)
        response = self._unary(self._objects.GetBucketInfo, object_pb2.GetBucketInfoRequest(bucket=bucket))
        return BucketDetails(bucket=bucket_info_from_pb(response.bucket), access=bucket_access_from_pb(response.access),
                             usage=bucket_usage_from_pb(response.usage) if response.HasField("usage") else None)

    def usage(self, *, tenant: str = "", bucket: str = "", breakdown: str = "") -> Usage:
        """What buckets hold, from their usage counters: `bucket` alone, `tenant`'s buckets, or
        (neither) every bucket for the operator and the caller's own tenant's for a tenant key. A
        tenant key may not ask about another tenant (PermissionDenied). `breakdown` "prefix" or
        "type": each bucket's usage per top-level prefix or content type too; "history": per day
        for the last 30 days (each part named by when its day began, Unix ms)."""
        if tenant and bucket:
            raise InvalidArgument("give a tenant or a bucket, not both")
        if bucket:
            validate_bucket(bucket)
        if breakdown not in ("", "prefix", "type", "policy", "history"):
            raise InvalidArgument(f"a usage breakdown is by prefix, by type or history, not {breakdown!r}")
        response = self._unary(self._objects.GetUsage,
                               object_pb2.GetUsageRequest(tenant=tenant, bucket=bucket, breakdown=breakdown))
        return Usage(buckets=[bucket_usage_from_pb(b) for b in response.buckets], objects=response.objects,
                     logical_bytes=response.logical_bytes, physical_bytes=response.physical_bytes,
                     tenant=response.tenant, tenant_quota=quota_from_pb(response.tenant_quota),
                     dedup_saved_bytes=response.dedup_saved_bytes, dedup_nodes_missing=response.dedup_nodes_missing)
