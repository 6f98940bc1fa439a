"""ObjectService: the client-facing API, a thin shell over `node.objects.Coordinator`."""

from __future__ import annotations

import time
from typing import Iterator

import grpc

from node import errors
from node.api.status import check_parsed, download_method, streaming, unary, unary_method, upload_method
from node.auth import policy
from node.auth.principal import caller
from node.metrics import Metrics
from node.objects.coordinator import Coordinator
from ringstore.v1 import common_pb2, object_pb2

SERVICE = "ringstore.v1.ObjectService"


def object_info(m: common_pb2.Manifest) -> object_pb2.ObjectInfo:
    info = object_pb2.ObjectInfo(bucket=m.bucket, key=m.key, size_bytes=m.size_bytes, blake3=m.blake3,
                                 version=m.version, content_type=m.content_type, policy=m.policy,
                                 chunk_count=len(m.chunks), created_at_unix_ms=m.created_at_unix_ms,
                                 inline=m.inline)
    info.metadata.update(dict(m.metadata))
    return info


class ObjectServicer:
    def __init__(self, coordinator: Coordinator, metrics: Metrics, state_name) -> None:
        self._c = coordinator
        self._metrics = metrics
        self._state_name = state_name

    def _allow(self, action: str, bucket: str, key: str = "", *, prefix: str | None = None) -> None:
        """Refuse unless the caller may do `action` (node/auth/policy.py); the operator's calls skip
        the bucket lookup."""
        if policy.is_operator(caller()):
            return
        try:
            policy.check(action, bucket, self._c.bucket(bucket).owner, key, prefix=prefix)
        except errors.PermissionDenied:
            self._metrics.auth_failures.labels("denied").inc()
            raise

    @unary
    def CreateBucket(self, request: object_pb2.CreateBucketRequest, context) -> object_pb2.CreateBucketResponse:
        redundancy = request.default_policy if request.HasField("default_policy") else None
        try:
            owner = policy.owner_for_new_bucket(request.bucket)
        except errors.PermissionDenied:
            self._metrics.auth_failures.labels("denied").inc()
            raise
        return object_pb2.CreateBucketResponse(
            bucket=self._c.create_bucket(request.bucket, redundancy, request.request_id, owner=owner))

    @unary
    def DeleteBucket(self, request, context):
        self._allow("remove-bucket", request.bucket)
        self._c.delete_bucket(request.bucket, request.request_id)
        return object_pb2.DeleteBucketResponse()

    @unary
    def ListBuckets(self, request, context):
        return object_pb2.ListBucketsResponse(
            buckets=[b for b in self._c.list_buckets() if policy.may_see(b.name, b.owner)])

    @unary
    def PutObject(self, request_iterator: Iterator, context) -> object_pb2.PutObjectResponse:
        started = time.perf_counter()
        outcome = "error"
        try:
            first = next(request_iterator, None)
            check_parsed(first)
            if first is None or isinstance(first, memoryview) or first.WhichOneof("msg") != "header":
                raise errors.InvalidArgument("a PutObject stream must start with a header message")

            end: list[object_pb2.PutObjectEnd] = []

            def data() -> Iterator[memoryview]:
                for item in request_iterator:
                    check_parsed(item)
                    if isinstance(item, memoryview) and not end:
                        yield item
                    elif not end and item.WhichOneof("msg") == "end":
                        end.append(item.end)
                    else:
                        raise errors.InvalidArgument(
                            "a PutObject stream carries one header, then data, then one end message")
                if not end:
                    # gRPC can show a client that died mid-upload as a clean half-close.
                    raise errors.InvalidArgument(
                        "the PutObject stream stopped without its end message (the upload was interrupted); "
                        "nothing was stored")

            def check_end(size_bytes: int, digest: bytes) -> None:
                sent = end[0]
                if sent.size_bytes != size_bytes:
                    raise errors.InvalidArgument(
                        f"the client says it sent {sent.size_bytes} bytes but {size_bytes} arrived; nothing was stored")
                if sent.blake3 and sent.blake3 != digest:
                    raise errors.InvalidArgument(
                        f"the {size_bytes} bytes that arrived hash to {digest.hex()[:16]}, not the client's "
                        f"{bytes(sent.blake3).hex()[:16]}; nothing was stored")

            self._allow("put", first.header.bucket, first.header.key)
            manifest = self._c.put_object(first.header, data(), check_end)
            outcome = "ok"
            self._metrics.put_bytes.inc(manifest.size_bytes)
            return object_pb2.PutObjectResponse(object=object_info(manifest))
        finally:
            self._metrics.requests.labels("put", outcome).inc()
            self._metrics.put_latency.observe(time.perf_counter() - started)

    @streaming
    def GetObject(self, request: object_pb2.GetObjectRequest, context):
        started = time.perf_counter()
        outcome = "error"
        try:
            start = request.range_start_bytes if request.HasField("range_start_bytes") else None
            length = request.range_length_bytes if request.HasField("range_length_bytes") else None
            self._allow("get", request.bucket, request.key)
            manifest, start, length, payload = self._c.get_object(request.bucket, request.key, start, length)
            yield object_pb2.GetObjectResponse(info=object_pb2.GetObjectInfo(
                object=object_info(manifest), range_start_bytes=start, range_length_bytes=length))
            for frame in payload:
                self._metrics.get_bytes.inc(len(frame))
                yield frame
            outcome = "ok"
        finally:
            self._metrics.requests.labels("get", outcome).inc()
            self._metrics.get_latency.observe(time.perf_counter() - started)

    @unary
    def StatObject(self, request, context):
        self._allow("stat", request.bucket, request.key)
        manifest = self._c.current_manifest(request.bucket, request.key)
        reply = object_pb2.StatObjectResponse(object=object_info(manifest))
        placements = [self._c.chunk_placement(ref, manifest.policy) for ref in manifest.chunks]
        for ref, placement in zip(manifest.chunks, placements):
            entry = reply.chunks.add(chunk=ref)
            for holder in (placement.holders if placement is not None else ()):
                entry.holders.add(holder=holder, state=self._state_name(holder.node_id))
        reply.physical_bytes = self._c.physical_bytes(manifest, placements)
        return reply

    @streaming
    def ConvertObject(self, request: object_pb2.ConvertObjectRequest, context):
        if request.policy.WhichOneof("policy") is None:
            raise errors.InvalidArgument("ConvertObject needs a policy: replicas=N or ec=K+M")
        self._allow("convert", request.bucket, request.key)
        outcome = "error"
        try:
            for event in self._c.convert_object(request.bucket, request.key, request.policy):
                if isinstance(event, object_pb2.ConvertProgress):
                    yield object_pb2.ConvertObjectResponse(progress=event)
                else:
                    yield object_pb2.ConvertObjectResponse(result=object_pb2.ConvertResult(
                        object=object_info(event.manifest), copies_released=event.copies_released,
                        copies_still_referenced=event.copies_still_referenced,
                        copies_not_reached=event.copies_not_reached, unchanged=event.unchanged))
            outcome = "ok"
        finally:
            self._metrics.requests.labels("convert", outcome).inc()

    @unary
    def ListObjects(self, request, context):
        self._allow("list", request.bucket, prefix=request.prefix)
        items, token = self._c.list_objects(request.bucket, request.prefix, request.page_size, request.page_token)
        return object_pb2.ListObjectsResponse(objects=[object_info(m) for m in items], next_page_token=token)

    @unary
    def DeleteObject(self, request, context):
        self._allow("delete", request.bucket, request.key)
        return object_pb2.DeleteObjectResponse(version=self._c.delete_object(request.bucket, request.key))

    def handlers(self) -> grpc.GenericRpcHandler:
        o = object_pb2

        uu = unary_method
        return grpc.method_handlers_generic_handler(SERVICE, {
            "CreateBucket": uu(self.CreateBucket, o.CreateBucketRequest),
            "DeleteBucket": uu(self.DeleteBucket, o.DeleteBucketRequest),
            "ListBuckets": uu(self.ListBuckets, o.ListBucketsRequest),
            "PutObject": upload_method(self.PutObject, o.PutObjectRequest),
            "GetObject": download_method(self.GetObject, o.GetObjectRequest),
            "StatObject": uu(self.StatObject, o.StatObjectRequest),
            "ListObjects": uu(self.ListObjects, o.ListObjectsRequest),
            "DeleteObject": uu(self.DeleteObject, o.DeleteObjectRequest),
            "ConvertObject": download_method(self.ConvertObject, o.ConvertObjectRequest),
        })

