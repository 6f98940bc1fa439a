"""The membership table: one record per node, and the sorted views of it kept as records change.

Design. Every gossip interval `Membership.step()` needs the sorted ids of the live members (a node's
watchers are its neighbours on that cycle, gossip peers are drawn from it) and of the dead ones (the
reconnect sync, DOWN turning OUT), and a sync answer needs the whole table in id order. Sorting the
table for each of those was O(N log N) several times per step (0.3-0.6 ms at N = 1000, most of the
simulator's CPU). The table keeps the lists sorted instead: a new member or a change of state moves
one id (a binary search and a list insert or delete), and readers take the lists as they are, so a
step costs O(log N + watchers + fan-out) however large the cluster. Every write goes through `add`
or `set`, so no view can miss a change; `check()` recomputes them all for tests.

The views are live (ALIVE, SUSPECT: traffic goes to them), dead (DOWN, OUT: the reconnect sync's
targets) and down (DOWN: the ones that may turn OUT), plus every id; and the table digest
(`digest.py`), whose bucket hashes a sync compares, kept the same way (none when the node sends
whole tables, `state_sync_buckets = 0`). Records are never removed (an
OUT or LEFT record stops a stale ALIVE from resurrecting the node), so no view ever shrinks by a
removal from the table.

Rejected: a sorted-container dependency (a balanced tree or skip list). The lists hold at most
MEMBERS_MAX ids; inserting into a Python list of 4096 pointers is a memmove of 32 KiB at worst, well
under a microsecond, and a change of state is rare next to the steps that read the views.

Not thread-safe on its own: `Membership` guards it with its lock. The views are the table's own
lists: callers read them and must not modify them.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Iterator

from node.gossip.digest import TableDigest
from node.gossip.member import MemberInfo, MemberState

_DEAD_STATES = frozenset({MemberState.DOWN, MemberState.OUT})


@dataclasses.dataclass
class Entry:
    """One member as this node holds it: the record and when its state last changed here."""

    info: MemberInfo
    state_since_s: float


def _insert(ids: list[str], node_id: str) -> None:
    at = bisect.bisect_left(ids, node_id)
    assert at == len(ids) or ids[at] != node_id, f"{node_id} already in the view"
    ids.insert(at, node_id)


def _remove(ids: list[str], node_id: str) -> None:
    at = bisect.bisect_left(ids, node_id)
    assert at < len(ids) and ids[at] == node_id, f"{node_id} missing from the view"
    del ids[at]


class MemberTable:
    """Records by node id, with sorted id views by state; see the module docstring."""

    def __init__(self, bucket_count: int = 0) -> None:
        """`bucket_count` > 0 keeps a table digest of that many buckets."""
        self._entries: dict[str, Entry] = {}
        self.digest = TableDigest(bucket_count) if bucket_count else None
        # Sorted node ids: every member; ALIVE or SUSPECT; DOWN or OUT; DOWN.
        self.ids: list[str] = []
        self.live: list[str] = []
        self.dead: list[str] = []
        self.down: list[str] = []

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._entries

    def __getitem__(self, node_id: str) -> Entry:
        return self._entries[node_id]

    def get(self, node_id: str) -> Entry | None:
        return self._entries.get(node_id)

    def infos(self) -> Iterator[MemberInfo]:
        """Every record, in node id order."""
        entries = self._entries
        return (entries[node_id].info for node_id in self.ids)

    def add(self, info: MemberInfo, now_s: float) -> Entry:
        """A member not in the table yet."""
        assert info.node_id not in self._entries, f"{info.node_id} already in the table"
        entry = Entry(info, now_s)
        self._entries[info.node_id] = entry
        _insert(self.ids, info.node_id)
        self._enter(info.node_id, info.state)
        if self.digest is not None:
            self.digest.add(info)
        return entry

    def set(self, info: MemberInfo, now_s: float) -> MemberInfo:
        """Replace a member's record (the caller decided it wins); a change of state restarts its
        `state_since_s` and moves it between views. Returns the record it replaced."""
        entry = self._entries[info.node_id]
        old = entry.info
        entry.info = info
        if self.digest is not None:
            self.digest.replace(old, info)
        if info.state != old.state:
            entry.state_since_s = now_s
            self._leave(info.node_id, old.state)
            self._enter(info.node_id, info.state)
        return old

    def check(self) -> None:
        """Assert every view, and the digest, equals what a full scan of the table gives (tests)."""
        entries = self._entries
        if self.digest is not None:
            self.digest.check(self.infos())
        assert self.ids == sorted(entries)
        assert self.live == sorted(k for k, e in entries.items() if e.info.state.live)
        assert self.dead == sorted(k for k, e in entries.items() if e.info.state in _DEAD_STATES)
        assert self.down == sorted(k for k, e in entries.items() if e.info.state == MemberState.DOWN)

    def _enter(self, node_id: str, state: MemberState) -> None:
        if state.live:
            _insert(self.live, node_id)
        elif state in _DEAD_STATES:
            _insert(self.dead, node_id)
            if state == MemberState.DOWN:
                _insert(self.down, node_id)

    def _leave(self, node_id: str, state: MemberState) -> None:
        if state.live:
            _remove(self.live, node_id)
        elif state in _DEAD_STATES:
            _remove(self.dead, node_id)
            if state == MemberState.DOWN:
                _remove(self.down, node_id)
