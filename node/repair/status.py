"""The wire form of repair and scrub status (`nodectl repair status`, `nodectl scrub status`)."""

from __future__ import annotations

import dataclasses

from node.repair.repairer import RepairStatus
from node.repair.scrub import ScrubStatus
from ringstore.v1 import admin_pb2


def repair_status_pb(node_id: str, status: RepairStatus) -> admin_pb2.NodeRepairStatus:
    reply = admin_pb2.NodeRepairStatus(
        node_id=node_id, chunks_below_full=status.chunks_below_full, bytes_left=status.bytes_left,
        rate_bytes_per_s=status.rate_bytes_per_s, eta_s=status.eta_s,
        bytes_repaired_total=status.bytes_repaired_total, copies_repaired_total=status.copies_repaired_total,
        chunks_misplaced=status.chunks_misplaced, copies_dropped_total=status.copies_dropped_total,
        last_scan_unix_ms=status.last_scan_unix_ms, last_scan_s=status.last_scan_s,
        chunks_responsible=status.chunks_responsible,
        repair_bandwidth_bytes_per_s=status.repair_bandwidth_bytes_per_s,
        repair_concurrency_max=status.repair_concurrency_max, queued=status.queued)
    for level in status.levels:
        reply.levels.add(policy=level.policy, copies_present=level.present, copies_wanted=level.wanted,
                         copies_needed=level.needed, chunks=level.chunks, bytes_missing=level.bytes_missing)
    for chunk_id, failure in status.unrepairable:
        reply.unrepairable.add(chunk_id=chunk_id, policy=failure.policy, reason=failure.reason,
                               attempts=failure.attempts, last_attempt_unix_ms=failure.last_attempt_unix_ms)
    return reply


def scrub_status_pb(node_id: str, status: ScrubStatus) -> admin_pb2.NodeScrubStatus:
    return admin_pb2.NodeScrubStatus(node_id=node_id, **dataclasses.asdict(status))
