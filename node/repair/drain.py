"""When a draining node is done: it holds nothing anyone needs, so it may turn LEFT.

Design. Draining is not a separate mover. A node that starts draining sets `draining` on its own
membership record; every node then builds its ring without it (`Membership.ring_members`), so the
drained node's slots have new homes, and the ordinary repair loop copies each of its copies to the
new home and, once the new copy is verified and the ring has been still for `ring_settle_s`, the
drained node drops its own copy as surplus. Metadata partitions move the same way (`metadata_sync`).
All this module decides is when that has finished: no chunk copy, no placement record, no manifest
and no bucket record left in the node's store, seen empty on two checks at least `settle_s` apart
(a put coordinated by a node whose view is a moment stale could still land a copy just after the
first check). Then the node announces LEFT.

Rejected: a dedicated drain transfer (stream everything the node holds to its successors). It would
need its own placement rules, verification and progress accounting, all of which repair already has,
and it could not tell a copy the cluster still needs from surplus the way the planner does.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Callable

from node.gossip import MemberInfo
from node.store import NodeStore

log = logging.getLogger("ringstore.drain")


@dataclasses.dataclass(frozen=True)
class Holdings:
    """What a node's store still keeps."""

    shares: int
    bytes: int
    placement_records: int
    metadata_records: int

    @property
    def empty(self) -> bool:
        return not (self.shares or self.placement_records or self.metadata_records)

    def text(self) -> str:
        return (f"{self.shares} copies ({self.bytes} bytes), {self.placement_records} placement records, "
                f"{self.metadata_records} manifests and bucket records")


def holdings(store: NodeStore) -> Holdings:
    """Count what `store` keeps: LMDB's entry counts of the placement and metadata tables (O(1),
    and no record is read, so a node whose metadata is being refilled after damage still says
    what it holds)."""
    shares, size = store.stats()
    entries = store.record_counts()
    placements = entries["placements"]
    # Versions kept behind current ones move with the manifests (metadata sync pushes both); the
    # key registers of conditional puts are not moved, and a new home starts without them.
    metadata = entries["manifests"] + entries["versions"] + entries["buckets"]
    return Holdings(shares, size, placements, metadata)


class DrainWatch:
    """Step function: turns a draining node LEFT once its store has stayed empty for `settle_s`."""

    def __init__(self, *, me: Callable[[], MemberInfo], store: NodeStore, monotonic_s: Callable[[], float],
                 settle_s: float, leave: Callable[[], object]) -> None:
        self._me = me
        self._store = store
        self._monotonic_s = monotonic_s
        self._settle_s = settle_s
        self._leave = leave
        self._empty_since_s: float | None = None

    def step(self) -> bool:
        """Check once; True when this step announced LEFT."""
        me = self._me()
        if not me.draining or not me.state.live:
            self._empty_since_s = None
            return False
        left = holdings(self._store)
        now_s = self._monotonic_s()
        if not left.empty:
            self._empty_since_s = None
            return False
        if self._empty_since_s is None:
            self._empty_since_s = now_s
            return False
        if now_s - self._empty_since_s < self._settle_s:
            return False
        log.info("drain finished: the store is empty; leaving the cluster")
        self._leave()
        return True
