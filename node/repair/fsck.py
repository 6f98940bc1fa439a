"""`nodectl fsck`: audit every object of the cluster, chunk by chunk.

For each current object version (every bucket, every key, through the same quorum listing `ls`
uses) and each of its chunks: find the placement record, ask every live node concerned (the
chunk's homes and the holders the record names) whether it holds each copy or share (HasChunk, no
data read), and classify the chunk with the same planner repair uses: full (every copy or share on
an ALIVE node), degraded (fewer, but readable), unreadable (fewer than 1 copy or K shares on ALIVE
nodes), and misplaced (full, but not every copy on its home yet). Only presence in a holder's index
is checked here; whether the bytes are intact is scrub's job (`nodectl scrub`), which re-reads them.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Iterator

from node.objects.coordinator import Coordinator
from node.objects.replicas import ClusterView, HolderError, Replicas
from node.repair.plan import Layout, plan_layout, recorded_slots
from node.ring import chunk_position
from ringstore.v1 import admin_pb2

# Objects listed per page while auditing.
FSCK_PAGE_SIZE = 500
# A progress message goes out after this many chunks.
PROGRESS_EVERY_CHUNKS = 64


def fsck(coordinator: Coordinator, view: ClusterView, replicas: Replicas, pool: cf.Executor,
         bucket: str = "") -> Iterator[admin_pb2.FsckResponse]:
    summary = admin_pb2.FsckSummary()
    buckets = [coordinator.bucket(bucket)] if bucket else coordinator.list_buckets()
    since_progress = 0
    for record in buckets:
        summary.buckets_checked += 1
        token = ""
        while True:
            page, token = coordinator.list_objects(record.name, "", FSCK_PAGE_SIZE, token)
            for manifest in page:
                summary.objects_checked += 1
                summary.bytes_checked += manifest.size_bytes
                for ref in manifest.chunks:
                    summary.chunks_checked += 1
                    finding = _check_chunk(coordinator, view, replicas, pool, manifest, ref)
                    if finding is None:
                        summary.chunks_full += 1
                    elif finding == "misplaced":
                        summary.chunks_full += 1
                        summary.chunks_misplaced += 1
                    else:
                        if finding.unreadable:
                            summary.chunks_unreadable += 1
                        else:
                            summary.chunks_degraded += 1
                        yield admin_pb2.FsckResponse(finding=finding)
                    since_progress += 1
                    if since_progress >= PROGRESS_EVERY_CHUNKS:
                        since_progress = 0
                        yield admin_pb2.FsckResponse(progress=admin_pb2.FsckProgress(
                            objects_checked=summary.objects_checked, chunks_checked=summary.chunks_checked,
                            bytes_checked=summary.bytes_checked))
            if not token:
                break
    yield admin_pb2.FsckResponse(summary=summary)


def _check_chunk(coordinator: Coordinator, view: ClusterView, replicas: Replicas, pool: cf.Executor,
                 manifest, ref) -> admin_pb2.FsckFinding | str | None:
    record = coordinator.chunk_placement(ref, manifest.policy)
    layout = Layout.of_policy(bytes(ref.chunk_id), ref.size_bytes, manifest.policy)
    order = view.ring().ordered_nodes(chunk_position(layout.chunk_id))
    named = [h.node_id for h in (record.holders if record is not None else ())]
    involved = sorted({n for n in list(order[:layout.wanted]) + named if view.is_live(n)})
    keys = layout.probe_keys()
    futures = {pool.submit(replicas.has_shares, node, keys): node for node in involved}
    present = []
    unanswered = []
    for future, node in futures.items():
        try:
            flags = future.result()
        except HolderError as err:
            unanswered.append(f"{node} did not answer ({err.kind.replace('_', ' ')})")
            continue
        present.extend((key.share_index or 0, node) for key, ok in zip(keys, flags) if ok)
    recorded = recorded_slots(record, layout) if record is not None else []
    plan = plan_layout(layout, order, view.is_live, present, recorded)
    if not plan.below_full:
        return "misplaced" if not plan.complete else None
    missing = []
    if layout.erasure:
        for slot in range(layout.wanted):
            if not any(view.is_live(n) for n in plan.held.get(slot, ())):
                where = plan.targets[slot] if slot < len(plan.targets) else None
                missing.append(f"share {slot} missing" + (f" (home {where}, {view.state_name(where)})"
                                                          if where else ""))
    else:
        have = sorted(n for n in plan.held.get(0, ()) if view.is_live(n))
        missing.append(f"copies on {', '.join(have) or 'no ALIVE node'}")
        lacking = [h for h in plan.homes if h not in have]
        if lacking:
            missing.append("missing on " + ", ".join(f"{h} ({view.state_name(h)})" for h in lacking))
    detail = "; ".join(missing + unanswered)
    return admin_pb2.FsckFinding(
        bucket=manifest.bucket, key=manifest.key, chunk_id=layout.chunk_id, offset_bytes=ref.offset_bytes,
        policy=layout.policy_text, copies_present=plan.present, copies_wanted=layout.wanted,
        copies_needed=layout.needed, unreadable=plan.present < layout.needed, detail=detail)
