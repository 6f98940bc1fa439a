"""The plain results the client returns: frozen dataclasses with `to_dict()`, never protobuf.

Results are frozen dataclasses with `to_dict()`, never protobuf objects: callers (the CLI, the
HTTP gateway, tests) do not depend on the wire types, and `--json` is `json.dumps(x.to_dict())`.
This module knows no wire type; `from_pb` builds these from the node's messages.

Fan-out answers (repair, fsck, scrub, ring plans) hold one entry per node that answered and the
members that did not. Cluster totals (debt, rate, ETA, levels merged across nodes) are properties
computed here from the per-node answers, so the wire carries each node's own numbers once and
nothing is summed twice.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any


class _Dict:
    """`to_dict()` for the result dataclasses: plain JSON-ready values, nested dataclasses too."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


@dataclasses.dataclass(frozen=True)
class ObjectChange(_Dict):
    """One change to an object, as a watch delivers it."""

    key: str
    # "put", "delete", "erase" (a version deleted for good), "rewrite" (converted), "tags".
    kind: str
    version_id: str
    # The version's stamp, as `stat` shows it.
    version: str
    # Whether it is the key's current version now.
    current: bool
    size_bytes: int
    etag: str
    written_at_unix_ms: int


@dataclasses.dataclass(frozen=True)
class WatchEvent(_Dict):
    """A change (or, `change` None, progress while nothing under the prefix changed) and the cursor
    after it: give that cursor to `watch` to continue after this event, through any node."""

    cursor: str
    change: ObjectChange | None = None


@dataclasses.dataclass(frozen=True)
class ObjectInfo(_Dict):
    """One object version, as a manifest describes it."""

    bucket: str
    key: str
    size_bytes: int
    blake3_hex: str
    # "physical_ms.logical.node_id" of the version's HLC stamp; "" when the server sent none.
    version: str
    content_type: str
    metadata: dict[str, str]
    # Copies per chunk under replication; None under erasure coding or when unset.
    replicas: int | None
    chunk_count: int
    created_at_unix_ms: int
    inline: bool
    # The redundancy policy spelt out: "replicas=3", "ec=4+2", or "" when unset.
    policy: str = ""
    # (K data shares, M parity shares) under erasure coding; None under replication or unset.
    ec: tuple[int, int] | None = None
    # The ETag the S3 port answers with: the MD5 of the object when its put recorded one (puts
    # through S3), else the first 128 bits of its blake3 and "-1" (node/s3/documents.py `etag`).
    etag: str = ""
    # HTTP representation headers recorded with the object (cache-control, content-encoding, ...).
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    # Which version this is: "null" (every version of an unversioned bucket) or 32 hex digits.
    version_id: str = ""
    # The key's current version (always, but in version listings).
    is_latest: bool = True
    # A delete marker (a versioned bucket's delete): no bytes.
    delete_marker: bool = False
    # The access key that wrote it ("" when the cluster runs without keys).
    written_by: str = ""
    # When its own expiry deletes it (put --expires-in), Unix ms; 0: never.
    expires_at_unix_ms: int = 0
    # Its tags.
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    # When its bytes were last read, as lifecycle transitions count it (marked only in buckets with
    # a transition rule, at most 8 times a lifecycle day), Unix ms; 0: not marked.
    read_at_unix_ms: int = 0
    # blake3 over its chunk ids, when its put named chunks the bucket already stored (it then has
    # no whole-object blake3, blake3_hex is ""); "" otherwise.
    chunks_blake3_hex: str = ""
    # "aes256-gcm" when its chunks are encrypted at rest by the cluster; "" otherwise.
    encryption: str = ""


@dataclasses.dataclass(frozen=True)
class UploadedPart(_Dict):
    """One part of a multipart upload that the cluster holds."""

    part_number: int
    size_bytes: int
    md5_hex: str
    blake3_hex: str = ""


@dataclasses.dataclass(frozen=True)
class BucketInfo(_Dict):
    """A bucket and its default redundancy."""

    name: str
    # Default copies per chunk; None when the bucket uses erasure coding or the cluster default.
    replicas: int | None
    created_at_unix_ms: int
    # "replicas=3", "ec=4+2", or "" when unset.
    policy: str = ""
    # Default (K, M) when the bucket uses erasure coding; None otherwise.
    ec: tuple[int, int] | None = None
    # The tenant that owns it ("" for a bucket the operator made).
    owner: str = ""
    # "unversioned", "enabled" or "suspended".
    versioning: str = "unversioned"
    # The bucket's own tags.
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    # How its puts compress their chunks unless they say: "zstd" or "none".
    compression: str = "none"
    # Whether its puts encrypt their chunks at rest unless they say: "aes256-gcm" or "none".
    encryption: str = "none"


@dataclasses.dataclass(frozen=True)
class BucketAccess(_Dict):
    """Who may use a bucket besides its owner."""

    bucket: str
    owner: str
    # Tenant -> "read", "write" or "owner".
    grants: dict[str, str]
    # Anyone may get, stat and list its objects without a key.
    public_read: bool


@dataclasses.dataclass(frozen=True)
class Quota(_Dict):
    """The most a bucket or a tenant may hold; 0 means no limit."""

    bytes: int = 0
    objects: int = 0


@dataclasses.dataclass(frozen=True)
class UsagePart(_Dict):
    """A bucket's usage under one top-level prefix ("photos/"; "" for keys without a "/") or of one
    content type ("" for none)."""

    name: str
    objects: int
    logical_bytes: int
    physical_bytes: int
    noncurrent_versions: int = 0
    noncurrent_bytes: int = 0


@dataclasses.dataclass(frozen=True)
class BucketUsage(_Dict):
    """What a bucket holds, from its usage counters (never a scan), and its quota."""

    bucket: str
    owner: str
    objects: int
    logical_bytes: int
    # Every chunk copy or share, plus inline objects once per metadata home.
    physical_bytes: int
    # Deleted objects whose tombstones are not purged yet.
    tombstones: int
    quota: Quota
    # Bytes in the parts of unfinished multipart uploads (counted against byte quotas).
    upload_bytes: int = 0
    # Versions kept behind current ones and their logical bytes (counted against byte quotas).
    noncurrent_versions: int = 0
    noncurrent_bytes: int = 0
    # With usage(breakdown=...): its usage per top-level prefix or content type, largest first.
    breakdown: list[UsagePart] = dataclasses.field(default_factory=list)
    # Of physical_bytes, what is not stored because the bucket's object versions share chunk copies
    # (identical content, rollbacks, copies); physical_bytes - dedup_saved_bytes is what is stored.
    dedup_saved_bytes: int = 0


@dataclasses.dataclass(frozen=True)
class Deleted(_Dict):
    """What a delete did: wrote a tombstone or delete marker, or deleted one version for good."""

    bucket: str
    key: str
    # The delete marker's version id, or the version deleted for good; "null" for an unversioned
    # bucket's tombstone.
    version_id: str
    delete_marker: bool
    # True when one version was deleted for good (`delete(..., version=...)`).
    permanent: bool


@dataclasses.dataclass(frozen=True)
class Usage(_Dict):
    """`usage`: buckets, their sums, and the tenant's quota when one tenant was asked about."""

    buckets: list[BucketUsage]
    objects: int
    logical_bytes: int
    physical_bytes: int
    tenant: str = ""
    tenant_quota: Quota = dataclasses.field(default_factory=Quota)
    # What deduplication saves: the buckets' sum when one bucket or tenant was asked about, the
    # cluster's otherwise (chunks shared between buckets too); and the ring members that did not
    # answer for their copies (left out of every dedup figure).
    dedup_saved_bytes: int = 0
    dedup_nodes_missing: int = 0


@dataclasses.dataclass(frozen=True)
class BucketDetails(_Dict):
    """`bucket info`: the bucket, who may use it, what it holds and its quota."""

    bucket: BucketInfo
    access: BucketAccess
    usage: BucketUsage | None = None


@dataclasses.dataclass(frozen=True)
class ListPage(_Dict):
    """One page of a listing, in key order."""

    objects: list[ObjectInfo]
    # Token of the next page; "" on the last page.
    next_page_token: str


@dataclasses.dataclass(frozen=True)
class HolderStatus(_Dict):
    """One holder of a chunk copy and its membership state (ALIVE, DOWN, OUT, LEFT, UNKNOWN)."""

    node_id: str
    # Copy number under replication; share index under erasure coding (below K: a data share).
    share_index: int
    state: str
    # Set when the copy is a handoff copy kept for a DOWN node: the node it belongs to.
    handoff_for_node_id: str


@dataclasses.dataclass(frozen=True)
class ChunkStatus(_Dict):
    """One chunk of an object and where its copies are."""

    chunk_id_hex: str
    size_bytes: int
    offset_bytes: int
    holders: list[HolderStatus]
    # Under erasure coding: blake3 of each share in share index order (K+M); empty otherwise.
    share_blake3_hex: list[str] = dataclasses.field(default_factory=list)
    # "zstd" when it is stored compressed: chunk_id_hex and size_bytes then describe the stored
    # (compressed) bytes, plain_blake3_hex and plain_size_bytes the chunk itself. "" otherwise.
    compression: str = ""
    plain_blake3_hex: str = ""
    plain_size_bytes: int = 0
    # "aes256-gcm" when it is stored encrypted at rest (chunk_id_hex and size_bytes then describe the
    # ciphertext, plain_blake3_hex is a keyed hash of the chunk, not its blake3); "" otherwise.
    encryption: str = ""
    data_key_id: str = ""

    @property
    def identity_hex(self) -> str:
        """blake3 of the chunk's bytes in the object (uncompressed); keyed when encrypted at rest."""
        return self.plain_blake3_hex or self.chunk_id_hex

    @property
    def object_bytes(self) -> int:
        """The chunk's length in the object (uncompressed)."""
        return self.plain_size_bytes if (self.compression or self.encryption) else self.size_bytes


@dataclasses.dataclass(frozen=True)
class ObjectStat(_Dict):
    """An object's current version and the placement of each of its chunks, in object order."""

    info: ObjectInfo
    chunks: list[ChunkStatus]
    # Bytes the object takes on disk across the cluster: per chunk, one copy's or share's size
    # times its recorded holders (0 for inline objects, which live in the manifest).
    physical_bytes: int = 0
    # Bytes its chunks take stored once (compressed where they are), against info.size_bytes.
    stored_bytes: int = 0
    # How many of its chunks are stored compressed.
    compressed_chunks: int = 0
    # How many of its chunks are stored encrypted at rest.
    encrypted_chunks: int = 0


@dataclasses.dataclass(frozen=True)
class ConvertProgress(_Dict):
    """How far a conversion has got: chunks rewritten and verified, and their logical bytes."""

    chunks_done: int
    chunks_total: int
    bytes_done: int
    bytes_total: int


@dataclasses.dataclass(frozen=True)
class ConvertResult(_Dict):
    """What a conversion did. Counts are those of the last attempt when the call was retried."""

    # The object's current version, now under the new policy.
    info: ObjectInfo
    # Old copies or shares deleted.
    copies_released: int
    # Old copies kept because another version of some object still references them.
    copies_still_referenced: int
    # Old copies whose holder could not be reached; garbage collection reclaims them later.
    copies_not_reached: int
    # True when the object already had the policy, so nothing was rewritten.
    unchanged: bool


@dataclasses.dataclass(frozen=True)
class MemberStatus(_Dict):
    """One cluster member as the answering node sees it."""

    node_id: str
    address: str
    zone: str
    # ALIVE, DOWN, OUT, LEFT or UNSPECIFIED.
    state: str
    generation: int
    incarnation: int
    # Fraction (0..1) of the key space whose preference list starts at this node.
    ring_share: float
    state_age_s: float
    free_bytes: int
    capacity_bytes: int
    metrics_port: int
    # Only filled in for the answering node itself.
    chunks_stored: int
    bytes_stored: int
    # Out of the ring while repair moves its data away; it turns LEFT when done.
    draining: bool = False
    # DOWN does not turn OUT before this Unix ms time; 0 when not in maintenance.
    maintenance_until_unix_ms: int = 0
    # Above its disk-full watermark: new chunk copies go elsewhere.
    disk_full: bool = False
    # "" while its metadata answers; "refilling" (after damage, from its peers) or "damaged".
    metadata_health: str = ""
    # When its TLS certificate expires (Unix ms); 0 when it runs --insecure.
    tls_not_after_unix_ms: int = 0


@dataclasses.dataclass(frozen=True)
class ClusterStatus(_Dict):
    """The cluster as one node sees it."""

    node_id: str
    # "healthy" when every ring member is ALIVE and no ALIVE member's metadata is refilling or
    # damaged, "degraded" otherwise.
    health: str
    members: list[MemberStatus]
    default_replicas: int | None
    metadata_replicas: int
    repair_debt_chunks: int
    software_version: str


@dataclasses.dataclass(frozen=True)
class NodeHandover(_Dict):
    """What one node's last metadata sync pass left: whether every home of the ring it used holds
    every metadata partition (bucket manifests, tenant bucket directories) the node holds."""

    node_id: str
    # Fingerprint of the ring the pass used (0 before the first pass).
    ring_fingerprint: int
    # That ring when the pass began and ended on it with nothing left to push; 0 otherwise.
    synced_ring_fingerprint: int
    # The ring the node uses now.
    current_ring_fingerprint: int
    partitions_held: int
    # Partitions a live home has not acknowledged yet.
    partitions_pending: int
    # Partitions only homes that are not live lack.
    partitions_waiting: int
    last_pass_unix_ms: int
    # False while the node's metadata is refilled from its peers after damage.
    metadata_ok: bool

    @property
    def done(self) -> bool:
        """Every home of the ring this node uses now holds what it holds."""
        return self.synced_ring_fingerprint != 0 and self.synced_ring_fingerprint == self.current_ring_fingerprint


@dataclasses.dataclass(frozen=True)
class Handover(_Dict):
    """Metadata handover of every node that answered (sorted by node id)."""

    nodes: list[NodeHandover]
    # ALIVE members that did not answer, each "node-id: reason".
    unreachable: list[str]

    @property
    def rings(self) -> list[int]:
        """The distinct rings the answering nodes use now, sorted."""
        return sorted({n.current_ring_fingerprint for n in self.nodes})

    @property
    def done(self) -> bool:
        """Every live member answered, all use one ring, and each has handed over under it: every
        metadata home holds what any member held when that ring formed."""
        return bool(self.nodes) and not self.unreachable and len(self.rings) == 1 and all(
            n.done for n in self.nodes)


@dataclasses.dataclass(frozen=True)
class RingToken(_Dict):
    """One ring token and its owner."""

    token: int
    node_id: str


@dataclasses.dataclass(frozen=True)
class RingInfo(_Dict):
    """The ring: tokens in ring order and the fraction of the key space per node id."""

    tokens: list[RingToken]
    ownership: dict[str, float]


@dataclasses.dataclass(frozen=True)
class RedundancyLevel(_Dict):
    """How many chunks sit at one redundancy level below full, and the bytes repair must write."""

    # "replicas=N" or "ec=K+M".
    policy: str
    # Copies (replicas) or distinct shares (ec) found on live nodes.
    copies_present: int
    # Copies or shares the policy wants: N, or K+M.
    copies_wanted: int
    # Fewest copies or shares that still read: 1, or K.
    copies_needed: int
    chunks: int
    bytes_missing: int

    @property
    def copies_spare(self) -> int:
        """Copies or shares above the minimum that reads: 0 is one loss from unreadable; < 0 is
        unreadable now."""
        return self.copies_present - self.copies_needed


@dataclasses.dataclass(frozen=True)
class UnrepairableChunk(_Dict):
    """A chunk repair could not restore, why, and the node responsible for it."""

    node_id: str
    chunk_id_hex: str
    policy: str
    # One line: what is missing and what would fix it.
    reason: str
    attempts: int
    last_attempt_unix_ms: int


@dataclasses.dataclass(frozen=True)
class NodeRepairStatus(_Dict):
    """One node's repair status: the chunks it is responsible for (it is their first live holder)."""

    node_id: str
    # Chunks below full redundancy by level, as the node sent them.
    levels: list[RedundancyLevel]
    chunks_below_full: int
    # Bytes left to write to restore full redundancy and finish moves.
    bytes_left: int
    rate_bytes_per_s: float
    # Seconds until bytes_left is done at the node's rate; 0 when nothing is left, None when the
    # node cannot tell (nothing repaired recently).
    eta_s: float | None
    bytes_repaired_total: int
    copies_repaired_total: int
    # Chunks at full redundancy with a copy away from its home node (moves pending).
    chunks_misplaced: int
    copies_dropped_total: int
    unrepairable: list[UnrepairableChunk]
    # End of the node's last scan of its placement records; 0 if it never finished one.
    last_scan_unix_ms: int
    last_scan_s: float
    # Chunk layouts the node was responsible for in that scan.
    chunks_responsible: int
    repair_bandwidth_bytes_per_s: int
    repair_concurrency_max: int
    # Chunk layouts in the node's repair queue (read failures and scrub findings not yet handled).
    queued: int


@dataclasses.dataclass(frozen=True)
class RepairStatus(_Dict):
    """Repair status of every node that answered, with cluster totals as properties.

    The totals add up what each node is responsible for; nodes split responsibility (the first
    live holder of a chunk repairs it), so no chunk is counted twice while the nodes agree on
    membership.
    """

    # Sorted by node id.
    nodes: list[NodeRepairStatus]
    # ALIVE members that did not answer, each "node-id: reason".
    unreachable: list[str]

    @property
    def chunks_below_full(self) -> int:
        return sum(n.chunks_below_full for n in self.nodes)

    @property
    def chunks_misplaced(self) -> int:
        return sum(n.chunks_misplaced for n in self.nodes)

    @property
    def bytes_left(self) -> int:
        return sum(n.bytes_left for n in self.nodes)

    @property
    def rate_bytes_per_s(self) -> float:
        """The nodes' repair rates summed: they repair in parallel."""
        return sum(n.rate_bytes_per_s for n in self.nodes)

    @property
    def eta_s(self) -> float | None:
        """bytes_left at the summed rate; 0 when nothing is left, None when nothing moves."""
        return repair_eta_s(self.bytes_left, self.rate_bytes_per_s)

    @property
    def levels(self) -> list[RedundancyLevel]:
        """Every node's levels merged (same policy, copies present and wanted), worst first."""
        return merge_levels(level for n in self.nodes for level in n.levels)

    @property
    def unrepairable(self) -> list[UnrepairableChunk]:
        """Every node's unrepairable chunks, node by node."""
        return [chunk for n in self.nodes for chunk in n.unrepairable]

    def to_dict(self) -> dict[str, Any]:
        """The fields, plus the cluster totals under "cluster" (what `repair status` prints)."""
        document = super().to_dict()
        document["cluster"] = {
            "chunks_below_full": self.chunks_below_full,
            "chunks_misplaced": self.chunks_misplaced,
            "bytes_left": self.bytes_left,
            "rate_bytes_per_s": self.rate_bytes_per_s,
            "eta_s": self.eta_s,
            "levels": [level.to_dict() for level in self.levels],
            "unrepairable": [chunk.to_dict() for chunk in self.unrepairable],
        }
        return document


@dataclasses.dataclass(frozen=True)
class FsckProgress(_Dict):
    """How far an audit has got."""

    objects_checked: int
    chunks_checked: int
    # Logical bytes of the objects checked so far.
    bytes_checked: int


@dataclasses.dataclass(frozen=True)
class FsckFinding(_Dict):
    """A chunk below full redundancy: where it is in which object, and which copies are missing."""

    bucket: str
    key: str
    chunk_id_hex: str
    offset_bytes: int
    # "replicas=N" or "ec=K+M".
    policy: str
    copies_present: int
    copies_wanted: int
    copies_needed: int
    # True when fewer than copies_needed are present: the chunk cannot be read now.
    unreadable: bool
    # Which copies are missing and where, as the node says it.
    detail: str


@dataclasses.dataclass(frozen=True)
class FsckSummary(_Dict):
    """What an audit covered and found (its counts cover every chunk, kept findings or not)."""

    buckets_checked: int
    objects_checked: int
    chunks_checked: int
    chunks_full: int
    chunks_degraded: int
    chunks_unreadable: int
    # Chunks at full redundancy with some copy away from its home node (rebalancing pending).
    chunks_misplaced: int
    bytes_checked: int
    # (object, ALIVE metadata home) pairs lacking the current manifest, or holding it corrupt.
    metadata_replicas_missing: int = 0
    metadata_replicas_corrupt: int = 0
    # (bucket, ALIVE metadata home) pairs whose usage counters were compared with the audit, and
    # those that disagreed.
    usage_counters_checked: int = 0
    usage_counters_disagreeing: int = 0
    # Versions behind current ones whose chunks were audited too (versioned buckets).
    noncurrent_versions_checked: int = 0
    # Deduplication savings records compared with each node's reference rows, those that disagreed,
    # and what deduplication saves across the cluster.
    dedup_counters_checked: int = 0
    dedup_counters_disagreeing: int = 0
    dedup_saved_bytes: int = 0


@dataclasses.dataclass(frozen=True)
class FsckMetadataFinding(_Dict):
    """A metadata home replica of an object that lacks its current manifest or holds it corrupt."""

    bucket: str
    key: str
    node_id: str
    # True: the record failed its checksum there; False: the home lacks the current version.
    corrupt: bool
    detail: str


@dataclasses.dataclass(frozen=True)
class FsckUsageFinding(_Dict):
    """A metadata home whose usage counters of a bucket are not what the audit counted; or (dedup)
    a node whose deduplication savings record of a bucket ("": its own) is not what its reference
    rows add up to."""

    bucket: str
    node_id: str
    counted_objects: int
    counted_logical_bytes: int
    audited_objects: int
    audited_logical_bytes: int
    dedup: bool = False
    counted_saved_bytes: int = 0
    audited_saved_bytes: int = 0


@dataclasses.dataclass(frozen=True)
class FsckReport(_Dict):
    """An audit's findings, in the order the node sent them, and its summary."""

    findings: list[FsckFinding]
    summary: FsckSummary
    # Findings past FSCK_FINDINGS_MAX, counted but not kept.
    findings_omitted: int = 0
    # Metadata replicas missing or corrupt (at most FSCK_FINDINGS_MAX kept; the rest counted in
    # findings_omitted too).
    metadata_findings: list[FsckMetadataFinding] = dataclasses.field(default_factory=list)
    usage_findings: list[FsckUsageFinding] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class NodeScrubStatus(_Dict):
    """One node's scrub progress; "pass" counts are the current pass, or the last one if idle."""

    node_id: str
    running: bool
    copies_checked: int
    # Copies indexed when the pass started.
    copies_total: int
    bytes_checked: int
    bytes_total: int
    corrupt_found: int
    # Corrupt copies found since the node started.
    corrupt_found_total: int
    passes_completed: int
    # End of the last finished pass; 0 if none has finished.
    last_pass_finished_unix_ms: int
    last_pass_s: float
    scrub_bandwidth_bytes_per_s: int


@dataclasses.dataclass(frozen=True)
class ScrubStatus(_Dict):
    """Scrub progress of every node that answered."""

    # Sorted by node id.
    nodes: list[NodeScrubStatus]
    # ALIVE members that did not answer, each "node-id: reason".
    unreachable: list[str]


@dataclasses.dataclass(frozen=True)
class Member(_Dict):
    """A membership record, as the node keeps it about itself and gossip spreads it."""

    node_id: str
    address: str
    zone: str
    # ALIVE, DOWN, OUT, LEFT or UNSPECIFIED.
    state: str
    generation: int
    incarnation: int
    capacity_bytes: int
    # Bytes free on the node's data filesystem, as last reported.
    free_bytes: int
    metrics_port: int
    # Out of the ring while repair moves its data away; it turns LEFT when it holds nothing.
    draining: bool
    # DOWN does not turn OUT before this Unix ms time; 0 when not in maintenance.
    maintenance_until_unix_ms: int
    # Above its disk-full watermark: new chunk copies go elsewhere.
    disk_full: bool
    # "" while its metadata answers; "refilling" (after damage, from its peers) or "damaged".
    metadata_health: str = ""


@dataclasses.dataclass(frozen=True)
class NodeStatus(_Dict):
    """One node's account of itself: its membership record, what it holds, its disk.

    Counts and disk figures come from the node itself while it is ALIVE; for a node in any other
    state they are 0, because the answer is the record gossip holds (`reported_by_node`).
    """

    node_id: str
    member: Member
    # Chunk copies and shares stored, and their bytes.
    shares_stored: int
    bytes_stored: int
    # Manifests and bucket records kept (metadata partitions).
    metadata_records: int
    # Chunk layouts whose placement records the node keeps.
    placement_records: int
    # Bytes the node may use (its filesystem, or its configured maximum when smaller); 0: unknown.
    disk_size_bytes: int
    disk_free_bytes: int
    # Full when used / size reaches this ratio, or free bytes fall below disk_free_bytes_min.
    disk_full_ratio: float
    disk_free_bytes_min: int
    # Tombstones (deleted keys' records) it keeps, and the oldest one's age; purged once every
    # metadata home holds them, tombstone_grace_s after the delete.
    tombstones_held: int = 0
    oldest_tombstone_age_s: float = 0.0
    # Ids of the master keys (encryption at rest) its keyring holds, the primary last; empty when it
    # has none, or when another node answered for it.
    master_key_ids: list[str] = dataclasses.field(default_factory=list)

    @property
    def reported_by_node(self) -> bool:
        """True when the node itself answered (it is ALIVE or SUSPECT), so the counts are its own."""
        return self.member.state in LIVE_STATES


@dataclasses.dataclass(frozen=True)
class RingMove(_Dict):
    """Copies a ring change would move from one node to another."""

    # Where the copies come from; "" when erasure-coded shares would be rebuilt from K others.
    source_node_id: str
    target_node_id: str
    copies: int
    bytes: int


@dataclasses.dataclass(frozen=True)
class RingPlan(_Dict):
    """What a ring change would move, summed over every node that answered."""

    # "add" or "drain", and the node added or drained.
    change: str
    node_id: str
    # By source and target, sorted.
    moves: list[RingMove]
    # Chunk layouts planned (each counted once, by the node responsible for it).
    layouts_total: int
    # Copies and shares those layouts want, and their bytes.
    copies_total: int
    bytes_total: int
    # Of them, what would move.
    copies_moved: int
    bytes_moved: int
    # Layouts that could not be placed after the change, with a few example reasons.
    layouts_unplaceable: int
    unplaceable_reasons: list[str]
    # Nodes that answered, sorted.
    node_ids: list[str]
    # ALIVE members that did not answer, each "node-id: reason": their layouts are not counted.
    unreachable: list[str]

    @property
    def moved_fraction(self) -> float:
        """Copies moved over copies planned (0..1); 0 when nothing is stored."""
        return self.copies_moved / self.copies_total if self.copies_total else 0.0

    def copies_from(self, node_id: str) -> int:
        """Copies that would move away from `node_id` (for a drain: every copy it holds, since
        the plan names the drained node as the source of its own copies)."""
        return sum(m.copies for m in self.moves if m.source_node_id == node_id)


# Member states whose node takes traffic: SUSPECT is an accusation the node may still refute.
LIVE_STATES = ("ALIVE", "SUSPECT")


def repair_eta_s(bytes_left: int, rate_bytes_per_s: float) -> float | None:
    """Seconds to write bytes_left at rate_bytes_per_s: 0 when nothing is left, None when the rate
    is not a positive finite number (nothing repaired recently, so no honest estimate)."""
    if bytes_left <= 0:
        return 0.0
    if not (rate_bytes_per_s > 0 and math.isfinite(rate_bytes_per_s)):
        return None
    return bytes_left / rate_bytes_per_s


def level_order_key(level: RedundancyLevel) -> tuple[int, int, str, int]:
    """Worst first: fewest copies above the minimum, then most copies missing, then by policy."""
    return (level.copies_spare, level.copies_present - level.copies_wanted, level.policy,
            level.copies_present)


def merge_levels(levels: Iterable[RedundancyLevel]) -> list[RedundancyLevel]:
    """Levels with the same policy, copies present and copies wanted added up, worst first."""
    merged: dict[tuple[str, int, int], RedundancyLevel] = {}
    for level in levels:
        key = (level.policy, level.copies_present, level.copies_wanted)
        seen = merged.get(key)
        merged[key] = level if seen is None else dataclasses.replace(
            seen, chunks=seen.chunks + level.chunks,
            bytes_missing=seen.bytes_missing + level.bytes_missing)
    return sorted(merged.values(), key=level_order_key)


@dataclasses.dataclass(frozen=True)
class InitResult(_Dict):
    """The cluster's operator key after `init_cluster`."""

    key_id: str
    # The secret (the node's own when it made the key; shown once). Never printed by --json.
    secret: str
    # False when the cluster already had this operator key (a repeated init).
    created: bool


@dataclasses.dataclass(frozen=True)
class Tenant(_Dict):
    """A tenant: who owns buckets."""

    name: str
    created_at_unix_ms: int
    description: str


@dataclasses.dataclass(frozen=True)
class AccessKeyInfo(_Dict):
    """An access key as listed (never its secret)."""

    key_id: str
    tenant: str
    # "tenant" or "operator".
    role: str
    # "active", "expired" or "revoked".
    state: str
    created_at_unix_ms: int
    # 0: never.
    expires_at_unix_ms: int
    # 0: not revoked.
    revoked_at_unix_ms: int
    read_only: bool
    # Scopes: "" = any bucket / any key.
    bucket: str
    prefix: str
    description: str


@dataclasses.dataclass(frozen=True)
class NewKey(_Dict):
    """A key just made: its listing and its secret (shown this once)."""

    key: AccessKeyInfo
    secret: str


@dataclasses.dataclass(frozen=True)
class ShareLinkInfo(_Dict):
    """A share link as listed (never its token)."""

    link_id: str
    # The access key that made it, and that key's tenant.
    key_id: str
    tenant: str
    bucket: str
    key: str
    # The bytes it may read: (0, 0) the whole object; length 0 means to the end.
    range_start_bytes: int
    range_length_bytes: int
    created_at_unix_ms: int
    expires_at_unix_ms: int
    # 0: not revoked.
    revoked_at_unix_ms: int
    # "active", "expired", "revoked", "grantor-revoked", "grantor-expired", "grantor-unknown" or
    # "bucket-removed".
    state: str

    @property
    def range_text(self) -> str:
        """"whole object", "bytes 100-199" (inclusive) or "bytes 100-"."""
        if not self.range_start_bytes and not self.range_length_bytes:
            return "whole object"
        end = str(self.range_start_bytes + self.range_length_bytes - 1) if self.range_length_bytes else ""
        return f"bytes {self.range_start_bytes}-{end}"


@dataclasses.dataclass(frozen=True)
class NewShareLink(_Dict):
    """A link just made: its listing and its token (shown this once)."""

    link: ShareLinkInfo
    token: str


@dataclasses.dataclass(frozen=True)
class RewrapResult(_Dict):
    """What `rewrap_data_keys` did: every data key is wrapped under `primary_master_key_id` now
    (with dry_run, what it would do)."""

    primary_master_key_id: str
    data_keys: int
    rewrapped: int
    already_current: int
