"""Where the copies of one chunk layout should be, and what it takes to get them there.

One rule drives repair after a node is lost, handoff return, rebalancing on join or drain, and the
rebuild of a copy scrub quarantined: *every slot of a chunk layout belongs on a home node, and a copy
anywhere else is surplus once every home has its own.* A layout is a chunk under one redundancy
policy: `replicas=N` has N interchangeable slots, `ec=K+M` has K+M slots, one per share index. The
home nodes are the first N (or K+M) nodes of the chunk's ring order, where the ring holds ALIVE and
DOWN members (not OUT, LEFT or draining ones).

`plan_layout` compares that with what a scan saw (which node holds which slot, checked with
HasChunk on every live node concerned, and for nodes that cannot be asked, what the placement record
says) and returns the copies to make, the surplus to drop once the layout is complete, and how much
redundancy is left. It is pure, so every case is a table-driven unit test.

How slots meet homes:
- replicas: the set of homes is what matters; every live home without a copy gets one.
- erasure coding: a share already on a home node stays there, whatever its index (when one home
  holds several shares of the stripe, a maximum matching decides which it keeps, so as many as
  possible stay); the shares left over go to the homes left over, in ring order. A new write puts share i on the i-th home, but after
  the ring changes the mapping is whatever moved least, and the placement record (which readers
  consult) says where each share is. Rejected: forcing share i back onto the i-th home. Adding a 7th
  node to six shifts every share after the newcomer's place, moving about half of all shares instead
  of the ideal 1/7 (measured with 3000 chunks: 0.50 against 0.147 for this rule).

A home that is DOWN keeps its slot: a copy held elsewhere for it (a handoff copy) stays where it is
and nothing is rebuilt, because DOWN means "probably back soon". Only OUT (the node left the ring)
moves the slot to a new home. So a restart costs nothing but the handoff copies' return.

A home that is ALIVE but cannot take copies (its disk is full: `can_take` says no) keeps its slot
the same way. If a live node holds the slot's copy elsewhere, the slot waits (listed in `waiting`;
the plan is not complete, so no surplus is dropped). If no live node holds it (the copy was lost),
the copy is made on a *stand-in*: the next node in ring order after the homes that is ALIVE, can
take copies and holds no copy of the layout (no share of the stripe, under erasure coding), and the
record names it as a handoff copy for the full home, which gets the copy back once it has room.
Copies a full node already holds stay where they are and stay valid. Rejected: moving copies off a
node because it is full. Its neighbours would fill in turn and push copies back as it drains, so
copies would oscillate between nodes near their watermarks; refusing new copies is enough to stop a
disk from filling, and the operator decides what to delete or which nodes to add.

The node that does the work for a layout is the first ALIVE node in the chunk's ring order among
those the placement record names (`responsible_node`), so one chunk is repaired by one node. Any
holder may drop its own surplus copy, but only when the plan is complete: every slot on its ALIVE
target, each verified by that scan.

A named node whose store was created after the record was last written (its disk was replaced, or
its metadata rebuilt, under the same node id: see `node/store/identity.py`) is passed over: the
record cannot be in its store, so it would never scan the layout, and nobody would, although every
other holder has the record. The next ALIVE named node is responsible instead; once a repair has
rewritten the record (now on the new store too, and newer than it by more than the clocks may
disagree), the rule picks the first one again. Every node decides from the same record and the same
gossiped creation times, so they agree.
Rejected: having every holder plan every layout it holds and act when the responsible node looks
idle; it triples the probes of every scan and two nodes could act on one layout at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence

from node.erasure import Geometry
from node.store import ShareKey
from ringstore.v1 import common_pb2

# Most that two nodes' wall clocks may disagree for `record_presence` to compare a store's creation
# time (one node's clock) with a placement record's last write (another's). Larger only means a node
# with a new store leaves the layouts of records written in its first seconds to the next holder.
STORE_CLOCK_SKEW_MS_MAX = 30_000


@dataclasses.dataclass(frozen=True)
class Layout:
    """One chunk under one policy: (0, 0) geometry for `replicas` copies, else K+M shares."""

    chunk_id: bytes
    size_bytes: int
    replicas: int = 0
    data_shares: int = 0
    parity_shares: int = 0

    @classmethod
    def of_policy(cls, chunk_id: bytes, size_bytes: int, policy: common_pb2.RedundancyPolicy) -> "Layout":
        if policy.WhichOneof("policy") == "erasure_coding":
            ec = policy.erasure_coding
            return cls(chunk_id, size_bytes, data_shares=ec.data_shares, parity_shares=ec.parity_shares)
        return cls(chunk_id, size_bytes, replicas=policy.replication.replicas)

    @classmethod
    def of_record(cls, record: common_pb2.PlacementRecord) -> "Layout":
        return cls.of_policy(bytes(record.chunk_id), record.size_bytes, record.policy)

    @property
    def erasure(self) -> bool:
        return self.data_shares > 0

    @property
    def wanted(self) -> int:
        """Copies or shares at full redundancy."""
        return self.data_shares + self.parity_shares if self.erasure else self.replicas

    @property
    def needed(self) -> int:
        """Fewest copies or distinct shares that still read."""
        return self.data_shares if self.erasure else 1

    @property
    def policy_text(self) -> str:
        return f"ec={self.data_shares}+{self.parity_shares}" if self.erasure else f"replicas={self.replicas}"

    def copy_size_bytes(self) -> int:
        if not self.erasure:
            return self.size_bytes
        return Geometry(self.data_shares, self.parity_shares).share_size_bytes(self.size_bytes)

    def key(self, slot: int) -> ShareKey:
        """The store key of a slot's copy (every replica slot has the same key)."""
        if not self.erasure:
            return ShareKey(self.chunk_id)
        return ShareKey(self.chunk_id, slot, self.data_shares, self.parity_shares)

    def probe_keys(self) -> list[ShareKey]:
        """What to ask each node about: the replica, or every share index."""
        return [self.key(0)] if not self.erasure else [self.key(i) for i in range(self.wanted)]


@dataclasses.dataclass(frozen=True)
class Move:
    """One copy to make: slot `slot` onto `target`, copied from `sources` (ALIVE nodes holding that
    slot). No sources under erasure coding means: rebuild the share from any K others.
    `handoff_for` names the full home a stand-in target holds the copy for ("" for a home)."""

    slot: int
    target: str
    sources: tuple[str, ...]
    handoff_for: str = ""


@dataclasses.dataclass(frozen=True)
class LayoutPlan:
    layout: Layout
    homes: tuple[str, ...]
    # Per slot, the node that should hold it (None when the ring has too few members).
    targets: tuple[str | None, ...]
    moves: tuple[Move, ...]
    # (slot, node) copies outside their target, to drop once `complete` (and verified again).
    surplus: tuple[tuple[int, str], ...]
    # Distinct slots with a copy on an ALIVE node.
    present: int
    # Every slot sits on its ALIVE target (so surplus may go).
    complete: bool
    # Why some slot cannot be restored now; "" when every missing slot has a move or waits on DOWN.
    unrepairable: str
    # Slots whose target is DOWN, or full while a live node holds the slot's copy elsewhere (the
    # copy stays where it is until the node returns or has room, or turns OUT).
    waiting: tuple[int, ...]
    # Slot -> nodes holding it (verified on ALIVE nodes, as recorded on the others); replicas use 0.
    held: dict[int, tuple[str, ...]]

    @property
    def below_full(self) -> bool:
        return self.present < self.layout.wanted

    @property
    def misplaced(self) -> bool:
        """Full redundancy, but not every copy on its home yet (moves or returns pending)."""
        return not self.below_full and not self.complete

    @property
    def bytes_to_write(self) -> int:
        return len(self.moves) * self.layout.copy_size_bytes()

    def holders_after(self, record: common_pb2.PlacementRecord, made: Iterable[Move]) -> list[common_pb2.ShareHolder]:
        """The placement record's holders once `made` moves are done: each slot on its target when
        the target has it; for a DOWN or full target, the node actually holding the slot (a
        stand-in made for it, or a copy already elsewhere), as a handoff. Replica copies off home
        stand in for the slots whose target cannot take them first, in slot order, as in the plan."""
        made = list(made)
        made_slots = {(m.slot, m.target) for m in made}
        stood_in = {m.slot: m.target for m in made if m.handoff_for}
        hashes = {h.share_index: bytes(h.blake3) for h in record.holders}
        erasure = self.layout.erasure
        standins = [n for n in self.held.get(0, ()) if n not in self.homes] if not erasure else []
        blocked = set(self.waiting) | {m.slot for m in self.moves if m.handoff_for}
        holders: dict[int, common_pb2.ShareHolder] = {}
        for slot in sorted(range(len(self.targets)), key=lambda s: (s not in blocked, s)):
            target = self.targets[slot]
            if target is None:
                live = [n for n in self.held.get(slot, ()) if erasure]
                if live:  # no home for it (a small ring): keep naming where the copy is
                    holders[slot] = common_pb2.ShareHolder(node_id=live[0], share_index=slot,
                                                           blake3=hashes.get(slot, b""))
                continue
            blake3 = hashes.get(slot, b"" if erasure else self.layout.chunk_id)
            holding = self.held.get(slot if erasure else 0, ())
            node, handoff_for = target, ""
            if (slot, target) not in made_slots and target not in holding:
                if erasure:
                    elsewhere = [n for n in holding if n != target]
                else:
                    elsewhere, standins = standins[:1], standins[1:]
                if slot in stood_in:
                    node, handoff_for = stood_in[slot], target
                elif elsewhere:
                    node, handoff_for = elsewhere[0], target
            holders[slot] = common_pb2.ShareHolder(node_id=node, share_index=slot,
                                                   handoff_for_node_id=handoff_for, blake3=blake3)
        return [holders[slot] for slot in sorted(holders)]


def recorded_slots(record: common_pb2.PlacementRecord, layout: Layout) -> list[tuple[int, str]]:
    """(slot, node) pairs the placement record names (slot 0 for every replica)."""
    return [(h.share_index if layout.erasure else 0, h.node_id) for h in record.holders]


def preferred_homes(record: common_pb2.PlacementRecord, layout: Layout) -> dict[int, str]:
    """Share index -> the home the record gives it (for a handoff copy, the home it stands in for)."""
    if not layout.erasure:
        return {}
    return {h.share_index: h.handoff_for_node_id or h.node_id for h in record.holders}


# How sure it is that a store holds a placement record (`record_presence`), best first.
HOLDS_SURELY = 0  # the store is older than the record by more than the clocks may disagree
HOLDS_BY_CLOCKS = 1  # the store is older by the clocks as they read (a young cluster's first records)
HOLDS_NOT = 2  # the store was created after the record was last written: the record is not in it


def record_presence(record_updated_at_unix_ms: int, store_created_at_unix_ms: int) -> int:
    """Whether a store can hold a placement record last written at `record_updated_at_unix_ms`
    (HOLDS_*): only if the store existed then. The two times come from different nodes' clocks, so
    only a store older by STORE_CLOCK_SKEW_MS_MAX surely does. A store created at 0 (older than
    store identities) holds anything."""
    if store_created_at_unix_ms + STORE_CLOCK_SKEW_MS_MAX <= record_updated_at_unix_ms:
        return HOLDS_SURELY
    if store_created_at_unix_ms <= record_updated_at_unix_ms:
        return HOLDS_BY_CLOCKS
    return HOLDS_NOT


def responsible_node(ring_order: Sequence[str], named: Iterable[str],
                     is_live: Callable[[str], bool],
                     presence: Callable[[str], int] | None = None) -> str | None:
    """The node that repairs a layout: the first ALIVE node, in the chunk's ring order, among those
    its placement record names; named nodes outside the ring (draining) come after, by id.

    `presence(node)` says how sure it is that the node's store holds the record (`record_presence`
    with the store's creation time). The first ALIVE named node among those most surely holding it
    is responsible: a named node whose store is younger than the record (a disk replaced under the
    same node id) cannot act on a record it does not have, so the next one acts; while every store
    is younger than the clock skew allowance (a new cluster's first records), the clocks as they
    read decide; and if every ALIVE named store is younger than the record, the first ALIVE one
    stays responsible, as without store ages."""
    named_set = set(named)
    in_ring = set(ring_order)
    alive = [n for n in list(ring_order) + sorted(named_set - in_ring) if n in named_set and is_live(n)]
    if presence is None or not alive:
        return alive[0] if alive else None
    tiers = [presence(n) for n in alive]
    best = min(tiers)
    return alive[tiers.index(best)] if best != HOLDS_NOT else alive[0]


def plan_layout(layout: Layout, ring_order: Sequence[str], is_live: Callable[[str], bool],
                present: Iterable[tuple[int, str]], recorded: Iterable[tuple[int, str]],
                preferred: dict[int, str] | None = None,
                can_take: Callable[[str], bool] | None = None) -> LayoutPlan:
    """Plan one layout.

    `ring_order`: the chunk's ring order (ring members only). `present`: (slot, node) copies a scan
    verified on ALIVE nodes (slot 0 for every replica). `recorded`: (slot, node) pairs the placement
    record names; only those on nodes that are not ALIVE are believed without checking.
    `preferred`: slot -> the home the record gives it (for a handoff copy, the home it stands in
    for), to keep a share where the record says when two homes hold it, and to send a slot with no
    home copy back to its own home. `can_take`: False for an ALIVE node that takes no new copies
    (its disk is full); None means every node can."""
    wanted = layout.wanted
    homes = tuple(ring_order[:wanted])
    held: dict[int, list[str]] = {}
    for slot, node in present:
        if is_live(node):
            held.setdefault(slot, []).append(node)
    for slot, node in recorded:
        if not is_live(node) and node not in held.get(slot, ()):
            held.setdefault(slot, []).append(node)
    live_held = {slot: [n for n in nodes if is_live(n)] for slot, nodes in held.items()}

    if layout.erasure:
        targets = _match_shares(homes, wanted, held, preferred or {})
        present_count = sum(1 for slot in range(wanted) if live_held.get(slot))
    else:
        targets = list(homes) + [None] * (wanted - len(homes))
        holders = {n for nodes in held.values() for n in nodes}
        live_holders = {n for n in holders if is_live(n)}
        present_count = min(wanted, len(live_holders))
        # Every replica slot is the same bytes: slot i is "held" when its home has a copy, and the
        # copies on non-homes stand in for the DOWN homes.
        held = {0: sorted(holders)}
        live_held = {0: sorted(live_holders)}

    moves: list[Move] = []
    waiting: list[int] = []
    missing_sources = False
    no_room: list[str] = []
    # Replica copies off home stand in for homes that cannot take theirs (DOWN or full), in slot
    # order, as `holders_after` names them. A stand-in for a lost copy holds none of the layout.
    standins = [] if layout.erasure else [n for n in held.get(0, ()) if n not in homes]
    excluded = {n for nodes in held.values() for n in nodes}
    for slot, target in enumerate(targets):
        if target is None:
            continue
        slot_key = slot if layout.erasure else 0
        if target in held.get(slot_key, ()):
            if not is_live(target):
                waiting.append(slot)
            continue
        if not is_live(target):
            waiting.append(slot)  # a DOWN home keeps its slot; its copy (if any) waits elsewhere
            del standins[:1]
            continue
        sources = tuple(n for n in live_held.get(slot_key, ()) if n != target)
        if can_take is not None and not can_take(target):
            held_elsewhere = bool(sources) if layout.erasure else bool(standins) and is_live(standins[0])
            del standins[:1]
            if held_elsewhere:
                waiting.append(slot)  # a full home keeps its slot; its copy waits where it is
                continue
            if not sources and not layout.erasure:
                missing_sources = True
                continue
            stand_in = _stand_in(ring_order[len(homes):], is_live, can_take, excluded)
            if stand_in is None:
                no_room.append(target)
                continue
            excluded.add(stand_in)
            moves.append(Move(slot, stand_in, sources, handoff_for=target))
            continue
        if not sources and not layout.erasure:
            missing_sources = True
            continue
        moves.append(Move(slot, target, sources))

    reasons = []
    if any(t is None for t in targets):
        reasons.append(f"{layout.policy_text} needs {wanted} ring members, the ring has {len(ring_order)}; "
                       "add nodes or convert to a smaller policy")
    if missing_sources:
        reasons.append("no intact copy on any ALIVE node" + _down_holders(held, is_live))
    if no_room:
        reasons.append(f"no node can stand in for full home(s) {', '.join(no_room)} whose copy was lost: "
                       "every ALIVE node after the homes is full or holds a copy already; delete data, "
                       "free disk space or add nodes")
    if layout.erasure and any(not m.sources for m in moves) and present_count < layout.needed:
        reasons.append(f"only {present_count} of the {layout.needed} shares needed to rebuild are on ALIVE "
                       "nodes" + _down_holders(held, is_live))
        moves = [m for m in moves if m.sources]

    # Complete: every slot verified on its ALIVE target (a layout with nothing to copy from is not).
    complete = all(target is not None and is_live(target) and target in held.get(slot if layout.erasure else 0, ())
                   for slot, target in enumerate(targets))
    surplus: list[tuple[int, str]] = []
    if layout.erasure:
        for slot, nodes in live_held.items():
            surplus.extend((slot, n) for n in nodes if slot >= len(targets) or targets[slot] != n)
    else:
        surplus.extend((0, n) for n in live_held.get(0, ()) if n not in homes)
    return LayoutPlan(layout=layout, homes=homes, targets=tuple(targets), moves=tuple(moves),
                      surplus=tuple(sorted(surplus)), present=present_count, complete=complete,
                      unrepairable="; ".join(reasons), waiting=tuple(waiting),
                      held={slot: tuple(nodes) for slot, nodes in held.items()})


def _stand_in(candidates: Sequence[str], is_live: Callable[[str], bool], can_take: Callable[[str], bool],
              excluded: set[str]) -> str | None:
    """The first of `candidates` (ring order after the homes) that is ALIVE, can take copies and is
    not `excluded` (holds a copy of the layout, or stands in for another slot already)."""
    for node in candidates:
        if node not in excluded and is_live(node) and can_take(node):
            return node
    return None


def _match_shares(homes: tuple[str, ...], wanted: int, held: dict[int, list[str]],
                  preferred: dict[int, str]) -> list[str | None]:
    """Share index -> home node, keeping as many shares as possible on the homes that hold them (see
    the module docstring): a maximum matching of shares to homes holding them, by augmenting paths
    (Kuhn's algorithm; a stripe has at most a few dozen shares). Each share tries the home its
    record names first, so a matching that is already maximal is kept as it is."""
    options: dict[int, list[str]] = {}
    for slot in range(wanted):
        holding = [n for n in homes if n in held.get(slot, ())]
        if preferred.get(slot) in holding:
            holding.remove(preferred[slot])
            holding.insert(0, preferred[slot])
        options[slot] = holding
    owner: dict[str, int] = {}  # home -> the share it keeps

    def augment(slot: int, seen: set[str]) -> bool:
        for node in options[slot]:
            if node in seen:
                continue
            seen.add(node)
            if node not in owner or augment(owner[node], seen):
                owner[node] = slot
                return True
        return False

    for slot in range(wanted):
        augment(slot, set())
    targets: list[str | None] = [None] * wanted
    for node, slot in owner.items():
        targets[slot] = node
    free = [n for n in homes if n not in owner]
    for slot in range(wanted):  # a handoff copy's slot goes back to the home it stands in for
        if targets[slot] is None and preferred.get(slot) in free:
            targets[slot] = preferred[slot]
            free.remove(preferred[slot])
    for slot in range(wanted):
        if targets[slot] is None and free:
            targets[slot] = free.pop(0)
    return targets


def _down_holders(held: dict[int, list[str]], is_live: Callable[[str], bool]) -> str:
    away = sorted({n for nodes in held.values() for n in nodes if not is_live(n)})
    return f" (copies on nodes not ALIVE: {', '.join(away)})" if away else ""
