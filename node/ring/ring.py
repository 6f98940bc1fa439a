"""The consistent-hash ring: tokens built from a member list, and preference lists with zone spread.

Design. Every member owns `max(1, round(vnodes_per_node * weight))` tokens; token i of a node is the
first 8 bytes (big-endian) of blake3(f"{node_id}/{i}"). The ring is a pure function of the member
set, so every node computes the same ring from the same membership with no coordinator, and member
order does not matter. Tokens are sorted by (token, node_id), so even a token collision between two
nodes orders the same way everywhere. Because token i does not depend on how many tokens a node
has, changing a node's weight adds or removes tokens at the end of its sequence and leaves the
others in place: only the key ranges of those tokens move.

A position's preference list walks clockwise from the first token >= position (wrapping), keeping
distinct nodes. With zones it first takes, in walk order, the first node of each zone not yet
used; once every zone is used it fills with the remaining nodes in walk order. A member with an
empty zone is in the zone "", so a ring without zones is a ring with one zone and the rule reduces
to the plain walk. Adding a node only inserts it into walks and removing one only takes it out, so
about 1/N of the preference-list slots move when N changes by one.

Speed. `preference_list` runs once per 4 MiB chunk on rings of ~5..1000 members with 256 tokens
each, so it bisects into one flat sorted token list and walks at most `walk_tokens_max` tokens,
stopping as soon as the answer is known (without zones, after `count` distinct nodes). When the
walk is long (a small zone, or asking for most of the members) it switches to computing the walk
order from each member's own sorted tokens: a member's place in the walk is its first token at or
after the position, so one bisect per member gives the whole order in O(members * log tokens)
instead of O(tokens). `ordered_nodes`, which wants every member, always takes that route.

Rejected: rendezvous (highest-random-weight) hashing. It needs no tokens and moves exactly 1/N,
but every lookup hashes every member, which is ~1000 blake3 calls per chunk on a large cluster.

Rejected: precomputing the preference list of every token range (Dynamo's "partition table"). It
makes lookups one bisect, but costs tokens * replicas memory and a rebuild per replication factor,
and the walk is already a few microseconds.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Iterable, Sequence

import blake3

from node.ring.positions import POSITION_MAX, RING_SIZE, position_from_digest

# Same range as RingConfig.vnodes_per_node.
VNODES_PER_NODE_MAX = 4096
# Most tokens one member may own (weight * vnodes_per_node); bounds the cost of one heavy member.
TOKENS_PER_MEMBER_MAX = 65_536
# Most tokens in one ring (about 8000 members of weight 1.0 at 256 vnodes); bounds memory and the
# time a ring rebuild takes.
RING_TOKENS_MAX = 2_097_152
# A preference-list walk visits at most this many tokens per requested node (plus
# _WALK_TOKENS_BASE) before it switches to the per-member order. A plain walk over N equal nodes
# needs at most about count * N / (N - count + 1) tokens, so this only triggers on small zones or
# large counts.
_WALK_TOKENS_PER_PICK_MAX = 8
_WALK_TOKENS_BASE = 32


@dataclasses.dataclass(frozen=True)
class RingMember:
    """One node as the ring sees it: id, failure zone and relative weight (from capacity)."""

    node_id: str
    # Failure domain (rack, host, disk...). Preference lists use distinct zones first.
    zone: str = ""
    # Relative share of the key space; the node gets max(1, round(vnodes_per_node * weight)) tokens.
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.node_id, str) or not self.node_id:
            raise ValueError(
                f"ring member node_id must be a non-empty string, not {self.node_id!r}")
        if not isinstance(self.zone, str):
            raise ValueError(
                f"ring member {self.node_id}: zone must be a string, not {self.zone!r}")
        if not math.isfinite(self.weight) or self.weight <= 0:
            raise ValueError(f"ring member {self.node_id}: weight must be a finite number > 0, "
                             f"not {self.weight!r}")

    def token_count(self, vnodes_per_node: int) -> int:
        """Tokens this member owns on a ring with `vnodes_per_node` tokens per weight 1.0."""
        return max(1, round(vnodes_per_node * self.weight))


def token_of(node_id: str, i: int) -> int:
    """Token i of a node: the first 8 bytes (big-endian) of blake3(f"{node_id}/{i}")."""
    return position_from_digest(blake3.blake3(f"{node_id}/{i}".encode()).digest())


def member_tokens(node_id: str, count: int) -> list[int]:
    """Tokens 0..count-1 of a node, in generation order (not sorted)."""
    return [token_of(node_id, i) for i in range(count)]


class Ring:
    """An immutable consistent-hash ring over a set of members; see the module docstring."""

    def __init__(self, members: Iterable[RingMember], *, vnodes_per_node: int = 256) -> None:
        self._build(tuple(members), vnodes_per_node, token_cache={})

    # ---- construction ---------------------------------------------------------------------------

    def _build(self, members: tuple[RingMember, ...], vnodes_per_node: int,
               token_cache: dict[str, tuple[int, ...]]) -> None:
        """Fill in every field from the members; `token_cache` holds tokens already computed."""
        if not isinstance(vnodes_per_node, int) or not 1 <= vnodes_per_node <= VNODES_PER_NODE_MAX:
            raise ValueError(f"vnodes_per_node must be an integer in 1..{VNODES_PER_NODE_MAX} "
                             f"(try 256), not {vnodes_per_node!r}")
        for member in members:
            if not isinstance(member, RingMember):
                raise ValueError(f"ring members must be RingMember, not {type(member).__name__}")
        ordered = tuple(sorted(members, key=lambda m: m.node_id))
        for previous, member in zip(ordered, ordered[1:]):
            if previous.node_id == member.node_id:
                raise ValueError(f"duplicate node id {member.node_id!r} in ring members")

        counts = [member.token_count(vnodes_per_node) for member in ordered]
        for member, count in zip(ordered, counts):
            if count > TOKENS_PER_MEMBER_MAX:
                raise ValueError(
                    f"ring member {member.node_id} would own {count} tokens (weight "
                    f"{member.weight} * {vnodes_per_node} vnodes); the most is "
                    f"{TOKENS_PER_MEMBER_MAX}: lower its weight or vnodes_per_node")
        if sum(counts) > RING_TOKENS_MAX:
            raise ValueError(f"ring would hold {sum(counts)} tokens for {len(ordered)} members; "
                             f"the most is {RING_TOKENS_MAX}: lower vnodes_per_node")

        tokens_by_node: dict[str, tuple[int, ...]] = {}
        for member, count in zip(ordered, counts):
            cached = token_cache.get(member.node_id, ())
            if len(cached) < count:
                # Token i does not depend on the count, so a cached prefix stays valid.
                cached = cached + tuple(token_of(member.node_id, i)
                                        for i in range(len(cached), count))
            tokens_by_node[member.node_id] = cached[:count]

        zones = sorted({member.zone for member in ordered})
        zone_index = {zone: index for index, zone in enumerate(zones)}

        # Flat ring as parallel lists (token value, owner's member index): bisect works on plain
        # ints and the walk compares small ints, which is what keeps preference_list fast. The flat
        # lists start in member (node_id) order and the sort is stable, so equal tokens stay in
        # node_id order: the ring is sorted by (token, node_id). An index sort is about twice as
        # fast as sorting (token, index) tuples, which matters for 256k-token rebuilds.
        flat_values = [token for member in ordered for token in tokens_by_node[member.node_id]]
        flat_owners = [index for index, count in enumerate(counts) for _ in range(count)]
        ring_order = sorted(range(len(flat_values)), key=flat_values.__getitem__)

        self._vnodes_per_node = vnodes_per_node
        self._members = ordered
        self._node_ids = frozenset(member.node_id for member in ordered)
        self._ids = [member.node_id for member in ordered]
        self._member_zone = [zone_index[member.zone] for member in ordered]
        self._zone_count = len(zones)
        self._tokens_by_node = tokens_by_node
        self._member_tokens_sorted = [sorted(tokens_by_node[member.node_id]) for member in ordered]
        self._token_values = [flat_values[k] for k in ring_order]
        self._token_owners = [flat_owners[k] for k in ring_order]
        self._ownership: dict[str, float] | None = None
        self._fingerprint = _fingerprint(ordered, counts, vnodes_per_node)

    def _derived(self, members: Iterable[RingMember]) -> "Ring":
        """A new ring with the same vnodes_per_node, reusing this ring's computed tokens."""
        ring = Ring.__new__(Ring)
        ring._build(tuple(members), self._vnodes_per_node, token_cache=self._tokens_by_node)
        return ring

    def with_member(self, member: RingMember) -> "Ring":
        """A new ring with `member` added, or replacing the member with the same node id."""
        return self._derived([m for m in self._members if m.node_id != member.node_id] + [member])

    def without_member(self, node_id: str) -> "Ring":
        """A new ring without `node_id`; KeyError when it is not a member."""
        if node_id not in self._node_ids:
            raise KeyError(f"node {node_id!r} is not a ring member")
        return self._derived(m for m in self._members if m.node_id != node_id)

    # ---- reading ---------------------------------------------------------------------------------

    @property
    def members(self) -> tuple[RingMember, ...]:
        """The members, sorted by node_id."""
        return self._members

    @property
    def node_ids(self) -> frozenset[str]:
        return self._node_ids

    @property
    def vnodes_per_node(self) -> int:
        return self._vnodes_per_node

    @property
    def fingerprint(self) -> int:
        """A nonzero 64-bit digest of what places keys (each member's id, zone and token count,
        and vnodes_per_node): two rings that place every key alike have the same fingerprint on
        every node, so nodes compare rings by it (metadata handover, `nodectl status`)."""
        return self._fingerprint

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._node_ids

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Ring):
            return NotImplemented
        return (self._members, self._vnodes_per_node) == (other._members, other._vnodes_per_node)

    def __hash__(self) -> int:
        return hash((self._members, self._vnodes_per_node))

    def __repr__(self) -> str:
        return (f"Ring({len(self._members)} members, {len(self._token_values)} tokens, "
                f"vnodes_per_node={self._vnodes_per_node})")

    def tokens(self) -> list[tuple[int, str]]:
        """(token, node_id) in ring order: by token, then node_id."""
        ids = self._ids
        return [(token, ids[owner]) for token, owner in zip(self._token_values, self._token_owners)]

    def preference_list(self, position: int, count: int) -> list[str]:
        """The first `count` distinct nodes clockwise from `position`, distinct zones first.

        Returns min(count, len(self)) node ids; an empty ring gives [].
        """
        _check_position(position)
        if count < 0:
            raise ValueError(f"preference list count must be >= 0, not {count}")
        count = min(count, len(self._members))
        if count == 0:
            return []
        walk_tokens_max = _WALK_TOKENS_BASE + _WALK_TOKENS_PER_PICK_MAX * count
        ids = self._ids
        return [ids[index] for index in self._preference_indices(position, count, walk_tokens_max)]

    def ordered_nodes(self, position: int) -> list[str]:
        """Every member in preference order from `position` (preference_list(p, len(self)))."""
        _check_position(position)
        if not self._members:
            return []
        ids = self._ids
        return [ids[index] for index in self._zone_spread(self._walk_order(position))]

    def ownership(self) -> dict[str, float]:
        """Fraction of the 2**64 positions whose first preference is each node (sums to 1.0)."""
        if self._ownership is None:
            self._ownership = self._compute_ownership()
        return dict(self._ownership)

    # ---- internals ----------------------------------------------------------------------------

    def _preference_indices(self, position: int, count: int, walk_tokens_max: int) -> list[int]:
        """Member indices of the preference list; 1 <= count <= len(self).

        Walks at most `walk_tokens_max` tokens, then falls back to the per-member walk order.
        """
        assert 1 <= count <= len(self._members), (count, len(self._members))
        owners = self._token_owners
        token_total = len(owners)
        member_zone = self._member_zone
        firsts_wanted = min(count, self._zone_count)
        seen: set[int] = set()
        zones_used: set[int] = set()
        firsts: list[int] = []  # the first node of each zone, in walk order
        rest: list[int] = []  # every other distinct node, in walk order
        steps = min(token_total, walk_tokens_max)
        i = bisect.bisect_left(self._token_values, position)
        for _ in range(steps):
            if i == token_total:
                i = 0
            owner = owners[i]
            i += 1
            if owner in seen:
                continue
            seen.add(owner)
            zone = member_zone[owner]
            if zone in zones_used:
                rest.append(owner)
            else:
                zones_used.add(zone)
                firsts.append(owner)
            if len(firsts) == firsts_wanted and len(firsts) + len(rest) >= count:
                return (firsts + rest)[:count]
        # A walk over the whole ring sees every member, so it always returns above.
        assert steps < token_total, (steps, token_total, count)
        return self._zone_spread(self._walk_order(position))[:count]

    def _walk_order(self, position: int) -> list[int]:
        """Every member index in the order a clockwise walk from `position` first meets it.

        A member is met at its first token >= position (wrapping), so one bisect per member gives
        the order without visiting every token. Ties go by member index, i.e. node_id, as on the
        ring.
        """
        keyed: list[tuple[int, int]] = []
        for index, member_tokens_sorted in enumerate(self._member_tokens_sorted):
            j = bisect.bisect_left(member_tokens_sorted, position)
            if j < len(member_tokens_sorted):
                keyed.append((member_tokens_sorted[j], index))
            else:
                keyed.append((member_tokens_sorted[0] + RING_SIZE, index))
        keyed.sort()
        return [index for _, index in keyed]

    def _zone_spread(self, order: Sequence[int]) -> list[int]:
        """Reorder a walk order: the first member of each zone, then the others, both in order."""
        member_zone = self._member_zone
        zones_used: set[int] = set()
        firsts: list[int] = []
        rest: list[int] = []
        for index in order:
            zone = member_zone[index]
            if zone in zones_used:
                rest.append(index)
            else:
                zones_used.add(zone)
                firsts.append(index)
        return firsts + rest

    def _compute_ownership(self) -> dict[str, float]:
        # Token k owns the positions (previous token, token k]; the first token also owns the
        # wrap-around range after the last token. Exact integer arithmetic, then one division.
        owned = [0] * len(self._members)
        values = self._token_values
        previous = values[-1] - RING_SIZE if values else 0
        for token, owner in zip(values, self._token_owners):
            owned[owner] += token - previous
            previous = token
        return {node_id: share / RING_SIZE for node_id, share in zip(self._ids, owned)}

    def check(self) -> None:
        """Raise AssertionError when an invariant does not hold (a bug in this module)."""
        ids = self._ids
        _invariant(list(ids) == sorted(set(ids)), "members are not sorted by unique node_id")
        _invariant(tuple(m.node_id for m in self._members) == tuple(ids), "member ids out of sync")
        _invariant(self._node_ids == frozenset(ids), "node_ids does not match the members")
        _invariant(len(self._token_values) == len(self._token_owners),
                   "token lists differ in length")
        pairs = list(zip(self._token_values, self._token_owners))
        _invariant(pairs == sorted(pairs), "tokens are not sorted by (token, node_id)")
        _invariant(all(0 <= token <= POSITION_MAX for token in self._token_values),
                   "a token is outside the ring")
        _invariant(all(0 <= owner < len(ids) for owner in self._token_owners),
                   "a token's owner is not a member")
        owned_counts = [0] * len(ids)
        for owner in self._token_owners:
            owned_counts[owner] += 1
        for member, owned_count, own_sorted in zip(self._members, owned_counts,
                                                   self._member_tokens_sorted):
            expected = member.token_count(self._vnodes_per_node)
            _invariant(owned_count == expected,
                       f"{member.node_id} owns {owned_count} tokens, expected {expected}")
            _invariant(own_sorted == sorted(member_tokens(member.node_id, expected)),
                       f"{member.node_id}'s tokens are not blake3(node_id/i)")
        zones = sorted({member.zone for member in self._members})
        _invariant(self._zone_count == len(zones), "zone count out of sync")
        _invariant(all(zones[z] == m.zone for m, z in zip(self._members, self._member_zone)),
                   "member zones out of sync")
        if self._members:
            total = sum(self._compute_ownership().values())
            _invariant(abs(total - 1.0) <= 1e-9, f"ownership sums to {total!r}, not 1")


def _fingerprint(members: Sequence[RingMember], counts: Sequence[int], vnodes_per_node: int) -> int:
    text = "".join(f"{m.node_id}\0{m.zone}\0{count}\n" for m, count in zip(members, counts))
    digest = blake3.blake3(f"ring-v1\0{vnodes_per_node}\n{text}".encode()).digest(length=8)
    return int.from_bytes(digest, "big") or 1


def _check_position(position: int) -> None:
    if not isinstance(position, int) or not 0 <= position <= POSITION_MAX:
        raise ValueError(f"ring position must be an integer in 0..{POSITION_MAX}, not {position!r}")


def _invariant(ok: bool, message: str) -> None:
    # Explicit raise rather than `assert`, so check() still checks under `python -O`.
    if not ok:
        raise AssertionError(message)
