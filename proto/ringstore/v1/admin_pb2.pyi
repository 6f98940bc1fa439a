from ringstore.v1 import common_pb2 as _common_pb2
from ringstore.v1 import membership_pb2 as _membership_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetClusterStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MemberStatus(_message.Message):
    __slots__ = ("member", "ring_share", "state_age_s", "chunks_stored", "bytes_stored")
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    RING_SHARE_FIELD_NUMBER: _ClassVar[int]
    STATE_AGE_S_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_STORED_FIELD_NUMBER: _ClassVar[int]
    BYTES_STORED_FIELD_NUMBER: _ClassVar[int]
    member: _membership_pb2.Member
    ring_share: float
    state_age_s: float
    chunks_stored: int
    bytes_stored: int
    def __init__(self, member: _Optional[_Union[_membership_pb2.Member, _Mapping]] = ..., ring_share: _Optional[float] = ..., state_age_s: _Optional[float] = ..., chunks_stored: _Optional[int] = ..., bytes_stored: _Optional[int] = ...) -> None: ...

class GetClusterStatusResponse(_message.Message):
    __slots__ = ("node_id", "members", "health", "default_policy", "metadata_replicas", "repair_debt_chunks", "software_version")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_POLICY_FIELD_NUMBER: _ClassVar[int]
    METADATA_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    REPAIR_DEBT_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    SOFTWARE_VERSION_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    members: _containers.RepeatedCompositeFieldContainer[MemberStatus]
    health: str
    default_policy: _common_pb2.RedundancyPolicy
    metadata_replicas: int
    repair_debt_chunks: int
    software_version: str
    def __init__(self, node_id: _Optional[str] = ..., members: _Optional[_Iterable[_Union[MemberStatus, _Mapping]]] = ..., health: _Optional[str] = ..., default_policy: _Optional[_Union[_common_pb2.RedundancyPolicy, _Mapping]] = ..., metadata_replicas: _Optional[int] = ..., repair_debt_chunks: _Optional[int] = ..., software_version: _Optional[str] = ...) -> None: ...

class GetRingRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RingToken(_message.Message):
    __slots__ = ("token", "node_id")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    token: int
    node_id: str
    def __init__(self, token: _Optional[int] = ..., node_id: _Optional[str] = ...) -> None: ...

class GetRingResponse(_message.Message):
    __slots__ = ("tokens", "ownership")
    class OwnershipEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    OWNERSHIP_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[RingToken]
    ownership: _containers.ScalarMap[str, float]
    def __init__(self, tokens: _Optional[_Iterable[_Union[RingToken, _Mapping]]] = ..., ownership: _Optional[_Mapping[str, float]] = ...) -> None: ...

class GetRepairStatusRequest(_message.Message):
    __slots__ = ("this_node_only",)
    THIS_NODE_ONLY_FIELD_NUMBER: _ClassVar[int]
    this_node_only: bool
    def __init__(self, this_node_only: _Optional[bool] = ...) -> None: ...

class RedundancyLevel(_message.Message):
    __slots__ = ("policy", "copies_present", "copies_wanted", "copies_needed", "chunks", "bytes_missing")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    COPIES_PRESENT_FIELD_NUMBER: _ClassVar[int]
    COPIES_WANTED_FIELD_NUMBER: _ClassVar[int]
    COPIES_NEEDED_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    BYTES_MISSING_FIELD_NUMBER: _ClassVar[int]
    policy: str
    copies_present: int
    copies_wanted: int
    copies_needed: int
    chunks: int
    bytes_missing: int
    def __init__(self, policy: _Optional[str] = ..., copies_present: _Optional[int] = ..., copies_wanted: _Optional[int] = ..., copies_needed: _Optional[int] = ..., chunks: _Optional[int] = ..., bytes_missing: _Optional[int] = ...) -> None: ...

class UnrepairableChunk(_message.Message):
    __slots__ = ("chunk_id", "policy", "reason", "attempts", "last_attempt_unix_ms")
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ATTEMPT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    chunk_id: bytes
    policy: str
    reason: str
    attempts: int
    last_attempt_unix_ms: int
    def __init__(self, chunk_id: _Optional[bytes] = ..., policy: _Optional[str] = ..., reason: _Optional[str] = ..., attempts: _Optional[int] = ..., last_attempt_unix_ms: _Optional[int] = ...) -> None: ...

class NodeRepairStatus(_message.Message):
    __slots__ = ("node_id", "levels", "chunks_below_full", "bytes_left", "rate_bytes_per_s", "eta_s", "bytes_repaired_total", "copies_repaired_total", "chunks_misplaced", "copies_dropped_total", "unrepairable", "last_scan_unix_ms", "last_scan_s", "chunks_responsible", "repair_bandwidth_bytes_per_s", "repair_concurrency_max", "queued")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_BELOW_FULL_FIELD_NUMBER: _ClassVar[int]
    BYTES_LEFT_FIELD_NUMBER: _ClassVar[int]
    RATE_BYTES_PER_S_FIELD_NUMBER: _ClassVar[int]
    ETA_S_FIELD_NUMBER: _ClassVar[int]
    BYTES_REPAIRED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    COPIES_REPAIRED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_MISPLACED_FIELD_NUMBER: _ClassVar[int]
    COPIES_DROPPED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    UNREPAIRABLE_FIELD_NUMBER: _ClassVar[int]
    LAST_SCAN_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_SCAN_S_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_RESPONSIBLE_FIELD_NUMBER: _ClassVar[int]
    REPAIR_BANDWIDTH_BYTES_PER_S_FIELD_NUMBER: _ClassVar[int]
    REPAIR_CONCURRENCY_MAX_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    levels: _containers.RepeatedCompositeFieldContainer[RedundancyLevel]
    chunks_below_full: int
    bytes_left: int
    rate_bytes_per_s: float
    eta_s: float
    bytes_repaired_total: int
    copies_repaired_total: int
    chunks_misplaced: int
    copies_dropped_total: int
    unrepairable: _containers.RepeatedCompositeFieldContainer[UnrepairableChunk]
    last_scan_unix_ms: int
    last_scan_s: float
    chunks_responsible: int
    repair_bandwidth_bytes_per_s: int
    repair_concurrency_max: int
    queued: int
    def __init__(self, node_id: _Optional[str] = ..., levels: _Optional[_Iterable[_Union[RedundancyLevel, _Mapping]]] = ..., chunks_below_full: _Optional[int] = ..., bytes_left: _Optional[int] = ..., rate_bytes_per_s: _Optional[float] = ..., eta_s: _Optional[float] = ..., bytes_repaired_total: _Optional[int] = ..., copies_repaired_total: _Optional[int] = ..., chunks_misplaced: _Optional[int] = ..., copies_dropped_total: _Optional[int] = ..., unrepairable: _Optional[_Iterable[_Union[UnrepairableChunk, _Mapping]]] = ..., last_scan_unix_ms: _Optional[int] = ..., last_scan_s: _Optional[float] = ..., chunks_responsible: _Optional[int] = ..., repair_bandwidth_bytes_per_s: _Optional[int] = ..., repair_concurrency_max: _Optional[int] = ..., queued: _Optional[int] = ...) -> None: ...

class GetRepairStatusResponse(_message.Message):
    __slots__ = ("nodes", "unreachable")
    NODES_FIELD_NUMBER: _ClassVar[int]
    UNREACHABLE_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[NodeRepairStatus]
    unreachable: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, nodes: _Optional[_Iterable[_Union[NodeRepairStatus, _Mapping]]] = ..., unreachable: _Optional[_Iterable[str]] = ...) -> None: ...

class GetHandoverRequest(_message.Message):
    __slots__ = ("this_node_only", "promise_ring_fingerprint")
    THIS_NODE_ONLY_FIELD_NUMBER: _ClassVar[int]
    PROMISE_RING_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    this_node_only: bool
    promise_ring_fingerprint: int
    def __init__(self, this_node_only: _Optional[bool] = ..., promise_ring_fingerprint: _Optional[int] = ...) -> None: ...

class NodeHandover(_message.Message):
    __slots__ = ("node_id", "ring_fingerprint", "synced_ring_fingerprint", "partitions_held", "partitions_pending", "partitions_waiting", "last_pass_unix_ms", "metadata_ok", "current_ring_fingerprint", "promise_s")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    RING_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    SYNCED_RING_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_HELD_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_PENDING_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_WAITING_FIELD_NUMBER: _ClassVar[int]
    LAST_PASS_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    METADATA_OK_FIELD_NUMBER: _ClassVar[int]
    CURRENT_RING_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    PROMISE_S_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    ring_fingerprint: int
    synced_ring_fingerprint: int
    partitions_held: int
    partitions_pending: int
    partitions_waiting: int
    last_pass_unix_ms: int
    metadata_ok: bool
    current_ring_fingerprint: int
    promise_s: float
    def __init__(self, node_id: _Optional[str] = ..., ring_fingerprint: _Optional[int] = ..., synced_ring_fingerprint: _Optional[int] = ..., partitions_held: _Optional[int] = ..., partitions_pending: _Optional[int] = ..., partitions_waiting: _Optional[int] = ..., last_pass_unix_ms: _Optional[int] = ..., metadata_ok: _Optional[bool] = ..., current_ring_fingerprint: _Optional[int] = ..., promise_s: _Optional[float] = ...) -> None: ...

class GetHandoverResponse(_message.Message):
    __slots__ = ("nodes", "unreachable")
    NODES_FIELD_NUMBER: _ClassVar[int]
    UNREACHABLE_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[NodeHandover]
    unreachable: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, nodes: _Optional[_Iterable[_Union[NodeHandover, _Mapping]]] = ..., unreachable: _Optional[_Iterable[str]] = ...) -> None: ...

class SetRepairConfigRequest(_message.Message):
    __slots__ = ("repair_bandwidth_bytes_per_s", "repair_concurrency_max", "scrub_bandwidth_bytes_per_s", "this_node_only")
    REPAIR_BANDWIDTH_BYTES_PER_S_FIELD_NUMBER: _ClassVar[int]
    REPAIR_CONCURRENCY_MAX_FIELD_NUMBER: _ClassVar[int]
    SCRUB_BANDWIDTH_BYTES_PER_S_FIELD_NUMBER: _ClassVar[int]
    THIS_NODE_ONLY_FIELD_NUMBER: _ClassVar[int]
    repair_bandwidth_bytes_per_s: int
    repair_concurrency_max: int
    scrub_bandwidth_bytes_per_s: int
    this_node_only: bool
    def __init__(self, repair_bandwidth_bytes_per_s: _Optional[int] = ..., repair_concurrency_max: _Optional[int] = ..., scrub_bandwidth_bytes_per_s: _Optional[int] = ..., this_node_only: _Optional[bool] = ...) -> None: ...

class SetRepairConfigResponse(_message.Message):
    __slots__ = ("node_ids", "unreachable")
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    UNREACHABLE_FIELD_NUMBER: _ClassVar[int]
    node_ids: _containers.RepeatedScalarFieldContainer[str]
    unreachable: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, node_ids: _Optional[_Iterable[str]] = ..., unreachable: _Optional[_Iterable[str]] = ...) -> None: ...

class FsckRequest(_message.Message):
    __slots__ = ("bucket", "deep", "bandwidth_bytes_per_s")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    DEEP_FIELD_NUMBER: _ClassVar[int]
    BANDWIDTH_BYTES_PER_S_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    deep: bool
    bandwidth_bytes_per_s: int
    def __init__(self, bucket: _Optional[str] = ..., deep: _Optional[bool] = ..., bandwidth_bytes_per_s: _Optional[int] = ...) -> None: ...

class FsckFinding(_message.Message):
    __slots__ = ("bucket", "key", "chunk_id", "offset_bytes", "policy", "copies_present", "copies_wanted", "copies_needed", "unreadable", "detail")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_BYTES_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    COPIES_PRESENT_FIELD_NUMBER: _ClassVar[int]
    COPIES_WANTED_FIELD_NUMBER: _ClassVar[int]
    COPIES_NEEDED_FIELD_NUMBER: _ClassVar[int]
    UNREADABLE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    chunk_id: bytes
    offset_bytes: int
    policy: str
    copies_present: int
    copies_wanted: int
    copies_needed: int
    unreadable: bool
    detail: str
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., chunk_id: _Optional[bytes] = ..., offset_bytes: _Optional[int] = ..., policy: _Optional[str] = ..., copies_present: _Optional[int] = ..., copies_wanted: _Optional[int] = ..., copies_needed: _Optional[int] = ..., unreadable: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...

class FsckProgress(_message.Message):
    __slots__ = ("objects_checked", "chunks_checked", "bytes_checked")
    OBJECTS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    BYTES_CHECKED_FIELD_NUMBER: _ClassVar[int]
    objects_checked: int
    chunks_checked: int
    bytes_checked: int
    def __init__(self, objects_checked: _Optional[int] = ..., chunks_checked: _Optional[int] = ..., bytes_checked: _Optional[int] = ...) -> None: ...

class FsckSummary(_message.Message):
    __slots__ = ("buckets_checked", "objects_checked", "chunks_checked", "chunks_full", "chunks_degraded", "chunks_unreadable", "chunks_misplaced", "bytes_checked", "metadata_replicas_missing", "metadata_replicas_corrupt", "usage_counters_disagreeing", "usage_counters_checked", "noncurrent_versions_checked", "dedup_counters_checked", "dedup_counters_disagreeing", "dedup_saved_bytes")
    BUCKETS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FULL_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_DEGRADED_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_UNREADABLE_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_MISPLACED_FIELD_NUMBER: _ClassVar[int]
    BYTES_CHECKED_FIELD_NUMBER: _ClassVar[int]
    METADATA_REPLICAS_MISSING_FIELD_NUMBER: _ClassVar[int]
    METADATA_REPLICAS_CORRUPT_FIELD_NUMBER: _ClassVar[int]
    USAGE_COUNTERS_DISAGREEING_FIELD_NUMBER: _ClassVar[int]
    USAGE_COUNTERS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    NONCURRENT_VERSIONS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    DEDUP_COUNTERS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    DEDUP_COUNTERS_DISAGREEING_FIELD_NUMBER: _ClassVar[int]
    DEDUP_SAVED_BYTES_FIELD_NUMBER: _ClassVar[int]
    buckets_checked: int
    objects_checked: int
    chunks_checked: int
    chunks_full: int
    chunks_degraded: int
    chunks_unreadable: int
    chunks_misplaced: int
    bytes_checked: int
    metadata_replicas_missing: int
    metadata_replicas_corrupt: int
    usage_counters_disagreeing: int
    usage_counters_checked: int
    noncurrent_versions_checked: int
    dedup_counters_checked: int
    dedup_counters_disagreeing: int
    dedup_saved_bytes: int
    def __init__(self, buckets_checked: _Optional[int] = ..., objects_checked: _Optional[int] = ..., chunks_checked: _Optional[int] = ..., chunks_full: _Optional[int] = ..., chunks_degraded: _Optional[int] = ..., chunks_unreadable: _Optional[int] = ..., chunks_misplaced: _Optional[int] = ..., bytes_checked: _Optional[int] = ..., metadata_replicas_missing: _Optional[int] = ..., metadata_replicas_corrupt: _Optional[int] = ..., usage_counters_disagreeing: _Optional[int] = ..., usage_counters_checked: _Optional[int] = ..., noncurrent_versions_checked: _Optional[int] = ..., dedup_counters_checked: _Optional[int] = ..., dedup_counters_disagreeing: _Optional[int] = ..., dedup_saved_bytes: _Optional[int] = ...) -> None: ...

class FsckMetadataFinding(_message.Message):
    __slots__ = ("bucket", "key", "node_id", "corrupt", "detail")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CORRUPT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    node_id: str
    corrupt: bool
    detail: str
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., node_id: _Optional[str] = ..., corrupt: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...

class FsckResponse(_message.Message):
    __slots__ = ("progress", "finding", "summary", "metadata_finding", "usage_finding")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    FINDING_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    METADATA_FINDING_FIELD_NUMBER: _ClassVar[int]
    USAGE_FINDING_FIELD_NUMBER: _ClassVar[int]
    progress: FsckProgress
    finding: FsckFinding
    summary: FsckSummary
    metadata_finding: FsckMetadataFinding
    usage_finding: FsckUsageFinding
    def __init__(self, progress: _Optional[_Union[FsckProgress, _Mapping]] = ..., finding: _Optional[_Union[FsckFinding, _Mapping]] = ..., summary: _Optional[_Union[FsckSummary, _Mapping]] = ..., metadata_finding: _Optional[_Union[FsckMetadataFinding, _Mapping]] = ..., usage_finding: _Optional[_Union[FsckUsageFinding, _Mapping]] = ...) -> None: ...

class FsckUsageFinding(_message.Message):
    __slots__ = ("bucket", "node_id", "counted_objects", "counted_logical_bytes", "audited_objects", "audited_logical_bytes", "dedup", "counted_saved_bytes", "audited_saved_bytes")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTED_OBJECTS_FIELD_NUMBER: _ClassVar[int]
    COUNTED_LOGICAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    AUDITED_OBJECTS_FIELD_NUMBER: _ClassVar[int]
    AUDITED_LOGICAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    DEDUP_FIELD_NUMBER: _ClassVar[int]
    COUNTED_SAVED_BYTES_FIELD_NUMBER: _ClassVar[int]
    AUDITED_SAVED_BYTES_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    node_id: str
    counted_objects: int
    counted_logical_bytes: int
    audited_objects: int
    audited_logical_bytes: int
    dedup: bool
    counted_saved_bytes: int
    audited_saved_bytes: int
    def __init__(self, bucket: _Optional[str] = ..., node_id: _Optional[str] = ..., counted_objects: _Optional[int] = ..., counted_logical_bytes: _Optional[int] = ..., audited_objects: _Optional[int] = ..., audited_logical_bytes: _Optional[int] = ..., dedup: _Optional[bool] = ..., counted_saved_bytes: _Optional[int] = ..., audited_saved_bytes: _Optional[int] = ...) -> None: ...

class StartScrubRequest(_message.Message):
    __slots__ = ("this_node_only",)
    THIS_NODE_ONLY_FIELD_NUMBER: _ClassVar[int]
    this_node_only: bool
    def __init__(self, this_node_only: _Optional[bool] = ...) -> None: ...

class StartScrubResponse(_message.Message):
    __slots__ = ("node_ids", "unreachable")
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    UNREACHABLE_FIELD_NUMBER: _ClassVar[int]
    node_ids: _containers.RepeatedScalarFieldContainer[str]
    unreachable: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, node_ids: _Optional[_Iterable[str]] = ..., unreachable: _Optional[_Iterable[str]] = ...) -> None: ...

class GetScrubStatusRequest(_message.Message):
    __slots__ = ("this_node_only",)
    THIS_NODE_ONLY_FIELD_NUMBER: _ClassVar[int]
    this_node_only: bool
    def __init__(self, this_node_only: _Optional[bool] = ...) -> None: ...

class NodeScrubStatus(_message.Message):
    __slots__ = ("node_id", "running", "copies_checked", "copies_total", "bytes_checked", "bytes_total", "corrupt_found", "passes_completed", "last_pass_finished_unix_ms", "last_pass_s", "scrub_bandwidth_bytes_per_s", "corrupt_found_total")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    COPIES_CHECKED_FIELD_NUMBER: _ClassVar[int]
    COPIES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    BYTES_CHECKED_FIELD_NUMBER: _ClassVar[int]
    BYTES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    CORRUPT_FOUND_FIELD_NUMBER: _ClassVar[int]
    PASSES_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    LAST_PASS_FINISHED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_PASS_S_FIELD_NUMBER: _ClassVar[int]
    SCRUB_BANDWIDTH_BYTES_PER_S_FIELD_NUMBER: _ClassVar[int]
    CORRUPT_FOUND_TOTAL_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    running: bool
    copies_checked: int
    copies_total: int
    bytes_checked: int
    bytes_total: int
    corrupt_found: int
    passes_completed: int
    last_pass_finished_unix_ms: int
    last_pass_s: float
    scrub_bandwidth_bytes_per_s: int
    corrupt_found_total: int
    def __init__(self, node_id: _Optional[str] = ..., running: _Optional[bool] = ..., copies_checked: _Optional[int] = ..., copies_total: _Optional[int] = ..., bytes_checked: _Optional[int] = ..., bytes_total: _Optional[int] = ..., corrupt_found: _Optional[int] = ..., passes_completed: _Optional[int] = ..., last_pass_finished_unix_ms: _Optional[int] = ..., last_pass_s: _Optional[float] = ..., scrub_bandwidth_bytes_per_s: _Optional[int] = ..., corrupt_found_total: _Optional[int] = ...) -> None: ...

class GetScrubStatusResponse(_message.Message):
    __slots__ = ("nodes", "unreachable")
    NODES_FIELD_NUMBER: _ClassVar[int]
    UNREACHABLE_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[NodeScrubStatus]
    unreachable: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, nodes: _Optional[_Iterable[_Union[NodeScrubStatus, _Mapping]]] = ..., unreachable: _Optional[_Iterable[str]] = ...) -> None: ...

class GetNodeStatusRequest(_message.Message):
    __slots__ = ("node_id",)
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    def __init__(self, node_id: _Optional[str] = ...) -> None: ...

class NodeStatus(_message.Message):
    __slots__ = ("node_id", "member", "shares_stored", "bytes_stored", "metadata_records", "disk_size_bytes", "disk_free_bytes", "disk_full_ratio", "disk_free_bytes_min", "placement_records", "tombstones_held", "oldest_tombstone_age_s", "master_key_ids")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    SHARES_STORED_FIELD_NUMBER: _ClassVar[int]
    BYTES_STORED_FIELD_NUMBER: _ClassVar[int]
    METADATA_RECORDS_FIELD_NUMBER: _ClassVar[int]
    DISK_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISK_FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISK_FULL_RATIO_FIELD_NUMBER: _ClassVar[int]
    DISK_FREE_BYTES_MIN_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_RECORDS_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONES_HELD_FIELD_NUMBER: _ClassVar[int]
    OLDEST_TOMBSTONE_AGE_S_FIELD_NUMBER: _ClassVar[int]
    MASTER_KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    member: _membership_pb2.Member
    shares_stored: int
    bytes_stored: int
    metadata_records: int
    disk_size_bytes: int
    disk_free_bytes: int
    disk_full_ratio: float
    disk_free_bytes_min: int
    placement_records: int
    tombstones_held: int
    oldest_tombstone_age_s: float
    master_key_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, node_id: _Optional[str] = ..., member: _Optional[_Union[_membership_pb2.Member, _Mapping]] = ..., shares_stored: _Optional[int] = ..., bytes_stored: _Optional[int] = ..., metadata_records: _Optional[int] = ..., disk_size_bytes: _Optional[int] = ..., disk_free_bytes: _Optional[int] = ..., disk_full_ratio: _Optional[float] = ..., disk_free_bytes_min: _Optional[int] = ..., placement_records: _Optional[int] = ..., tombstones_held: _Optional[int] = ..., oldest_tombstone_age_s: _Optional[float] = ..., master_key_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DrainNodeRequest(_message.Message):
    __slots__ = ("node_id", "cancel")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    cancel: bool
    def __init__(self, node_id: _Optional[str] = ..., cancel: _Optional[bool] = ...) -> None: ...

class SetMaintenanceRequest(_message.Message):
    __slots__ = ("node_id", "duration_s")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    duration_s: int
    def __init__(self, node_id: _Optional[str] = ..., duration_s: _Optional[int] = ...) -> None: ...

class PlanRingRequest(_message.Message):
    __slots__ = ("change", "node_id", "zone", "capacity_bytes", "this_node_only")
    class Change(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        CHANGE_UNSPECIFIED: _ClassVar[PlanRingRequest.Change]
        CHANGE_ADD: _ClassVar[PlanRingRequest.Change]
        CHANGE_DRAIN: _ClassVar[PlanRingRequest.Change]
    CHANGE_UNSPECIFIED: PlanRingRequest.Change
    CHANGE_ADD: PlanRingRequest.Change
    CHANGE_DRAIN: PlanRingRequest.Change
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_BYTES_FIELD_NUMBER: _ClassVar[int]
    THIS_NODE_ONLY_FIELD_NUMBER: _ClassVar[int]
    change: PlanRingRequest.Change
    node_id: str
    zone: str
    capacity_bytes: int
    this_node_only: bool
    def __init__(self, change: _Optional[_Union[PlanRingRequest.Change, str]] = ..., node_id: _Optional[str] = ..., zone: _Optional[str] = ..., capacity_bytes: _Optional[int] = ..., this_node_only: _Optional[bool] = ...) -> None: ...

class RingMove(_message.Message):
    __slots__ = ("source_node_id", "target_node_id", "copies", "bytes")
    SOURCE_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    COPIES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    source_node_id: str
    target_node_id: str
    copies: int
    bytes: int
    def __init__(self, source_node_id: _Optional[str] = ..., target_node_id: _Optional[str] = ..., copies: _Optional[int] = ..., bytes: _Optional[int] = ...) -> None: ...

class PlanRingResponse(_message.Message):
    __slots__ = ("moves", "layouts_total", "copies_total", "bytes_total", "copies_moved", "bytes_moved", "layouts_unplaceable", "unplaceable_reasons", "node_ids", "unreachable")
    MOVES_FIELD_NUMBER: _ClassVar[int]
    LAYOUTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    COPIES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    BYTES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    COPIES_MOVED_FIELD_NUMBER: _ClassVar[int]
    BYTES_MOVED_FIELD_NUMBER: _ClassVar[int]
    LAYOUTS_UNPLACEABLE_FIELD_NUMBER: _ClassVar[int]
    UNPLACEABLE_REASONS_FIELD_NUMBER: _ClassVar[int]
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    UNREACHABLE_FIELD_NUMBER: _ClassVar[int]
    moves: _containers.RepeatedCompositeFieldContainer[RingMove]
    layouts_total: int
    copies_total: int
    bytes_total: int
    copies_moved: int
    bytes_moved: int
    layouts_unplaceable: int
    unplaceable_reasons: _containers.RepeatedScalarFieldContainer[str]
    node_ids: _containers.RepeatedScalarFieldContainer[str]
    unreachable: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, moves: _Optional[_Iterable[_Union[RingMove, _Mapping]]] = ..., layouts_total: _Optional[int] = ..., copies_total: _Optional[int] = ..., bytes_total: _Optional[int] = ..., copies_moved: _Optional[int] = ..., bytes_moved: _Optional[int] = ..., layouts_unplaceable: _Optional[int] = ..., unplaceable_reasons: _Optional[_Iterable[str]] = ..., node_ids: _Optional[_Iterable[str]] = ..., unreachable: _Optional[_Iterable[str]] = ...) -> None: ...

class SetFaultsRequest(_message.Message):
    __slots__ = ("drop_peer_addresses", "delay_rpc_ms", "delay_disk_ms")
    DROP_PEER_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    DELAY_RPC_MS_FIELD_NUMBER: _ClassVar[int]
    DELAY_DISK_MS_FIELD_NUMBER: _ClassVar[int]
    drop_peer_addresses: _containers.RepeatedScalarFieldContainer[str]
    delay_rpc_ms: int
    delay_disk_ms: int
    def __init__(self, drop_peer_addresses: _Optional[_Iterable[str]] = ..., delay_rpc_ms: _Optional[int] = ..., delay_disk_ms: _Optional[int] = ...) -> None: ...

class SetFaultsResponse(_message.Message):
    __slots__ = ("node_id", "faults")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    FAULTS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    faults: SetFaultsRequest
    def __init__(self, node_id: _Optional[str] = ..., faults: _Optional[_Union[SetFaultsRequest, _Mapping]] = ...) -> None: ...

class InitClusterRequest(_message.Message):
    __slots__ = ("key_id", "secret", "date_ms", "mac", "description")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    DATE_MS_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    secret: str
    date_ms: int
    mac: str
    description: str
    def __init__(self, key_id: _Optional[str] = ..., secret: _Optional[str] = ..., date_ms: _Optional[int] = ..., mac: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class InitClusterResponse(_message.Message):
    __slots__ = ("key_id", "secret", "created")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    secret: str
    created: bool
    def __init__(self, key_id: _Optional[str] = ..., secret: _Optional[str] = ..., created: _Optional[bool] = ...) -> None: ...

class Tenant(_message.Message):
    __slots__ = ("name", "created_at_unix_ms", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    created_at_unix_ms: int
    description: str
    def __init__(self, name: _Optional[str] = ..., created_at_unix_ms: _Optional[int] = ..., description: _Optional[str] = ...) -> None: ...

class CreateTenantRequest(_message.Message):
    __slots__ = ("name", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ListTenantsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTenantsResponse(_message.Message):
    __slots__ = ("tenants",)
    TENANTS_FIELD_NUMBER: _ClassVar[int]
    tenants: _containers.RepeatedCompositeFieldContainer[Tenant]
    def __init__(self, tenants: _Optional[_Iterable[_Union[Tenant, _Mapping]]] = ...) -> None: ...

class DeleteTenantRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteTenantResponse(_message.Message):
    __slots__ = ("keys_revoked",)
    KEYS_REVOKED_FIELD_NUMBER: _ClassVar[int]
    keys_revoked: int
    def __init__(self, keys_revoked: _Optional[int] = ...) -> None: ...

class AccessKeyInfo(_message.Message):
    __slots__ = ("key_id", "tenant", "role", "state", "created_at_unix_ms", "expires_at_unix_ms", "revoked_at_unix_ms", "read_only", "bucket", "prefix", "description")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    tenant: str
    role: str
    state: str
    created_at_unix_ms: int
    expires_at_unix_ms: int
    revoked_at_unix_ms: int
    read_only: bool
    bucket: str
    prefix: str
    description: str
    def __init__(self, key_id: _Optional[str] = ..., tenant: _Optional[str] = ..., role: _Optional[str] = ..., state: _Optional[str] = ..., created_at_unix_ms: _Optional[int] = ..., expires_at_unix_ms: _Optional[int] = ..., revoked_at_unix_ms: _Optional[int] = ..., read_only: _Optional[bool] = ..., bucket: _Optional[str] = ..., prefix: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class CreateKeyRequest(_message.Message):
    __slots__ = ("tenant", "read_only", "bucket", "prefix", "expires_in_s", "description")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_S_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    read_only: bool
    bucket: str
    prefix: str
    expires_in_s: float
    description: str
    def __init__(self, tenant: _Optional[str] = ..., read_only: _Optional[bool] = ..., bucket: _Optional[str] = ..., prefix: _Optional[str] = ..., expires_in_s: _Optional[float] = ..., description: _Optional[str] = ...) -> None: ...

class CreateKeyResponse(_message.Message):
    __slots__ = ("key", "secret")
    KEY_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    key: AccessKeyInfo
    secret: str
    def __init__(self, key: _Optional[_Union[AccessKeyInfo, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class ListKeysRequest(_message.Message):
    __slots__ = ("tenant",)
    TENANT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    def __init__(self, tenant: _Optional[str] = ...) -> None: ...

class ListKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[AccessKeyInfo]
    def __init__(self, keys: _Optional[_Iterable[_Union[AccessKeyInfo, _Mapping]]] = ...) -> None: ...

class RevokeKeyRequest(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class SetQuotaRequest(_message.Message):
    __slots__ = ("tenant", "bucket", "bytes", "objects")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    bucket: str
    bytes: int
    objects: int
    def __init__(self, tenant: _Optional[str] = ..., bucket: _Optional[str] = ..., bytes: _Optional[int] = ..., objects: _Optional[int] = ...) -> None: ...

class SetQuotaResponse(_message.Message):
    __slots__ = ("quota",)
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    quota: _common_pb2.Quota
    def __init__(self, quota: _Optional[_Union[_common_pb2.Quota, _Mapping]] = ...) -> None: ...

class GetLifecycleStatusRequest(_message.Message):
    __slots__ = ("this_node_only",)
    THIS_NODE_ONLY_FIELD_NUMBER: _ClassVar[int]
    this_node_only: bool
    def __init__(self, this_node_only: _Optional[bool] = ...) -> None: ...

class NodeLifecycleStatus(_message.Message):
    __slots__ = ("node_id", "objects_expired", "versions_removed", "markers_removed", "uploads_aborted", "objects_converted", "bytes_converted", "backlog", "buckets_owned", "passes_completed", "last_pass_finished_unix_ms", "errors")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    MARKERS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    UPLOADS_ABORTED_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_CONVERTED_FIELD_NUMBER: _ClassVar[int]
    BYTES_CONVERTED_FIELD_NUMBER: _ClassVar[int]
    BACKLOG_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_OWNED_FIELD_NUMBER: _ClassVar[int]
    PASSES_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    LAST_PASS_FINISHED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    objects_expired: int
    versions_removed: int
    markers_removed: int
    uploads_aborted: int
    objects_converted: int
    bytes_converted: int
    backlog: int
    buckets_owned: int
    passes_completed: int
    last_pass_finished_unix_ms: int
    errors: int
    def __init__(self, node_id: _Optional[str] = ..., objects_expired: _Optional[int] = ..., versions_removed: _Optional[int] = ..., markers_removed: _Optional[int] = ..., uploads_aborted: _Optional[int] = ..., objects_converted: _Optional[int] = ..., bytes_converted: _Optional[int] = ..., backlog: _Optional[int] = ..., buckets_owned: _Optional[int] = ..., passes_completed: _Optional[int] = ..., last_pass_finished_unix_ms: _Optional[int] = ..., errors: _Optional[int] = ...) -> None: ...

class GetLifecycleStatusResponse(_message.Message):
    __slots__ = ("nodes", "unreachable")
    NODES_FIELD_NUMBER: _ClassVar[int]
    UNREACHABLE_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[NodeLifecycleStatus]
    unreachable: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, nodes: _Optional[_Iterable[_Union[NodeLifecycleStatus, _Mapping]]] = ..., unreachable: _Optional[_Iterable[str]] = ...) -> None: ...

class RewrapDataKeysRequest(_message.Message):
    __slots__ = ("dry_run",)
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    def __init__(self, dry_run: _Optional[bool] = ...) -> None: ...

class RewrapDataKeysResponse(_message.Message):
    __slots__ = ("primary_master_key_id", "data_keys", "rewrapped", "already_current")
    PRIMARY_MASTER_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_KEYS_FIELD_NUMBER: _ClassVar[int]
    REWRAPPED_FIELD_NUMBER: _ClassVar[int]
    ALREADY_CURRENT_FIELD_NUMBER: _ClassVar[int]
    primary_master_key_id: str
    data_keys: int
    rewrapped: int
    already_current: int
    def __init__(self, primary_master_key_id: _Optional[str] = ..., data_keys: _Optional[int] = ..., rewrapped: _Optional[int] = ..., already_current: _Optional[int] = ...) -> None: ...
