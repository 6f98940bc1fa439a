"""The repair queue: damage the read and write paths noticed, waiting for the repair loop.

A read that finds a copy missing, corrupt or unreachable still returns the right bytes (another
copy, or parity shares), but the cluster is now one failure closer to losing that chunk. The reader
reports it here instead of fixing it inline: a get must not turn into a rebuild, and one bad disk
would otherwise make every reader of its chunks rebuild the same share at once. The repair loop
(issue 4) drains the queue worst-first and rebuilds each damaged copy once.

Bounded (`REPAIR_REPORTS_MAX`): reports of the same copy collapse into one entry, and when the
queue is full the oldest report is dropped and counted; scrub and the OUT scan find what a dropped
report described, so a full queue loses speed, never data.
"""

from __future__ import annotations

import collections
import dataclasses
import threading

# Most distinct damaged copies remembered; beyond this the oldest report is dropped (and counted).
REPAIR_REPORTS_MAX = 10_000
REASONS = ("missing", "corrupt", "unreachable")


@dataclasses.dataclass(frozen=True)
class DamageReport:
    """One copy of one chunk that a read could not use."""

    chunk_id: bytes
    # (0, 0) for a replica; (K, M) for an erasure share.
    data_shares: int
    parity_shares: int
    # None for a replica; the share index otherwise.
    share_index: int | None
    node_id: str
    reason: str  # one of REASONS

    def __post_init__(self) -> None:
        assert self.reason in REASONS, self.reason


class RepairQueue:
    """Thread-safe, bounded, deduplicated queue of DamageReports (oldest first)."""

    def __init__(self, capacity: int = REPAIR_REPORTS_MAX) -> None:
        assert capacity >= 1
        self._capacity = capacity
        self._lock = threading.Lock()
        self._items: collections.OrderedDict[tuple, DamageReport] = collections.OrderedDict()
        self.reported = 0
        self.dropped = 0

    def report(self, item: DamageReport) -> None:
        key = (item.chunk_id, item.data_shares, item.parity_shares, item.share_index, item.node_id)
        with self._lock:
            self.reported += 1
            if key in self._items:
                self._items[key] = item  # the latest reason wins; position stays
                return
            if len(self._items) >= self._capacity:
                self._items.popitem(last=False)
                self.dropped += 1
            self._items[key] = item

    def take(self, limit: int) -> list[DamageReport]:
        """Remove and return up to `limit` reports, oldest first."""
        with self._lock:
            out = []
            while self._items and len(out) < limit:
                out.append(self._items.popitem(last=False)[1])
            return out

    def snapshot(self) -> list[DamageReport]:
        with self._lock:
            return list(self._items.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
