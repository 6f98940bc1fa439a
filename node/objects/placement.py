"""Who should hold a key's copies right now: home nodes from the ring, stand-ins for DOWN or full ones.

The ring gives every position a zone-aware order of all ring members. The first `count` of them are
the *home* holders. A home holder that is DOWN gets a stand-in: the next live node further down the
same order, recorded as a handoff copy for the home node, so the copy can go home when it returns.
Reads walk the same order, so they find handoff copies where writes put them.

A home whose disk is full (it announced so by gossip; the caller passes `full`) is treated like a
DOWN one for chunk copies: a stand-in holds its copy as a handoff, and repair sends the copy home
once the home has room again. Spares skip full nodes too. Too few ALIVE nodes is UNAVAILABLE (wait
for nodes to return); enough ALIVE nodes but too few with room is RESOURCE_EXHAUSTED naming the full
ones, since waiting will not help. Metadata writes pass no `full`: manifests and tombstones are
small, and a full node keeps room for them, so deletes work on a full cluster. Rejected: ranking
nodes by free bytes (placement would stop being a function of the ring, and reads would no longer
find copies by walking ring order).

Pure: a function of the ring, a liveness predicate and the full nodes.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

from node import errors
from node.ring import Ring
from node.store import format_bytes


@dataclasses.dataclass(frozen=True)
class Assignment:
    """One copy's destination."""

    node_id: str
    # Empty for a home copy; the DOWN (or full) home node's id for a handoff copy.
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
                   what: str, full: Mapping[str, int] = {}) -> Targets:
    """Home holders with handoff stand-ins for DOWN or `full` ones (node -> its free bytes);
    Unavailable if fewer than `count` live nodes exist, ResourceExhausted if enough are live but
    fewer than `count` of them have room."""
    ordered = ring.ordered_nodes(position)
    live = [n for n in ordered if is_live(n)]
    full_live = [n for n in live if n in full]
    full_text = ", ".join(f"{n} ({format_bytes(full[n])} free)" for n in full_live)
    if count > len(live):
        raise errors.Unavailable(
            f"{what} needs {count} live nodes but {len(live)} of {len(ordered)} ring members are "
            f"ALIVE ({', '.join(live) or 'none'}" + (f"; full: {full_text}" if full_live else "")
            + "); wait for nodes to return or lower the redundancy")
    if count > len(live) - len(full_live):
        raise errors.ResourceExhausted(
            f"{what} needs {count} nodes with free space; {len(live) - len(full_live)} of {len(live)} "
            f"ALIVE ring members have room; full: {full_text}; delete data, free disk space or add nodes")
    home = ordered[:count]
    spares = [n for n in ordered[count:] if is_live(n) and n not in full]
    assignments = []
    for slot, node_id in enumerate(home):
        if is_live(node_id) and node_id not in full:
            assignments.append(Assignment(node_id, slot=slot))
        else:
            assignments.append(Assignment(spares.pop(0), handoff_for=node_id, slot=slot))
    return Targets(tuple(assignments), tuple(spares))


def read_order(ring: Ring, position: int, is_live: Callable[[str], bool]) -> list[str]:
    """Live nodes in preference order: the live home holders first, then the nodes right after the
    home set, which is where handoff copies of DOWN home holders went."""
    return [n for n in ring.ordered_nodes(position) if is_live(n)]
