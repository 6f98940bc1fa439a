from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Encryption(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENCRYPTION_UNSPECIFIED: _ClassVar[Encryption]
    ENCRYPTION_NONE: _ClassVar[Encryption]
    ENCRYPTION_AES256_GCM: _ClassVar[Encryption]

class Compression(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPRESSION_UNSPECIFIED: _ClassVar[Compression]
    COMPRESSION_NONE: _ClassVar[Compression]
    COMPRESSION_ZSTD: _ClassVar[Compression]

class Versioning(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERSIONING_UNSPECIFIED: _ClassVar[Versioning]
    VERSIONING_ENABLED: _ClassVar[Versioning]
    VERSIONING_SUSPENDED: _ClassVar[Versioning]

class ChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANGE_KIND_UNSPECIFIED: _ClassVar[ChangeKind]
    CHANGE_PUT: _ClassVar[ChangeKind]
    CHANGE_DELETE: _ClassVar[ChangeKind]
    CHANGE_ERASE: _ClassVar[ChangeKind]
    CHANGE_REWRITE: _ClassVar[ChangeKind]
    CHANGE_TAGS: _ClassVar[ChangeKind]
ENCRYPTION_UNSPECIFIED: Encryption
ENCRYPTION_NONE: Encryption
ENCRYPTION_AES256_GCM: Encryption
COMPRESSION_UNSPECIFIED: Compression
COMPRESSION_NONE: Compression
COMPRESSION_ZSTD: Compression
VERSIONING_UNSPECIFIED: Versioning
VERSIONING_ENABLED: Versioning
VERSIONING_SUSPENDED: Versioning
CHANGE_KIND_UNSPECIFIED: ChangeKind
CHANGE_PUT: ChangeKind
CHANGE_DELETE: ChangeKind
CHANGE_ERASE: ChangeKind
CHANGE_REWRITE: ChangeKind
CHANGE_TAGS: ChangeKind

class RedundancyPolicy(_message.Message):
    __slots__ = ("replication", "erasure_coding")
    REPLICATION_FIELD_NUMBER: _ClassVar[int]
    ERASURE_CODING_FIELD_NUMBER: _ClassVar[int]
    replication: Replication
    erasure_coding: ErasureCoding
    def __init__(self, replication: _Optional[_Union[Replication, _Mapping]] = ..., erasure_coding: _Optional[_Union[ErasureCoding, _Mapping]] = ...) -> None: ...

class Replication(_message.Message):
    __slots__ = ("replicas",)
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    replicas: int
    def __init__(self, replicas: _Optional[int] = ...) -> None: ...

class ErasureCoding(_message.Message):
    __slots__ = ("data_shares", "parity_shares")
    DATA_SHARES_FIELD_NUMBER: _ClassVar[int]
    PARITY_SHARES_FIELD_NUMBER: _ClassVar[int]
    data_shares: int
    parity_shares: int
    def __init__(self, data_shares: _Optional[int] = ..., parity_shares: _Optional[int] = ...) -> None: ...

class VersionStamp(_message.Message):
    __slots__ = ("physical_ms", "logical", "node_id", "rewrite")
    PHYSICAL_MS_FIELD_NUMBER: _ClassVar[int]
    LOGICAL_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    REWRITE_FIELD_NUMBER: _ClassVar[int]
    physical_ms: int
    logical: int
    node_id: str
    rewrite: int
    def __init__(self, physical_ms: _Optional[int] = ..., logical: _Optional[int] = ..., node_id: _Optional[str] = ..., rewrite: _Optional[int] = ...) -> None: ...

class ChunkRef(_message.Message):
    __slots__ = ("chunk_id", "size_bytes", "offset_bytes", "share_blake3", "compression", "plain_blake3", "plain_size_bytes", "encryption", "data_key_id")
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    OFFSET_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHARE_BLAKE3_FIELD_NUMBER: _ClassVar[int]
    COMPRESSION_FIELD_NUMBER: _ClassVar[int]
    PLAIN_BLAKE3_FIELD_NUMBER: _ClassVar[int]
    PLAIN_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_FIELD_NUMBER: _ClassVar[int]
    DATA_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    chunk_id: bytes
    size_bytes: int
    offset_bytes: int
    share_blake3: _containers.RepeatedScalarFieldContainer[bytes]
    compression: Compression
    plain_blake3: bytes
    plain_size_bytes: int
    encryption: Encryption
    data_key_id: str
    def __init__(self, chunk_id: _Optional[bytes] = ..., size_bytes: _Optional[int] = ..., offset_bytes: _Optional[int] = ..., share_blake3: _Optional[_Iterable[bytes]] = ..., compression: _Optional[_Union[Compression, str]] = ..., plain_blake3: _Optional[bytes] = ..., plain_size_bytes: _Optional[int] = ..., encryption: _Optional[_Union[Encryption, str]] = ..., data_key_id: _Optional[str] = ...) -> None: ...

class ObjectRef(_message.Message):
    __slots__ = ("tenant", "bucket", "key", "version", "version_id")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    bucket: str
    key: str
    version: VersionStamp
    version_id: bytes
    def __init__(self, tenant: _Optional[str] = ..., bucket: _Optional[str] = ..., key: _Optional[str] = ..., version: _Optional[_Union[VersionStamp, _Mapping]] = ..., version_id: _Optional[bytes] = ...) -> None: ...

class Manifest(_message.Message):
    __slots__ = ("format_version", "tenant", "bucket", "key", "version", "size_bytes", "blake3", "content_type", "metadata", "chunks", "inline_data", "policy", "tombstone", "created_at_unix_ms", "expires_at_unix_ms", "inline", "md5", "headers", "part_count", "part_sizes_bytes", "version_id", "erased", "written_by", "tagging", "read_at_unix_ms", "chunks_blake3", "upload_encryption", "sealed_digests")
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
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    BLAKE3_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    INLINE_DATA_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    INLINE_FIELD_NUMBER: _ClassVar[int]
    MD5_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    PART_COUNT_FIELD_NUMBER: _ClassVar[int]
    PART_SIZES_BYTES_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    ERASED_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_BY_FIELD_NUMBER: _ClassVar[int]
    TAGGING_FIELD_NUMBER: _ClassVar[int]
    READ_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_BLAKE3_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ENCRYPTION_FIELD_NUMBER: _ClassVar[int]
    SEALED_DIGESTS_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    tenant: str
    bucket: str
    key: str
    version: VersionStamp
    size_bytes: int
    blake3: bytes
    content_type: str
    metadata: _containers.ScalarMap[str, str]
    chunks: _containers.RepeatedCompositeFieldContainer[ChunkRef]
    inline_data: bytes
    policy: RedundancyPolicy
    tombstone: bool
    created_at_unix_ms: int
    expires_at_unix_ms: int
    inline: bool
    md5: bytes
    headers: _containers.ScalarMap[str, str]
    part_count: int
    part_sizes_bytes: _containers.RepeatedScalarFieldContainer[int]
    version_id: bytes
    erased: bool
    written_by: str
    tagging: ObjectTagging
    read_at_unix_ms: int
    chunks_blake3: bytes
    upload_encryption: Encryption
    sealed_digests: bytes
    def __init__(self, format_version: _Optional[int] = ..., tenant: _Optional[str] = ..., bucket: _Optional[str] = ..., key: _Optional[str] = ..., version: _Optional[_Union[VersionStamp, _Mapping]] = ..., size_bytes: _Optional[int] = ..., blake3: _Optional[bytes] = ..., content_type: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., chunks: _Optional[_Iterable[_Union[ChunkRef, _Mapping]]] = ..., inline_data: _Optional[bytes] = ..., policy: _Optional[_Union[RedundancyPolicy, _Mapping]] = ..., tombstone: _Optional[bool] = ..., created_at_unix_ms: _Optional[int] = ..., expires_at_unix_ms: _Optional[int] = ..., inline: _Optional[bool] = ..., md5: _Optional[bytes] = ..., headers: _Optional[_Mapping[str, str]] = ..., part_count: _Optional[int] = ..., part_sizes_bytes: _Optional[_Iterable[int]] = ..., version_id: _Optional[bytes] = ..., erased: _Optional[bool] = ..., written_by: _Optional[str] = ..., tagging: _Optional[_Union[ObjectTagging, _Mapping]] = ..., read_at_unix_ms: _Optional[int] = ..., chunks_blake3: _Optional[bytes] = ..., upload_encryption: _Optional[_Union[Encryption, str]] = ..., sealed_digests: _Optional[bytes] = ...) -> None: ...

class ObjectTagging(_message.Message):
    __slots__ = ("tags", "changed")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TAGS_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    tags: _containers.ScalarMap[str, str]
    changed: VersionStamp
    def __init__(self, tags: _Optional[_Mapping[str, str]] = ..., changed: _Optional[_Union[VersionStamp, _Mapping]] = ...) -> None: ...

class BucketRecord(_message.Message):
    __slots__ = ("format_version", "tenant", "name", "default_policy", "version", "tombstone", "created_at_unix_ms", "ballot", "request_id", "recent_request_ids", "owner", "versioning", "lifecycle", "tags", "compression", "encryption")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_POLICY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    BALLOT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RECENT_REQUEST_IDS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    VERSIONING_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    COMPRESSION_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    tenant: str
    name: str
    default_policy: RedundancyPolicy
    version: VersionStamp
    tombstone: bool
    created_at_unix_ms: int
    ballot: Ballot
    request_id: str
    recent_request_ids: _containers.RepeatedScalarFieldContainer[str]
    owner: str
    versioning: Versioning
    lifecycle: _containers.RepeatedCompositeFieldContainer[LifecycleRule]
    tags: _containers.ScalarMap[str, str]
    compression: Compression
    encryption: Encryption
    def __init__(self, format_version: _Optional[int] = ..., tenant: _Optional[str] = ..., name: _Optional[str] = ..., default_policy: _Optional[_Union[RedundancyPolicy, _Mapping]] = ..., version: _Optional[_Union[VersionStamp, _Mapping]] = ..., tombstone: _Optional[bool] = ..., created_at_unix_ms: _Optional[int] = ..., ballot: _Optional[_Union[Ballot, _Mapping]] = ..., request_id: _Optional[str] = ..., recent_request_ids: _Optional[_Iterable[str]] = ..., owner: _Optional[str] = ..., versioning: _Optional[_Union[Versioning, str]] = ..., lifecycle: _Optional[_Iterable[_Union[LifecycleRule, _Mapping]]] = ..., tags: _Optional[_Mapping[str, str]] = ..., compression: _Optional[_Union[Compression, str]] = ..., encryption: _Optional[_Union[Encryption, str]] = ...) -> None: ...

class LifecycleRule(_message.Message):
    __slots__ = ("id", "enabled", "prefix", "expiration_days", "expiration_date_unix_ms", "noncurrent_days", "noncurrent_newer_kept", "abort_uploads_days", "transition_days", "transition_policy", "expired_delete_markers", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    EXPIRATION_DAYS_FIELD_NUMBER: _ClassVar[int]
    EXPIRATION_DATE_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    NONCURRENT_DAYS_FIELD_NUMBER: _ClassVar[int]
    NONCURRENT_NEWER_KEPT_FIELD_NUMBER: _ClassVar[int]
    ABORT_UPLOADS_DAYS_FIELD_NUMBER: _ClassVar[int]
    TRANSITION_DAYS_FIELD_NUMBER: _ClassVar[int]
    TRANSITION_POLICY_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_DELETE_MARKERS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    id: str
    enabled: bool
    prefix: str
    expiration_days: int
    expiration_date_unix_ms: int
    noncurrent_days: int
    noncurrent_newer_kept: int
    abort_uploads_days: int
    transition_days: int
    transition_policy: RedundancyPolicy
    expired_delete_markers: bool
    tags: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., enabled: _Optional[bool] = ..., prefix: _Optional[str] = ..., expiration_days: _Optional[int] = ..., expiration_date_unix_ms: _Optional[int] = ..., noncurrent_days: _Optional[int] = ..., noncurrent_newer_kept: _Optional[int] = ..., abort_uploads_days: _Optional[int] = ..., transition_days: _Optional[int] = ..., transition_policy: _Optional[_Union[RedundancyPolicy, _Mapping]] = ..., expired_delete_markers: _Optional[bool] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Ballot(_message.Message):
    __slots__ = ("counter", "node_id")
    COUNTER_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    counter: int
    node_id: str
    def __init__(self, counter: _Optional[int] = ..., node_id: _Optional[str] = ...) -> None: ...

class UsageShare(_message.Message):
    __slots__ = ("name", "usage")
    NAME_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    name: str
    usage: UsageRecord
    def __init__(self, name: _Optional[str] = ..., usage: _Optional[_Union[UsageRecord, _Mapping]] = ...) -> None: ...

class ObjectQuery(_message.Message):
    __slots__ = ("prefix", "tags", "metadata", "content_type", "larger_than_bytes", "smaller_than_bytes", "modified_after_unix_ms", "modified_before_unix_ms")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    LARGER_THAN_BYTES_FIELD_NUMBER: _ClassVar[int]
    SMALLER_THAN_BYTES_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_AFTER_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_BEFORE_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    prefix: str
    tags: _containers.ScalarMap[str, str]
    metadata: _containers.ScalarMap[str, str]
    content_type: str
    larger_than_bytes: int
    smaller_than_bytes: int
    modified_after_unix_ms: int
    modified_before_unix_ms: int
    def __init__(self, prefix: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., content_type: _Optional[str] = ..., larger_than_bytes: _Optional[int] = ..., smaller_than_bytes: _Optional[int] = ..., modified_after_unix_ms: _Optional[int] = ..., modified_before_unix_ms: _Optional[int] = ...) -> None: ...

class KeyRegister(_message.Message):
    __slots__ = ("format_version", "tenant", "bucket", "key", "ballot", "manifest")
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    BALLOT_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    tenant: str
    bucket: str
    key: str
    ballot: Ballot
    manifest: Manifest
    def __init__(self, format_version: _Optional[int] = ..., tenant: _Optional[str] = ..., bucket: _Optional[str] = ..., key: _Optional[str] = ..., ballot: _Optional[_Union[Ballot, _Mapping]] = ..., manifest: _Optional[_Union[Manifest, _Mapping]] = ...) -> None: ...

class KeyRegisterState(_message.Message):
    __slots__ = ("format_version", "promised", "accepted", "touched_at_unix_ms")
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROMISED_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    TOUCHED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    promised: Ballot
    accepted: KeyRegister
    touched_at_unix_ms: int
    def __init__(self, format_version: _Optional[int] = ..., promised: _Optional[_Union[Ballot, _Mapping]] = ..., accepted: _Optional[_Union[KeyRegister, _Mapping]] = ..., touched_at_unix_ms: _Optional[int] = ...) -> None: ...

class BucketPromise(_message.Message):
    __slots__ = ("format_version", "ballot")
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    BALLOT_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    ballot: Ballot
    def __init__(self, format_version: _Optional[int] = ..., ballot: _Optional[_Union[Ballot, _Mapping]] = ...) -> None: ...

class PlacementRecord(_message.Message):
    __slots__ = ("format_version", "chunk_id", "policy", "size_bytes", "holders", "updated_at_unix_ms")
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    HOLDERS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    chunk_id: bytes
    policy: RedundancyPolicy
    size_bytes: int
    holders: _containers.RepeatedCompositeFieldContainer[ShareHolder]
    updated_at_unix_ms: int
    def __init__(self, format_version: _Optional[int] = ..., chunk_id: _Optional[bytes] = ..., policy: _Optional[_Union[RedundancyPolicy, _Mapping]] = ..., size_bytes: _Optional[int] = ..., holders: _Optional[_Iterable[_Union[ShareHolder, _Mapping]]] = ..., updated_at_unix_ms: _Optional[int] = ...) -> None: ...

class ShareHolder(_message.Message):
    __slots__ = ("node_id", "share_index", "handoff_for_node_id", "blake3")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    SHARE_INDEX_FIELD_NUMBER: _ClassVar[int]
    HANDOFF_FOR_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    BLAKE3_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    share_index: int
    handoff_for_node_id: str
    blake3: bytes
    def __init__(self, node_id: _Optional[str] = ..., share_index: _Optional[int] = ..., handoff_for_node_id: _Optional[str] = ..., blake3: _Optional[bytes] = ...) -> None: ...

class StoredShare(_message.Message):
    __slots__ = ("format_version", "size_bytes", "blake3", "handoff_for_node_id", "stored_at_unix_ms", "last_verified_at_unix_ms")
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    BLAKE3_FIELD_NUMBER: _ClassVar[int]
    HANDOFF_FOR_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_VERIFIED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    size_bytes: int
    blake3: bytes
    handoff_for_node_id: str
    stored_at_unix_ms: int
    last_verified_at_unix_ms: int
    def __init__(self, format_version: _Optional[int] = ..., size_bytes: _Optional[int] = ..., blake3: _Optional[bytes] = ..., handoff_for_node_id: _Optional[str] = ..., stored_at_unix_ms: _Optional[int] = ..., last_verified_at_unix_ms: _Optional[int] = ...) -> None: ...

class UsageRecord(_message.Message):
    __slots__ = ("format_version", "objects", "logical_bytes", "chunk_bytes", "inline_bytes", "tombstones", "changed", "noncurrent_versions", "noncurrent_bytes", "expiring_objects")
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    LOGICAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    INLINE_BYTES_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONES_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    NONCURRENT_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NONCURRENT_BYTES_FIELD_NUMBER: _ClassVar[int]
    EXPIRING_OBJECTS_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    objects: int
    logical_bytes: int
    chunk_bytes: int
    inline_bytes: int
    tombstones: int
    changed: VersionStamp
    noncurrent_versions: int
    noncurrent_bytes: int
    expiring_objects: int
    def __init__(self, format_version: _Optional[int] = ..., objects: _Optional[int] = ..., logical_bytes: _Optional[int] = ..., chunk_bytes: _Optional[int] = ..., inline_bytes: _Optional[int] = ..., tombstones: _Optional[int] = ..., changed: _Optional[_Union[VersionStamp, _Mapping]] = ..., noncurrent_versions: _Optional[int] = ..., noncurrent_bytes: _Optional[int] = ..., expiring_objects: _Optional[int] = ...) -> None: ...

class ChangeRecord(_message.Message):
    __slots__ = ("format_version", "key", "version", "version_id", "kind", "current", "size_bytes", "md5", "part_count", "blake3", "arrived_at_unix_ms", "chunks_blake3", "encrypted", "sealed_digests")
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MD5_FIELD_NUMBER: _ClassVar[int]
    PART_COUNT_FIELD_NUMBER: _ClassVar[int]
    BLAKE3_FIELD_NUMBER: _ClassVar[int]
    ARRIVED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_BLAKE3_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTED_FIELD_NUMBER: _ClassVar[int]
    SEALED_DIGESTS_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    key: str
    version: VersionStamp
    version_id: bytes
    kind: ChangeKind
    current: bool
    size_bytes: int
    md5: bytes
    part_count: int
    blake3: bytes
    arrived_at_unix_ms: int
    chunks_blake3: bytes
    encrypted: bool
    sealed_digests: bytes
    def __init__(self, format_version: _Optional[int] = ..., key: _Optional[str] = ..., version: _Optional[_Union[VersionStamp, _Mapping]] = ..., version_id: _Optional[bytes] = ..., kind: _Optional[_Union[ChangeKind, str]] = ..., current: _Optional[bool] = ..., size_bytes: _Optional[int] = ..., md5: _Optional[bytes] = ..., part_count: _Optional[int] = ..., blake3: _Optional[bytes] = ..., arrived_at_unix_ms: _Optional[int] = ..., chunks_blake3: _Optional[bytes] = ..., encrypted: _Optional[bool] = ..., sealed_digests: _Optional[bytes] = ...) -> None: ...

class WatchCursor(_message.Message):
    __slots__ = ("format_version", "tenant", "bucket", "made_at_unix_ms", "positions")
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    MADE_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    tenant: str
    bucket: str
    made_at_unix_ms: int
    positions: _containers.RepeatedCompositeFieldContainer[WatchPosition]
    def __init__(self, format_version: _Optional[int] = ..., tenant: _Optional[str] = ..., bucket: _Optional[str] = ..., made_at_unix_ms: _Optional[int] = ..., positions: _Optional[_Iterable[_Union[WatchPosition, _Mapping]]] = ...) -> None: ...

class WatchPosition(_message.Message):
    __slots__ = ("node_id", "store_id", "seq")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    store_id: str
    seq: int
    def __init__(self, node_id: _Optional[str] = ..., store_id: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...

class DedupRecord(_message.Message):
    __slots__ = ("format_version", "saved_bytes", "shared_references")
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    SAVED_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHARED_REFERENCES_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    saved_bytes: int
    shared_references: int
    def __init__(self, format_version: _Optional[int] = ..., saved_bytes: _Optional[int] = ..., shared_references: _Optional[int] = ...) -> None: ...

class DedupEntry(_message.Message):
    __slots__ = ("tenant", "bucket", "everything", "record")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    EVERYTHING_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    bucket: str
    everything: bool
    record: DedupRecord
    def __init__(self, tenant: _Optional[str] = ..., bucket: _Optional[str] = ..., everything: _Optional[bool] = ..., record: _Optional[_Union[DedupRecord, _Mapping]] = ...) -> None: ...

class Quota(_message.Message):
    __slots__ = ("bytes", "objects")
    BYTES_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    bytes: int
    objects: int
    def __init__(self, bytes: _Optional[int] = ..., objects: _Optional[int] = ...) -> None: ...
