from ringstore.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ShareRef(_message.Message):
    __slots__ = ("chunk_id", "erasure_share", "share_index", "data_shares", "parity_shares")
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    ERASURE_SHARE_FIELD_NUMBER: _ClassVar[int]
    SHARE_INDEX_FIELD_NUMBER: _ClassVar[int]
    DATA_SHARES_FIELD_NUMBER: _ClassVar[int]
    PARITY_SHARES_FIELD_NUMBER: _ClassVar[int]
    chunk_id: bytes
    erasure_share: bool
    share_index: int
    data_shares: int
    parity_shares: int
    def __init__(self, chunk_id: _Optional[bytes] = ..., erasure_share: _Optional[bool] = ..., share_index: _Optional[int] = ..., data_shares: _Optional[int] = ..., parity_shares: _Optional[int] = ...) -> None: ...

class StoreChunkHeader(_message.Message):
    __slots__ = ("share", "size_bytes", "blake3", "placement", "handoff_for_node_id", "referenced_by", "references")
    SHARE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    BLAKE3_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    HANDOFF_FOR_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCED_BY_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    share: ShareRef
    size_bytes: int
    blake3: bytes
    placement: _common_pb2.PlacementRecord
    handoff_for_node_id: str
    referenced_by: _common_pb2.ObjectRef
    references: _containers.RepeatedCompositeFieldContainer[_common_pb2.ObjectRef]
    def __init__(self, share: _Optional[_Union[ShareRef, _Mapping]] = ..., size_bytes: _Optional[int] = ..., blake3: _Optional[bytes] = ..., placement: _Optional[_Union[_common_pb2.PlacementRecord, _Mapping]] = ..., handoff_for_node_id: _Optional[str] = ..., referenced_by: _Optional[_Union[_common_pb2.ObjectRef, _Mapping]] = ..., references: _Optional[_Iterable[_Union[_common_pb2.ObjectRef, _Mapping]]] = ...) -> None: ...

class StoreChunkRequest(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: StoreChunkHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[StoreChunkHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class StoreShareRequest(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: StoreChunkHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[StoreChunkHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class StoreChunkResponse(_message.Message):
    __slots__ = ("already_present",)
    ALREADY_PRESENT_FIELD_NUMBER: _ClassVar[int]
    already_present: bool
    def __init__(self, already_present: _Optional[bool] = ...) -> None: ...

class FetchChunkRequest(_message.Message):
    __slots__ = ("share", "header_only")
    SHARE_FIELD_NUMBER: _ClassVar[int]
    HEADER_ONLY_FIELD_NUMBER: _ClassVar[int]
    share: ShareRef
    header_only: bool
    def __init__(self, share: _Optional[_Union[ShareRef, _Mapping]] = ..., header_only: _Optional[bool] = ...) -> None: ...

class FetchChunkHeader(_message.Message):
    __slots__ = ("size_bytes", "blake3", "references")
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    BLAKE3_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    size_bytes: int
    blake3: bytes
    references: _containers.RepeatedCompositeFieldContainer[_common_pb2.ObjectRef]
    def __init__(self, size_bytes: _Optional[int] = ..., blake3: _Optional[bytes] = ..., references: _Optional[_Iterable[_Union[_common_pb2.ObjectRef, _Mapping]]] = ...) -> None: ...

class FetchChunkResponse(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: FetchChunkHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[FetchChunkHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class FetchShareResponse(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: FetchChunkHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[FetchChunkHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class HasChunkRequest(_message.Message):
    __slots__ = ("shares", "deep", "bandwidth_bytes_per_s", "referenced_by_tenant", "referenced_by_bucket")
    SHARES_FIELD_NUMBER: _ClassVar[int]
    DEEP_FIELD_NUMBER: _ClassVar[int]
    BANDWIDTH_BYTES_PER_S_FIELD_NUMBER: _ClassVar[int]
    REFERENCED_BY_TENANT_FIELD_NUMBER: _ClassVar[int]
    REFERENCED_BY_BUCKET_FIELD_NUMBER: _ClassVar[int]
    shares: _containers.RepeatedCompositeFieldContainer[ShareRef]
    deep: bool
    bandwidth_bytes_per_s: int
    referenced_by_tenant: str
    referenced_by_bucket: str
    def __init__(self, shares: _Optional[_Iterable[_Union[ShareRef, _Mapping]]] = ..., deep: _Optional[bool] = ..., bandwidth_bytes_per_s: _Optional[int] = ..., referenced_by_tenant: _Optional[str] = ..., referenced_by_bucket: _Optional[str] = ...) -> None: ...

class HasChunkResponse(_message.Message):
    __slots__ = ("present",)
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    present: _containers.RepeatedScalarFieldContainer[bool]
    def __init__(self, present: _Optional[_Iterable[bool]] = ...) -> None: ...

class PutManifestRequest(_message.Message):
    __slots__ = ("manifest", "handoff_for_node_id", "ring_fingerprint")
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    HANDOFF_FOR_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    RING_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    manifest: _common_pb2.Manifest
    handoff_for_node_id: str
    ring_fingerprint: int
    def __init__(self, manifest: _Optional[_Union[_common_pb2.Manifest, _Mapping]] = ..., handoff_for_node_id: _Optional[str] = ..., ring_fingerprint: _Optional[int] = ...) -> None: ...

class PutManifestResponse(_message.Message):
    __slots__ = ("superseded",)
    SUPERSEDED_FIELD_NUMBER: _ClassVar[int]
    superseded: bool
    def __init__(self, superseded: _Optional[bool] = ...) -> None: ...

class PutManifestsRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[PutManifestRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[PutManifestRequest, _Mapping]]] = ...) -> None: ...

class PutManifestsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[PutManifestResult]
    def __init__(self, results: _Optional[_Iterable[_Union[PutManifestResult, _Mapping]]] = ...) -> None: ...

class PutManifestResult(_message.Message):
    __slots__ = ("superseded", "error")
    SUPERSEDED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    superseded: bool
    error: ItemError
    def __init__(self, superseded: _Optional[bool] = ..., error: _Optional[_Union[ItemError, _Mapping]] = ...) -> None: ...

class GetManifestsRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[GetManifestRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[GetManifestRequest, _Mapping]]] = ...) -> None: ...

class GetManifestsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[GetManifestResult]
    def __init__(self, results: _Optional[_Iterable[_Union[GetManifestResult, _Mapping]]] = ...) -> None: ...

class GetManifestResult(_message.Message):
    __slots__ = ("answer", "error")
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    answer: GetManifestResponse
    error: ItemError
    def __init__(self, answer: _Optional[_Union[GetManifestResponse, _Mapping]] = ..., error: _Optional[_Union[ItemError, _Mapping]] = ...) -> None: ...

class ItemError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class GetManifestRequest(_message.Message):
    __slots__ = ("tenant", "bucket", "key", "by_version", "version_id")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    BY_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    bucket: str
    key: str
    by_version: bool
    version_id: bytes
    def __init__(self, tenant: _Optional[str] = ..., bucket: _Optional[str] = ..., key: _Optional[str] = ..., by_version: _Optional[bool] = ..., version_id: _Optional[bytes] = ...) -> None: ...

class GetManifestResponse(_message.Message):
    __slots__ = ("found", "manifest")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    found: bool
    manifest: _common_pb2.Manifest
    def __init__(self, found: _Optional[bool] = ..., manifest: _Optional[_Union[_common_pb2.Manifest, _Mapping]] = ...) -> None: ...

class ListManifestsRequest(_message.Message):
    __slots__ = ("tenant", "bucket", "prefix", "start_after", "limit", "all_versions", "include_start")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    START_AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    ALL_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_START_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    bucket: str
    prefix: str
    start_after: str
    limit: int
    all_versions: bool
    include_start: bool
    def __init__(self, tenant: _Optional[str] = ..., bucket: _Optional[str] = ..., prefix: _Optional[str] = ..., start_after: _Optional[str] = ..., limit: _Optional[int] = ..., all_versions: _Optional[bool] = ..., include_start: _Optional[bool] = ...) -> None: ...

class ListManifestsResponse(_message.Message):
    __slots__ = ("manifests", "truncated")
    MANIFESTS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    manifests: _containers.RepeatedCompositeFieldContainer[_common_pb2.Manifest]
    truncated: bool
    def __init__(self, manifests: _Optional[_Iterable[_Union[_common_pb2.Manifest, _Mapping]]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class PutBucketRecordRequest(_message.Message):
    __slots__ = ("bucket",)
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    bucket: _common_pb2.BucketRecord
    def __init__(self, bucket: _Optional[_Union[_common_pb2.BucketRecord, _Mapping]] = ...) -> None: ...

class PutBucketRecordResponse(_message.Message):
    __slots__ = ("superseded",)
    SUPERSEDED_FIELD_NUMBER: _ClassVar[int]
    superseded: bool
    def __init__(self, superseded: _Optional[bool] = ...) -> None: ...

class ListBucketRecordsRequest(_message.Message):
    __slots__ = ("tenant",)
    TENANT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    def __init__(self, tenant: _Optional[str] = ...) -> None: ...

class ListBucketRecordsResponse(_message.Message):
    __slots__ = ("buckets",)
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    buckets: _containers.RepeatedCompositeFieldContainer[_common_pb2.BucketRecord]
    def __init__(self, buckets: _Optional[_Iterable[_Union[_common_pb2.BucketRecord, _Mapping]]] = ...) -> None: ...

class GetPlacementRequest(_message.Message):
    __slots__ = ("chunk_id", "data_shares", "parity_shares")
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_SHARES_FIELD_NUMBER: _ClassVar[int]
    PARITY_SHARES_FIELD_NUMBER: _ClassVar[int]
    chunk_id: bytes
    data_shares: int
    parity_shares: int
    def __init__(self, chunk_id: _Optional[bytes] = ..., data_shares: _Optional[int] = ..., parity_shares: _Optional[int] = ...) -> None: ...

class GetPlacementResponse(_message.Message):
    __slots__ = ("found", "placement")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    found: bool
    placement: _common_pb2.PlacementRecord
    def __init__(self, found: _Optional[bool] = ..., placement: _Optional[_Union[_common_pb2.PlacementRecord, _Mapping]] = ...) -> None: ...

class PutPlacementRequest(_message.Message):
    __slots__ = ("placement", "if_updated_at_unix_ms")
    PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    IF_UPDATED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    placement: _common_pb2.PlacementRecord
    if_updated_at_unix_ms: int
    def __init__(self, placement: _Optional[_Union[_common_pb2.PlacementRecord, _Mapping]] = ..., if_updated_at_unix_ms: _Optional[int] = ...) -> None: ...

class PutPlacementResponse(_message.Message):
    __slots__ = ("applied",)
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    applied: bool
    def __init__(self, applied: _Optional[bool] = ...) -> None: ...

class ReleaseShareRequest(_message.Message):
    __slots__ = ("share", "ref")
    SHARE_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    share: ShareRef
    ref: _common_pb2.ObjectRef
    def __init__(self, share: _Optional[_Union[ShareRef, _Mapping]] = ..., ref: _Optional[_Union[_common_pb2.ObjectRef, _Mapping]] = ...) -> None: ...

class ReleaseShareResponse(_message.Message):
    __slots__ = ("deleted", "references_left")
    DELETED_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_LEFT_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    references_left: int
    def __init__(self, deleted: _Optional[bool] = ..., references_left: _Optional[int] = ...) -> None: ...

class AddReferencesRequest(_message.Message):
    __slots__ = ("shares", "ref", "only_if_bucket_refers")
    SHARES_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    ONLY_IF_BUCKET_REFERS_FIELD_NUMBER: _ClassVar[int]
    shares: _containers.RepeatedCompositeFieldContainer[ShareRef]
    ref: _common_pb2.ObjectRef
    only_if_bucket_refers: bool
    def __init__(self, shares: _Optional[_Iterable[_Union[ShareRef, _Mapping]]] = ..., ref: _Optional[_Union[_common_pb2.ObjectRef, _Mapping]] = ..., only_if_bucket_refers: _Optional[bool] = ...) -> None: ...

class AddReferencesResponse(_message.Message):
    __slots__ = ("held",)
    HELD_FIELD_NUMBER: _ClassVar[int]
    held: _containers.RepeatedScalarFieldContainer[bool]
    def __init__(self, held: _Optional[_Iterable[bool]] = ...) -> None: ...

class GetUsageBreakdownRequest(_message.Message):
    __slots__ = ("tenant", "bucket", "kind")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    bucket: str
    kind: str
    def __init__(self, tenant: _Optional[str] = ..., bucket: _Optional[str] = ..., kind: _Optional[str] = ...) -> None: ...

class GetUsageBreakdownResponse(_message.Message):
    __slots__ = ("usage", "shares")
    USAGE_FIELD_NUMBER: _ClassVar[int]
    SHARES_FIELD_NUMBER: _ClassVar[int]
    usage: _common_pb2.UsageRecord
    shares: _containers.RepeatedCompositeFieldContainer[_common_pb2.UsageShare]
    def __init__(self, usage: _Optional[_Union[_common_pb2.UsageRecord, _Mapping]] = ..., shares: _Optional[_Iterable[_Union[_common_pb2.UsageShare, _Mapping]]] = ...) -> None: ...

class FindManifestsRequest(_message.Message):
    __slots__ = ("tenant", "bucket", "query", "after", "limit")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    bucket: str
    query: _common_pb2.ObjectQuery
    after: bytes
    limit: int
    def __init__(self, tenant: _Optional[str] = ..., bucket: _Optional[str] = ..., query: _Optional[_Union[_common_pb2.ObjectQuery, _Mapping]] = ..., after: _Optional[bytes] = ..., limit: _Optional[int] = ...) -> None: ...

class FindManifestsResponse(_message.Message):
    __slots__ = ("manifests", "positions", "next_after")
    MANIFESTS_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_AFTER_FIELD_NUMBER: _ClassVar[int]
    manifests: _containers.RepeatedCompositeFieldContainer[_common_pb2.Manifest]
    positions: _containers.RepeatedScalarFieldContainer[bytes]
    next_after: bytes
    def __init__(self, manifests: _Optional[_Iterable[_Union[_common_pb2.Manifest, _Mapping]]] = ..., positions: _Optional[_Iterable[bytes]] = ..., next_after: _Optional[bytes] = ...) -> None: ...

class KeyRegisterRequest(_message.Message):
    __slots__ = ("tenant", "bucket", "key", "ballot")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    BALLOT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    bucket: str
    key: str
    ballot: _common_pb2.Ballot
    def __init__(self, tenant: _Optional[str] = ..., bucket: _Optional[str] = ..., key: _Optional[str] = ..., ballot: _Optional[_Union[_common_pb2.Ballot, _Mapping]] = ...) -> None: ...

class AcceptKeyRegisterRequest(_message.Message):
    __slots__ = ("register",)
    REGISTER_FIELD_NUMBER: _ClassVar[int]
    register: _common_pb2.KeyRegister
    def __init__(self, register: _Optional[_Union[_common_pb2.KeyRegister, _Mapping]] = ...) -> None: ...

class KeyRegisterResponse(_message.Message):
    __slots__ = ("ok", "promised_ballot", "found", "accepted")
    OK_FIELD_NUMBER: _ClassVar[int]
    PROMISED_BALLOT_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    promised_ballot: _common_pb2.Ballot
    found: bool
    accepted: _common_pb2.KeyRegister
    def __init__(self, ok: _Optional[bool] = ..., promised_ballot: _Optional[_Union[_common_pb2.Ballot, _Mapping]] = ..., found: _Optional[bool] = ..., accepted: _Optional[_Union[_common_pb2.KeyRegister, _Mapping]] = ...) -> None: ...

class PrepareBucketRequest(_message.Message):
    __slots__ = ("tenant", "name", "ballot")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BALLOT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    name: str
    ballot: _common_pb2.Ballot
    def __init__(self, tenant: _Optional[str] = ..., name: _Optional[str] = ..., ballot: _Optional[_Union[_common_pb2.Ballot, _Mapping]] = ...) -> None: ...

class PrepareBucketResponse(_message.Message):
    __slots__ = ("promised", "promised_ballot", "found", "accepted")
    PROMISED_FIELD_NUMBER: _ClassVar[int]
    PROMISED_BALLOT_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    promised: bool
    promised_ballot: _common_pb2.Ballot
    found: bool
    accepted: _common_pb2.BucketRecord
    def __init__(self, promised: _Optional[bool] = ..., promised_ballot: _Optional[_Union[_common_pb2.Ballot, _Mapping]] = ..., found: _Optional[bool] = ..., accepted: _Optional[_Union[_common_pb2.BucketRecord, _Mapping]] = ...) -> None: ...

class AcceptBucketRequest(_message.Message):
    __slots__ = ("bucket",)
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    bucket: _common_pb2.BucketRecord
    def __init__(self, bucket: _Optional[_Union[_common_pb2.BucketRecord, _Mapping]] = ...) -> None: ...

class AcceptBucketResponse(_message.Message):
    __slots__ = ("accepted", "promised_ballot")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    PROMISED_BALLOT_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    promised_ballot: _common_pb2.Ballot
    def __init__(self, accepted: _Optional[bool] = ..., promised_ballot: _Optional[_Union[_common_pb2.Ballot, _Mapping]] = ...) -> None: ...

class ReadBucketRequest(_message.Message):
    __slots__ = ("tenant", "name")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    name: str
    def __init__(self, tenant: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ReadBucketResponse(_message.Message):
    __slots__ = ("promised_ballot", "found", "accepted")
    PROMISED_BALLOT_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    promised_ballot: _common_pb2.Ballot
    found: bool
    accepted: _common_pb2.BucketRecord
    def __init__(self, promised_ballot: _Optional[_Union[_common_pb2.Ballot, _Mapping]] = ..., found: _Optional[bool] = ..., accepted: _Optional[_Union[_common_pb2.BucketRecord, _Mapping]] = ...) -> None: ...

class ForgetBucketRequest(_message.Message):
    __slots__ = ("tenant", "name")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    name: str
    def __init__(self, tenant: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ForgetBucketResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PurgeTombstoneRequest(_message.Message):
    __slots__ = ("tombstone",)
    TOMBSTONE_FIELD_NUMBER: _ClassVar[int]
    tombstone: _common_pb2.Manifest
    def __init__(self, tombstone: _Optional[_Union[_common_pb2.Manifest, _Mapping]] = ...) -> None: ...

class PurgeTombstoneResponse(_message.Message):
    __slots__ = ("purged",)
    PURGED_FIELD_NUMBER: _ClassVar[int]
    purged: bool
    def __init__(self, purged: _Optional[bool] = ...) -> None: ...

class GetUsageRecordRequest(_message.Message):
    __slots__ = ("tenant", "bucket")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    bucket: str
    def __init__(self, tenant: _Optional[str] = ..., bucket: _Optional[str] = ...) -> None: ...

class GetUsageRecordResponse(_message.Message):
    __slots__ = ("usage",)
    USAGE_FIELD_NUMBER: _ClassVar[int]
    usage: _common_pb2.UsageRecord
    def __init__(self, usage: _Optional[_Union[_common_pb2.UsageRecord, _Mapping]] = ...) -> None: ...

class ReadChangesRequest(_message.Message):
    __slots__ = ("tenant", "bucket", "after_seq", "since_unix_ms", "limit")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    SINCE_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    bucket: str
    after_seq: int
    since_unix_ms: int
    limit: int
    def __init__(self, tenant: _Optional[str] = ..., bucket: _Optional[str] = ..., after_seq: _Optional[int] = ..., since_unix_ms: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ReadChangesResponse(_message.Message):
    __slots__ = ("store_id", "entries", "first_seq", "last_seq")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    entries: _containers.RepeatedCompositeFieldContainer[ChangeEntry]
    first_seq: int
    last_seq: int
    def __init__(self, store_id: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[ChangeEntry, _Mapping]]] = ..., first_seq: _Optional[int] = ..., last_seq: _Optional[int] = ...) -> None: ...

class ChangeEntry(_message.Message):
    __slots__ = ("seq", "record")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    seq: int
    record: _common_pb2.ChangeRecord
    def __init__(self, seq: _Optional[int] = ..., record: _Optional[_Union[_common_pb2.ChangeRecord, _Mapping]] = ...) -> None: ...

class GetDedupSavingsRequest(_message.Message):
    __slots__ = ("tenant", "audit")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    AUDIT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    audit: bool
    def __init__(self, tenant: _Optional[str] = ..., audit: _Optional[bool] = ...) -> None: ...

class GetDedupSavingsResponse(_message.Message):
    __slots__ = ("entries", "audited")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    AUDITED_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_common_pb2.DedupEntry]
    audited: _containers.RepeatedCompositeFieldContainer[_common_pb2.DedupEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[_common_pb2.DedupEntry, _Mapping]]] = ..., audited: _Optional[_Iterable[_Union[_common_pb2.DedupEntry, _Mapping]]] = ...) -> None: ...

class ReserveQuotaRequest(_message.Message):
    __slots__ = ("hold_id", "owner", "bucket", "key", "bucket_quota", "tenant_quota", "size_bytes", "replaces_bytes", "replaces_object", "ttl_s")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    BUCKET_QUOTA_FIELD_NUMBER: _ClassVar[int]
    TENANT_QUOTA_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    REPLACES_BYTES_FIELD_NUMBER: _ClassVar[int]
    REPLACES_OBJECT_FIELD_NUMBER: _ClassVar[int]
    TTL_S_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    owner: str
    bucket: str
    key: str
    bucket_quota: _common_pb2.Quota
    tenant_quota: _common_pb2.Quota
    size_bytes: int
    replaces_bytes: int
    replaces_object: bool
    ttl_s: int
    def __init__(self, hold_id: _Optional[str] = ..., owner: _Optional[str] = ..., bucket: _Optional[str] = ..., key: _Optional[str] = ..., bucket_quota: _Optional[_Union[_common_pb2.Quota, _Mapping]] = ..., tenant_quota: _Optional[_Union[_common_pb2.Quota, _Mapping]] = ..., size_bytes: _Optional[int] = ..., replaces_bytes: _Optional[int] = ..., replaces_object: _Optional[bool] = ..., ttl_s: _Optional[int] = ...) -> None: ...

class ReserveQuotaResponse(_message.Message):
    __slots__ = ("granted", "message")
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    granted: bool
    message: str
    def __init__(self, granted: _Optional[bool] = ..., message: _Optional[str] = ...) -> None: ...

class ReleaseQuotaRequest(_message.Message):
    __slots__ = ("hold_id",)
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    def __init__(self, hold_id: _Optional[str] = ...) -> None: ...

class ReleaseQuotaResponse(_message.Message):
    __slots__ = ("released",)
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    released: bool
    def __init__(self, released: _Optional[bool] = ...) -> None: ...
