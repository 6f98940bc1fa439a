"""Wire messages to plain results: one `*_from_pb` per reply message, and the text forms they share.

Kept apart from the calls so that each converter is a pure function a test can feed a message, and
so the results module stays free of wire types. The text forms are the ones results and the CLI
show: a version is "physical_ms.logical.node_id" (then "+rN" after N conversions), a policy
"replicas=N" or "ec=K+M", a member state its name without the MEMBER_STATE_ prefix, and the wire's
-1 for an unknown ETA is None.
"""

from __future__ import annotations

import math

from ringstore.etag import etag
from ringstore.v1 import admin_pb2, common_pb2, membership_pb2, object_pb2

from nodectl.client.results import (
    BucketAccess,
    BucketInfo,
    BucketUsage,
    Quota,
    ChunkStatus,
    ClusterStatus,
    ConvertProgress,
    ConvertResult,
    FsckFinding,
    FsckProgress,
    FsckSummary,
    Handover,
    HolderStatus,
    Member,
    MemberStatus,
    NodeHandover,
    NodeRepairStatus,
    NodeScrubStatus,
    NodeStatus,
    ObjectInfo,
    ObjectStat,
    RedundancyLevel,
    RingMove,
    RingPlan,
    ScrubStatus,
    UnrepairableChunk,
    UsagePart,
)


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
        chunks_blake3_hex=pb.chunks_blake3.hex(),
        encryption="aes256-gcm" if pb.encryption == common_pb2.ENCRYPTION_AES256_GCM else "",
        version=version_text(pb.version),
        content_type=pb.content_type,
        metadata=dict(pb.metadata),
        replicas=_policy_replicas(pb.policy),
        chunk_count=pb.chunk_count,
        created_at_unix_ms=pb.created_at_unix_ms,
        inline=pb.inline,
        policy=policy_text(pb.policy),
        ec=_policy_ec(pb.policy),
        etag=etag(pb.md5, pb.part_count, pb.blake3, pb.chunks_blake3),
        headers=dict(pb.headers),
        version_id=pb.version_id,
        is_latest=pb.is_latest,
        delete_marker=pb.delete_marker,
        written_by=pb.written_by,
        expires_at_unix_ms=pb.expires_at_unix_ms,
        tags=dict(sorted(pb.tags.items())),
        read_at_unix_ms=pb.read_at_unix_ms,
    )


def bucket_info_from_pb(pb: common_pb2.BucketRecord) -> BucketInfo:
    """The plain BucketInfo of a wire BucketRecord."""
    return BucketInfo(
        name=pb.name,
        replicas=_policy_replicas(pb.default_policy),
        created_at_unix_ms=pb.created_at_unix_ms,
        policy=policy_text(pb.default_policy),
        ec=_policy_ec(pb.default_policy),
        owner=pb.owner,
        versioning=versioning_text(pb.versioning),
        tags=dict(sorted(pb.tags.items())),
        compression="zstd" if pb.compression == common_pb2.COMPRESSION_ZSTD else "none",
        encryption="aes256-gcm" if pb.encryption == common_pb2.ENCRYPTION_AES256_GCM else "none",
    )


def versioning_text(state: int) -> str:
    """"unversioned", "enabled" or "suspended"."""
    return {common_pb2.VERSIONING_ENABLED: "enabled",
            common_pb2.VERSIONING_SUSPENDED: "suspended"}.get(state, "unversioned")


def bucket_access_from_pb(pb: object_pb2.BucketAccess) -> BucketAccess:
    return BucketAccess(bucket=pb.bucket, owner=pb.owner, grants=dict(sorted(pb.grants.items())),
                        public_read=pb.public_read)


def quota_from_pb(pb: common_pb2.Quota) -> Quota:
    return Quota(bytes=pb.bytes, objects=pb.objects)


def bucket_usage_from_pb(pb: object_pb2.BucketUsage) -> BucketUsage:
    return BucketUsage(bucket=pb.bucket, owner=pb.owner, objects=pb.objects, logical_bytes=pb.logical_bytes,
                       physical_bytes=pb.physical_bytes, tombstones=pb.tombstones, quota=quota_from_pb(pb.quota),
                       upload_bytes=pb.upload_bytes, noncurrent_versions=pb.noncurrent_versions,
                       noncurrent_bytes=pb.noncurrent_bytes, dedup_saved_bytes=pb.dedup_saved_bytes,
                       breakdown=[UsagePart(name=p.name, objects=p.objects, logical_bytes=p.logical_bytes,
                                            physical_bytes=p.physical_bytes, noncurrent_versions=p.noncurrent_versions,
                                            noncurrent_bytes=p.noncurrent_bytes) for p in pb.breakdown])


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
            tls_not_after_unix_ms=m.member.tls_not_after_unix_ms,
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
            compression="zstd" if c.chunk.compression == common_pb2.COMPRESSION_ZSTD else "",
            plain_blake3_hex=c.chunk.plain_blake3.hex(),
            plain_size_bytes=c.chunk.plain_size_bytes,
            encryption="aes256-gcm" if c.chunk.encryption == common_pb2.ENCRYPTION_AES256_GCM else "",
            data_key_id=c.chunk.data_key_id,
        )
        for c in pb.chunks
    ]
    return ObjectStat(info=object_info_from_pb(pb.object), chunks=chunks,
                      physical_bytes=pb.physical_bytes, stored_bytes=pb.stored_bytes,
                      compressed_chunks=pb.compressed_chunks, encrypted_chunks=pb.encrypted_chunks)


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


def _known_eta_s(eta_s: float) -> float | None:
    """The wire's eta_s (-1 for unknown) as seconds or None."""
    return eta_s if eta_s >= 0 and math.isfinite(eta_s) else None


def handover_from_pb(pb: admin_pb2.GetHandoverResponse) -> Handover:
    """The plain Handover of a wire GetHandoverResponse."""
    return Handover(nodes=[NodeHandover(
        node_id=n.node_id, ring_fingerprint=n.ring_fingerprint, synced_ring_fingerprint=n.synced_ring_fingerprint,
        current_ring_fingerprint=n.current_ring_fingerprint, partitions_held=n.partitions_held,
        partitions_pending=n.partitions_pending, partitions_waiting=n.partitions_waiting,
        last_pass_unix_ms=n.last_pass_unix_ms, metadata_ok=n.metadata_ok) for n in pb.nodes],
        unreachable=list(pb.unreachable))


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
        metadata_replicas_corrupt=pb.metadata_replicas_corrupt,
        usage_counters_checked=pb.usage_counters_checked,
        usage_counters_disagreeing=pb.usage_counters_disagreeing,
        noncurrent_versions_checked=pb.noncurrent_versions_checked,
        dedup_counters_checked=pb.dedup_counters_checked, dedup_counters_disagreeing=pb.dedup_counters_disagreeing,
        dedup_saved_bytes=pb.dedup_saved_bytes)


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
        disk_full_ratio=pb.disk_full_ratio, disk_free_bytes_min=pb.disk_free_bytes_min,
        tombstones_held=pb.tombstones_held, oldest_tombstone_age_s=pb.oldest_tombstone_age_s,
        master_key_ids=list(pb.master_key_ids))


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
