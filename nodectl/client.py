"""The typed Ringstore client: one gRPC channel to one node, deadlines, bounded retries, plain results.

Design:
- Any node coordinates any request, so a client talks to one address. Every call has a deadline:
  `timeout_s` for small calls; for streams the deadline grows with the bytes moved
  (`timeout_s + size / STREAM_DEADLINE_BYTES_PER_S`), so a 10 GiB get is not cut off after 30 s
  while a stalled 1 KiB put still fails in `timeout_s`. When the size is not known when the call
  starts (a get without a length, a put from a pipe), a small watchdog thread cancels the call once
  the moving deadline passes and the cancellation is reported as DeadlineExceeded.
- Payload streams use the hand-framed codec in `ringstore.frames`, so 1 MiB frames cross the
  wire without a protobuf copy on either side; everything else uses the generated stubs.
- Retries: UNAVAILABLE only (the node could not be reached, or too few live nodes), at most
  `retries_max` times, with exponential backoff and jitter from an injected `random.Random`.
  A put is retried only when its data can be replayed (bytes, a path, a seekable file); a get
  that fails mid-stream resumes at the byte it reached, and only if the object's version is
  unchanged. Nothing else is retried: INVALID_ARGUMENT or DATA_LOSS will not change on a retry.
- Obvious bad input (bucket names, keys, ranges, the address) is rejected before any RPC with
  InvalidArgument and a one-line message, so a typo costs no round trip and reads the same as
  the server's message would.
- Results are frozen dataclasses with `to_dict()`, never protobuf objects: callers (the CLI, the
  HTTP gateway, tests) do not depend on the wire types, and `--json` is `json.dumps(x.to_dict())`.
- Whole-object gets are checked against the manifest's blake3 as they stream; a mismatch raises
  DataLoss rather than handing back wrong bytes.
- Redundancy is given as `replicas=N` or `ec="K+M"` / `ec=(K, M)`, never both; the shape (integers,
  K >= 1, M >= 1, K+M <= 32) is checked here, the node re-checks it and also checks K+M (or N)
  against its live nodes, which only it knows.
- `convert` rewrites an object under another policy. The node streams progress, then the result;
  the call is idempotent on the node (converting to the policy the object already has answers
  `unchanged`), so it is retried after UNAVAILABLE like a unary call, from the start. Its deadline
  cannot be set up front (the size is learnt from the first progress message), so a watchdog
  allows timeout_s for the first message, then the larger of "timeout_s since the last progress
  that moved forward" and `convert_deadline_s` of the object's size, counted from the start.
- Repair, fsck and scrub calls go to one node, which fans out to every ALIVE member (unless
  `this_node_only`) and names the members that did not answer; the client hands that list back
  rather than raising, because a status from 9 of 10 nodes is still worth showing. Cluster totals
  (debt, rate, ETA, levels merged across nodes) are properties computed here from the per-node
  answers, so the wire carries each node's own numbers once and nothing is summed twice.
- Node operations name one node and go to any node, which forwards them to the named one (only a
  node changes its own membership record): `node_status` (a read, retried like the others),
  `drain_node` and `set_maintenance`. The two actions are not retried: an UNAVAILABLE answer may
  come after the named node applied the change, and the operator is better served by the error
  and `nodectl node status` than by a client that repeats an operator action on a guess. A node
  that is not ALIVE cannot speak for itself; its status is then the record gossip holds, with no
  counts (`NodeStatus.reported_by_node` says which). `plan_ring` is a read that fans out like
  repair status: every ALIVE member plans the layouts it is responsible for, and the answer names
  the members that did not answer, so a partial plan is shown, never passed off as whole.
- `fsck` streams for as long as the audit takes, which no deadline fixed up front can bound: a
  watchdog allows timeout_s from each message to the next (the node sends progress now and then),
  so an hour-long audit runs to the end while a node that goes quiet fails in timeout_s.

Rejected alternatives: gRPC's built-in retry policy (service config) retries only before the
first response byte and cannot know whether a put's iterator can be replayed; and a fixed deadline
for streams, which is either too short for large objects or far too long for a stalled node.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, BinaryIO

import blake3
import grpc
from ringstore import frames
from ringstore.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    common_pb2,
    membership_pb2,
    object_pb2,
    object_pb2_grpc,
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

KIB = 1024
MIB = 1024 * KIB

# Payload bytes per data frame of a put. 256 KiB..1 MiB streams fastest in gRPC Python.
FRAME_SIZE_BYTES = 1 * MIB
# Headroom over the node's 8 MiB message limit for headers and framing.
GRPC_MESSAGE_HEADROOM_BYTES = 64 * KIB
# Largest gRPC message we send or accept: the node's 8 MiB limit plus headroom.
GRPC_MESSAGE_BYTES_MAX = 8 * MIB + GRPC_MESSAGE_HEADROOM_BYTES
# Slowest transfer rate a stream's deadline allows for: 10 MB/s. A stream of N bytes gets
# timeout_s + N / this. Lower tolerates slower links; higher notices a crawling node sooner.
STREAM_DEADLINE_BYTES_PER_S = 10_000_000
# Longest wait between two retries, whatever retry_backoff_s and the attempt number say.
RETRY_BACKOFF_S_MAX = 5.0
# Largest retries_max accepted: retries multiply load on a cluster that is already struggling.
RETRIES_MAX_LIMIT = 10
# ListObjects page size limits, as the wire contract states them.
LIST_PAGE_SIZE_MAX = 10_000
# Most pages one list() walks; a guard against a server that never ends the listing.
LIST_PAGES_MAX = 1_000_000
# Bucket names, as the wire contract states them.
BUCKET_NAME_RE = re.compile(r"[a-z0-9-]{3,63}")
# Longest key, in UTF-8 bytes, as the wire contract states it.
KEY_LENGTH_BYTES_MAX = 1024
# The node's limits on a put's content type and user metadata (node/objects/validate.py; a unit
# test checks they agree), checked here too so a bad put fails before any byte is sent.
CONTENT_TYPE_BYTES_MAX = 256
METADATA_ENTRIES_MAX = 64
METADATA_KEY_BYTES_MAX = 128
METADATA_VALUE_BYTES_MAX = 2 * 1024
METADATA_BYTES_MAX = 8 * 1024
# Characters of a bad user value quoted back in an error message.
QUOTED_CHARS_MAX = 80
# Most shares (K+M) of one erasure-coded stripe, as the wire contract states it (zfec's limit is
# 256; 32 keeps a stripe's fan-out and its placement record small).
EC_SHARES_MAX = 32
# "K+M": two unsigned decimal integers.
EC_TEXT_RE = re.compile(r"(\d+)\+(\d+)")
# Most digits of K or M converted to int; longer numbers are far past EC_SHARES_MAX anyway (and
# int() of a huge digit string is slow).
EC_DIGITS_MAX = 9
# Most messages one ConvertObject stream may send: one progress per chunk plus the result would be
# far fewer for any real object; a guard against a node that never ends the stream.
CONVERT_MESSAGES_MAX = 10_000_000
# Most findings one fsck keeps in memory (a few hundred bytes each); past it they are only
# counted. A node gone OUT can leave millions of chunks degraded: the summary counts them all,
# and no one reads past the first hundred thousand lines.
FSCK_FINDINGS_MAX = 100_000
# Most messages one Fsck stream may send: findings are at most one per chunk and progress comes
# "now and then", so this only stops a node that never ends the stream.
FSCK_MESSAGES_MAX = 1_000_000_000
# Largest values of the wire's unsigned integer fields.
UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
# Node ids, as nodes accept them (node/gossip/member.py).
NODE_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
# Longest zone name, in characters, as nodes accept it.
ZONE_LENGTH_MAX = 64
# Longest maintenance window one call may set, as nodes enforce it: a longer absence should let
# repair restore the node's data elsewhere instead of leaving it one failure from loss.
MAINTENANCE_S_MAX = 7 * 24 * 3600
# Ring changes `plan_ring` can preview, by the name callers use.
PLAN_CHANGES = {
    "add": admin_pb2.PlanRingRequest.CHANGE_ADD,
    "drain": admin_pb2.PlanRingRequest.CHANGE_DRAIN,
}

_OBJECT_SERVICE = "/ringstore.v1.ObjectService/"


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


class _Dict:
    """`to_dict()` for the result dataclasses: plain JSON-ready values, nested dataclasses too."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


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


@dataclasses.dataclass(frozen=True)
class ObjectStat(_Dict):
    """An object's current version and the placement of each of its chunks, in object order."""

    info: ObjectInfo
    chunks: list[ChunkStatus]
    # Bytes the object takes on disk across the cluster: per chunk, one copy's or share's size
    # times its recorded holders (0 for inline objects, which live in the manifest).
    physical_bytes: int = 0


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
class FsckReport(_Dict):
    """An audit's findings, in the order the node sent them, and its summary."""

    findings: list[FsckFinding]
    summary: FsckSummary
    # Findings past FSCK_FINDINGS_MAX, counted but not kept.
    findings_omitted: int = 0
    # Metadata replicas missing or corrupt (at most FSCK_FINDINGS_MAX kept; the rest counted in
    # findings_omitted too).
    metadata_findings: list[FsckMetadataFinding] = dataclasses.field(default_factory=list)


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


# ---------------------------------------------------------------------------------------------
# Pure helpers: validation, conversion, deadlines
# ---------------------------------------------------------------------------------------------


def _quoted(value: str) -> str:
    text = value if len(value) <= QUOTED_CHARS_MAX else value[: QUOTED_CHARS_MAX - 3] + "..."
    return repr(text)


def parse_address(address: str) -> tuple[str, int]:
    """(host, port) of "host:port" or "[ipv6]:port"; InvalidArgument otherwise."""
    bad = InvalidArgument(f"address {_quoted(address)} is not HOST:PORT (e.g. 127.0.0.1:7400)")
    host, sep, port_text = address.rpartition(":")
    if not sep or not host or not port_text.isdigit() or any(c.isspace() for c in address):
        raise bad
    if host.startswith("["):
        if not host.endswith("]") or len(host) < 3:
            raise bad
    elif ":" in host:
        raise bad  # a bare IPv6 address is ambiguous: "[::1]:7400"
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise InvalidArgument(f"address {_quoted(address)}: port {port} is outside 1..65535")
    return host, port


def validate_bucket(bucket: str) -> None:
    """InvalidArgument unless `bucket` is 3..63 characters of a-z, 0-9 and '-'."""
    if not isinstance(bucket, str) or not BUCKET_NAME_RE.fullmatch(bucket):
        shown = _quoted(bucket) if isinstance(bucket, str) else type(bucket).__name__
        raise InvalidArgument(
            f"bucket name {shown} is invalid: use 3..63 characters of a-z, 0-9 and '-'")


def validate_key(key: str) -> None:
    """InvalidArgument unless `key` is 1..1024 UTF-8 bytes without NUL."""
    if not isinstance(key, str):
        raise InvalidArgument(f"key must be a string, not {type(key).__name__}")
    if not key:
        raise InvalidArgument("key must not be empty")
    _validate_key_text(key, what="key")


def _validate_key_text(text: str, *, what: str) -> None:
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument(f"{what} {_quoted(text)} is not valid UTF-8") from None
    if len(encoded) > KEY_LENGTH_BYTES_MAX:
        raise InvalidArgument(
            f"{what} is {len(encoded)} UTF-8 bytes; the limit is {KEY_LENGTH_BYTES_MAX}")
    nul_at = encoded.find(b"\x00")
    if nul_at >= 0:
        raise InvalidArgument(f"{what} contains NUL at UTF-8 byte {nul_at}")


def validate_put_fields(content_type: str, metadata: Mapping[str, str]) -> None:
    """InvalidArgument unless the content type and metadata are within the node's limits (the
    node checks them again, with the same numbers)."""
    if not isinstance(content_type, str):
        raise InvalidArgument(f"content_type must be a string, not {type(content_type).__name__}")
    if len(content_type.encode("utf-8", "surrogatepass")) > CONTENT_TYPE_BYTES_MAX:
        raise InvalidArgument(f"content type is {len(content_type.encode('utf-8', 'surrogatepass'))} "
                              f"bytes; the limit is {CONTENT_TYPE_BYTES_MAX} UTF-8 bytes")
    if len(metadata) > METADATA_ENTRIES_MAX:
        raise InvalidArgument(
            f"{len(metadata)} metadata entries; the limit is {METADATA_ENTRIES_MAX}")
    size = 0
    for name, value in metadata.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidArgument(f"metadata must map str to str; got {name!r}: {value!r}")
        name_bytes = len(name.encode("utf-8", "surrogatepass"))
        value_bytes = len(value.encode("utf-8", "surrogatepass"))
        if not 1 <= name_bytes <= METADATA_KEY_BYTES_MAX:
            raise InvalidArgument(f"metadata name {_quoted(name)} is {name_bytes} bytes; give 1 to "
                                  f"{METADATA_KEY_BYTES_MAX} UTF-8 bytes")
        if value_bytes > METADATA_VALUE_BYTES_MAX:
            raise InvalidArgument(f"metadata value of {_quoted(name)} is {value_bytes} bytes; the "
                                  f"limit is {METADATA_VALUE_BYTES_MAX} UTF-8 bytes")
        size += name_bytes + value_bytes
    if size > METADATA_BYTES_MAX:
        raise InvalidArgument(f"metadata is {size} bytes in all; the limit is {METADATA_BYTES_MAX}")


def validate_prefix(prefix: str) -> None:
    """InvalidArgument unless `prefix` could start a key (it may be empty)."""
    if not isinstance(prefix, str):
        raise InvalidArgument(f"prefix must be a string, not {type(prefix).__name__}")
    _validate_key_text(prefix, what="prefix")


def validate_range(start_bytes: int | None, length_bytes: int | None) -> None:
    """InvalidArgument unless the range fields are unset or non-negative integers."""
    for name, value in (("range_start_bytes", start_bytes), ("range_length_bytes", length_bytes)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidArgument(f"{name} must be an integer >= 0, got {value!r}")


def _validate_replicas(replicas: int | None) -> None:
    if replicas is None:
        return
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise InvalidArgument(f"replicas must be an integer >= 1, got {replicas!r}")


def _check_ec_numbers(data_shares: int, parity_shares: int) -> tuple[int, int]:
    """(K, M) when both are in range; InvalidArgument naming the numbers and the rule otherwise."""
    shown = f"ec={data_shares}+{parity_shares}"
    if data_shares < 1:
        raise InvalidArgument(f"{shown} is invalid: K (data shares) must be at least 1")
    if parity_shares < 1:
        raise InvalidArgument(f"{shown} is invalid: M (parity shares) must be at least 1; "
                              "for no redundancy use replicas=1")
    if data_shares + parity_shares > EC_SHARES_MAX:
        raise InvalidArgument(f"{shown} is invalid: K+M is {data_shares + parity_shares}; "
                              f"the limit is {EC_SHARES_MAX}")
    return data_shares, parity_shares


def parse_ec(text: str) -> tuple[int, int]:
    """(K, M) of "K+M" (e.g. "4+2": 4 data shares, 2 parity shares); InvalidArgument otherwise.

    Only the shape is checked here (K >= 1, M >= 1, K+M <= EC_SHARES_MAX); whether the cluster
    has K+M live nodes is for the node to say.
    """
    if not isinstance(text, str):
        raise InvalidArgument(f"ec must be a 'K+M' string, not {type(text).__name__}")
    match = EC_TEXT_RE.fullmatch(text.strip())
    if match is None:
        raise InvalidArgument(f"ec={_quoted(text)} is not K+M: give data and parity shares as "
                              "two integers, e.g. 4+2")
    if max(len(match.group(1)), len(match.group(2))) > EC_DIGITS_MAX:
        raise InvalidArgument(f"ec={_quoted(text.strip())} is invalid: K+M is over the limit "
                              f"of {EC_SHARES_MAX}")
    return _check_ec_numbers(int(match.group(1)), int(match.group(2)))


def _validate_ec(ec: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """(K, M) of a "K+M" string or a (K, M) pair of ints, None for None; InvalidArgument otherwise."""
    if ec is None:
        return None
    if isinstance(ec, str):
        return parse_ec(ec)
    if (isinstance(ec, (tuple, list)) and len(ec) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) for n in ec)):
        return _check_ec_numbers(ec[0], ec[1])
    raise InvalidArgument(f"ec must be a 'K+M' string or a (K, M) pair of integers, got {ec!r}")


def validate_policy(replicas: int | None,
                    ec: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """Check a replicas/ec pair as callers give it; returns ec as (K, M), or None.

    At most one may be given: InvalidArgument("give either replicas or ec, not both") otherwise.
    """
    if replicas is not None and ec is not None:
        raise InvalidArgument("give either replicas or ec, not both")
    _validate_replicas(replicas)
    return _validate_ec(ec)


def policy_pb(replicas: int | None,
              ec: str | tuple[int, int] | None) -> common_pb2.RedundancyPolicy | None:
    """The wire RedundancyPolicy for replicas=N or ec=K+M; None when neither is given.

    None (rather than an empty message) leaves the field unset, which the node reads as "the
    bucket's default" (put) or "the cluster's default" (create_bucket).
    """
    shares = validate_policy(replicas, ec)
    if replicas is not None:
        return common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=replicas))
    if shares is not None:
        return common_pb2.RedundancyPolicy(erasure_coding=common_pb2.ErasureCoding(
            data_shares=shares[0], parity_shares=shares[1]))
    return None


def expansion_ratio(policy: common_pb2.RedundancyPolicy) -> float:
    """Bytes stored per logical byte under `policy`: N for replicas=N, (K+M)/K for ec=K+M; 1 unset."""
    which = policy.WhichOneof("policy")
    if which == "replication" and policy.replication.replicas:
        return float(policy.replication.replicas)
    if which == "erasure_coding" and policy.erasure_coding.data_shares:
        ec = policy.erasure_coding
        return (ec.data_shares + ec.parity_shares) / ec.data_shares
    return 1.0


def rpc_error(err: grpc.RpcError, call_name: str, deadline_s: float | None) -> RingstoreError:
    """`from_rpc_error`, except that gRPC's bare "Deadline Exceeded" becomes one line naming the
    call, the seconds it had, and what to do."""
    error = from_rpc_error(err)
    details_fn = getattr(err, "details", None)
    details = details_fn() if callable(details_fn) else None
    # A node's own DEADLINE_EXCEEDED carries its message (a quorum that timed out); only gRPC's
    # local deadline comes with this bare text.
    if (isinstance(error, DeadlineExceeded) and deadline_s is not None
            and (details or "").strip().lower() in ("", "deadline exceeded")):
        return DeadlineExceeded(
            f"{call_name} timed out after {deadline_s:.1f} s without an answer from the node (it "
            "may be overloaded, or waiting on a slow peer): retry, or raise --timeout-s")
    return error


def stream_deadline_s(timeout_s: float, size_bytes: int) -> float:
    """Seconds a stream moving `size_bytes` may take: timeout_s plus size at 10 MB/s."""
    assert size_bytes >= 0, size_bytes
    return timeout_s + size_bytes / STREAM_DEADLINE_BYTES_PER_S


def convert_deadline_s(timeout_s: float, size_bytes: int, expansion: float) -> float:
    """Seconds a conversion of a `size_bytes` object may take, from the call's start.

    The coordinator reads the object once and writes it `expansion` times over (N copies, or
    (K+M)/K for erasure coding), so it moves size * (1 + expansion) bytes; that at the stream
    rate, plus timeout_s for the manifest write and the release of the old copies.
    """
    assert size_bytes >= 0 and expansion >= 0, (size_bytes, expansion)
    return stream_deadline_s(timeout_s, round(size_bytes * (1 + expansion)))


def retry_backoff_s(base_s: float, attempt: int, rng: random.Random) -> float:
    """Wait before retry number `attempt` (0 for the first): base * 2**attempt, capped, jittered.

    Jitter draws from [50 %, 100 %] of the step so many clients retrying at once spread out.
    """
    step_s = min(RETRY_BACKOFF_S_MAX, base_s * (2 ** min(attempt, 30)))
    return step_s * (0.5 + 0.5 * rng.random())


def version_text(stamp: common_pb2.VersionStamp) -> str:
    """"physical_ms.logical.node_id", then "+rN" when the version was rewritten N times by
    `convert` (e.g. "1700000000001.0.node-a+r1"); "" for an unset stamp.

    The suffix keeps the text of a never-converted version exactly as before, and '+' cannot be
    confused with the dots that separate the stamp's fields.
    """
    if not stamp.physical_ms and not stamp.logical and not stamp.node_id and not stamp.rewrite:
        return ""
    text = f"{stamp.physical_ms}.{stamp.logical}.{stamp.node_id}"
    return f"{text}+r{stamp.rewrite}" if stamp.rewrite else text


def policy_text(policy: common_pb2.RedundancyPolicy) -> str:
    """"replicas=N", "ec=K+M", or "" for an unset policy."""
    which = policy.WhichOneof("policy")
    if which == "replication":
        return f"replicas={policy.replication.replicas}"
    if which == "erasure_coding":
        ec = policy.erasure_coding
        return f"ec={ec.data_shares}+{ec.parity_shares}"
    return ""


def _policy_replicas(policy: common_pb2.RedundancyPolicy) -> int | None:
    if policy.WhichOneof("policy") == "replication":
        return policy.replication.replicas
    return None


def _policy_ec(policy: common_pb2.RedundancyPolicy) -> tuple[int, int] | None:
    if policy.WhichOneof("policy") == "erasure_coding":
        return policy.erasure_coding.data_shares, policy.erasure_coding.parity_shares
    return None


def object_info_from_pb(pb: object_pb2.ObjectInfo) -> ObjectInfo:
    """The plain ObjectInfo of a wire ObjectInfo."""
    return ObjectInfo(
        bucket=pb.bucket,
        key=pb.key,
        size_bytes=pb.size_bytes,
        blake3_hex=pb.blake3.hex(),
        version=version_text(pb.version),
        content_type=pb.content_type,
        metadata=dict(pb.metadata),
        replicas=_policy_replicas(pb.policy),
        chunk_count=pb.chunk_count,
        created_at_unix_ms=pb.created_at_unix_ms,
        inline=pb.inline,
        policy=policy_text(pb.policy),
        ec=_policy_ec(pb.policy),
    )


def bucket_info_from_pb(pb: common_pb2.BucketRecord) -> BucketInfo:
    """The plain BucketInfo of a wire BucketRecord."""
    return BucketInfo(
        name=pb.name,
        replicas=_policy_replicas(pb.default_policy),
        created_at_unix_ms=pb.created_at_unix_ms,
        policy=policy_text(pb.default_policy),
        ec=_policy_ec(pb.default_policy),
    )


# Member states whose node takes traffic: SUSPECT is an accusation the node may still refute.
LIVE_STATES = ("ALIVE", "SUSPECT")


def member_state_text(state: int) -> str:
    """"ALIVE" for MEMBER_STATE_ALIVE, and so on; "UNSPECIFIED" for unknown numbers."""
    try:
        name = membership_pb2.MemberState.Name(state)
    except ValueError:
        return "UNSPECIFIED"
    return name.removeprefix("MEMBER_STATE_")


def cluster_status_from_pb(pb: admin_pb2.GetClusterStatusResponse) -> ClusterStatus:
    """The plain ClusterStatus of a wire GetClusterStatusResponse."""
    members = [
        MemberStatus(
            node_id=m.member.node_id,
            address=m.member.address,
            zone=m.member.zone,
            state=member_state_text(m.member.state),
            generation=m.member.generation,
            incarnation=m.member.incarnation,
            ring_share=m.ring_share,
            state_age_s=m.state_age_s,
            free_bytes=m.member.free_bytes,
            capacity_bytes=m.member.capacity_bytes,
            metrics_port=m.member.metrics_port,
            chunks_stored=m.chunks_stored,
            bytes_stored=m.bytes_stored,
            draining=m.member.draining,
            maintenance_until_unix_ms=m.member.maintenance_until_unix_ms,
            disk_full=m.member.disk_full,
            metadata_health=m.member.metadata_health,
        )
        for m in pb.members
    ]
    return ClusterStatus(
        node_id=pb.node_id,
        health=pb.health,
        members=members,
        default_replicas=_policy_replicas(pb.default_policy),
        metadata_replicas=pb.metadata_replicas,
        repair_debt_chunks=pb.repair_debt_chunks,
        software_version=pb.software_version,
    )


def object_stat_from_pb(pb: object_pb2.StatObjectResponse) -> ObjectStat:
    """The plain ObjectStat of a wire StatObjectResponse."""
    chunks = [
        ChunkStatus(
            chunk_id_hex=c.chunk.chunk_id.hex(),
            size_bytes=c.chunk.size_bytes,
            offset_bytes=c.chunk.offset_bytes,
            holders=[
                HolderStatus(
                    node_id=h.holder.node_id,
                    share_index=h.holder.share_index,
                    state=h.state,
                    handoff_for_node_id=h.holder.handoff_for_node_id,
                )
                for h in c.holders
            ],
            share_blake3_hex=[digest.hex() for digest in c.chunk.share_blake3],
        )
        for c in pb.chunks
    ]
    return ObjectStat(info=object_info_from_pb(pb.object), chunks=chunks,
                      physical_bytes=pb.physical_bytes)


def convert_progress_from_pb(pb: object_pb2.ConvertProgress) -> ConvertProgress:
    """The plain ConvertProgress of a wire ConvertProgress."""
    return ConvertProgress(chunks_done=pb.chunks_done, chunks_total=pb.chunks_total,
                           bytes_done=pb.bytes_done, bytes_total=pb.bytes_total)


def convert_result_from_pb(pb: object_pb2.ConvertResult) -> ConvertResult:
    """The plain ConvertResult of a wire ConvertResult."""
    return ConvertResult(
        info=object_info_from_pb(pb.object),
        copies_released=pb.copies_released,
        copies_still_referenced=pb.copies_still_referenced,
        copies_not_reached=pb.copies_not_reached,
        unchanged=pb.unchanged,
    )


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


def _known_eta_s(eta_s: float) -> float | None:
    """The wire's eta_s (-1 for unknown) as seconds or None."""
    return eta_s if eta_s >= 0 and math.isfinite(eta_s) else None


def node_repair_status_from_pb(pb: admin_pb2.NodeRepairStatus) -> NodeRepairStatus:
    """The plain NodeRepairStatus of a wire NodeRepairStatus."""
    return NodeRepairStatus(
        node_id=pb.node_id,
        levels=[
            RedundancyLevel(policy=lv.policy, copies_present=lv.copies_present,
                            copies_wanted=lv.copies_wanted, copies_needed=lv.copies_needed,
                            chunks=lv.chunks, bytes_missing=lv.bytes_missing)
            for lv in pb.levels
        ],
        chunks_below_full=pb.chunks_below_full,
        bytes_left=pb.bytes_left,
        rate_bytes_per_s=pb.rate_bytes_per_s,
        eta_s=_known_eta_s(pb.eta_s),
        bytes_repaired_total=pb.bytes_repaired_total,
        copies_repaired_total=pb.copies_repaired_total,
        chunks_misplaced=pb.chunks_misplaced,
        copies_dropped_total=pb.copies_dropped_total,
        unrepairable=[
            UnrepairableChunk(node_id=pb.node_id, chunk_id_hex=u.chunk_id.hex(), policy=u.policy,
                              reason=u.reason, attempts=u.attempts,
                              last_attempt_unix_ms=u.last_attempt_unix_ms)
            for u in pb.unrepairable
        ],
        last_scan_unix_ms=pb.last_scan_unix_ms,
        last_scan_s=pb.last_scan_s,
        chunks_responsible=pb.chunks_responsible,
        repair_bandwidth_bytes_per_s=pb.repair_bandwidth_bytes_per_s,
        repair_concurrency_max=pb.repair_concurrency_max,
        queued=pb.queued,
    )


def fsck_finding_from_pb(pb: admin_pb2.FsckFinding) -> FsckFinding:
    """The plain FsckFinding of a wire FsckFinding."""
    return FsckFinding(
        bucket=pb.bucket, key=pb.key, chunk_id_hex=pb.chunk_id.hex(), offset_bytes=pb.offset_bytes,
        policy=pb.policy, copies_present=pb.copies_present, copies_wanted=pb.copies_wanted,
        copies_needed=pb.copies_needed, unreadable=pb.unreadable, detail=pb.detail)


def fsck_progress_from_pb(pb: admin_pb2.FsckProgress) -> FsckProgress:
    """The plain FsckProgress of a wire FsckProgress."""
    return FsckProgress(objects_checked=pb.objects_checked, chunks_checked=pb.chunks_checked,
                        bytes_checked=pb.bytes_checked)


def fsck_summary_from_pb(pb: admin_pb2.FsckSummary) -> FsckSummary:
    """The plain FsckSummary of a wire FsckSummary."""
    return FsckSummary(
        buckets_checked=pb.buckets_checked, objects_checked=pb.objects_checked,
        chunks_checked=pb.chunks_checked, chunks_full=pb.chunks_full,
        chunks_degraded=pb.chunks_degraded, chunks_unreadable=pb.chunks_unreadable,
        chunks_misplaced=pb.chunks_misplaced, bytes_checked=pb.bytes_checked,
        metadata_replicas_missing=pb.metadata_replicas_missing,
        metadata_replicas_corrupt=pb.metadata_replicas_corrupt)


def scrub_status_from_pb(pb: admin_pb2.GetScrubStatusResponse) -> ScrubStatus:
    """The plain ScrubStatus of a wire GetScrubStatusResponse."""
    nodes = [
        NodeScrubStatus(
            node_id=n.node_id, running=n.running, copies_checked=n.copies_checked,
            copies_total=n.copies_total, bytes_checked=n.bytes_checked, bytes_total=n.bytes_total,
            corrupt_found=n.corrupt_found, corrupt_found_total=n.corrupt_found_total,
            passes_completed=n.passes_completed,
            last_pass_finished_unix_ms=n.last_pass_finished_unix_ms, last_pass_s=n.last_pass_s,
            scrub_bandwidth_bytes_per_s=n.scrub_bandwidth_bytes_per_s)
        for n in pb.nodes
    ]
    return ScrubStatus(nodes=nodes, unreachable=list(pb.unreachable))


def node_status_from_pb(pb: admin_pb2.NodeStatus) -> NodeStatus:
    """The plain NodeStatus of a wire NodeStatus."""
    m = pb.member
    member = Member(
        node_id=m.node_id, address=m.address, zone=m.zone, state=member_state_text(m.state),
        generation=m.generation, incarnation=m.incarnation, capacity_bytes=m.capacity_bytes,
        free_bytes=m.free_bytes, metrics_port=m.metrics_port, draining=m.draining,
        maintenance_until_unix_ms=m.maintenance_until_unix_ms, disk_full=m.disk_full,
        metadata_health=m.metadata_health)
    return NodeStatus(
        node_id=pb.node_id or m.node_id, member=member, shares_stored=pb.shares_stored, bytes_stored=pb.bytes_stored,
        metadata_records=pb.metadata_records, placement_records=pb.placement_records,
        disk_size_bytes=pb.disk_size_bytes, disk_free_bytes=pb.disk_free_bytes,
        disk_full_ratio=pb.disk_full_ratio, disk_free_bytes_min=pb.disk_free_bytes_min)


def ring_plan_from_pb(change: str, node_id: str, pb: admin_pb2.PlanRingResponse) -> RingPlan:
    """The plain RingPlan of a wire PlanRingResponse for `change` of `node_id`."""
    return RingPlan(
        change=change, node_id=node_id,
        moves=[RingMove(source_node_id=m.source_node_id, target_node_id=m.target_node_id,
                        copies=m.copies, bytes=m.bytes) for m in pb.moves],
        layouts_total=pb.layouts_total, copies_total=pb.copies_total, bytes_total=pb.bytes_total,
        copies_moved=pb.copies_moved, bytes_moved=pb.bytes_moved,
        layouts_unplaceable=pb.layouts_unplaceable,
        unplaceable_reasons=list(pb.unplaceable_reasons), node_ids=list(pb.node_ids),
        unreachable=list(pb.unreachable))


def validate_node_id(node_id: str) -> None:
    """InvalidArgument unless `node_id` could name a node: [a-z0-9][a-z0-9-]{0,62}."""
    if not isinstance(node_id, str) or not NODE_ID_RE.fullmatch(node_id):
        shown = _quoted(node_id) if isinstance(node_id, str) else type(node_id).__name__
        raise InvalidArgument(f"node id {shown} is invalid: use 1..63 characters of a-z, 0-9 and "
                              "'-', not starting with '-' (`nodectl status` lists the members)")


def _validate_uint(name: str, value: int | None, minimum: int, maximum: int) -> None:
    """InvalidArgument unless `value` is None or an integer in minimum..maximum."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise InvalidArgument(f"{name} must be an integer in {minimum}..{maximum}, got {value!r}")


# ---------------------------------------------------------------------------------------------
# Put sources and the stream watchdog
# ---------------------------------------------------------------------------------------------


class _PutSource:
    """What a put reads from: its size when known, whether it can be replayed, and its frames."""

    def __init__(self, data: bytes | bytearray | memoryview | BinaryIO | os.PathLike[str]) -> None:
        self._bytes: memoryview | None = None
        self._path: os.PathLike[str] | None = None
        self._file: BinaryIO | None = None
        self._file_start = 0
        self.size_bytes: int | None = None
        self.replayable = True
        if isinstance(data, (bytes, bytearray, memoryview)):
            self._bytes = memoryview(data).cast("B")
            self.size_bytes = self._bytes.nbytes
        elif isinstance(data, os.PathLike):
            self._path = data
            self.size_bytes = os.stat(data).st_size
        elif isinstance(data, str):
            raise TypeError("put data is a str: pass bytes, a binary file, or a pathlib.Path")
        elif hasattr(data, "read"):
            self._file = data
            if _seekable(data):
                self._file_start = data.tell()
                self.size_bytes = data.seek(0, io.SEEK_END) - self._file_start
                data.seek(self._file_start)
            else:
                self.replayable = False
        else:
            raise TypeError(f"put data must be bytes, a binary file or a path, not {type(data)}")

    def frames(self) -> Iterator[bytes | memoryview]:
        """The payload in frames of at most FRAME_SIZE_BYTES, from the start, once per attempt."""
        if self._bytes is not None:
            for offset in range(0, self._bytes.nbytes, FRAME_SIZE_BYTES):
                yield self._bytes[offset:offset + FRAME_SIZE_BYTES]
        elif self._path is not None:
            with open(self._path, "rb") as f:
                yield from _file_frames(f)
        else:
            assert self._file is not None
            if self.replayable:
                self._file.seek(self._file_start)
            yield from _file_frames(self._file)


def _seekable(f: Any) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _file_frames(f: BinaryIO) -> Iterator[bytes]:
    """Frames of FRAME_SIZE_BYTES (the last may be shorter). An unbuffered file (a pipe opened
    with buffering=0) returns what one read(2) gives, often a few KiB: those are gathered into a
    whole frame, so a slow pipe does not become thousands of tiny messages."""
    # Bounded by the file's length: every read returns at least one byte or ends the file.
    while True:
        frame = f.read(FRAME_SIZE_BYTES)
        if not frame:
            return
        if len(frame) < FRAME_SIZE_BYTES:
            pieces = [frame]
            size_bytes = len(frame)
            while size_bytes < FRAME_SIZE_BYTES:
                piece = f.read(FRAME_SIZE_BYTES - size_bytes)
                if not piece:
                    break
                pieces.append(piece)
                size_bytes += len(piece)
            frame = b"".join(pieces)
        yield frame


class _Watchdog:
    """Cancels a call once a deadline, which callers move as bytes flow, has passed.

    Used for streams whose size is not known when the call starts, so no gRPC deadline can be
    set up front. It runs on the real monotonic clock: it exists only to bound real waits.
    """

    def __init__(self, deadline_s: float) -> None:
        self._cond = threading.Condition()
        self._deadline_s = deadline_s
        self._stopped = False
        self._call: grpc.Call | None = None
        self.expired = False
        self._thread = threading.Thread(target=self._run, name="nodectl-deadline", daemon=True)

    def start(self, call: grpc.Call) -> None:
        self._call = call
        self._thread.start()

    def move_to(self, deadline_s: float) -> None:
        """Set the deadline (time.monotonic() seconds); earlier or later than before."""
        with self._cond:
            self._deadline_s = deadline_s
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def _run(self) -> None:
        # Each pass either waits for the deadline or a change of it, or exits: the number of
        # passes is bounded by the number of move_to() calls plus one.
        with self._cond:
            while not self._stopped:
                remaining_s = self._deadline_s - time.monotonic()
                if remaining_s <= 0:
                    self.expired = True
                    break
                self._cond.wait(remaining_s)
        if self.expired:
            assert self._call is not None
            self._call.cancel()


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


class ObjectReader:
    """A streamed read of an object or a byte range of it.

    `.info` is the version being read; `.range_start_bytes` / `.range_length_bytes` the range the
    node returns. Iterate for chunks (memoryviews), or `read()` everything, or
    `readinto_file(f)`. Use as a context manager: leaving it cancels the stream. Errors, at the
    start or mid-stream, are RingstoreError; a mid-stream UNAVAILABLE resumes from the byte
    reached (up to the client's retries_max) as long as the version has not changed.
    """

    def __init__(self, client: Client, bucket: str, key: str,
                 range_start_bytes: int | None, range_length_bytes: int | None) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self._requested_start_bytes = range_start_bytes
        self._requested_length_bytes = range_length_bytes
        self._call: Any = None
        self._grpc_timeout_s: float | None = None
        self._watchdog: _Watchdog | None = None
        self._opened_at_s = 0.0
        self._received_bytes = 0
        self._resumes = 0
        self._closed = False
        self.info: ObjectInfo
        self.range_start_bytes = 0
        self.range_length_bytes = 0
        self._hasher: Any = None
        self._chunks: Iterator[memoryview] = self._iterate()

    # -- opening -----------------------------------------------------------------------------

    def _open_first(self) -> None:
        info_pb = self._client._retrying(
            lambda: self._open(self._requested_start_bytes, self._requested_length_bytes))
        self.info = object_info_from_pb(info_pb.object)
        self.range_start_bytes = info_pb.range_start_bytes
        self.range_length_bytes = info_pb.range_length_bytes
        whole = self.range_start_bytes == 0 and self.range_length_bytes == self.info.size_bytes
        if whole and self.info.blake3_hex:
            self._hasher = blake3.blake3()

    def _open(self, start_bytes: int | None, length_bytes: int | None) -> object_pb2.GetObjectInfo:
        """Start one GetObject call and read its info message."""
        self._stop_call()
        request = object_pb2.GetObjectRequest(bucket=self._bucket, key=self._key)
        if start_bytes is not None:
            request.range_start_bytes = start_bytes
        if length_bytes is not None:
            request.range_length_bytes = length_bytes
        timeout_s = self._client._timeout_s
        grpc_timeout_s = None
        if length_bytes is not None:
            grpc_timeout_s = stream_deadline_s(timeout_s, length_bytes)
        self._opened_at_s = time.monotonic()
        self._watchdog = _Watchdog(self._opened_at_s + timeout_s)
        self._grpc_timeout_s = grpc_timeout_s
        self._call = self._client._get_rpc(request, timeout=grpc_timeout_s)
        self._watchdog.start(self._call)
        try:
            first = next(self._call)
        except StopIteration:
            raise Internal(f"get {self._bucket}/{self._key}: the node ended the stream "
                           "before sending the object info") from None
        except grpc.RpcError as err:
            raise self._error(err) from err
        if isinstance(first, memoryview) or first.WhichOneof("msg") != "info":
            raise Internal(f"get {self._bucket}/{self._key}: the node sent data before the info")
        self._watchdog.move_to(
            self._opened_at_s + stream_deadline_s(timeout_s, first.info.range_length_bytes))
        return first.info

    def _error(self, err: grpc.RpcError) -> RingstoreError:
        if self._watchdog is not None and self._watchdog.expired:
            elapsed_s = time.monotonic() - self._opened_at_s
            return DeadlineExceeded(
                f"get {self._bucket}/{self._key} timed out after {elapsed_s:.1f} s "
                f"({self._received_bytes} bytes received): retry, or raise --timeout-s")
        return rpc_error(err, f"get {self._bucket}/{self._key}", self._grpc_timeout_s)

    def _stop_call(self) -> None:
        if self._watchdog is not None:
            self._watchdog.stop()
        if self._call is not None:
            self._call.cancel()

    # -- reading -----------------------------------------------------------------------------

    def _iterate(self) -> Iterator[memoryview]:
        try:
            yield from self._iterate_checked()
        except BaseException:
            self._stop_call()  # an error, or the consumer closed us early: end the stream now
            raise

    def _iterate_checked(self) -> Iterator[memoryview]:
        # Bounded: every pass receives one frame, or resumes (at most retries_max times), or ends.
        while True:
            try:
                for item in self._call:
                    if not isinstance(item, memoryview):
                        raise Internal(f"get {self._bucket}/{self._key}: "
                                       "the node sent a second info message mid-stream")
                    self._received_bytes += item.nbytes
                    if self._received_bytes > self.range_length_bytes:
                        raise Internal(
                            f"get {self._bucket}/{self._key}: the node sent more than the "
                            f"{self.range_length_bytes} bytes it announced")
                    if self._hasher is not None:
                        self._hasher.update(item)
                    yield item
                break
            except grpc.RpcError as err:
                error = self._error(err)
                if not isinstance(error, Unavailable) or self._resumes >= self._client._retries_max:
                    raise error from err
            self._resume()
        if self._watchdog is not None:
            self._watchdog.stop()
        if self._received_bytes != self.range_length_bytes:
            raise Internal(f"get {self._bucket}/{self._key}: the stream ended after "
                           f"{self._received_bytes} of {self.range_length_bytes} bytes")
        if self._hasher is not None:
            digest_hex = self._hasher.hexdigest()
            if digest_hex != self.info.blake3_hex:
                raise DataLoss(f"get {self._bucket}/{self._key}: blake3 of the bytes read is "
                               f"{digest_hex}, the manifest says {self.info.blake3_hex}")

    def _resume(self) -> None:
        """Reopen the stream at the first byte not yet received, on the same version."""
        self._client._sleep(
            retry_backoff_s(self._client._retry_backoff_s, self._resumes, self._client._rng))
        self._resumes += 1
        start_bytes = self.range_start_bytes + self._received_bytes
        length_bytes = self.range_length_bytes - self._received_bytes
        info_pb = self._open(start_bytes, length_bytes)
        version = version_text(info_pb.object.version)
        if version != self.info.version:
            raise Unavailable(
                f"get {self._bucket}/{self._key}: the stream broke after "
                f"{self._received_bytes} bytes and the object changed (version {self.info.version} "
                f"is now {version}); retry the read")
        if info_pb.range_start_bytes != start_bytes or info_pb.range_length_bytes != length_bytes:
            raise Internal(f"get {self._bucket}/{self._key}: resumed at byte {start_bytes} but "
                           f"the node returned range {info_pb.range_start_bytes}"
                           f"+{info_pb.range_length_bytes}")

    def __iter__(self) -> Iterator[memoryview]:
        return self._chunks

    def read(self) -> bytes:
        """Every remaining byte of the range."""
        return b"".join(self._chunks)

    def readinto_file(self, fileobj: BinaryIO,
                      progress: Callable[[int], None] | None = None) -> int:
        """Write every remaining byte to `fileobj`; `progress(bytes_written_so_far)` per chunk."""
        written_bytes = 0
        for chunk in self._chunks:
            fileobj.write(chunk)
            written_bytes += chunk.nbytes
            if progress is not None:
                progress(written_bytes)
        return written_bytes

    def close(self) -> None:
        """Cancel the stream if it is still running."""
        if not self._closed:
            self._closed = True
            self._stop_call()
            self._chunks.close()

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------


class Client:
    """A connection to one Ringstore node. Thread-safe; close it (or use `with`) when done."""

    def __init__(self, *, address: str, timeout_s: float = 30.0, retries_max: int = 3,
                 retry_backoff_s: float = 0.2,
                 sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        parse_address(address)
        if not timeout_s > 0:
            raise InvalidArgument(f"timeout_s must be > 0, got {timeout_s!r}")
        if isinstance(retries_max, bool) or not 0 <= retries_max <= RETRIES_MAX_LIMIT:
            raise InvalidArgument(
                f"retries_max must be in 0..{RETRIES_MAX_LIMIT}, got {retries_max!r}")
        if not retry_backoff_s >= 0:
            raise InvalidArgument(f"retry_backoff_s must be >= 0, got {retry_backoff_s!r}")
        self.address = address
        self._timeout_s = timeout_s
        self._retries_max = retries_max
        self._retry_backoff_s = retry_backoff_s
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._channel = grpc.insecure_channel(
            address,
            options=[
                ("grpc.max_send_message_length", GRPC_MESSAGE_BYTES_MAX),
                ("grpc.max_receive_message_length", GRPC_MESSAGE_BYTES_MAX),
            ],
            compression=grpc.Compression.NoCompression,
        )
        self._objects = object_pb2_grpc.ObjectServiceStub(self._channel)
        self._admin = admin_pb2_grpc.AdminServiceStub(self._channel)
        self._put_rpc = self._channel.stream_unary(
            _OBJECT_SERVICE + "PutObject",
            request_serializer=frames.encode,
            response_deserializer=object_pb2.PutObjectResponse.FromString,
        )
        self._get_rpc = self._channel.unary_stream(
            _OBJECT_SERVICE + "GetObject",
            request_serializer=object_pb2.GetObjectRequest.SerializeToString,
            response_deserializer=frames.decoder(object_pb2.GetObjectResponse),
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    # -- plumbing ----------------------------------------------------------------------------

    def _retrying(self, once: Callable[[], Any], *, replayable: bool = True) -> Any:
        """once(), again after UNAVAILABLE while retries are left and the call can be replayed."""
        for attempt in range(self._retries_max + 1):
            try:
                return once()
            except Unavailable:
                if not replayable or attempt >= self._retries_max:
                    raise
            self._sleep(retry_backoff_s(self._retry_backoff_s, attempt, self._rng))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _unary(self, rpc: Callable[..., Any], request: Any, *, replayable: bool = True) -> Any:
        """One unary call under timeout_s; retried after UNAVAILABLE only when `replayable`."""
        call_name = type(request).__name__.removesuffix("Request")

        def once() -> Any:
            try:
                return rpc(request, timeout=self._timeout_s)
            except grpc.RpcError as err:
                raise rpc_error(err, call_name, self._timeout_s) from err

        return self._retrying(once, replayable=replayable)

    # -- buckets -----------------------------------------------------------------------------

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
        """Every bucket, sorted by name."""
        response = self._unary(self._objects.ListBuckets, object_pb2.ListBucketsRequest())
        return [bucket_info_from_pb(b) for b in response.buckets]

    # -- objects -----------------------------------------------------------------------------

    def put(self, bucket: str, key: str,
            data: bytes | bytearray | memoryview | BinaryIO | os.PathLike[str], *,
            replicas: int | None = None, ec: str | tuple[int, int] | None = None,
            content_type: str = "", metadata: Mapping[str, str] | None = None,
            progress: Callable[[int], None] | None = None) -> ObjectInfo:
        """Store `data` (bytes, a binary file read from its current position, or a path).

        `replicas` or `ec` ("K+M" or (K, M)), at most one, override the bucket's default policy.
        Streams FRAME_SIZE_BYTES frames and calls `progress(bytes_sent_so_far)` after each (from
        gRPC's sending thread). A file that cannot seek (a pipe) is read from that thread too: give
        an unbuffered one (`open(fd, "rb", buffering=0)`) if the process may exit while the read
        waits, since a buffered reader's lock held there aborts the interpreter at shutdown. Returns once the object is durable. The size is sent when known,
        so the node rejects a file that changes length mid-put.
        """
        validate_bucket(bucket)
        validate_key(key)
        policy = policy_pb(replicas, ec)
        metadata = dict(metadata or {})
        validate_put_fields(content_type, metadata)
        source = _PutSource(data)
        header = object_pb2.PutObjectHeader(
            bucket=bucket, key=key, content_type=content_type, metadata=metadata, policy=policy)
        if source.size_bytes is not None:
            header.size_bytes = source.size_bytes
        response = self._retrying(lambda: self._put_once(header, source, progress),
                                  replayable=source.replayable)
        return object_info_from_pb(response.object)

    def _put_once(self, header: object_pb2.PutObjectHeader, source: _PutSource,
                  progress: Callable[[int], None] | None) -> object_pb2.PutObjectResponse:
        """One PutObject call; errors come back as RingstoreError or the source's own exception."""
        started_s = time.monotonic()
        known_size = source.size_bytes is not None
        grpc_timeout_s = stream_deadline_s(self._timeout_s, source.size_bytes) if known_size else None
        # With an unknown size the deadline is "no progress for timeout_s".
        watchdog = None if known_size else _Watchdog(started_s + self._timeout_s)
        call_ready = threading.Event()
        call_box: list[Any] = []
        failures: list[BaseException] = []
        sent = [0]

        def requests() -> Iterator[object_pb2.PutObjectRequest | bytes | memoryview]:
            yield object_pb2.PutObjectRequest(header=header)
            hasher = blake3.blake3()
            try:
                for frame in source.frames():
                    hasher.update(frame)
                    yield frame
                    sent[0] += len(frame)
                    if watchdog is not None:
                        watchdog.move_to(time.monotonic() + self._timeout_s)
                    if progress is not None:
                        progress(sent[0])
            except Exception as exc:  # noqa: BLE001 - handed to the caller below
                # gRPC would log a traceback and report CANCELLED; keep the real error and
                # cancel ourselves so the node never sees a half-close (a short object).
                failures.append(exc)
                call_ready.wait()
                call_box[0].cancel()
                return
            # Only a stream that ends with this message is stored: the node checks the size and the
            # blake3 against what arrived, end to end.
            yield object_pb2.PutObjectRequest(end=object_pb2.PutObjectEnd(size_bytes=sent[0], blake3=hasher.digest()))

        call = self._put_rpc.future(requests(), timeout=grpc_timeout_s)
        call_box.append(call)
        call_ready.set()
        if watchdog is not None:
            watchdog.start(call)
        try:
            return call.result()
        except (grpc.RpcError, grpc.FutureCancelledError) as err:
            # A call we cancelled ourselves raises FutureCancelledError, not RpcError.
            if failures:
                raise failures[0] from None
            if watchdog is not None and watchdog.expired:
                raise DeadlineExceeded(
                    f"put {header.bucket}/{header.key}: no progress for {self._timeout_s:.1f} s "
                    f"({sent[0]} bytes sent): retry, or raise --timeout-s") from err
            if isinstance(err, grpc.RpcError):
                error = rpc_error(err, f"put {header.bucket}/{header.key}", grpc_timeout_s)
                if isinstance(error, Unavailable) and sent[0]:
                    # gRPC says "Socket closed" or "Stream removed": say what it means here.
                    error = Unavailable(
                        f"put {header.bucket}/{header.key}: the node at {self.address} went away "
                        f"after {sent[0]} bytes were sent ({error}); nothing was stored: put again")
                raise error from err
            raise RingstoreError(f"put {header.bucket}/{header.key}: cancelled",
                                 code=grpc.StatusCode.CANCELLED) from err
        except BaseException:
            call.cancel()  # KeyboardInterrupt and friends: do not leave the upload running
            raise
        finally:
            if watchdog is not None:
                watchdog.stop()

    def get(self, bucket: str, key: str, *, range_start_bytes: int | None = None,
            range_length_bytes: int | None = None) -> ObjectReader:
        """Start reading an object (or `range_length_bytes` from `range_start_bytes`).

        Raises at once if the object is missing or the range is bad; returns a reader whose
        `.info` is filled in and whose chunks are streamed as it is iterated.
        """
        validate_bucket(bucket)
        validate_key(key)
        validate_range(range_start_bytes, range_length_bytes)
        reader = ObjectReader(self, bucket, key, range_start_bytes, range_length_bytes)
        try:
            reader._open_first()
        except BaseException:
            reader.close()
            raise
        return reader

    def get_bytes(self, bucket: str, key: str, *, range_start_bytes: int | None = None,
                  range_length_bytes: int | None = None) -> bytes:
        """An object's bytes (or a range of them), whole, in memory."""
        with self.get(bucket, key, range_start_bytes=range_start_bytes,
                      range_length_bytes=range_length_bytes) as reader:
            return reader.read()

    def stat(self, bucket: str, key: str) -> ObjectStat:
        """The current version of an object and where each chunk's copies are."""
        validate_bucket(bucket)
        validate_key(key)
        response = self._unary(self._objects.StatObject,
                               object_pb2.StatObjectRequest(bucket=bucket, key=key))
        return object_stat_from_pb(response)

    def convert(self, bucket: str, key: str, *, replicas: int | None = None,
                ec: str | tuple[int, int] | None = None,
                progress: Callable[[ConvertProgress], None] | None = None) -> ConvertResult:
        """Rewrite an object's current version under `replicas` copies or `ec` ("K+M" or (K, M)).

        Exactly one of replicas and ec is required. `progress(ConvertProgress)` is called for each
        progress message the node sends. The node releases the old copies only once the new
        manifest is durable; an object that already has the policy comes back `unchanged`.
        Retried after UNAVAILABLE (from the start: the node's conversion is idempotent), so
        progress may start over and the counts are those of the last attempt.
        """
        validate_bucket(bucket)
        validate_key(key)
        policy = policy_pb(replicas, ec)
        if policy is None:
            raise InvalidArgument("convert needs a target policy: give replicas or ec")
        request = object_pb2.ConvertObjectRequest(bucket=bucket, key=key, policy=policy)
        return self._retrying(lambda: self._convert_once(request, progress))

    def _convert_once(self, request: object_pb2.ConvertObjectRequest,
                      progress: Callable[[ConvertProgress], None] | None) -> ConvertResult:
        """One ConvertObject call, under the moving deadline the module docstring describes."""
        name = f"{request.bucket}/{request.key}"
        expansion = expansion_ratio(request.policy)
        started_s = time.monotonic()
        deadline_s = started_s + self._timeout_s  # until the first message; only ever moves later
        watchdog = _Watchdog(deadline_s)
        call = self._objects.ConvertObject(request)
        watchdog.start(call)
        last: ConvertProgress | None = None
        try:
            for _ in range(CONVERT_MESSAGES_MAX):
                try:
                    message = next(call)
                except StopIteration:
                    raise Internal(f"convert {name}: the node ended the stream without a "
                                   "result") from None
                except grpc.RpcError as err:
                    if watchdog.expired:
                        done = (f"{last.chunks_done} of {last.chunks_total} chunks done"
                                if last is not None else "no progress reported")
                        raise DeadlineExceeded(
                            f"convert {name}: deadline exceeded after "
                            f"{time.monotonic() - started_s:.1f} s ({done})") from err
                    raise from_rpc_error(err) from err
                which = message.WhichOneof("msg")
                if which == "result":
                    return convert_result_from_pb(message.result)
                if which != "progress":
                    raise Internal(f"convert {name}: the node sent an empty stream message")
                current = convert_progress_from_pb(message.progress)
                moved = last is None or (current.chunks_done, current.bytes_done) > (
                    last.chunks_done, last.bytes_done)
                deadline_s = max(deadline_s, started_s + convert_deadline_s(
                    self._timeout_s, current.bytes_total, expansion))
                if moved:
                    deadline_s = max(deadline_s, time.monotonic() + self._timeout_s)
                watchdog.move_to(deadline_s)
                last = current
                if progress is not None:
                    progress(current)
            raise Internal(f"convert {name}: more than {CONVERT_MESSAGES_MAX} messages; stopped")
        finally:
            watchdog.stop()
            call.cancel()  # no-op once the stream has ended; ends it on an error or Ctrl-C

    def list_objects(self, bucket: str, *, prefix: str = "",
                     page_size: int = 1000) -> Iterator[ObjectInfo]:
        """Current objects whose key starts with `prefix`, in key order, fetched page by page."""
        pages = self.list(bucket, prefix=prefix, page_size=page_size)
        return (info for page in pages for info in page.objects)

    def delete(self, bucket: str, key: str) -> None:
        """Delete an object (the node writes a tombstone version)."""
        validate_bucket(bucket)
        validate_key(key)
        self._unary(self._objects.DeleteObject,
                    object_pb2.DeleteObjectRequest(bucket=bucket, key=key))

    def list(self, bucket: str, *, prefix: str = "", page_size: int = 1000) -> Iterator[ListPage]:
        """Pages of current objects whose key starts with `prefix`, in key order.

        Arguments are checked now; pages are fetched as the iterator is advanced.
        """
        validate_bucket(bucket)
        validate_prefix(prefix)
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not (
                1 <= page_size <= LIST_PAGE_SIZE_MAX):
            raise InvalidArgument(
                f"page_size must be in 1..{LIST_PAGE_SIZE_MAX}, got {page_size!r}")
        return self._pages(bucket, prefix, page_size)

    def _pages(self, bucket: str, prefix: str, page_size: int) -> Iterator[ListPage]:
        token = ""
        for _ in range(LIST_PAGES_MAX):
            request = object_pb2.ListObjectsRequest(
                bucket=bucket, prefix=prefix, page_size=page_size, page_token=token)
            response = self._unary(self._objects.ListObjects, request)
            page = ListPage(objects=[object_info_from_pb(o) for o in response.objects],
                            next_page_token=response.next_page_token)
            yield page
            if not page.next_page_token:
                return
            if page.next_page_token == token:
                raise Internal(f"list {bucket}: the node returned the same page token twice")
            token = page.next_page_token
        raise Internal(f"list {bucket}: more than {LIST_PAGES_MAX} pages; stopped")

    # -- cluster -----------------------------------------------------------------------------

    def cluster_status(self) -> ClusterStatus:
        """Members, states, ring shares and health as the connected node sees them."""
        response = self._unary(self._admin.GetClusterStatus, admin_pb2.GetClusterStatusRequest())
        return cluster_status_from_pb(response)

    def ring(self) -> RingInfo:
        """The ring's tokens and the fraction of the key space each node owns."""
        response = self._unary(self._admin.GetRing, admin_pb2.GetRingRequest())
        return RingInfo(
            tokens=[RingToken(token=t.token, node_id=t.node_id) for t in response.tokens],
            ownership=dict(response.ownership),
        )

    # -- repair, fsck and scrub ----------------------------------------------------------------
    # The answering node asks every ALIVE member too unless this_node_only is set, and names the
    # members that did not answer in `unreachable`: a partial answer is still an answer.

    def repair_status(self, *, this_node_only: bool = False) -> RepairStatus:
        """Repair debt by redundancy level, rate, ETA and unrepairable chunks, per node."""
        request = admin_pb2.GetRepairStatusRequest(this_node_only=this_node_only)
        response = self._unary(self._admin.GetRepairStatus, request)
        return RepairStatus(nodes=[node_repair_status_from_pb(n) for n in response.nodes],
                            unreachable=list(response.unreachable))

    def set_repair_config(self, *, repair_bandwidth_bytes_per_s: int | None = None,
                          repair_concurrency_max: int | None = None,
                          scrub_bandwidth_bytes_per_s: int | None = None,
                          this_node_only: bool = False) -> tuple[list[str], list[str]]:
        """Change repair and scrub throttles at run time; returns (nodes that applied it,
        unreachable members as "node-id: reason").

        Unset arguments keep their value; at least one is needed. repair_bandwidth_bytes_per_s 0
        means unthrottled. Not persisted: a node that restarts goes back to its config file.
        """
        _validate_uint("repair_bandwidth_bytes_per_s", repair_bandwidth_bytes_per_s, 0, UINT64_MAX)
        _validate_uint("repair_concurrency_max", repair_concurrency_max, 1, UINT32_MAX)
        _validate_uint("scrub_bandwidth_bytes_per_s", scrub_bandwidth_bytes_per_s, 1, UINT64_MAX)
        if (repair_bandwidth_bytes_per_s is None and repair_concurrency_max is None
                and scrub_bandwidth_bytes_per_s is None):
            raise InvalidArgument("set_repair_config needs at least one of "
                                  "repair_bandwidth_bytes_per_s, repair_concurrency_max and "
                                  "scrub_bandwidth_bytes_per_s")
        request = admin_pb2.SetRepairConfigRequest(
            repair_bandwidth_bytes_per_s=repair_bandwidth_bytes_per_s,
            repair_concurrency_max=repair_concurrency_max,
            scrub_bandwidth_bytes_per_s=scrub_bandwidth_bytes_per_s,
            this_node_only=this_node_only)
        response = self._unary(self._admin.SetRepairConfig, request)
        return list(response.node_ids), list(response.unreachable)

    def fsck(self, bucket: str | None = None, *, deep: bool = False,
             bandwidth_bytes_per_s: int = 0,
             progress: Callable[[FsckProgress], None] | None = None) -> FsckReport:
        """Audit every object (or only `bucket`'s): findings for chunks below full redundancy, and
        a summary that counts every chunk.

        `progress(FsckProgress)` is called for each progress message. Each message must arrive
        within timeout_s of the one before (a cluster-wide audit may take hours, a stalled node
        is noticed in timeout_s). Read-only, so retried from the start after UNAVAILABLE: progress
        may start over and the report is the last attempt's. At most FSCK_FINDINGS_MAX findings
        are kept; the rest are only counted in `findings_omitted`.

        `deep`: every holder reads each copy back and checks its blake3, at most
        `bandwidth_bytes_per_s` (0: each holder's scrub throttle), so a corrupt copy counts as
        missing; a progress message comes every few chunks.
        """
        if bucket is not None:
            validate_bucket(bucket)
        if isinstance(bandwidth_bytes_per_s, bool) or not isinstance(bandwidth_bytes_per_s, int) \
                or bandwidth_bytes_per_s < 0:
            raise InvalidArgument(
                f"bandwidth_bytes_per_s must be an integer >= 0, got {bandwidth_bytes_per_s!r}")
        if bandwidth_bytes_per_s and not deep:
            raise InvalidArgument("bandwidth_bytes_per_s limits a deep audit's reads: pass deep=True")
        request = admin_pb2.FsckRequest(bucket=bucket or "", deep=deep,
                                        bandwidth_bytes_per_s=bandwidth_bytes_per_s)
        return self._retrying(lambda: self._fsck_once(request, progress))

    def _fsck_once(self, request: admin_pb2.FsckRequest,
                   progress: Callable[[FsckProgress], None] | None) -> FsckReport:
        """One Fsck call; the watchdog allows timeout_s from each message to the next."""
        name = f"fsck {request.bucket}" if request.bucket else "fsck"
        started_s = time.monotonic()
        watchdog = _Watchdog(started_s + self._timeout_s)
        call = self._admin.Fsck(request)
        watchdog.start(call)
        findings: list[FsckFinding] = []
        metadata_findings: list[FsckMetadataFinding] = []
        omitted = 0
        last: FsckProgress | None = None
        try:
            for _ in range(FSCK_MESSAGES_MAX):
                try:
                    message = next(call)
                except StopIteration:
                    raise Internal(f"{name}: the node ended the stream without a summary") from None
                except grpc.RpcError as err:
                    if watchdog.expired:
                        done = (f"{last.objects_checked} objects checked" if last is not None
                                else "no progress reported")
                        raise DeadlineExceeded(
                            f"{name}: no message from the node for {self._timeout_s:.1f} s, "
                            f"{time.monotonic() - started_s:.1f} s in ({done}); "
                            "raise --timeout-s if the node is busy") from err
                    raise from_rpc_error(err) from err
                watchdog.move_to(time.monotonic() + self._timeout_s)
                which = message.WhichOneof("msg")
                if which == "summary":
                    return FsckReport(findings=findings,
                                      summary=fsck_summary_from_pb(message.summary),
                                      findings_omitted=omitted, metadata_findings=metadata_findings)
                if which == "finding":
                    if len(findings) < FSCK_FINDINGS_MAX:
                        findings.append(fsck_finding_from_pb(message.finding))
                    else:
                        omitted += 1
                elif which == "metadata_finding":
                    if len(metadata_findings) < FSCK_FINDINGS_MAX:
                        m = message.metadata_finding
                        metadata_findings.append(FsckMetadataFinding(
                            bucket=m.bucket, key=m.key, node_id=m.node_id, corrupt=m.corrupt,
                            detail=m.detail))
                    else:
                        omitted += 1
                elif which == "progress":
                    last = fsck_progress_from_pb(message.progress)
                    if progress is not None:
                        progress(last)
                else:
                    raise Internal(f"{name}: the node sent an empty stream message")
            raise Internal(f"{name}: more than {FSCK_MESSAGES_MAX} messages; stopped")
        finally:
            watchdog.stop()
            call.cancel()  # no-op once the stream has ended; ends it on an error or Ctrl-C

    def start_scrub(self, *, this_node_only: bool = False) -> tuple[list[str], list[str]]:
        """Start a scrub pass now; returns (nodes that started one or already had one running,
        unreachable members as "node-id: reason")."""
        response = self._unary(self._admin.StartScrub,
                               admin_pb2.StartScrubRequest(this_node_only=this_node_only))
        return list(response.node_ids), list(response.unreachable)

    def scrub_status(self, *, this_node_only: bool = False) -> ScrubStatus:
        """Scrub progress and corrupt copies found, per node."""
        response = self._unary(self._admin.GetScrubStatus,
                               admin_pb2.GetScrubStatusRequest(this_node_only=this_node_only))
        return scrub_status_from_pb(response)

    # -- node operations and ring plans --------------------------------------------------------

    def node_status(self, node_id: str = "") -> NodeStatus:
        """One node's state, drain and maintenance flags, what it holds and its disk; the
        connected node's own when `node_id` is empty."""
        if node_id:
            validate_node_id(node_id)
        response = self._unary(self._admin.GetNodeStatus,
                               admin_pb2.GetNodeStatusRequest(node_id=node_id))
        return node_status_from_pb(response)

    def drain_node(self, node_id: str, *, cancel: bool = False) -> NodeStatus:
        """Start draining `node_id` (it leaves the ring at once, repair moves its data to the
        nodes that now own it, and it turns LEFT by itself once it holds nothing), or with
        `cancel` stop it (the node rejoins the ring; what already moved stays moved).

        Returns the node's status just after. Not retried. The node refuses (FailedPrecondition)
        when it is not ALIVE, has LEFT, or the ring left behind would be too small for some policy.
        """
        validate_node_id(node_id)
        response = self._unary(self._admin.DrainNode,
                               admin_pb2.DrainNodeRequest(node_id=node_id, cancel=cancel),
                               replayable=False)
        return node_status_from_pb(response)

    def set_maintenance(self, node_id: str, duration_s: int) -> NodeStatus:
        """Put `node_id` in maintenance for `duration_s` seconds from now (at most
        MAINTENANCE_S_MAX), during which DOWN does not turn OUT; 0 ends it. The node must be ALIVE
        (the window rides on its own record). Returns its status just after. Not retried."""
        validate_node_id(node_id)
        _validate_uint("duration_s", duration_s, 0, MAINTENANCE_S_MAX)
        response = self._unary(self._admin.SetMaintenance,
                               admin_pb2.SetMaintenanceRequest(node_id=node_id,
                                                               duration_s=duration_s),
                               replayable=False)
        return node_status_from_pb(response)

    def plan_ring(self, change: str, node_id: str, *, zone: str = "", capacity_bytes: int = 0,
                  this_node_only: bool = False) -> RingPlan:
        """What `change` ("add" or "drain") of `node_id` would move, by source and target, before
        anything moves. For "add", `zone` and `capacity_bytes` describe the new node (capacity 0:
        the median of the ring's members)."""
        if change not in PLAN_CHANGES:
            raise InvalidArgument(f"ring plan change {change!r} is not one of "
                                  f"{', '.join(sorted(PLAN_CHANGES))}")
        validate_node_id(node_id)
        if change != "add" and (zone or capacity_bytes):
            raise InvalidArgument("zone and capacity_bytes describe a node being added; a drain "
                                  "plan takes neither")
        if not isinstance(zone, str) or len(zone) > ZONE_LENGTH_MAX:
            raise InvalidArgument(f"zone must be a string of at most {ZONE_LENGTH_MAX} characters, "
                                  f"got {_quoted(zone) if isinstance(zone, str) else zone!r}")
        _validate_uint("capacity_bytes", capacity_bytes, 0, UINT64_MAX)
        request = admin_pb2.PlanRingRequest(change=PLAN_CHANGES[change], node_id=node_id,
                                            zone=zone, capacity_bytes=capacity_bytes,
                                            this_node_only=this_node_only)
        return ring_plan_from_pb(change, node_id, self._unary(self._admin.PlanRing, request))
