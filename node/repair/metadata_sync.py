"""Keeping manifests and bucket records on their home replicas when the ring changes.

Metadata is partitioned on the ring: every manifest of a bucket lives on the first
`metadata_replicas` nodes of `metadata_position(tenant, bucket)`, and a tenant's bucket records on
those of `bucket_directory_position(tenant)`. When a node joins, turns OUT or is drained, a
partition's home set changes; when a home is DOWN, writes go to a stand-in. Each pass, every node
walks the partitions it holds (one LMDB range jump per partition, not a scan of every record) and:

- pushes the whole partition to every ALIVE home it has not pushed to since that home set was
  formed (newest-wins writes, so pushing twice, or racing a client write, is harmless). A push is
  remembered per (home, store id): a home that comes back with a new store (a replaced disk under
  the same node id, see `node/store/identity.py`) has none of what it acknowledged, so it is a home
  not pushed to yet and gets every partition again. Rejected: remembering by node id and forgetting
  a home on each restart; a plain restart would then cost a push of every partition it homes;
- when it is not a home itself, deletes each record it pushed once every home is ALIVE, has
  acknowledged the push, and the ring has settled. `delete_*_if` removes a record only if it is
  still exactly the version pushed, so a write that arrived meanwhile is kept (and pushed next pass).

**Handover.** Each pass also says where the node stands after a ring change (`handover()`, in
`nodectl status`, and the `ringstore_metadata_handover_*` metrics): how many partitions it holds
that some home of the current ring has not acknowledged (pending on live homes, or waiting for a
home that is not live), and the fingerprint of the ring of its last pass that began and ended on
that ring with nothing left to push (the *synced ring*). A home that is DOWN and was never pushed
keeps the partition waiting, not done: it holds nothing of it, and when it comes back it would
answer reads as if it did. Once every live member reports the ring everyone uses as its synced
ring, every home of every partition holds what any member held when the ring formed, and every
manifest write acknowledged under an older ring: a home acknowledges a coordinator's write only
under the ring the write was placed on, and a pass takes its ring under the same lock as those
checks and commits (node/objects/ring_gate.py).

Rejected: Merkle-tree anti-entropy between replicas (Dynamo, Cassandra). It finds single stale keys
cheaply but is a subsystem of its own; quorum reads with read repair already fix single stale keys,
and what the ring changes move is whole partitions, which this moves whole.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable

from node.objects.replicas import ClusterView, HolderError, Replicas
from node.objects.ring_gate import RingGate
from node.ring import Ring, bucket_directory_position, metadata_position
from node.store import NodeStore

log = logging.getLogger("ringstore.repair")

# What `_sync` found a partition in after its pushes.
DONE, PENDING, WAITING = "done", "pending", "waiting"


@dataclasses.dataclass(frozen=True)
class Handover:
    """What the last metadata sync pass left (see the module docstring)."""

    # The ring the pass used; 0 before the first pass.
    ring_fingerprint: int = 0
    # That ring if the pass began and ended on it with nothing pending or waiting; else 0.
    synced_ring_fingerprint: int = 0
    # Partitions (buckets' manifests, tenants' bucket directories) held here.
    partitions_held: int = 0
    # Of those, partitions some live home has not acknowledged (pushed next pass).
    partitions_pending: int = 0
    # ... and partitions only homes that are not live lack (pushed when they are live again).
    partitions_waiting: int = 0
    # When the pass ended, Unix ms; 0 before the first pass.
    last_pass_unix_ms: int = 0
    # False while this node's metadata is being refilled: what it holds is partial, so no pass runs.
    metadata_ok: bool = True


class MetadataSync:
    def __init__(self, *, view: ClusterView, store: NodeStore, replicas: Replicas, metadata_replicas: int,
                 settled: Callable[[], bool], wall_ms: Callable[[], int], ring_gate: RingGate | None = None) -> None:
        self._view = view
        self._ring_gate = ring_gate if ring_gate is not None else RingGate(lambda: 0)
        self._wall_ms = wall_ms
        self._handover = Handover()
        self._store = store
        self._replicas = replicas
        self._count = metadata_replicas
        self._settled = settled
        # partition -> (home set it was pushed under, (home, its store id) that acknowledged the whole
        # partition)
        self._pushed: dict[tuple, tuple[tuple[str, ...], set[tuple[str, str]]]] = {}
        self._lock = threading.Lock()

    def handover(self) -> Handover:
        """What the last pass left."""
        return self._handover

    def step(self) -> None:
        """One pass over every partition held here; none while this node's metadata is not
        healthy (being refilled after damage: what it holds is partial, and the records it
        lacks are not its to delete or push)."""
        with self._ring_gate.held():
            # Every manifest committed here while an older ring was current is in what this pass
            # reads; a write placed on an older ring and arriving later is refused.
            ring = self._view.ring()
        if self._store.metadata_health() != "ok":
            self._handover = Handover(ring_fingerprint=ring.fingerprint, last_pass_unix_ms=self._wall_ms(),
                                      metadata_ok=False)
            return
        seen: set[tuple] = set()
        outcomes = {DONE: 0, PENDING: 0, WAITING: 0}
        for tenant, bucket in self._store.manifest_partitions():
            part = ("m", tenant, bucket)
            seen.add(part)
            outcomes[self._sync(part, ring, metadata_position(tenant, bucket),
                                lambda t=tenant, b=bucket: list(self._store.iter_manifests(t, b)),
                                lambda node, m: self._replicas.put_manifest(node, m, ""),
                                self._store.delete_manifest_if)] += 1
        for tenant in self._store.bucket_tenants():
            part = ("b", tenant)
            seen.add(part)
            outcomes[self._sync(part, ring, bucket_directory_position(tenant),
                                lambda t=tenant: self._store.list_buckets(t),
                                lambda node, record: self._replicas.put_bucket(node, record),
                                self._store.delete_bucket_if)] += 1
        with self._lock:
            for part in list(self._pushed):
                if part not in seen:
                    del self._pushed[part]
        synced = (not outcomes[PENDING] and not outcomes[WAITING]
                  and self._view.ring().fingerprint == ring.fingerprint)
        self._handover = Handover(ring_fingerprint=ring.fingerprint,
                                  synced_ring_fingerprint=ring.fingerprint if synced else 0,
                                  partitions_held=len(seen), partitions_pending=outcomes[PENDING],
                                  partitions_waiting=outcomes[WAITING], last_pass_unix_ms=self._wall_ms())

    def _sync(self, part: tuple, ring: Ring, position: int, records: Callable[[], list], push: Callable,
              delete_if: Callable) -> str:
        """Push the partition to the live homes of `ring` that lack it, drop it here once every home
        has it and this node is not one; DONE, PENDING or WAITING (what is still missing)."""
        me = self._view.node_id
        homes = tuple(ring.ordered_nodes(position)[:self._count])
        with self._lock:
            formed, acked = self._pushed.get(part, ((), set()))
            if formed != homes:
                acked = set()
                self._pushed[part] = (homes, acked)
        stores = {h: self._view.store_of(h)[0] for h in homes}

        def outcome() -> str:
            missing = [h for h in homes if h != me and (h, stores[h]) not in acked]
            if not missing:
                return DONE
            return PENDING if any(self._view.is_live(h) for h in missing) else WAITING

        pending = [h for h in homes if h != me and (h, stores[h]) not in acked and self._view.is_live(h)]
        if not pending and me in homes:
            return outcome()
        items = records()
        for home in pending:
            try:
                for item in items:
                    push(home, item)
            except HolderError as err:
                log.info("pushing %s to %s failed: %s", _describe(part), home, err)
                continue
            with self._lock:
                acked.add((home, stores[home]))
        if me not in homes and all((h, stores[h]) in acked for h in homes) and self._settled():
            dropped = sum(1 for item in items if delete_if(item))
            if dropped:
                log.info("moved %d records of %s to %s", dropped, _describe(part), ", ".join(homes))
            if dropped < len(items):
                # A write reached this stand-in after the push: the homes have not seen it yet.
                with self._lock:
                    acked.clear()
        return outcome()


def _describe(part: tuple) -> str:
    return f"bucket {part[1]}/{part[2]}" if part[0] == "m" else f"the bucket directory of {part[1]}"
