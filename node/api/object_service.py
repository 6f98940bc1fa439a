"""ObjectService: the client-facing API, a thin shell over `node.objects.Coordinator`."""

from __future__ import annotations

import time
from typing import Iterator

import grpc

from node import errors
from node.api.status import check_parsed, download_method, streaming, unary, unary_method, upload_method
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

    @unary
    def CreateBucket(self, request: object_pb2.CreateBucketRequest, context) -> object_pb2.CreateBucketResponse:
        policy = request.default_policy if request.HasField("default_policy") else None
        return object_pb2.CreateBucketResponse(bucket=self._c.create_bucket(request.bucket, policy))

    @unary
    def DeleteBucket(self, request, context):
        self._c.delete_bucket(request.bucket)
        return object_pb2.DeleteBucketResponse()

    @unary
    def ListBuckets(self, request, context):
        return object_pb2.ListBucketsResponse(buckets=self._c.list_buckets())

    @unary
    def PutObject(self, request_iterator: Iterator, context) -> object_pb2.PutObjectResponse:
        started = time.perf_counter()
        outcome = "error"
        try:
            first = next(request_iterator, None)
            check_parsed(first)
            if first is None or isinstance(first, memoryview) or first.WhichOneof("msg") != "header":
                raise errors.InvalidArgument("a PutObject stream must start with a header message")

            def data() -> Iterator[memoryview]:
                for item in request_iterator:
                    check_parsed(item)
                    if not isinstance(item, memoryview):
                        raise errors.InvalidArgument("a PutObject stream carries one header, then only data")
                    yield item

            manifest = self._c.put_object(first.header, data())
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
        manifest = self._c.current_manifest(request.bucket, request.key)
        reply = object_pb2.StatObjectResponse(object=object_info(manifest))
        for ref in manifest.chunks:
            placement = self._c.chunk_placement(ref)
            entry = reply.chunks.add(chunk=ref)
            for holder in (placement.holders if placement is not None else ()):
                entry.holders.add(holder=holder, state=self._state_name(holder.node_id))
        return reply

    @unary
    def ListObjects(self, request, context):
        items, token = self._c.list_objects(request.bucket, request.prefix, request.page_size, request.page_token)
        return object_pb2.ListObjectsResponse(objects=[object_info(m) for m in items], next_page_token=token)

    @unary
    def DeleteObject(self, request, context):
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
        })

