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

Rejected: watchers chosen by hashing (node id, i) onto a ring. It spreads a node's watchers more
randomly, but loads watchers unevenly (some watch five nodes, some none), and the sorted-id cycle
is simpler to reason about and to test.
"""

from __future__ import annotations

from collections.abc import Iterable


def _cycle(subject_id: str, candidate_ids: Iterable[str]) -> tuple[list[str], int]:
    ids = sorted(set(candidate_ids) | {subject_id})
    return ids, ids.index(subject_id)


def watchers_of(node_id: str, candidate_ids: Iterable[str], count: int) -> list[str]:
    """The `count` successors of `node_id` on the sorted cycle of candidates + {node_id}.

    Nearest first; never includes `node_id`; min(count, number of other candidates) long.
    """
    if count < 0:
        raise ValueError(f"watcher count must be >= 0, got {count}")
    ids, at = _cycle(node_id, candidate_ids)
    n = len(ids)
    return [ids[(at + step) % n] for step in range(1, min(count, n - 1) + 1)]


def watched_by(watcher_id: str, candidate_ids: Iterable[str], count: int) -> list[str]:
    """The nodes `watcher_id` watches: its `count` predecessors on the same cycle, nearest first.

    The inverse of `watchers_of` for any two members of the candidate set: W is in
    watchers_of(X, C, k) exactly when X is in watched_by(W, C, k).
    """
    if count < 0:
        raise ValueError(f"watcher count must be >= 0, got {count}")
    ids, at = _cycle(watcher_id, candidate_ids)
    n = len(ids)
    return [ids[(at - step) % n] for step in range(1, min(count, n - 1) + 1)]
