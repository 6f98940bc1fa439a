from ringstore.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PlanPutRequest(_message.Message):
    __slots__ = ("header", "put_token", "chunks")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    PUT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    header: PutObjectHeader
    put_token: bytes
    chunks: _containers.RepeatedCompositeFieldContainer[KnownChunk]
    def __init__(self, header: _Optional[_Union[PutObjectHeader, _Mapping]] = ..., put_token: _Optional[bytes] = ..., chunks: _Optional[_Iterable[_Union[KnownChunk, _Mapping]]] = ...) -> None: ...

class PlanPutResponse(_message.Message):
    __slots__ = ("direct", "reason", "put_token", "chunk_size_bytes", "chunks")
    DIRECT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PUT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    direct: bool
    reason: str
    put_token: bytes
    chunk_size_bytes: int
    chunks: _containers.RepeatedCompositeFieldContainer[ChunkWrite]
    def __init__(self, direct: _Optional[bool] = ..., reason: _Optional[str] = ..., put_token: _Optional[bytes] = ..., chunk_size_bytes: _Optional[int] = ..., chunks: _Optional[_Iterable[_Union[ChunkWrite, _Mapping]]] = ...) -> None: ...

class ChunkWrite(_message.Message):
    __slots__ = ("chunk_id", "copies")
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    COPIES_FIELD_NUMBER: _ClassVar[int]
    chunk_id: bytes
    copies: _containers.RepeatedCompositeFieldContainer[CopyWrite]
    def __init__(self, chunk_id: _Optional[bytes] = ..., copies: _Optional[_Iterable[_Union[CopyWrite, _Mapping]]] = ...) -> None: ...

class CopyWrite(_message.Message):
    __slots__ = ("node_id", "address", "header", "expires_unix_ms", "grant")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    GRANT_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    address: str
    header: bytes
    expires_unix_ms: int
    grant: bytes
    def __init__(self, node_id: _Optional[str] = ..., address: _Optional[str] = ..., header: _Optional[bytes] = ..., expires_unix_ms: _Optional[int] = ..., grant: _Optional[bytes] = ...) -> None: ...

class WriteChunkRequest(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class WriteChunkHeader(_message.Message):
    __slots__ = ("header", "expires_unix_ms", "grant")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    GRANT_FIELD_NUMBER: _ClassVar[int]
    header: bytes
    expires_unix_ms: int
    grant: bytes
    def __init__(self, header: _Optional[bytes] = ..., expires_unix_ms: _Optional[int] = ..., grant: _Optional[bytes] = ...) -> None: ...

class WriteChunkResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: bytes
    def __init__(self, receipt: _Optional[bytes] = ...) -> None: ...

class WrittenChunk(_message.Message):
    __slots__ = ("chunk_id", "size_bytes", "copies")
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    COPIES_FIELD_NUMBER: _ClassVar[int]
    chunk_id: bytes
    size_bytes: int
    copies: _containers.RepeatedCompositeFieldContainer[WrittenCopy]
    def __init__(self, chunk_id: _Optional[bytes] = ..., size_bytes: _Optional[int] = ..., copies: _Optional[_Iterable[_Union[WrittenCopy, _Mapping]]] = ...) -> None: ...

class WrittenCopy(_message.Message):
    __slots__ = ("node_id", "header", "receipt")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    header: bytes
    receipt: bytes
    def __init__(self, node_id: _Optional[str] = ..., header: _Optional[bytes] = ..., receipt: _Optional[bytes] = ...) -> None: ...

class HasChunksRequest(_message.Message):
    __slots__ = ("bucket", "policy", "chunk_ids", "key")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    CHUNK_IDS_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    policy: _common_pb2.RedundancyPolicy
    chunk_ids: _containers.RepeatedScalarFieldContainer[bytes]
    key: str
    def __init__(self, bucket: _Optional[str] = ..., policy: _Optional[_Union[_common_pb2.RedundancyPolicy, _Mapping]] = ..., chunk_ids: _Optional[_Iterable[bytes]] = ..., key: _Optional[str] = ...) -> None: ...

class HasChunksResponse(_message.Message):
    __slots__ = ("held", "chunk_size_bytes")
    HELD_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    held: _containers.RepeatedScalarFieldContainer[bool]
    chunk_size_bytes: int
    def __init__(self, held: _Optional[_Iterable[bool]] = ..., chunk_size_bytes: _Optional[int] = ...) -> None: ...

class FindObjectsRequest(_message.Message):
    __slots__ = ("bucket", "query", "page_size", "page_token")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    query: _common_pb2.ObjectQuery
    page_size: int
    page_token: str
    def __init__(self, bucket: _Optional[str] = ..., query: _Optional[_Union[_common_pb2.ObjectQuery, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class FindObjectsResponse(_message.Message):
    __slots__ = ("objects", "next_page_token")
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[ObjectInfo]
    next_page_token: str
    def __init__(self, objects: _Optional[_Iterable[_Union[ObjectInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SetObjectTagsRequest(_message.Message):
    __slots__ = ("bucket", "key", "version_id", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    version_id: str
    tags: _containers.ScalarMap[str, str]
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., version_id: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SetBucketTagsRequest(_message.Message):
    __slots__ = ("bucket", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    tags: _containers.ScalarMap[str, str]
    def __init__(self, bucket: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SetBucketTagsResponse(_message.Message):
    __slots__ = ("bucket",)
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    bucket: _common_pb2.BucketRecord
    def __init__(self, bucket: _Optional[_Union[_common_pb2.BucketRecord, _Mapping]] = ...) -> None: ...

class SetBucketLifecycleRequest(_message.Message):
    __slots__ = ("bucket", "rules")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    rules: _containers.RepeatedCompositeFieldContainer[_common_pb2.LifecycleRule]
    def __init__(self, bucket: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[_common_pb2.LifecycleRule, _Mapping]]] = ...) -> None: ...

class SetBucketLifecycleResponse(_message.Message):
    __slots__ = ("bucket",)
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    bucket: _common_pb2.BucketRecord
    def __init__(self, bucket: _Optional[_Union[_common_pb2.BucketRecord, _Mapping]] = ...) -> None: ...

class SetBucketVersioningRequest(_message.Message):
    __slots__ = ("bucket", "versioning")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    VERSIONING_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    versioning: _common_pb2.Versioning
    def __init__(self, bucket: _Optional[str] = ..., versioning: _Optional[_Union[_common_pb2.Versioning, str]] = ...) -> None: ...

class SetBucketCompressionRequest(_message.Message):
    __slots__ = ("bucket", "compression")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    COMPRESSION_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    compression: _common_pb2.Compression
    def __init__(self, bucket: _Optional[str] = ..., compression: _Optional[_Union[_common_pb2.Compression, str]] = ...) -> None: ...

class SetBucketCompressionResponse(_message.Message):
    __slots__ = ("bucket",)
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    bucket: _common_pb2.BucketRecord
    def __init__(self, bucket: _Optional[_Union[_common_pb2.BucketRecord, _Mapping]] = ...) -> None: ...

class SetBucketEncryptionRequest(_message.Message):
    __slots__ = ("bucket", "encryption")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    encryption: _common_pb2.Encryption
    def __init__(self, bucket: _Optional[str] = ..., encryption: _Optional[_Union[_common_pb2.Encryption, str]] = ...) -> None: ...

class SetBucketEncryptionResponse(_message.Message):
    __slots__ = ("bucket",)
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    bucket: _common_pb2.BucketRecord
    def __init__(self, bucket: _Optional[_Union[_common_pb2.BucketRecord, _Mapping]] = ...) -> None: ...

class SetBucketVersioningResponse(_message.Message):
    __slots__ = ("bucket",)
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    bucket: _common_pb2.BucketRecord
    def __init__(self, bucket: _Optional[_Union[_common_pb2.BucketRecord, _Mapping]] = ...) -> None: ...

class ListObjectVersionsRequest(_message.Message):
    __slots__ = ("bucket", "prefix", "page_size", "page_token")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    prefix: str
    page_size: int
    page_token: str
    def __init__(self, bucket: _Optional[str] = ..., prefix: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListObjectVersionsResponse(_message.Message):
    __slots__ = ("versions", "next_page_token")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[ObjectInfo]
    next_page_token: str
    def __init__(self, versions: _Optional[_Iterable[_Union[ObjectInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RollbackObjectRequest(_message.Message):
    __slots__ = ("bucket", "key", "version_id")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    version_id: str
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., version_id: _Optional[str] = ...) -> None: ...

class CreateShareLinkRequest(_message.Message):
    __slots__ = ("bucket", "key", "expires_in_s", "range_start_bytes", "range_length_bytes")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_S_FIELD_NUMBER: _ClassVar[int]
    RANGE_START_BYTES_FIELD_NUMBER: _ClassVar[int]
    RANGE_LENGTH_BYTES_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    expires_in_s: float
    range_start_bytes: int
    range_length_bytes: int
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., expires_in_s: _Optional[float] = ..., range_start_bytes: _Optional[int] = ..., range_length_bytes: _Optional[int] = ...) -> None: ...

class CreateShareLinkResponse(_message.Message):
    __slots__ = ("link", "token")
    LINK_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    link: ShareLinkInfo
    token: str
    def __init__(self, link: _Optional[_Union[ShareLinkInfo, _Mapping]] = ..., token: _Optional[str] = ...) -> None: ...

class ShareLinkInfo(_message.Message):
    __slots__ = ("link_id", "key_id", "tenant", "bucket", "key", "range_start_bytes", "range_length_bytes", "created_at_unix_ms", "expires_at_unix_ms", "revoked_at_unix_ms", "state")
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    RANGE_START_BYTES_FIELD_NUMBER: _ClassVar[int]
    RANGE_LENGTH_BYTES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    link_id: str
    key_id: str
    tenant: str
    bucket: str
    key: str
    range_start_bytes: int
    range_length_bytes: int
    created_at_unix_ms: int
    expires_at_unix_ms: int
    revoked_at_unix_ms: int
    state: str
    def __init__(self, link_id: _Optional[str] = ..., key_id: _Optional[str] = ..., tenant: _Optional[str] = ..., bucket: _Optional[str] = ..., key: _Optional[str] = ..., range_start_bytes: _Optional[int] = ..., range_length_bytes: _Optional[int] = ..., created_at_unix_ms: _Optional[int] = ..., expires_at_unix_ms: _Optional[int] = ..., revoked_at_unix_ms: _Optional[int] = ..., state: _Optional[str] = ...) -> None: ...

class ListShareLinksRequest(_message.Message):
    __slots__ = ("bucket",)
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    def __init__(self, bucket: _Optional[str] = ...) -> None: ...

class ListShareLinksResponse(_message.Message):
    __slots__ = ("links",)
    LINKS_FIELD_NUMBER: _ClassVar[int]
    links: _containers.RepeatedCompositeFieldContainer[ShareLinkInfo]
    def __init__(self, links: _Optional[_Iterable[_Union[ShareLinkInfo, _Mapping]]] = ...) -> None: ...

class RevokeShareLinkRequest(_message.Message):
    __slots__ = ("link_id",)
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    link_id: str
    def __init__(self, link_id: _Optional[str] = ...) -> None: ...

class RevokeShareLinkResponse(_message.Message):
    __slots__ = ("link",)
    LINK_FIELD_NUMBER: _ClassVar[int]
    link: ShareLinkInfo
    def __init__(self, link: _Optional[_Union[ShareLinkInfo, _Mapping]] = ...) -> None: ...

class BucketAccess(_message.Message):
    __slots__ = ("bucket", "owner", "grants", "public_read")
    class GrantsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_READ_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    owner: str
    grants: _containers.ScalarMap[str, str]
    public_read: bool
    def __init__(self, bucket: _Optional[str] = ..., owner: _Optional[str] = ..., grants: _Optional[_Mapping[str, str]] = ..., public_read: _Optional[bool] = ...) -> None: ...

class SetBucketGrantRequest(_message.Message):
    __slots__ = ("bucket", "tenant", "level")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    tenant: str
    level: str
    def __init__(self, bucket: _Optional[str] = ..., tenant: _Optional[str] = ..., level: _Optional[str] = ...) -> None: ...

class SetBucketPublicReadRequest(_message.Message):
    __slots__ = ("bucket", "public_read")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_READ_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    public_read: bool
    def __init__(self, bucket: _Optional[str] = ..., public_read: _Optional[bool] = ...) -> None: ...

class GetBucketInfoRequest(_message.Message):
    __slots__ = ("bucket",)
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    def __init__(self, bucket: _Optional[str] = ...) -> None: ...

class GetBucketInfoResponse(_message.Message):
    __slots__ = ("bucket", "access", "usage")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    bucket: _common_pb2.BucketRecord
    access: BucketAccess
    usage: BucketUsage
    def __init__(self, bucket: _Optional[_Union[_common_pb2.BucketRecord, _Mapping]] = ..., access: _Optional[_Union[BucketAccess, _Mapping]] = ..., usage: _Optional[_Union[BucketUsage, _Mapping]] = ...) -> None: ...

class BucketUsage(_message.Message):
    __slots__ = ("bucket", "owner", "objects", "logical_bytes", "physical_bytes", "tombstones", "quota", "upload_bytes", "noncurrent_versions", "noncurrent_bytes", "breakdown", "dedup_saved_bytes")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    LOGICAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    PHYSICAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONES_FIELD_NUMBER: _ClassVar[int]
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_BYTES_FIELD_NUMBER: _ClassVar[int]
    NONCURRENT_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NONCURRENT_BYTES_FIELD_NUMBER: _ClassVar[int]
    BREAKDOWN_FIELD_NUMBER: _ClassVar[int]
    DEDUP_SAVED_BYTES_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    owner: str
    objects: int
    logical_bytes: int
    physical_bytes: int
    tombstones: int
    quota: _common_pb2.Quota
    upload_bytes: int
    noncurrent_versions: int
    noncurrent_bytes: int
    breakdown: _containers.RepeatedCompositeFieldContainer[UsagePart]
    dedup_saved_bytes: int
    def __init__(self, bucket: _Optional[str] = ..., owner: _Optional[str] = ..., objects: _Optional[int] = ..., logical_bytes: _Optional[int] = ..., physical_bytes: _Optional[int] = ..., tombstones: _Optional[int] = ..., quota: _Optional[_Union[_common_pb2.Quota, _Mapping]] = ..., upload_bytes: _Optional[int] = ..., noncurrent_versions: _Optional[int] = ..., noncurrent_bytes: _Optional[int] = ..., breakdown: _Optional[_Iterable[_Union[UsagePart, _Mapping]]] = ..., dedup_saved_bytes: _Optional[int] = ...) -> None: ...

class UsagePart(_message.Message):
    __slots__ = ("name", "objects", "logical_bytes", "physical_bytes", "noncurrent_versions", "noncurrent_bytes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    LOGICAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    PHYSICAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    NONCURRENT_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NONCURRENT_BYTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    objects: int
    logical_bytes: int
    physical_bytes: int
    noncurrent_versions: int
    noncurrent_bytes: int
    def __init__(self, name: _Optional[str] = ..., objects: _Optional[int] = ..., logical_bytes: _Optional[int] = ..., physical_bytes: _Optional[int] = ..., noncurrent_versions: _Optional[int] = ..., noncurrent_bytes: _Optional[int] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("bucket", "prefix", "cursor", "from_now")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    FROM_NOW_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    prefix: str
    cursor: str
    from_now: bool
    def __init__(self, bucket: _Optional[str] = ..., prefix: _Optional[str] = ..., cursor: _Optional[str] = ..., from_now: _Optional[bool] = ...) -> None: ...

class ObjectChange(_message.Message):
    __slots__ = ("key", "kind", "version_id", "version", "current", "size_bytes", "etag", "written_at_unix_ms")
    KEY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    key: str
    kind: str
    version_id: str
    version: str
    current: bool
    size_bytes: int
    etag: str
    written_at_unix_ms: int
    def __init__(self, key: _Optional[str] = ..., kind: _Optional[str] = ..., version_id: _Optional[str] = ..., version: _Optional[str] = ..., current: _Optional[bool] = ..., size_bytes: _Optional[int] = ..., etag: _Optional[str] = ..., written_at_unix_ms: _Optional[int] = ...) -> None: ...

class WatchEvent(_message.Message):
    __slots__ = ("cursor", "change")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    change: ObjectChange
    def __init__(self, cursor: _Optional[str] = ..., change: _Optional[_Union[ObjectChange, _Mapping]] = ...) -> None: ...

class GetUsageRequest(_message.Message):
    __slots__ = ("tenant", "bucket", "breakdown")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    BREAKDOWN_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    bucket: str
    breakdown: str
    def __init__(self, tenant: _Optional[str] = ..., bucket: _Optional[str] = ..., breakdown: _Optional[str] = ...) -> None: ...

class GetUsageResponse(_message.Message):
    __slots__ = ("buckets", "objects", "logical_bytes", "physical_bytes", "tenant", "tenant_quota", "dedup_saved_bytes", "dedup_nodes_missing")
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    LOGICAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    PHYSICAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TENANT_QUOTA_FIELD_NUMBER: _ClassVar[int]
    DEDUP_SAVED_BYTES_FIELD_NUMBER: _ClassVar[int]
    DEDUP_NODES_MISSING_FIELD_NUMBER: _ClassVar[int]
    buckets: _containers.RepeatedCompositeFieldContainer[BucketUsage]
    objects: int
    logical_bytes: int
    physical_bytes: int
    tenant: str
    tenant_quota: _common_pb2.Quota
    dedup_saved_bytes: int
    dedup_nodes_missing: int
    def __init__(self, buckets: _Optional[_Iterable[_Union[BucketUsage, _Mapping]]] = ..., objects: _Optional[int] = ..., logical_bytes: _Optional[int] = ..., physical_bytes: _Optional[int] = ..., tenant: _Optional[str] = ..., tenant_quota: _Optional[_Union[_common_pb2.Quota, _Mapping]] = ..., dedup_saved_bytes: _Optional[int] = ..., dedup_nodes_missing: _Optional[int] = ...) -> None: ...

class CreateBucketRequest(_message.Message):
    __slots__ = ("bucket", "default_policy", "request_id")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_POLICY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    default_policy: _common_pb2.RedundancyPolicy
    request_id: str
    def __init__(self, bucket: _Optional[str] = ..., default_policy: _Optional[_Union[_common_pb2.RedundancyPolicy, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateBucketResponse(_message.Message):
    __slots__ = ("bucket",)
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    bucket: _common_pb2.BucketRecord
    def __init__(self, bucket: _Optional[_Union[_common_pb2.BucketRecord, _Mapping]] = ...) -> None: ...

class DeleteBucketRequest(_message.Message):
    __slots__ = ("bucket", "request_id")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    request_id: str
    def __init__(self, bucket: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class DeleteBucketResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListBucketsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListBucketsResponse(_message.Message):
    __slots__ = ("buckets",)
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    buckets: _containers.RepeatedCompositeFieldContainer[_common_pb2.BucketRecord]
    def __init__(self, buckets: _Optional[_Iterable[_Union[_common_pb2.BucketRecord, _Mapping]]] = ...) -> None: ...

class PutObjectHeader(_message.Message):
    __slots__ = ("bucket", "key", "size_bytes", "content_type", "metadata", "policy", "headers", "upload_id", "part_number", "if_match", "if_version", "if_absent", "expires_in_ms", "tags", "compression", "encryption", "direct_put")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    PART_NUMBER_FIELD_NUMBER: _ClassVar[int]
    IF_MATCH_FIELD_NUMBER: _ClassVar[int]
    IF_VERSION_FIELD_NUMBER: _ClassVar[int]
    IF_ABSENT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_MS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    COMPRESSION_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_FIELD_NUMBER: _ClassVar[int]
    DIRECT_PUT_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    size_bytes: int
    content_type: str
    metadata: _containers.ScalarMap[str, str]
    policy: _common_pb2.RedundancyPolicy
    headers: _containers.ScalarMap[str, str]
    upload_id: str
    part_number: int
    if_match: str
    if_version: str
    if_absent: bool
    expires_in_ms: int
    tags: _containers.ScalarMap[str, str]
    compression: _common_pb2.Compression
    encryption: _common_pb2.Encryption
    direct_put: bytes
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., size_bytes: _Optional[int] = ..., content_type: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., policy: _Optional[_Union[_common_pb2.RedundancyPolicy, _Mapping]] = ..., headers: _Optional[_Mapping[str, str]] = ..., upload_id: _Optional[str] = ..., part_number: _Optional[int] = ..., if_match: _Optional[str] = ..., if_version: _Optional[str] = ..., if_absent: _Optional[bool] = ..., expires_in_ms: _Optional[int] = ..., tags: _Optional[_Mapping[str, str]] = ..., compression: _Optional[_Union[_common_pb2.Compression, str]] = ..., encryption: _Optional[_Union[_common_pb2.Encryption, str]] = ..., direct_put: _Optional[bytes] = ...) -> None: ...

class PutObjectRequest(_message.Message):
    __slots__ = ("header", "data", "end", "known_chunk", "written_chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    KNOWN_CHUNK_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: PutObjectHeader
    data: bytes
    end: PutObjectEnd
    known_chunk: KnownChunk
    written_chunk: WrittenChunk
    def __init__(self, header: _Optional[_Union[PutObjectHeader, _Mapping]] = ..., data: _Optional[bytes] = ..., end: _Optional[_Union[PutObjectEnd, _Mapping]] = ..., known_chunk: _Optional[_Union[KnownChunk, _Mapping]] = ..., written_chunk: _Optional[_Union[WrittenChunk, _Mapping]] = ...) -> None: ...

class KnownChunk(_message.Message):
    __slots__ = ("chunk_id", "size_bytes")
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    chunk_id: bytes
    size_bytes: int
    def __init__(self, chunk_id: _Optional[bytes] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class PutObjectEnd(_message.Message):
    __slots__ = ("size_bytes", "blake3")
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    BLAKE3_FIELD_NUMBER: _ClassVar[int]
    size_bytes: int
    blake3: bytes
    def __init__(self, size_bytes: _Optional[int] = ..., blake3: _Optional[bytes] = ...) -> None: ...

class PutSmallObjectRequest(_message.Message):
    __slots__ = ("header", "data", "end")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    header: PutObjectHeader
    data: bytes
    end: PutObjectEnd
    def __init__(self, header: _Optional[_Union[PutObjectHeader, _Mapping]] = ..., data: _Optional[bytes] = ..., end: _Optional[_Union[PutObjectEnd, _Mapping]] = ...) -> None: ...

class PutObjectResponse(_message.Message):
    __slots__ = ("object",)
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    object: ObjectInfo
    def __init__(self, object: _Optional[_Union[ObjectInfo, _Mapping]] = ...) -> None: ...

class ObjectInfo(_message.Message):
    __slots__ = ("bucket", "key", "size_bytes", "blake3", "version", "content_type", "metadata", "policy", "chunk_count", "created_at_unix_ms", "inline", "md5", "headers", "part_count", "version_id", "is_latest", "delete_marker", "written_by", "expires_at_unix_ms", "tags", "read_at_unix_ms", "chunks_blake3", "encryption")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    BLAKE3_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    CHUNK_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    INLINE_FIELD_NUMBER: _ClassVar[int]
    MD5_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    PART_COUNT_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    IS_LATEST_FIELD_NUMBER: _ClassVar[int]
    DELETE_MARKER_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_BY_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    READ_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_BLAKE3_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    size_bytes: int
    blake3: bytes
    version: _common_pb2.VersionStamp
    content_type: str
    metadata: _containers.ScalarMap[str, str]
    policy: _common_pb2.RedundancyPolicy
    chunk_count: int
    created_at_unix_ms: int
    inline: bool
    md5: bytes
    headers: _containers.ScalarMap[str, str]
    part_count: int
    version_id: str
    is_latest: bool
    delete_marker: bool
    written_by: str
    expires_at_unix_ms: int
    tags: _containers.ScalarMap[str, str]
    read_at_unix_ms: int
    chunks_blake3: bytes
    encryption: _common_pb2.Encryption
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., size_bytes: _Optional[int] = ..., blake3: _Optional[bytes] = ..., version: _Optional[_Union[_common_pb2.VersionStamp, _Mapping]] = ..., content_type: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., policy: _Optional[_Union[_common_pb2.RedundancyPolicy, _Mapping]] = ..., chunk_count: _Optional[int] = ..., created_at_unix_ms: _Optional[int] = ..., inline: _Optional[bool] = ..., md5: _Optional[bytes] = ..., headers: _Optional[_Mapping[str, str]] = ..., part_count: _Optional[int] = ..., version_id: _Optional[str] = ..., is_latest: _Optional[bool] = ..., delete_marker: _Optional[bool] = ..., written_by: _Optional[str] = ..., expires_at_unix_ms: _Optional[int] = ..., tags: _Optional[_Mapping[str, str]] = ..., read_at_unix_ms: _Optional[int] = ..., chunks_blake3: _Optional[bytes] = ..., encryption: _Optional[_Union[_common_pb2.Encryption, str]] = ...) -> None: ...

class GetObjectRequest(_message.Message):
    __slots__ = ("bucket", "key", "range_start_bytes", "range_length_bytes", "info_may_carry_data", "direct_ok", "direct_shares_ok", "version_id")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    RANGE_START_BYTES_FIELD_NUMBER: _ClassVar[int]
    RANGE_LENGTH_BYTES_FIELD_NUMBER: _ClassVar[int]
    INFO_MAY_CARRY_DATA_FIELD_NUMBER: _ClassVar[int]
    DIRECT_OK_FIELD_NUMBER: _ClassVar[int]
    DIRECT_SHARES_OK_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    range_start_bytes: int
    range_length_bytes: int
    info_may_carry_data: bool
    direct_ok: bool
    direct_shares_ok: bool
    version_id: str
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., range_start_bytes: _Optional[int] = ..., range_length_bytes: _Optional[int] = ..., info_may_carry_data: _Optional[bool] = ..., direct_ok: _Optional[bool] = ..., direct_shares_ok: _Optional[bool] = ..., version_id: _Optional[str] = ...) -> None: ...

class GetObjectResponse(_message.Message):
    __slots__ = ("info", "data")
    INFO_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    info: GetObjectInfo
    data: bytes
    def __init__(self, info: _Optional[_Union[GetObjectInfo, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class GetObjectInfo(_message.Message):
    __slots__ = ("object", "range_start_bytes", "range_length_bytes", "data", "direct")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    RANGE_START_BYTES_FIELD_NUMBER: _ClassVar[int]
    RANGE_LENGTH_BYTES_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    DIRECT_FIELD_NUMBER: _ClassVar[int]
    object: ObjectInfo
    range_start_bytes: int
    range_length_bytes: int
    data: bytes
    direct: _containers.RepeatedCompositeFieldContainer[DirectChunk]
    def __init__(self, object: _Optional[_Union[ObjectInfo, _Mapping]] = ..., range_start_bytes: _Optional[int] = ..., range_length_bytes: _Optional[int] = ..., data: _Optional[bytes] = ..., direct: _Optional[_Iterable[_Union[DirectChunk, _Mapping]]] = ...) -> None: ...

class OpenObjectResponse(_message.Message):
    __slots__ = ("info", "streamed")
    INFO_FIELD_NUMBER: _ClassVar[int]
    STREAMED_FIELD_NUMBER: _ClassVar[int]
    info: GetObjectInfo
    streamed: bool
    def __init__(self, info: _Optional[_Union[GetObjectInfo, _Mapping]] = ..., streamed: _Optional[bool] = ...) -> None: ...

class DirectChunk(_message.Message):
    __slots__ = ("chunk_id", "offset_bytes", "size_bytes", "addresses", "expires_unix_ms", "grant", "data_shares", "parity_shares", "shares")
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_BYTES_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    GRANT_FIELD_NUMBER: _ClassVar[int]
    DATA_SHARES_FIELD_NUMBER: _ClassVar[int]
    PARITY_SHARES_FIELD_NUMBER: _ClassVar[int]
    SHARES_FIELD_NUMBER: _ClassVar[int]
    chunk_id: bytes
    offset_bytes: int
    size_bytes: int
    addresses: _containers.RepeatedScalarFieldContainer[str]
    expires_unix_ms: int
    grant: bytes
    data_shares: int
    parity_shares: int
    shares: _containers.RepeatedCompositeFieldContainer[DirectShare]
    def __init__(self, chunk_id: _Optional[bytes] = ..., offset_bytes: _Optional[int] = ..., size_bytes: _Optional[int] = ..., addresses: _Optional[_Iterable[str]] = ..., expires_unix_ms: _Optional[int] = ..., grant: _Optional[bytes] = ..., data_shares: _Optional[int] = ..., parity_shares: _Optional[int] = ..., shares: _Optional[_Iterable[_Union[DirectShare, _Mapping]]] = ...) -> None: ...

class DirectShare(_message.Message):
    __slots__ = ("share_index", "blake3", "addresses")
    SHARE_INDEX_FIELD_NUMBER: _ClassVar[int]
    BLAKE3_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    share_index: int
    blake3: bytes
    addresses: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, share_index: _Optional[int] = ..., blake3: _Optional[bytes] = ..., addresses: _Optional[_Iterable[str]] = ...) -> None: ...

class ReadChunkRequest(_message.Message):
    __slots__ = ("chunk_id", "expires_unix_ms", "grant", "data_shares", "parity_shares", "share_index")
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    GRANT_FIELD_NUMBER: _ClassVar[int]
    DATA_SHARES_FIELD_NUMBER: _ClassVar[int]
    PARITY_SHARES_FIELD_NUMBER: _ClassVar[int]
    SHARE_INDEX_FIELD_NUMBER: _ClassVar[int]
    chunk_id: bytes
    expires_unix_ms: int
    grant: bytes
    data_shares: int
    parity_shares: int
    share_index: int
    def __init__(self, chunk_id: _Optional[bytes] = ..., expires_unix_ms: _Optional[int] = ..., grant: _Optional[bytes] = ..., data_shares: _Optional[int] = ..., parity_shares: _Optional[int] = ..., share_index: _Optional[int] = ...) -> None: ...

class ReadChunkResponse(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class StatObjectRequest(_message.Message):
    __slots__ = ("bucket", "key", "version_id")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    version_id: str
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., version_id: _Optional[str] = ...) -> None: ...

class StatObjectResponse(_message.Message):
    __slots__ = ("object", "chunks", "physical_bytes", "stored_bytes", "compressed_chunks", "encrypted_chunks")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    PHYSICAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    STORED_BYTES_FIELD_NUMBER: _ClassVar[int]
    COMPRESSED_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTED_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    object: ObjectInfo
    chunks: _containers.RepeatedCompositeFieldContainer[ChunkPlacement]
    physical_bytes: int
    stored_bytes: int
    compressed_chunks: int
    encrypted_chunks: int
    def __init__(self, object: _Optional[_Union[ObjectInfo, _Mapping]] = ..., chunks: _Optional[_Iterable[_Union[ChunkPlacement, _Mapping]]] = ..., physical_bytes: _Optional[int] = ..., stored_bytes: _Optional[int] = ..., compressed_chunks: _Optional[int] = ..., encrypted_chunks: _Optional[int] = ...) -> None: ...

class ChunkPlacement(_message.Message):
    __slots__ = ("chunk", "holders")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    HOLDERS_FIELD_NUMBER: _ClassVar[int]
    chunk: _common_pb2.ChunkRef
    holders: _containers.RepeatedCompositeFieldContainer[HolderStatus]
    def __init__(self, chunk: _Optional[_Union[_common_pb2.ChunkRef, _Mapping]] = ..., holders: _Optional[_Iterable[_Union[HolderStatus, _Mapping]]] = ...) -> None: ...

class HolderStatus(_message.Message):
    __slots__ = ("holder", "state")
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    holder: _common_pb2.ShareHolder
    state: str
    def __init__(self, holder: _Optional[_Union[_common_pb2.ShareHolder, _Mapping]] = ..., state: _Optional[str] = ...) -> None: ...

class ListObjectsRequest(_message.Message):
    __slots__ = ("bucket", "prefix", "page_size", "page_token")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    prefix: str
    page_size: int
    page_token: str
    def __init__(self, bucket: _Optional[str] = ..., prefix: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListObjectsResponse(_message.Message):
    __slots__ = ("objects", "next_page_token")
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[ObjectInfo]
    next_page_token: str
    def __init__(self, objects: _Optional[_Iterable[_Union[ObjectInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteObjectRequest(_message.Message):
    __slots__ = ("bucket", "key", "version_id")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    version_id: str
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., version_id: _Optional[str] = ...) -> None: ...

class DeleteObjectResponse(_message.Message):
    __slots__ = ("version", "version_id", "delete_marker")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    DELETE_MARKER_FIELD_NUMBER: _ClassVar[int]
    version: _common_pb2.VersionStamp
    version_id: str
    delete_marker: bool
    def __init__(self, version: _Optional[_Union[_common_pb2.VersionStamp, _Mapping]] = ..., version_id: _Optional[str] = ..., delete_marker: _Optional[bool] = ...) -> None: ...

class ConvertObjectRequest(_message.Message):
    __slots__ = ("bucket", "key", "policy")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    policy: _common_pb2.RedundancyPolicy
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., policy: _Optional[_Union[_common_pb2.RedundancyPolicy, _Mapping]] = ...) -> None: ...

class ConvertObjectResponse(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: ConvertProgress
    result: ConvertResult
    def __init__(self, progress: _Optional[_Union[ConvertProgress, _Mapping]] = ..., result: _Optional[_Union[ConvertResult, _Mapping]] = ...) -> None: ...

class ConvertProgress(_message.Message):
    __slots__ = ("chunks_done", "chunks_total", "bytes_done", "bytes_total")
    CHUNKS_DONE_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    BYTES_DONE_FIELD_NUMBER: _ClassVar[int]
    BYTES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    chunks_done: int
    chunks_total: int
    bytes_done: int
    bytes_total: int
    def __init__(self, chunks_done: _Optional[int] = ..., chunks_total: _Optional[int] = ..., bytes_done: _Optional[int] = ..., bytes_total: _Optional[int] = ...) -> None: ...

class ConvertResult(_message.Message):
    __slots__ = ("object", "copies_released", "copies_still_referenced", "copies_not_reached", "unchanged")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    COPIES_RELEASED_FIELD_NUMBER: _ClassVar[int]
    COPIES_STILL_REFERENCED_FIELD_NUMBER: _ClassVar[int]
    COPIES_NOT_REACHED_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    object: ObjectInfo
    copies_released: int
    copies_still_referenced: int
    copies_not_reached: int
    unchanged: bool
    def __init__(self, object: _Optional[_Union[ObjectInfo, _Mapping]] = ..., copies_released: _Optional[int] = ..., copies_still_referenced: _Optional[int] = ..., copies_not_reached: _Optional[int] = ..., unchanged: _Optional[bool] = ...) -> None: ...

class CreateUploadRequest(_message.Message):
    __slots__ = ("bucket", "key", "content_type", "metadata", "headers", "policy", "tags")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    content_type: str
    metadata: _containers.ScalarMap[str, str]
    headers: _containers.ScalarMap[str, str]
    policy: _common_pb2.RedundancyPolicy
    tags: _containers.ScalarMap[str, str]
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., content_type: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., headers: _Optional[_Mapping[str, str]] = ..., policy: _Optional[_Union[_common_pb2.RedundancyPolicy, _Mapping]] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CreateUploadResponse(_message.Message):
    __slots__ = ("upload_id",)
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    def __init__(self, upload_id: _Optional[str] = ...) -> None: ...

class ListUploadPartsRequest(_message.Message):
    __slots__ = ("bucket", "key", "upload_id")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    upload_id: str
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., upload_id: _Optional[str] = ...) -> None: ...

class UploadPart(_message.Message):
    __slots__ = ("part_number", "size_bytes", "md5", "blake3")
    PART_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MD5_FIELD_NUMBER: _ClassVar[int]
    BLAKE3_FIELD_NUMBER: _ClassVar[int]
    part_number: int
    size_bytes: int
    md5: bytes
    blake3: bytes
    def __init__(self, part_number: _Optional[int] = ..., size_bytes: _Optional[int] = ..., md5: _Optional[bytes] = ..., blake3: _Optional[bytes] = ...) -> None: ...

class ListUploadPartsResponse(_message.Message):
    __slots__ = ("parts",)
    PARTS_FIELD_NUMBER: _ClassVar[int]
    parts: _containers.RepeatedCompositeFieldContainer[UploadPart]
    def __init__(self, parts: _Optional[_Iterable[_Union[UploadPart, _Mapping]]] = ...) -> None: ...

class CompleteUploadRequest(_message.Message):
    __slots__ = ("bucket", "key", "upload_id", "parts", "if_match", "if_version", "if_absent")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    IF_MATCH_FIELD_NUMBER: _ClassVar[int]
    IF_VERSION_FIELD_NUMBER: _ClassVar[int]
    IF_ABSENT_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    upload_id: str
    parts: _containers.RepeatedCompositeFieldContainer[UploadPart]
    if_match: str
    if_version: str
    if_absent: bool
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., upload_id: _Optional[str] = ..., parts: _Optional[_Iterable[_Union[UploadPart, _Mapping]]] = ..., if_match: _Optional[str] = ..., if_version: _Optional[str] = ..., if_absent: _Optional[bool] = ...) -> None: ...

class AbortUploadRequest(_message.Message):
    __slots__ = ("bucket", "key", "upload_id")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    upload_id: str
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., upload_id: _Optional[str] = ...) -> None: ...

class AbortUploadResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DirectPutToken(_message.Message):
    __slots__ = ("ref", "policy", "size_bytes", "expires_unix_ms")
    REF_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    ref: _common_pb2.ObjectRef
    policy: _common_pb2.RedundancyPolicy
    size_bytes: int
    expires_unix_ms: int
    def __init__(self, ref: _Optional[_Union[_common_pb2.ObjectRef, _Mapping]] = ..., policy: _Optional[_Union[_common_pb2.RedundancyPolicy, _Mapping]] = ..., size_bytes: _Optional[int] = ..., expires_unix_ms: _Optional[int] = ...) -> None: ...
