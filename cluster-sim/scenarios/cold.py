"""The cold set and what the victim held: the yardstick for "repair moved enough" and "the victim was refilled".

Why. Judging repair by "it moved at least one byte" is fooled both ways. A workload that overwrote
or deleted everything the victim held leaves repair nothing to do, so a healthy cluster fails
(node-crash seeds 3 and 7 did, "repair moved 0 bytes"); and one stray handoff return passes a
repair that restored almost nothing. So a scenario with a `[cold]` table first puts objects under
keys the workload never touches (`cold-NNNNN`, in buckets of their own), `object_size_bytes` each, round-robin over the
workload's policies, until the victim holds at least `size_bytes` of copies or shares of every
policy (each put is followed by a stat, which names the holders). Right before the step that
kills or replaces the victim, the schedule stats every key that has a value and notes what the
victim held of that version. At the end a version counts only when it is still its key's one
legal value ("still current": not overwritten, not deleted, no failed put that may have replaced
it): the victim's copies and shares of those are what full redundancy needs written again,
elsewhere after a kill turns the victim OUT, onto the victim itself after a disk replacement. So
repair must have written at least their bytes, and a refilled victim's disk holds each of them
again (its chunk directory is read: see `missing_from_store`).

What one holder entry weighs: a replica is the chunk's size; an erasure share is ceil(size / K),
what the node's codec makes of a chunk. Handoff copies the victim kept for another node are not
counted (their home has or gets its own). `ringstore_repair_bytes_total` counts every copy and
share written by repair, rebalancing and handoff return, so it may exceed the victim's bytes (puts
made while the victim was down come back from their stand-ins) but never falls short of them.
Inline objects live in their manifest and weigh nothing here. Keys a stat could not answer are
left out, which only lowers the bound.

Metadata: every manifest of a bucket lives on the bucket's preference list, so the cold set spreads
over several buckets (workload.COLD_BUCKETS) to give most victims some of its manifests. What the
victim kept right after the cold set was written (bucket records and cold manifests: written before
any workload write and never touched after) is a lower bound of what a refilled victim keeps again.

Rejected alternatives: the victim's own `bytes_stored` before the fault (it counts superseded
versions waiting for garbage collection and copies of deleted objects, which repair rightly leaves
alone), and the bytes the workload wrote (most of them are overwritten within the run).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from cluster_sim.errors import ClusterError
from cluster_sim.scenarios.checker import KeyState
from cluster_sim.scenarios.spec import Cold
from cluster_sim.scenarios.workload import COLD_PREFIX, Writer
from nodectl.errors import NotFound, RingstoreError

COLD_PUTS_MAX = 2000  # puts before giving up on loading the victim (a node that is home for nothing)


@dataclasses.dataclass(frozen=True)
class Held:
    """What one node held of one object version: copies and shares, and their bytes."""

    digest: str
    copies: int
    size_bytes: int
    # (chunk id hex, copies or shares the node held of it), for the chunks it held anything of.
    chunks: tuple[tuple[str, int], ...] = ()


@dataclasses.dataclass(frozen=True)
class Holdings:
    """What a node held of versions still current at the end."""

    keys: int = 0
    copies: int = 0
    size_bytes: int = 0
    cold_size_bytes: int = 0  # of size_bytes, the cold set's


def cold_key(index: int) -> str:
    return f"{COLD_PREFIX}{index:05d}"


def held_on(stat: Any, node_id: str) -> Held:
    """What `node_id` holds of the version a nodectl ObjectStat describes (see the module docstring)."""
    ec = stat.info.ec
    copies = size_bytes = 0
    chunks = []
    for chunk in stat.chunks:
        weight = max(1, -(-chunk.size_bytes // ec[0])) if ec else chunk.size_bytes
        mine = sum(1 for holder in chunk.holders if holder.node_id == node_id and not holder.handoff_for_node_id)
        if mine:
            copies += mine
            size_bytes += mine * weight
            chunks.append((chunk.chunk_id_hex, mine))
    return Held(digest=stat.info.blake3_hex, copies=copies, size_bytes=size_bytes, chunks=tuple(chunks))


def current_only(held: Mapping[str, Held], state: Callable[[str], KeyState]) -> dict[str, Held]:
    """The part of `held` whose version is still its key's only legal value (and held something)."""
    return {key: item for key, item in held.items()
            if item.copies and state(key).legal == frozenset({item.digest})}


def still_current(held: Mapping[str, Held], state: Callable[[str], KeyState]) -> Holdings:
    """What `held` adds up to, counting only versions still current."""
    keys = copies = size_bytes = cold_bytes = 0
    for key, item in current_only(held, state).items():
        keys += 1
        copies += item.copies
        size_bytes += item.size_bytes
        cold_bytes += item.size_bytes if key.startswith(COLD_PREFIX) else 0
    return Holdings(keys=keys, copies=copies, size_bytes=size_bytes, cold_size_bytes=cold_bytes)


def missing_from_store(held: Mapping[str, Held], data_dir: str | Path) -> int:
    """Copies and shares of `held` a node's store lacks: per chunk, those it held less the chunk
    files it has now. It reads the chunk directory the node documents (node/store/chunks.py:
    `store/chunks/ab/cd/<64-hex id>.<suffix>`, `r` for a replica, `<i>of<K>+<M>` for a share), as
    flip-bytes does, because a refilled node is one whose disk holds the copies: placement
    records on other nodes still name it after its disk was wiped. Any share index counts (repair
    may give a refilled node another share of the stripe than it had)."""
    chunks_dir = Path(data_dir) / "store" / "chunks"
    missing = 0
    for item in held.values():
        for chunk_hex, copies in item.chunks:
            found = sum(1 for path in (chunks_dir / chunk_hex[0:2] / chunk_hex[2:4]).glob(f"{chunk_hex}.*")
                        if path.is_file())
            missing += max(0, copies - found)
    return missing


def snapshot(keys: Iterable[str], stat: Callable[[str], Any], node_id: str) -> tuple[dict[str, Held], int]:
    """What `node_id` holds of each key's current version, and how many stats failed (left out)."""
    held: dict[str, Held] = {}
    failed = 0
    for key in keys:
        try:
            held[key] = held_on(stat(key), node_id)
        except NotFound:
            continue  # deleted since: nothing of it is current
        except RingstoreError:
            failed += 1
    return held, failed


def write(cold: Cold, policies: Iterable[str], writer: Writer, stat: Callable[[str], Any]) -> dict[str, Held]:
    """Put the cold set (see the module docstring); returns what the victim holds of each cold key.

    Raises ClusterError when the victim does not hold `size_bytes` of every policy after
    COLD_PUTS_MAX puts."""
    loaded = {policy: 0 for policy in policies}
    held: dict[str, Held] = {}
    for index in range(COLD_PUTS_MAX):
        short = [policy for policy, size_bytes in loaded.items() if size_bytes < cold.size_bytes]
        if not short:
            return held
        policy = short[index % len(short)]
        key = cold_key(index)
        if writer.put(key, "cold", policy=policy, size_bytes=cold.object_size_bytes) is not True:
            continue  # counted as a failed cold put; the key is checked at the end like any other
        item = held_on(stat(key), cold.node)
        held[key] = item
        loaded[policy] += item.size_bytes
    summary = ", ".join(f"{policy} {size_bytes}" for policy, size_bytes in loaded.items())
    raise ClusterError(f"the cold set did not load {cold.node} with {cold.size_bytes} bytes per policy in "
                       f"{COLD_PUTS_MAX} puts (it holds {summary}); lower cold.size_bytes")
