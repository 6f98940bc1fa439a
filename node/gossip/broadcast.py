"""The queue of fresh membership updates that ride on outgoing messages until they are stale.

Design. At most one entry per node: a newer record about a node replaces the queued one and
starts fresh (it is news again), so a flapping node costs one slot, not one per flap. Each
`take` is one transmission round for every record it returns; after `retransmit_max` rounds a
record is dropped, which is SWIM's infection-style dissemination: with fanout f and r rounds an
update reaches about f * r peers directly and the rest through them, and gossip stops by itself
when nothing is new. `take` returns the least-sent records first, so a burst of news does not
starve the newest update behind the oldest. `peek` gives the same records without counting a
round: heartbeat replies carry news for free, and only the sender's own rounds age it. The
queue has a size limit; when full, the entry that has been sent most (the stalest) makes room,
because the periodic full state sync repairs whatever gossip drops.

Not thread-safe on its own: `Membership` guards it with its lock.

Rejected: counting every message a record rides on (memberlist's per-piggyback count). Records
then die after a few heartbeat replies even when no gossip round has pushed them, and the number
of peers reached depends on traffic rather than on `gossip_retransmit_max * gossip_fanout`.
"""

from __future__ import annotations

import dataclasses
import itertools

from node.gossip.member import MemberInfo, supersedes


@dataclasses.dataclass
class _Entry:
    info: MemberInfo
    sends: int
    seq: int   # insertion order; breaks ties between equally-sent entries (older first)


class BroadcastQueue:
    """Bounded queue of fresh updates, one per node, each sent up to `retransmit_max` rounds."""

    def __init__(self, *, retransmit_max: int, size_max: int) -> None:
        if retransmit_max < 1:
            raise ValueError(f"retransmit_max must be >= 1, got {retransmit_max}")
        if size_max < 1:
            raise ValueError(f"size_max must be >= 1, got {size_max}")
        self._retransmit_max = retransmit_max
        self._size_max = size_max
        self._entries: dict[str, _Entry] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_max(self) -> int:
        return self._size_max

    def resize(self, size_max: int) -> None:
        """Change the limit (it follows the membership size); evicts the stalest when shrinking."""
        if size_max < 1:
            raise ValueError(f"size_max must be >= 1, got {size_max}")
        self._size_max = size_max
        while len(self._entries) > self._size_max:
            self._evict_one()

    def push(self, info: MemberInfo) -> None:
        """Queue `info` as fresh news; it replaces a queued record about the same node unless
        that one is newer."""
        queued = self._entries.get(info.node_id)
        if queued is not None and supersedes(queued.info, info):
            return
        if queued is None and len(self._entries) >= self._size_max:
            self._evict_one()
        self._entries.pop(info.node_id, None)   # re-insert: a replaced record is news again
        self._entries[info.node_id] = _Entry(info=info, sends=0, seq=next(self._seq))
        assert len(self._entries) <= self._size_max

    def take(self, count_max: int) -> list[MemberInfo]:
        """Up to `count_max` records for one transmission round, least-sent first; counts the
        round against each and drops those that reached `retransmit_max`."""
        if count_max <= 0 or not self._entries:
            return []
        chosen = sorted(self._entries.values(), key=lambda e: (e.sends, e.seq))[:count_max]
        for entry in chosen:
            entry.sends += 1
            if entry.sends >= self._retransmit_max:
                del self._entries[entry.info.node_id]
        return [entry.info for entry in chosen]

    def peek(self, count_max: int) -> list[MemberInfo]:
        """Up to `count_max` records, least-sent first, without counting a round."""
        if count_max <= 0:
            return []
        return self.pending()[:count_max]

    def pending(self) -> list[MemberInfo]:
        """The queued records, least-sent first (for inspection and tests)."""
        return [e.info for e in sorted(self._entries.values(), key=lambda e: (e.sends, e.seq))]

    def _evict_one(self) -> None:
        stalest = max(self._entries.values(), key=lambda e: (e.sends, -e.seq))
        del self._entries[stalest.info.node_id]
