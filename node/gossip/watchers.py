"""Who watches whom: each node's watchers are its successors on the sorted cycle of node ids.

Design. Watchers are a pure function of the candidate set, so every node that agrees on the set
of ALIVE nodes agrees on who watches whom, with no coordination and no messages. The cycle is the
sorted node ids; a node's `count` watchers are the `count` ids after it (wrapping), which gives
every node exactly min(count, N - 1) watchers and every watcher exactly as many watched nodes, so
heartbeat load per node is flat as the cluster grows. `watched_by` is the inverse: the `count`
ids before the watcher.

The subject is always placed on the cycle even when it is not a candidate: candidates are the
ALIVE nodes, and a DOWN node X is watched by its successors among ALIVE + {X}, which are the same
nodes that watched it while it was ALIVE (unless one of them failed too). So the watchers that
accused X are the ones that hear it first when it comes back.

`watchers_in_sorted` and `watched_in_sorted` are the same functions for a candidate list that is
already sorted and distinct (the membership table keeps its live ids that way): a binary search
instead of a sort, so a step costs O(log N) here, not O(N log N).

Rejected: watchers chosen by hashing (node id, i) onto a ring. It spreads a node's watchers more
randomly, but loads watchers unevenly (some watch five nodes, some none), and the sorted-id cycle
is simpler to reason about and to test.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence


def _check_count(count: int) -> None:
    if count < 0:
        raise ValueError(f"watcher count must be >= 0, got {count}")


def _place(subject_id: str, sorted_ids: Sequence[str]) -> tuple[int, bool, int]:
    """Where `subject_id` sits among `sorted_ids`: (index of it or of its successor, whether it is
    there, how many other ids the cycle has)."""
    at = bisect.bisect_left(sorted_ids, subject_id)
    present = at < len(sorted_ids) and sorted_ids[at] == subject_id
    return at, present, len(sorted_ids) - present


def watchers_in_sorted(node_id: str, sorted_ids: Sequence[str], count: int) -> list[str]:
    """`watchers_of` for candidates already sorted and distinct (the membership table keeps its
    live ids so): O(log N + count), no copy of the list."""
    _check_count(count)
    at, present, others = _place(node_id, sorted_ids)
    start, n = at + present, len(sorted_ids)
    return [sorted_ids[(start + step) % n] for step in range(min(count, others))]


def watched_in_sorted(watcher_id: str, sorted_ids: Sequence[str], count: int) -> list[str]:
    """`watched_by` for candidates already sorted and distinct: O(log N + count)."""
    _check_count(count)
    at, _, others = _place(watcher_id, sorted_ids)
    n = len(sorted_ids)
    return [sorted_ids[(at - step) % n] for step in range(1, min(count, others) + 1)]


def watchers_of(node_id: str, candidate_ids: Iterable[str], count: int) -> list[str]:
    """The `count` successors of `node_id` on the sorted cycle of candidates + {node_id}.

    Nearest first; never includes `node_id`; min(count, number of other candidates) long.
    """
    return watchers_in_sorted(node_id, sorted(set(candidate_ids)), count)


def watched_by(watcher_id: str, candidate_ids: Iterable[str], count: int) -> list[str]:
    """The nodes `watcher_id` watches: its `count` predecessors on the same cycle, nearest first.

    The inverse of `watchers_of` for any two members of the candidate set: W is in
    watchers_of(X, C, k) exactly when X is in watched_by(W, C, k).
    """
    return watched_in_sorted(watcher_id, sorted(set(candidate_ids)), count)
