"""Who should hold a key's copies right now: home nodes from the ring, stand-ins for DOWN ones.

The ring gives every position a zone-aware order of all ring members. The first `count` of them are
the *home* holders. A home holder that is DOWN gets a stand-in: the next live node further down the
same order, recorded as a handoff copy for the home node, so the copy can go home when it returns.
Reads walk the same order, so they find handoff copies where writes put them.

Pure: a function of the ring and a liveness predicate.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from node import errors
from node.ring import Ring


@dataclasses.dataclass(frozen=True)
class Assignment:
    """One copy's destination."""

    node_id: str
    # Empty for a home copy; the DOWN home node's id for a handoff copy.
    handoff_for: str = ""
    # Which copy this is: the replica number, or the share index under erasure coding. A stand-in
    # for a failed holder takes over its slot.
    slot: int = 0


@dataclasses.dataclass(frozen=True)
class Targets:
    """Where `count` copies go, plus spare live nodes to use if an assigned node fails mid-write."""

    assignments: tuple[Assignment, ...]
    spares: tuple[str, ...]


def choose_targets(ring: Ring, position: int, count: int, is_live: Callable[[str], bool], *,
                   what: str) -> Targets:
    """Home holders with handoff stand-ins; Unavailable if fewer than `count` live nodes exist."""
    ordered = ring.ordered_nodes(position)
    live = [n for n in ordered if is_live(n)]
    if count > len(live):
        raise errors.Unavailable(
            f"{what} needs {count} live nodes but {len(live)} of {len(ordered)} ring members are "
            f"ALIVE ({', '.join(live) or 'none'}); wait for nodes to return or lower the redundancy")
    home = ordered[:count]
    spares = [n for n in ordered[count:] if is_live(n)]
    assignments = []
    for slot, node_id in enumerate(home):
        if is_live(node_id):
            assignments.append(Assignment(node_id, slot=slot))
        else:
            assignments.append(Assignment(spares.pop(0), handoff_for=node_id, slot=slot))
    return Targets(tuple(assignments), tuple(spares))


def read_order(ring: Ring, position: int, is_live: Callable[[str], bool]) -> list[str]:
    """Live nodes in preference order: the live home holders first, then the nodes right after the
    home set, which is where handoff copies of DOWN home holders went."""
    return [n for n in ring.ordered_nodes(position) if is_live(n)]
