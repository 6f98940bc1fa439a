"""Unit tests for node/ring: positions, tokens, preference lists, zones, weights and movement."""

from __future__ import annotations

import bisect
import random

import blake3
import pytest

from node.ring import (
    POSITION_MAX,
    RING_SIZE,
    Ring,
    RingMember,
    bucket_directory_position,
    chunk_position,
    metadata_position,
)

SEED = 20240601
KEYS = 20_000
REFERENCE_KEYS = 2_000


def _positions(count: int, seed: int = SEED) -> list[int]:
    rng = random.Random(seed)
    # Include the edges of the ring: wrapping bugs live there.
    return [0, POSITION_MAX] + [rng.getrandbits(64) for _ in range(count - 2)]


def _first8(data: bytes) -> int:
    return int.from_bytes(blake3.blake3(data).digest()[:8], "big")


def _nodes(n: int, zones: int = 0, prefix: str = "node") -> list[RingMember]:
    return [RingMember(f"{prefix}-{i}", zone=f"zone-{i % zones}" if zones else "")
            for i in range(n)]


class _ReferenceWalk:
    """Brute force: walk the token list until every member is met, then put zone firsts first."""

    def __init__(self, ring: Ring) -> None:
        self.tokens = ring.tokens()
        self.values = [token for token, _ in self.tokens]
        self.zone_of = {m.node_id: m.zone for m in ring.members}
        self.size = len(ring)

    def preference(self, position: int, count: int) -> list[str]:
        start = bisect.bisect_left(self.values, position)
        walk: list[str] = []
        for k in range(len(self.tokens)):
            node_id = self.tokens[(start + k) % len(self.tokens)][1]
            if node_id not in walk:
                walk.append(node_id)
                if len(walk) == self.size:
                    break
        zones_used: set[str] = set()
        firsts: list[str] = []
        for node_id in walk:
            if self.zone_of[node_id] not in zones_used:
                zones_used.add(self.zone_of[node_id])
                firsts.append(node_id)
        rest = [node_id for node_id in walk if node_id not in firsts]
        return (firsts + rest)[:count]


# ---- positions -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, got, expected", [
    ("chunk", chunk_position(bytes(range(32))), int.from_bytes(bytes(range(8)), "big")),
    ("chunk all ones", chunk_position(b"\xff" * 32), POSITION_MAX),
    ("metadata", metadata_position("default", "photos"),
     _first8(b"manifests\0default\0photos")),
    ("metadata unicode", metadata_position("t\u00e9", "b\u00fccket"),
     _first8(b"manifests\0" + "t\u00e9".encode() + b"\0" + "b\u00fccket".encode())),
    ("bucket directory", bucket_directory_position("default"), _first8(b"buckets\0default")),
    # Pinned literal: every node of every version must agree on where metadata lives.
    ("metadata pinned", metadata_position("default", "photos"), 0x6528f38d51f8cf85),
])
def test_positions_follow_the_contract_formula(name: str, got: int, expected: int) -> None:
    """Positions are the first 8 bytes, big-endian, of the chunk id or the domain-separated hash."""
    assert got == expected, name


def test_metadata_positions_are_domain_separated() -> None:
    """Manifests and bucket directories of the same names land at different positions."""
    assert metadata_position("ab", "c") != metadata_position("a", "bc")
    assert metadata_position("default", "") != bucket_directory_position("default")


@pytest.mark.parametrize("call", [
    lambda: chunk_position(b"\x00" * 31),
    lambda: chunk_position(b"\x00" * 33),
    lambda: metadata_position("ten\0ant", "bucket"),
    lambda: metadata_position("tenant", "buck\0et"),
    lambda: bucket_directory_position("ten\0ant"),
])
def test_positions_reject_bad_input(call) -> None:
    """Wrong-length chunk ids and names containing NUL are ValueError, not a silent position."""
    with pytest.raises(ValueError):
        call()


# ---- tokens and determinism ----------------------------------------------------------------------

def test_tokens_are_blake3_of_node_id_and_index() -> None:
    """Token i of a node is the first 8 bytes of blake3(f"{node_id}/{i}"), sorted on the ring."""
    ring = Ring([RingMember("node-a"), RingMember("node-b")], vnodes_per_node=4)
    expected = sorted((_first8(f"{node}/{i}".encode()), node)
                      for node in ("node-a", "node-b") for i in range(4))
    assert ring.tokens() == expected
    ring.check()


def test_ring_is_a_pure_function_of_the_member_set() -> None:
    """Any member order gives the same members, tokens, ownership and preference lists."""
    members = _nodes(7, zones=3)
    rings = []
    for seed in range(4):
        shuffled = list(members)
        random.Random(seed).shuffle(shuffled)
        rings.append(Ring(shuffled, vnodes_per_node=64))
    base = rings[0]
    base.check()
    assert [m.node_id for m in base.members] == sorted(m.node_id for m in members)
    for ring in rings[1:]:
        assert ring == base and hash(ring) == hash(base)
        assert ring.tokens() == base.tokens()
        assert ring.ownership() == base.ownership()
    for position in _positions(2_000):
        expected = base.preference_list(position, 3)
        assert all(ring.preference_list(position, 3) == expected for ring in rings[1:])


def test_fingerprint_names_what_places_keys() -> None:
    """Same members in any order: same fingerprint; another member, zone, weight or vnodes: another."""
    members = _nodes(5, zones=2)
    base = Ring(members, vnodes_per_node=16)
    assert base.fingerprint == Ring(list(reversed(members)), vnodes_per_node=16).fingerprint
    assert 0 < base.fingerprint < 2 ** 64
    first = members[0]
    others = {
        "joined": Ring([*members, RingMember("node-new")], vnodes_per_node=16),
        "left": Ring(members[1:], vnodes_per_node=16),
        "zone": base.with_member(RingMember(first.node_id, "elsewhere", first.weight)),
        "weight": base.with_member(RingMember(first.node_id, first.zone, first.weight * 2)),
        "vnodes": Ring(members, vnodes_per_node=17),
    }
    fingerprints = {name: ring.fingerprint for name, ring in others.items()}
    assert base.fingerprint not in fingerprints.values(), fingerprints
    assert len(set(fingerprints.values())) == len(fingerprints), fingerprints
    # A weight change too small to change the token count places every key alike.
    nudged = base.with_member(RingMember(first.node_id, first.zone, first.weight * 1.0001))
    assert nudged.tokens() == base.tokens() and nudged.fingerprint == base.fingerprint


def test_token_collisions_order_by_node_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """Members sharing a token are ordered by node_id, in the walk and in the fallback order."""
    # Every node gets tokens 0, 1000, 2000: every token collides with two others.
    monkeypatch.setattr("node.ring.ring.token_of", lambda node_id, i: i * 1000)
    ring = Ring([RingMember("c"), RingMember("a"), RingMember("b")], vnodes_per_node=3)
    ring.check()
    assert ring.tokens() == [(t, n) for t in (0, 1000, 2000) for n in ("a", "b", "c")]
    for position in (0, 1, 1000, 2001, POSITION_MAX):
        assert ring.preference_list(position, 3) == ["a", "b", "c"]
        assert ring.ordered_nodes(position) == ["a", "b", "c"]
        assert ring.preference_list(position, 1) == ["a"]
    # The first of the colliding tokens owns every range; the others own nothing.
    assert ring.ownership() == {"a": 1.0, "b": 0.0, "c": 0.0}


# ---- preference lists ----------------------------------------------------------------------------

PREFERENCE_CASES = [
    # (label, members, vnodes_per_node)
    ("5 nodes, no zones", _nodes(5), 256),
    ("6 nodes, 3 zones", _nodes(6, zones=3), 256),
    ("6 nodes, 2 zones", _nodes(6, zones=2), 256),
    ("12 nodes, 4 zones, weights",
     [RingMember(f"w-{i}", zone=f"z{i % 4}", weight=0.5 + (i % 3) * 0.75) for i in range(12)], 64),
    ("tiny zone", _nodes(5, zones=1) + [RingMember("tiny", zone="rare", weight=0.01)], 256),
    ("1 vnode each", _nodes(9, zones=3), 1),
]


@pytest.mark.parametrize("label, members, vnodes", PREFERENCE_CASES,
                         ids=[case[0] for case in PREFERENCE_CASES])
def test_preference_lists_are_distinct_owner_first_and_sized(label, members, vnodes) -> None:
    """Preference lists hold min(count, N) distinct ids and start at the next token's owner."""
    ring = Ring(members, vnodes_per_node=vnodes)
    ring.check()
    tokens = ring.tokens()
    token_values = [token for token, _ in tokens]
    # Positions exactly at a token (and just past one) pin which side of a token owns it.
    at_tokens = [token + delta for token in token_values[::5] for delta in (0, 1)
                 if token + delta <= POSITION_MAX]
    for i, position in enumerate(_positions(KEYS // 4) + at_tokens):
        count = (1, 2, 3, len(ring) + 2)[i % 4]
        got = ring.preference_list(position, count)
        assert len(got) == min(count, len(ring)), label
        assert len(set(got)) == len(got), label
        owner = tokens[bisect.bisect_left(token_values, position) % len(tokens)][1]
        assert got[0] == owner, (label, position)


@pytest.mark.parametrize("label, members, vnodes", PREFERENCE_CASES,
                         ids=[case[0] for case in PREFERENCE_CASES])
def test_preference_lists_match_a_brute_force_walk(label, members, vnodes) -> None:
    """preference_list, its per-member fallback and ordered_nodes all equal a full-ring walk."""
    ring = Ring(members, vnodes_per_node=vnodes)
    reference = _ReferenceWalk(ring)
    n = len(ring)
    at_tokens = reference.values[::50]
    for position in _positions(REFERENCE_KEYS) + at_tokens:
        expected = reference.preference(position, n)
        assert ring.ordered_nodes(position) == expected, (label, position)
        assert ring.preference_list(position, n) == expected, (label, position)
        for count in (1, 2, 3):
            assert ring.preference_list(position, count) == expected[:count], (label, position)
            # walk_tokens_max=0 forces the per-member walk order; it must agree with the walk.
            fallback = [ring.members[i].node_id
                        for i in ring._preference_indices(position, min(count, n), 0)]
            assert fallback == expected[:count], (label, position)


@pytest.mark.parametrize("label, zones, nodes, replicas, distinct_first", [
    ("3 zones, 6 nodes, 3 replicas", 3, 6, 3, 3),
    ("2 zones, 6 nodes, 3 replicas", 2, 6, 3, 2),
    ("2 zones, 5 nodes, 3 replicas", 2, 5, 3, 2),
    ("4 zones, 8 nodes, 6 shares", 4, 8, 6, 4),
])
def test_zones_are_spread_first(label, zones, nodes, replicas, distinct_first) -> None:
    """The first min(replicas, zones) entries of every preference list are in distinct zones."""
    ring = Ring(_nodes(nodes, zones=zones))
    ring.check()
    zone_of = {m.node_id: m.zone for m in ring.members}
    for position in _positions(KEYS):
        got = ring.preference_list(position, replicas)
        assert len(got) == replicas, label
        assert len({zone_of[n] for n in got[:distinct_first]}) == distinct_first, (label, position)


# ---- weights and ownership -----------------------------------------------------------------------

@pytest.mark.parametrize("weight, vnodes, tokens", [
    (1.0, 256, 256),
    (2.0, 256, 512),
    (0.5, 256, 128),
    (1.5, 10, 15),
    (0.001, 256, 1),  # never fewer than one token
    (1.0, 1, 1),
])
def test_token_count_follows_weight(weight, vnodes, tokens) -> None:
    """A member owns max(1, round(vnodes_per_node * weight)) tokens."""
    ring = Ring([RingMember("node-a", weight=weight), RingMember("node-b")], vnodes_per_node=vnodes)
    ring.check()
    assert sum(1 for _, owner in ring.tokens() if owner == "node-a") == tokens


def test_double_weight_owns_about_twice_the_share() -> None:
    """A weight-2.0 node owns about twice the key space of each weight-1.0 node (within 20 %)."""
    ring = Ring(_nodes(5) + [RingMember("heavy", weight=2.0)])
    ring.check()
    share = ring.ownership()
    for node_id, node_share in share.items():
        if node_id != "heavy":
            assert 1.6 <= share["heavy"] / node_share <= 2.4, node_id
    # Sampled keys agree with the computed ownership.
    firsts = [ring.preference_list(p, 1)[0] for p in _positions(KEYS)]
    assert abs(firsts.count("heavy") / KEYS - share["heavy"]) < 0.02


@pytest.mark.parametrize("members", [
    [RingMember("solo")],
    _nodes(5),
    _nodes(6, zones=3) + [RingMember("big", zone="zone-0", weight=3.0)],
])
def test_ownership_sums_to_one(members) -> None:
    """ownership() covers all 2**64 positions exactly once and lists every member."""
    ring = Ring(members)
    share = ring.ownership()
    assert set(share) == ring.node_ids
    assert abs(sum(share.values()) - 1.0) <= 1e-9
    assert all(value > 0 for value in share.values())


# ---- movement ------------------------------------------------------------------------------------

def test_adding_a_node_moves_about_one_nth() -> None:
    """Adding a 6th node to 5 moves 0.8/6..1.3/6 of first preferences and of replica slots."""
    before = Ring(_nodes(5))
    after = before.with_member(RingMember("node-5"))
    after.check()
    moved_first = moved_slots = 0
    for position in _positions(KEYS):
        old = before.preference_list(position, 3)
        new = after.preference_list(position, 3)
        moved_first += old[0] != new[0]
        changed = set(old) - set(new)
        moved_slots += len(changed)
        if changed:
            assert "node-5" in new, position
    assert 0.8 / 6 <= moved_first / KEYS <= 1.3 / 6
    assert 0.8 / 6 <= moved_slots / (3 * KEYS) <= 1.3 / 6


@pytest.mark.parametrize("zones", [0, 3])
def test_keys_that_move_on_join_move_to_the_new_node(zones) -> None:
    """Every preference list changed by a join now includes the joining node."""
    before = Ring(_nodes(6, zones=zones))
    joined = RingMember("joiner", zone="zone-1" if zones else "")
    after = before.with_member(joined)
    after.check()
    for position in _positions(KEYS // 2):
        old, new = before.preference_list(position, 3), after.preference_list(position, 3)
        if set(old) != set(new):
            assert "joiner" in new, position


@pytest.mark.parametrize("zones", [0, 3])
def test_removing_a_node_moves_only_its_slots(zones) -> None:
    """Removing one of 6 nodes changes only lists that held it; their survivors stay."""
    before = Ring(_nodes(6, zones=zones))
    after = before.without_member("node-2")
    after.check()
    assert "node-2" not in after and len(after) == 5
    for position in _positions(KEYS):
        old, new = before.preference_list(position, 3), after.preference_list(position, 3)
        if "node-2" not in old:
            assert new == old, position
        else:
            assert set(old) - {"node-2"} <= set(new), position
            assert len(new) == 3


def test_with_and_without_member_keep_the_ring_consistent() -> None:
    """check() passes after every with_member/without_member, and each equals a fresh build."""
    rng = random.Random(SEED)
    ring = Ring([], vnodes_per_node=32)
    ring.check()
    present: dict[str, RingMember] = {}
    for step in range(40):
        if present and rng.random() < 0.35:
            node_id = rng.choice(sorted(present))
            ring = ring.without_member(node_id)
            del present[node_id]
        else:
            # Adds new nodes and re-adds existing ones with a new weight or zone (a replace).
            member = RingMember(f"n-{rng.randrange(12)}", zone=f"z{rng.randrange(3)}",
                                weight=rng.choice([0.5, 1.0, 1.5, 2.0]))
            ring = ring.with_member(member)
            present[member.node_id] = member
        ring.check()
        assert ring == Ring(present.values(), vnodes_per_node=32), step
        assert ring.tokens() == Ring(present.values(), vnodes_per_node=32).tokens(), step


def test_weight_change_keeps_existing_tokens() -> None:
    """Raising a node's weight adds tokens and keeps its old ones, so only new ranges move."""
    ring = Ring(_nodes(4), vnodes_per_node=16)
    heavier = ring.with_member(RingMember("node-0", weight=2.0))
    heavier.check()
    old = {t for t, n in ring.tokens() if n == "node-0"}
    new = {t for t, n in heavier.tokens() if n == "node-0"}
    assert old < new and len(new) == 32


# ---- edge cases and bad input --------------------------------------------------------------------

def test_empty_ring() -> None:
    """An empty ring has no members, tokens or owners, and every preference list is empty."""
    ring = Ring([])
    ring.check()
    assert len(ring) == 0 and ring.node_ids == frozenset() and ring.members == ()
    assert ring.tokens() == [] and ring.ownership() == {}
    for position in (0, 12345, POSITION_MAX):
        assert ring.preference_list(position, 3) == []
        assert ring.ordered_nodes(position) == []
    assert ring.with_member(RingMember("first")).node_ids == {"first"}


def test_single_node_ring() -> None:
    """A one-node ring puts every key on that node and owns the whole key space."""
    ring = Ring([RingMember("solo", zone="z")])
    ring.check()
    assert ring.ownership() == {"solo": 1.0}
    for position in _positions(1_000):
        assert ring.preference_list(position, 3) == ["solo"]
        assert ring.preference_list(position, 0) == []
        assert ring.ordered_nodes(position) == ["solo"]
    assert len(ring.without_member("solo")) == 0


@pytest.mark.parametrize("label, call, error", [
    ("duplicate node ids", lambda: Ring([RingMember("a"), RingMember("b"), RingMember("a")]),
     ValueError),
    ("vnodes zero", lambda: Ring([RingMember("a")], vnodes_per_node=0), ValueError),
    ("vnodes too many", lambda: Ring([RingMember("a")], vnodes_per_node=5000), ValueError),
    ("empty node id", lambda: RingMember(""), ValueError),
    ("zero weight", lambda: RingMember("a", weight=0.0), ValueError),
    ("negative weight", lambda: RingMember("a", weight=-1.0), ValueError),
    ("nan weight", lambda: RingMember("a", weight=float("nan")), ValueError),
    ("too many tokens", lambda: Ring([RingMember("a", weight=1000.0)]), ValueError),
    ("not a member", lambda: Ring(["a"]), ValueError),  # type: ignore[list-item]
    ("negative position", lambda: Ring([RingMember("a")]).preference_list(-1, 1), ValueError),
    ("position past ring", lambda: Ring([RingMember("a")]).preference_list(RING_SIZE, 1),
     ValueError),
    ("negative count", lambda: Ring([RingMember("a")]).preference_list(0, -1), ValueError),
    ("ordered bad position", lambda: Ring([]).ordered_nodes(RING_SIZE), ValueError),
    ("remove unknown", lambda: Ring([RingMember("a")]).without_member("b"), KeyError),
])
def test_bad_input_raises(label, call, error) -> None:
    """Bad members, sizes and positions are exceptions (the caller's bug), never asserts."""
    with pytest.raises(error):
        call()
