"""The typed Ringstore client: one gRPC channel to one node, deadlines, bounded retries, plain results.

`Client(address=..., timeout_s=..., retries_max=...)` is the entry point; its calls return the
frozen dataclasses of `results`, and a few pure helpers (`parse_ec`, `validate_key`, the
`*_from_pb` converters, ...) are used by the CLI, cluster-sim and tests. Each name lives in the
module of its idea and is imported here, so `from nodectl.client import X` works for all of them
and callers need not know the layout:

    limits       every bound the client enforces or relies on, with why
    results      the frozen result dataclasses (ObjectInfo, RepairStatus, ...) and cluster totals
    validate     checks of caller input before any RPC; parse_ec, policy_pb
    from_pb      wire reply messages -> results (`*_from_pb`), and their text forms
    deadlines    how long a call may take; the watchdog of streams of unknown size; rpc_error
    retries      what is retried, and the backoff between attempts
    put_source   what a put reads from (bytes, a path, a file, a pipe), in frames
    reader       ObjectReader: a get's resumable stream, checked against blake3
    resumable    large puts as multipart uploads that `nodectl put --resume` continues
    direct       chunks read straight from their holders with the grants a get's plan carries
    connection   the channel, its stubs, one call under a deadline and retried (`_Connection`)
    buckets, objects, cluster, repair, admin, share_links
                 the calls of each service, one mixin of `_Connection` each; `Client`, below,
                 combines them

Dependency order: limits, results <- validate, from_pb, deadlines, retries, put_source, direct <-
connection, reader <- buckets, objects, cluster, repair, admin, share_links <- this `__init__`
(Client). Nothing here imports `nodectl.cli` or `node`.

Rejected alternative: one module for all of it. At 2000 lines, before tenants, keys, grants,
presigning, versions and lifecycle each add calls and results, a reader looking for how `fsck`
is held to a deadline paged past the put source and the get stream; now `repair.py` is where
fsck is.
"""

from __future__ import annotations

from ringstore.auth.credentials import Credentials

# Everything below is re-exported: these are the names `nodectl.client` has always offered.
from nodectl.client.admin import _AdminCalls
from nodectl.client.auth import SigningInterceptor
from nodectl.client.buckets import _BucketCalls
from nodectl.client.cluster import PLAN_CHANGES, _ClusterCalls
from nodectl.client.connection import _OBJECT_SERVICE
from nodectl.client.deadlines import (
    _Watchdog,
    convert_deadline_s,
    expansion_ratio,
    rpc_error,
    stream_deadline_s,
)
from nodectl.client.from_pb import (
    _known_eta_s,
    _policy_ec,
    _policy_replicas,
    bucket_info_from_pb,
    cluster_status_from_pb,
    convert_progress_from_pb,
    convert_result_from_pb,
    fsck_finding_from_pb,
    fsck_progress_from_pb,
    fsck_summary_from_pb,
    member_state_text,
    node_repair_status_from_pb,
    node_status_from_pb,
    object_info_from_pb,
    object_stat_from_pb,
    policy_text,
    ring_plan_from_pb,
    scrub_status_from_pb,
    version_text,
)
from nodectl.client.limits import (
    BUCKET_NAME_RE,
    CONTENT_TYPE_BYTES_MAX,
    CONVERT_MESSAGES_MAX,
    EC_DIGITS_MAX,
    EC_SHARES_MAX,
    EC_TEXT_RE,
    FRAME_SIZE_BYTES,
    FSCK_FINDINGS_MAX,
    FSCK_MESSAGES_MAX,
    GRPC_MESSAGE_BYTES_MAX,
    GRPC_MESSAGE_HEADROOM_BYTES,
    KEY_LENGTH_BYTES_MAX,
    KIB,
    LIST_PAGE_SIZE_MAX,
    LIST_PAGES_MAX,
    MAINTENANCE_S_MAX,
    METADATA_BYTES_MAX,
    METADATA_ENTRIES_MAX,
    METADATA_KEY_BYTES_MAX,
    METADATA_VALUE_BYTES_MAX,
    MIB,
    NODE_ID_RE,
    QUOTED_CHARS_MAX,
    RETRIES_MAX_LIMIT,
    RETRY_BACKOFF_S_MAX,
    STREAM_DEADLINE_BYTES_PER_S,
    UINT32_MAX,
    UINT64_MAX,
    ZONE_LENGTH_MAX,
)
from nodectl.client.objects import _ObjectCalls
from nodectl.client.put_source import _file_frames, _PutSource, _seekable
from nodectl.client.reader import ObjectReader
from nodectl.client.repair import _RepairCalls
from nodectl.client.share_links import _ShareLinkCalls, share_link_from_pb
from nodectl.client.lifecycle import (LifecycleStatus, NodeLifecycleStatus, _LifecycleCalls, rule_from_flags,
                                      rule_to_dict, rules_from_document)
from nodectl.client.results import (
    LIVE_STATES,
    BucketAccess,
    BucketDetails,
    BucketInfo,
    BucketUsage,
    ChunkStatus,
    ClusterStatus,
    ConvertProgress,
    ConvertResult,
    Deleted,
    FsckFinding,
    FsckMetadataFinding,
    FsckUsageFinding,
    FsckProgress,
    FsckReport,
    FsckSummary,
    Handover,
    HolderStatus,
    InitResult,
    NewKey,
    Quota,
    Tenant,
    Usage,
    WatchEvent,
    AccessKeyInfo,
    ListPage,
    Member,
    MemberStatus,
    NodeHandover,
    NodeRepairStatus,
    NodeScrubStatus,
    NodeStatus,
    ObjectChange,
    ObjectInfo,
    ObjectStat,
    RedundancyLevel,
    RepairStatus,
    RingInfo,
    RingMove,
    RingPlan,
    RingToken,
    ScrubStatus,
    NewShareLink,
    ShareLinkInfo,
    UnrepairableChunk,
    UploadedPart,
    _Dict,
    level_order_key,
    merge_levels,
    repair_eta_s,
)
from nodectl.client.retries import retry_backoff_s
from nodectl.client.validate import (
    _check_ec_numbers,
    _quoted,
    _validate_ec,
    _validate_key_text,
    _validate_replicas,
    _validate_uint,
    parse_address,
    parse_ec,
    policy_pb,
    validate_bucket,
    validate_key,
    validate_node_id,
    validate_policy,
    validate_prefix,
    validate_put_fields,
    validate_range,
)
from nodectl.errors import (
    DataLoss,
    DeadlineExceeded,
    Internal,
    InvalidArgument,
    RingstoreError,
    Unavailable,
    from_rpc_error,
)


class Client(_BucketCalls, _ObjectCalls, _ClusterCalls, _RepairCalls, _AdminCalls, _ShareLinkCalls, _LifecycleCalls):
    """A connection to one Ringstore node. Thread-safe; close it (or use `with`) when done."""
