"""Refilling a node's metadata from its peers after the store found it damaged.

When `NodeStore` opens an env LMDB cannot walk (or is told `--rebuild-metadata`), it keeps the
damaged env aside, starts a fresh one and re-indexes the share files on disk; when it finds single
corrupt records, it drops them. Either way what the node held of manifests, bucket records and
placement records is now partial, and until it is whole again the store refuses to answer for them
(MetadataUnavailable, so coordinators read the other replicas instead of taking "absent" from here
as the truth). This step makes it whole, pulling with the calls coordinators already use:

- for every tenant (the default one and any this node has bucket records of): the bucket records
  from the other homes of the tenant's bucket directory, kept here when this node is a home too;
- for every bucket of the tenant whose metadata homes include this node: every manifest
  (tombstones included) from each other ALIVE home, page by page, newest wins;
- for every share indexed here: its layout's placement record from the first node of the chunk's
  ring order that has one, when there is none here; and, for a copy without references (re-indexed
  from its file), the references another holder of the layout keeps for its copy (FetchChunk with
  header_only: no bytes move). Garbage collection waits meanwhile: "no reference" must not read as
  "garbage" while the references are still on their way.

A pass succeeds when every partition this node is a home of got an answer from *every* other home
(an acknowledged write may sit on this node's lost copy and just one other home, so any home not
heard from could hold the only other copy; a DOWN home holds the refill back until it returns or
turns OUT); then the store
answers again (`finish_refill`) and quarantined keys no home had are forgotten. The pass runs as a
step function the daemon loops, only once the ring has settled (so the homes are the final ones).

Rejected alternatives: waiting for the peers' metadata sync to push every partition to the new
store (it pushes once per home set; a node restarting under the same id and ring gets nothing, and
placement records are never pushed), and copying the damaged env's readable records back (a
damaged b-tree can hand back stale pages: nothing read from it is trusted).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from node.objects.coordinator import DEFAULT_TENANT
from node.store import bucket_order_key
from node.objects.replicas import ClusterView, HolderError, Replicas
from node.ring import bucket_directory_position, chunk_position, metadata_position
from node.store import NodeStore, ShareKey
from ringstore.v1 import common_pb2, peer_pb2

log = logging.getLogger("ringstore.repair")

# Manifests asked for per ListManifests call while refilling a bucket.
REFILL_PAGE_MANIFESTS_MAX = 1000
# Nodes of a chunk's ring order asked for its placement record before giving up on it.
PLACEMENT_ASKS_MAX = 8


class MetadataRefill:
    def __init__(self, *, view: ClusterView, store: NodeStore, replicas: Replicas, metadata_replicas: int,
                 settled: Callable[[], bool]) -> None:
        self._view = view
        self._store = store
        self._replicas = replicas
        self._count = metadata_replicas
        self._settled = settled

    def step(self) -> bool:
        """One refill pass if the store waits for one and the ring has settled; True when the
        store's metadata answers again (or never stopped)."""
        if self._store.metadata_health() != "refilling":
            return True
        if not self._settled():
            return False
        me = self._view.node_id
        counts = {"bucket records": 0, "manifests": 0, "placement records": 0, "copies given references": 0}
        complete = True
        tenants = sorted({DEFAULT_TENANT, *self._store.bucket_tenants()})
        for tenant in tenants:
            homes = self._homes(bucket_directory_position(tenant))
            answered, records = self._ask(homes, lambda node, t=tenant: self._replicas.list_buckets(node, t))
            if answered < len([h for h in homes if h != me]):
                complete = False
                continue
            newest: dict[str, common_pb2.BucketRecord] = {}
            for record in records:
                held = newest.get(record.name)
                if held is None or bucket_order_key(record) > bucket_order_key(held):
                    newest[record.name] = record
            if me in homes:
                for record in newest.values():
                    self._store.put_bucket(record)
                    counts["bucket records"] += 1
            for name in sorted(newest):
                if me not in self._homes(metadata_position(tenant, name)):
                    continue
                pulled = self._pull_manifests(tenant, name)
                if pulled is None:
                    complete = False
                else:
                    counts["manifests"] += pulled
        counts["placement records"], counts["copies given references"], answered = self._pull_placements()
        complete = complete and answered
        if not complete:
            log.info("metadata refill pass incomplete (a partition had no other home answering); "
                     "retrying next pass")
            return False
        left = self._store.quarantined_keys()
        self._store.finish_refill(cleared=left)
        log.warning("metadata refilled from peers: %d bucket records, %d manifests, %d placement records, "
                    "references for %d copies; %d quarantined records no peer had were forgotten; metadata "
                    "answers again", counts["bucket records"], counts["manifests"], counts["placement records"],
                    counts["copies given references"], len(left))
        return True

    def _homes(self, position: int) -> list[str]:
        return list(self._view.ring().ordered_nodes(position)[:self._count])

    def _ask(self, homes: Iterable[str], fn: Callable[[str], list]) -> tuple[int, list]:
        """(how many other ALIVE homes answered, everything they answered)."""
        answered, found = 0, []
        for node in homes:
            if node == self._view.node_id or not self._view.is_live(node):
                continue
            try:
                found.extend(fn(node))
            except HolderError as err:
                log.info("metadata refill: %s did not answer: %s", node, err)
                continue
            answered += 1
        return answered, found

    def _pull_manifests(self, tenant: str, bucket: str) -> int | None:
        """Every manifest of the bucket from each other ALIVE home; None if none answered (and
        there is another home to ask)."""
        homes = self._homes(metadata_position(tenant, bucket))
        others = [n for n in homes if n != self._view.node_id and self._view.is_live(n)]
        pulled = answered = 0
        for node in others:
            start_after = ""
            try:
                while True:
                    # Every version of each key, not only the current one (node/store/versions.py).
                    request = peer_pb2.ListManifestsRequest(tenant=tenant, bucket=bucket, start_after=start_after,
                                                            limit=REFILL_PAGE_MANIFESTS_MAX, all_versions=True)
                    page, truncated = self._replicas.list_manifests(node, request)
                    for manifest in page:
                        self._store.put_manifest(manifest)
                        pulled += 1
                    if not truncated or not page:
                        break
                    start_after = page[-1].key
            except HolderError as err:
                log.info("metadata refill: %s did not list %s/%s: %s", node, tenant, bucket, err)
                continue
            answered += 1
        if answered < len([h for h in homes if h != self._view.node_id]):
            return None
        return pulled

    def _pull_placements(self) -> tuple[int, int, bool]:
        """For every share indexed here: its layout's placement record if there is none here, and
        its references if it has none (a copy re-indexed from its file), from the other holders.
        Returns (placement records pulled, copies given references, whether every holder asked
        answered)."""
        pulled = referenced = 0
        answered = True
        records: dict[tuple[bytes, int, int], common_pb2.PlacementRecord | None] = {}
        for share, _info in self._store.iter_shares():
            layout = (share.chunk_id, share.data_shares, share.parity_shares)
            need_record = not self._store.has_placement(*layout)
            need_refs = self._store.reference_count(share) == 0
            if not (need_record or need_refs):
                continue
            if layout not in records:
                records[layout] = self._placement_from_peers(layout)
                if records[layout] is not None and need_record:
                    self._store.put_placement(records[layout])
                    pulled += 1
            if need_refs:
                refs, complete = self._references_from_peers(share, records[layout])
                answered = answered and complete
                if refs:
                    self._store.add_references(share, refs)
                    referenced += 1
        return pulled, referenced, answered

    def _placement_from_peers(self, layout: tuple[bytes, int, int]) -> common_pb2.PlacementRecord | None:
        order = self._view.ring().ordered_nodes(chunk_position(layout[0]))[:PLACEMENT_ASKS_MAX]
        for node in order:
            if node == self._view.node_id or not self._view.is_live(node):
                continue
            try:
                record = self._replicas.get_placement(node, *layout)
            except HolderError:
                continue
            if record is not None:
                return record
        return None

    def _references_from_peers(self, share: ShareKey, record: common_pb2.PlacementRecord | None
                               ) -> tuple[list[common_pb2.ObjectRef], bool]:
        """The references another holder of the layout keeps for its copy (every share of a
        stripe is stored for the same object versions), and whether every holder asked answered
        (a holder without the copy counts as an answer)."""
        me = self._view.node_id
        if record is not None:
            asks = [(h.node_id, h.share_index) for h in record.holders]
        else:
            order = self._view.ring().ordered_nodes(chunk_position(share.chunk_id))[:PLACEMENT_ASKS_MAX]
            asks = [(node, share.share_index or 0) for node in order]
        complete = True
        for node, index in asks:
            if node == me or not self._view.is_live(node):
                continue
            key = (ShareKey(share.chunk_id) if share.share_index is None else
                   ShareKey(share.chunk_id, index, share.data_shares, share.parity_shares))
            try:
                refs = self._replicas.share_references(node, key)
            except HolderError as err:
                if err.kind != "not_found":
                    complete = False
                continue
            if refs:
                return refs, True
        return [], complete
