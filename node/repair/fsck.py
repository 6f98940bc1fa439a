"""`nodectl fsck`: audit every object of the cluster, a page of objects at a time.

For each current object version (every bucket, every key, through the same quorum listing `ls`
uses) and each of its chunks: find the placement record, ask every live node concerned (the
chunk's homes and the holders the record names) whether it holds each copy or share (HasChunk, no
data read; one batched call per node for a whole page of objects), and classify the chunk with the same planner repair uses: full (every copy or share on
an ALIVE node), degraded (fewer, but readable), unreadable (fewer than 1 copy or K shares on ALIVE
nodes), and misplaced (full, but not every copy on its home yet). A holder checks its index entry and
stats the file; whether the bytes are intact is scrub's job (`nodectl scrub`), or this audit's with
`--deep`: then each holder reads every copy back against its blake3 at a bandwidth limit (its scrub
throttle, or the rate asked), a few copies per call (`replicas.DEEP_PROBE_SHARES_MAX`), and a corrupt
copy counts as missing (the holder quarantines it, so repair rebuilds it). Rejected: fetching the
copies to the auditing node to hash them there, which moves every byte over the network to check
what its holder can check in place.

Metadata replicas too: for each page of objects, every ALIVE metadata home of the bucket is asked
for its manifests over the page's key range (one ListManifests per home per page, not a call per
object); a home whose manifest of an object is absent or older than the current version counts as
missing, one whose listing fails with DATA_LOSS (a record failed its checksum) is asked key by key
so each corrupt record, and each key it cannot answer for yet (being refilled after damage), is
named. DOWN homes are not asked: their chunks show as degraded already, and what they miss is
repaired when they come back.

Usage counters last: once a bucket is audited, each ALIVE home's usage record of it (what quotas and
`nodectl usage` read, node/store/usage.py) is compared with the objects and logical bytes the audit
counted; a home that disagrees is a usage finding. Puts and deletes during the audit make findings
too, so audit a quiet bucket when the counters are what you want to check. Then each live ring
member's deduplication savings records (node/store/savings.py) are compared with the same counted
again from its reference rows (one walk of them on each member, no data read); a record that
disagrees is a usage finding too, and the summary carries what deduplication saves.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Iterator

from node import errors
from node.hlc import stamp_key
from node.objects.coordinator import Coordinator
from node.objects.replicas import ClusterView, HolderError, Replicas, probe_holders
from node.repair.plan import Layout, plan_layout, recorded_slots
from node.ring import chunk_position
from node.store import ShareKey
from ringstore.v1 import admin_pb2, common_pb2, peer_pb2

# Objects listed per page while auditing.
FSCK_PAGE_SIZE = 500
# A progress message goes out after this many chunks.
PROGRESS_EVERY_CHUNKS = 64
# Chunks probed together: one HasChunk call per node concerned covers them all.
PROBE_BATCH_CHUNKS = 512
# Chunks per batch, and between progress messages, of a deep audit: each holder reads up to this
# many chunks' copies per batch at the throttle's rate, and the client allows its --timeout-s
# between two messages (8 default 4 MiB chunks at the default 20 MiB/s scrub rate: under 2 s).
DEEP_BATCH_CHUNKS = 8
# Placement lookups in flight at once, on the send pool that puts share.
LOOKUPS_INFLIGHT_MAX = 16


def fsck(coordinator: Coordinator, view: ClusterView, replicas: Replicas, pool: cf.Executor,
         bucket: str = "", *, deep_bandwidth_bytes_per_s: int | None = None
         ) -> Iterator[admin_pb2.FsckResponse]:
    """Audit `bucket` (every bucket when empty). With deep_bandwidth_bytes_per_s (0: each holder's
    scrub throttle), holders read every copy back and check its blake3 at that rate, so a corrupt
    copy counts as missing (and is quarantined, for repair to rebuild)."""
    summary = admin_pb2.FsckSummary()
    buckets = [coordinator.bucket(bucket)] if bucket else coordinator.list_buckets()
    since_progress = 0
    progress_every = PROGRESS_EVERY_CHUNKS if deep_bandwidth_bytes_per_s is None else DEEP_BATCH_CHUNKS
    for record in buckets:
        summary.buckets_checked += 1
        token = ""
        after = ""
        homes = coordinator.metadata_homes(record.name)
        audited_objects = audited_bytes = 0
        while True:
            page, token = coordinator.list_objects(record.name, "", FSCK_PAGE_SIZE, token)
            for finding in _check_metadata(coordinator.tenant, record.name, homes, view, replicas, pool,
                                           page, after):
                if finding.corrupt:
                    summary.metadata_replicas_corrupt += 1
                else:
                    summary.metadata_replicas_missing += 1
                yield admin_pb2.FsckResponse(metadata_finding=finding)
            if page:
                after = page[-1].key
            items = [(manifest, ref) for manifest in page for ref in manifest.chunks]
            findings = _check_chunks(coordinator, view, replicas, pool, items, deep_bandwidth_bytes_per_s)
            for manifest in page:
                summary.objects_checked += 1
                summary.bytes_checked += manifest.size_bytes
                for _ in manifest.chunks:
                    summary.chunks_checked += 1
                    finding = next(findings)
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
                    if since_progress >= progress_every:
                        since_progress = 0
                        yield admin_pb2.FsckResponse(progress=admin_pb2.FsckProgress(
                            objects_checked=summary.objects_checked, chunks_checked=summary.chunks_checked,
                            bytes_checked=summary.bytes_checked))
            audited_objects += len(page)
            audited_bytes += sum(manifest.size_bytes for manifest in page)
            if not token:
                break
        if record.versioning != common_pb2.VERSIONING_UNSPECIFIED:
            yield from _check_noncurrent(coordinator, view, replicas, pool, record.name, summary,
                                         deep_bandwidth_bytes_per_s)
        for finding in _check_usage(coordinator, record.name, audited_objects, audited_bytes, summary):
            yield admin_pb2.FsckResponse(usage_finding=finding)
    for finding in _check_savings(coordinator, bucket, summary):
        yield admin_pb2.FsckResponse(usage_finding=finding)
    yield admin_pb2.FsckResponse(summary=summary)


def _check_noncurrent(coordinator: Coordinator, view: ClusterView, replicas: Replicas, pool: cf.Executor,
                      bucket: str, summary: admin_pb2.FsckSummary, deep_bandwidth_bytes_per_s: int | None
                      ) -> Iterator[admin_pb2.FsckResponse]:
    """The chunks of every version kept behind a current one (node/store/versions.py): they are
    repaired and scrubbed like current ones, and audited here like them."""
    token = ""
    while True:
        page, token = coordinator.list_versions(bucket, "", FSCK_PAGE_SIZE, token)
        kept = [manifest for manifest, latest in page if not latest and not manifest.tombstone]
        items = [(manifest, ref) for manifest in kept for ref in manifest.chunks]
        findings = _check_chunks(coordinator, view, replicas, pool, items, deep_bandwidth_bytes_per_s)
        for manifest in kept:
            summary.noncurrent_versions_checked += 1
            for _ in manifest.chunks:
                summary.chunks_checked += 1
                finding = next(findings)
                if finding is None or finding == "misplaced":
                    summary.chunks_full += 1
                    summary.chunks_misplaced += finding == "misplaced"
                elif finding.unreadable:
                    summary.chunks_unreadable += 1
                    yield admin_pb2.FsckResponse(finding=finding)
                else:
                    summary.chunks_degraded += 1
                    yield admin_pb2.FsckResponse(finding=finding)
        if not token:
            return


def _check_usage(coordinator: Coordinator, bucket: str, objects: int, logical_bytes: int,
                 summary: admin_pb2.FsckSummary) -> list[admin_pb2.FsckUsageFinding]:
    """Each live home's usage counters of the bucket against what the audit counted."""
    try:
        _, answers = coordinator.bucket_usage(bucket)
    except errors.Unavailable:
        return []  # too few homes to read; their objects were reported above
    findings = []
    for node_id, counted in sorted(answers, key=lambda answer: answer[0]):
        summary.usage_counters_checked += 1
        if (counted.objects, counted.logical_bytes) != (objects, logical_bytes):
            summary.usage_counters_disagreeing += 1
            findings.append(admin_pb2.FsckUsageFinding(
                bucket=bucket, node_id=node_id, counted_objects=counted.objects,
                counted_logical_bytes=counted.logical_bytes, audited_objects=objects,
                audited_logical_bytes=logical_bytes))
    return findings


def _check_savings(coordinator: Coordinator, bucket: str, summary: admin_pb2.FsckSummary
                   ) -> list[admin_pb2.FsckUsageFinding]:
    """Each live member's deduplication savings records (its own, and each bucket's; `bucket`'s
    alone when one was audited) against the same counted again from its reference rows."""
    answers, _ = coordinator.dedup_savings(audit=True)
    findings = []
    for node_id, reply in sorted(answers, key=lambda answer: answer[0]):
        counted = {(e.bucket, e.everything): e.record.saved_bytes for e in reply.entries
                   if e.everything or e.tenant == coordinator.tenant}
        audited = {(e.bucket, e.everything): e.record.saved_bytes for e in reply.audited
                   if e.everything or e.tenant == coordinator.tenant}
        summary.dedup_saved_bytes += counted.get(("", True), 0)
        for name, everything in sorted(counted.keys() | audited.keys()):
            if bucket and (everything or name != bucket):
                continue
            summary.dedup_counters_checked += 1
            said, found = counted.get((name, everything), 0), audited.get((name, everything), 0)
            if said != found:
                summary.dedup_counters_disagreeing += 1
                findings.append(admin_pb2.FsckUsageFinding(bucket=name, node_id=node_id, dedup=True,
                                                           counted_saved_bytes=said, audited_saved_bytes=found))
    return findings


def _check_metadata(tenant: str, bucket: str, homes: list[str], view: ClusterView, replicas: Replicas,
                    pool: cf.Executor, page: list[common_pb2.Manifest], after: str
                    ) -> list[admin_pb2.FsckMetadataFinding]:
    """The page's objects against each ALIVE metadata home's manifests (see the module docstring)."""
    if not page:
        return []
    live = [node for node in homes if view.is_live(node)]
    answers = dict(zip(live, pool.map(lambda node: _home_manifests(tenant, bucket, node, replicas, page, after),
                                      live)))
    findings = []
    for manifest in page:
        for node in live:
            held = answers[node].get(manifest.key)
            if isinstance(held, HolderError):
                findings.append(admin_pb2.FsckMetadataFinding(
                    bucket=bucket, key=manifest.key, node_id=node, corrupt=held.kind == "corrupt",
                    detail=held.detail))
            elif held is None or stamp_key(held.version) < stamp_key(manifest.version):
                findings.append(admin_pb2.FsckMetadataFinding(
                    bucket=bucket, key=manifest.key, node_id=node, corrupt=False,
                    detail="no manifest" if held is None else "an older version only"))
    return findings


def _home_manifests(tenant: str, bucket: str, node: str, replicas: Replicas, page: list[common_pb2.Manifest],
                    after: str) -> dict[str, common_pb2.Manifest | HolderError]:
    """key -> the home's manifest (or its error for that key) for the page's key range: listed in
    pages of the page's size; when a listing fails, key by key."""
    last = page[-1].key
    found: dict[str, common_pb2.Manifest | HolderError] = {}
    start_after = after
    try:
        while True:
            request = peer_pb2.ListManifestsRequest(tenant=tenant, bucket=bucket, start_after=start_after,
                                                    limit=max(len(page), 1))
            listed, truncated = replicas.list_manifests(node, request)
            for manifest in listed:
                found[manifest.key] = manifest
            if not truncated or not listed or listed[-1].key >= last:
                return found
            start_after = listed[-1].key
    except HolderError:
        pass
    found = {}
    for manifest in page:
        try:
            held = replicas.get_manifest(node, tenant, bucket, manifest.key)
        except HolderError as err:
            found[manifest.key] = err
            continue
        if held is not None:
            found[manifest.key] = held
    return found


def _check_chunks(coordinator: Coordinator, view: ClusterView, replicas: Replicas, pool: cf.Executor,
                  items: list[tuple[common_pb2.Manifest, common_pb2.ChunkRef]],
                  deep_bandwidth_bytes_per_s: int | None) -> Iterator[admin_pb2.FsckFinding | str | None]:
    """A page's chunks, in order, PROBE_BATCH_CHUNKS at a time: their placement records looked up
    LOOKUPS_INFLIGHT_MAX at a time, then one batched HasChunk probe per node concerned for the whole
    batch (not one round of calls per chunk)."""
    batch = PROBE_BATCH_CHUNKS if deep_bandwidth_bytes_per_s is None else DEEP_BATCH_CHUNKS
    for start in range(0, len(items), batch):
        yield from _check_batch(coordinator, view, replicas, pool, items[start:start + batch],
                                deep_bandwidth_bytes_per_s)


def _check_batch(coordinator: Coordinator, view: ClusterView, replicas: Replicas, pool: cf.Executor,
                 items: list[tuple[common_pb2.Manifest, common_pb2.ChunkRef]],
                 deep_bandwidth_bytes_per_s: int | None) -> list[admin_pb2.FsckFinding | str | None]:
    records: list[common_pb2.PlacementRecord | None] = []
    for start in range(0, len(items), LOOKUPS_INFLIGHT_MAX):
        records.extend(pool.map(lambda item: coordinator.chunk_placement(item[1], item[0].policy),
                                items[start:start + LOOKUPS_INFLIGHT_MAX]))
    ring = view.ring()  # one ring for the whole batch, as the repair scan does
    chunks = []
    asks: dict[str, set[ShareKey]] = {}
    for (manifest, ref), record in zip(items, records):
        layout = Layout.of_policy(bytes(ref.chunk_id), ref.size_bytes, manifest.policy)
        order = ring.ordered_nodes(chunk_position(layout.chunk_id))
        named = [h.node_id for h in (record.holders if record is not None else ())]
        involved = sorted({n for n in list(order[:layout.wanted]) + named if view.is_live(n)})
        for node in involved:
            asks.setdefault(node, set()).update(layout.probe_keys())
        chunks.append((manifest, ref, record, layout, order, involved))
    answers, failures = probe_holders(replicas, asks, pool,
                                      deep_bandwidth_bytes_per_s=deep_bandwidth_bytes_per_s)
    return [_finding(view, manifest, ref, record, layout, order, involved, answers, failures)
            for manifest, ref, record, layout, order, involved in chunks]


def _finding(view: ClusterView, manifest: common_pb2.Manifest, ref: common_pb2.ChunkRef,
             record: common_pb2.PlacementRecord | None, layout: Layout, order: list[str],
             involved: list[str], answers: dict[str, set[ShareKey]],
             failures: dict[str, HolderError]) -> admin_pb2.FsckFinding | str | None:
    """What one chunk's probe answers make of it: None (full), "misplaced", or a finding."""
    keys = layout.probe_keys()
    present = [(key.share_index or 0, node) for node in involved if node in answers
               for key in keys if key in answers[node]]
    unanswered = [f"{node} did not answer ({failures[node].kind.replace('_', ' ')})"
                  for node in involved if node in failures]
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
