"""Membership and failure detection (node/gossip), under a manual clock.

Most tests run a `SimNet`: N `Membership` instances sharing one ManualClock, stepped every
gossip_interval_s of virtual time, whose Outgoing messages are delivered at once by calling the
target's on_* method. A killed node neither sends nor receives; a cut link drops messages both ways
between two nodes. Nodes named `old` run the protocol from before digest sync: they send whole
tables (state_sync_buckets = 0) and answer a digest with UNIMPLEMENTED, as an old daemon would. A
failed indirect probe reports back after indirect_probe_timeout_s of virtual time, as the real
driver would. Timers are binary fractions (1.0, 0.25, 0.5 s), so the virtual times the tests assert
are exact.
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import itertools
import random
import threading
import time
from collections.abc import Callable, Sequence

import pytest

from node.config import GossipConfig
from node.gossip import (
    BroadcastQueue,
    MEMBERS_MAX,
    InvalidMember,
    JoinUnanswered,
    ManualClock,
    MemberInfo,
    MemberState,
    Membership,
    MembershipDriver,
    Outgoing,
    PeerRejected,
    PeerUnimplemented,
    PeerUnreachable,
    SystemClock,
    in_ring,
    ring_member,
    ring_members,
    supersedes,
    watched_by,
    watchers_of,
)
from node.gossip.table import MemberTable
from node.gossip.watchers import watched_in_sorted, watchers_in_sorted
from node.ring import RingMember
from ringstore.v1 import membership_pb2

GIB = 1024**3
ALIVE, DOWN, OUT, LEFT = MemberState.ALIVE, MemberState.DOWN, MemberState.OUT, MemberState.LEFT

CONFIG = GossipConfig(
    heartbeat_interval_s=1.0,       # down_after_s = 3 missed heartbeats = 3.0 s
    gossip_interval_s=0.25,
    indirect_probe_timeout_s=0.5,
    state_sync_interval_s=30.0,
)


def member(node_id: str = "n1", *, generation: int = 100, incarnation: int = 0,
           state: MemberState = ALIVE, **kw) -> MemberInfo:
    return MemberInfo(node_id=node_id, address=kw.pop("address", f"{node_id}.test:7400"),
                      zone=kw.pop("zone", ""), capacity_bytes=kw.pop("capacity_bytes", GIB),
                      generation=generation, incarnation=incarnation, state=state, **kw)


@dataclasses.dataclass(frozen=True)
class Change:
    time_s: float
    observer: str
    old: MemberInfo | None
    new: MemberInfo
    via: str   # which call made it: "step", "probe", "message", "local"


class SimNet:
    """An in-memory cluster of Membership instances on one ManualClock (see module docstring)."""

    def __init__(self, config: GossipConfig = CONFIG, seed: int = 0, old: Sequence[str] = ()) -> None:
        self.config = config
        self.seed = seed
        self.old = frozenset(old)
        self.clock = ManualClock()
        self.rng = random.Random(seed)
        self.nodes: dict[str, Membership] = {}
        self.killed: set[str] = set()
        self.cut: set[tuple[str, str]] = set()
        self.changes: list[Change] = []
        self.sent: list[tuple[float, str, Outgoing]] = []
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_seq = itertools.count()
        self._via = "local"

    # -- cluster control
    def start_node(self, node_id: str) -> Membership:
        me = member(node_id, generation=self.clock.wall_ms())
        config = self.config
        if node_id in self.old:
            config = dataclasses.replace(config, state_sync_buckets=0)
        node = Membership(config=config, me=me, clock=self.clock,
                          rng=random.Random(self.rng.random()))
        node.add_listener(lambda old, new, observer=node_id: self.changes.append(
            Change(self.clock.monotonic_s(), observer, old, new, self._via)))
        self.nodes[node_id] = node
        self.killed.discard(node_id)
        return node

    def join(self, node_id: str, seed_id: str) -> None:
        assert self.reachable(node_id, seed_id) and self.reachable(seed_id, node_id)
        table = self._call("message", self.nodes[seed_id].on_join, self.nodes[node_id].me())
        self._call("message", self.nodes[node_id].on_sync_reply, table)

    def kill(self, node_id: str) -> None:
        self.killed.add(node_id)

    def cut_link(self, a: str, b: str) -> None:
        self.cut |= {(a, b), (b, a)}

    def reachable(self, src: str, dst: str) -> bool:
        return src not in self.killed and dst not in self.killed and (src, dst) not in self.cut

    def live_ids(self) -> list[str]:
        return sorted(i for i in self.nodes if i not in self.killed)

    # -- time
    def now_s(self) -> float:
        return self.clock.monotonic_s()

    def tick(self) -> None:
        self.clock.advance(self.config.gossip_interval_s)
        while self._timers and self._timers[0][0] <= self.now_s():
            _, _, fire = heapq.heappop(self._timers)
            fire()
        for node_id in self.live_ids():
            for outgoing in self._call("step", self.nodes[node_id].step):
                self.deliver(node_id, outgoing)
        for node_id in self.live_ids():
            self.nodes[node_id].check()

    def run_for(self, seconds: float) -> None:
        end_s = self.now_s() + seconds
        while self.now_s() < end_s:
            self.tick()

    def run_until(self, predicate: Callable[[], bool], timeout_s: float) -> float:
        """Tick until `predicate()` holds; returns the virtual time it took (fails at timeout)."""
        start_s = self.now_s()
        while not predicate():
            assert self.now_s() - start_s <= timeout_s, (
                f"not reached within {timeout_s} s of virtual time; "
                f"reproduce with seed={self.seed}")
            self.tick()
        return self.now_s() - start_s

    # -- delivery
    def _call(self, via: str, fn: Callable, *args):
        self._via = via
        try:
            return fn(*args)
        finally:
            self._via = "local"

    def deliver(self, src: str, outgoing: Outgoing) -> None:
        dst = outgoing.target_node_id
        assert dst != src
        assert outgoing.target_address == self.nodes[dst].me().address
        self.sent.append((self.now_s(), src, outgoing))
        sender, target = self.nodes[src], self.nodes[dst]
        if outgoing.kind == "indirect_probe":
            self._probe(src, outgoing)
            return
        if not self.reachable(src, dst):
            return
        if outgoing.kind == "heartbeat":
            reply = self._call("message", target.on_heartbeat, sender.me(), outgoing.updates)
            if self.reachable(dst, src):
                self._call("message", sender.on_heartbeat_reply, dst, reply)
        elif outgoing.kind == "gossip":
            self._call("message", target.on_gossip, outgoing.updates)
        elif outgoing.kind == "sync":
            reply = self._call("message", target.on_sync, outgoing.updates)
            if self.reachable(dst, src):
                self._call("message", sender.on_sync_reply, reply)
        elif outgoing.kind == "sync_digest" and dst in self.old:
            if self.reachable(dst, src):     # UNIMPLEMENTED: fall back to the whole table, at once
                fallback = self._call("message", sender.on_sync_digest_unsupported, dst)
                if fallback is not None:
                    self.deliver(src, fallback)
        elif outgoing.kind == "sync_digest":
            buckets, members = self._call("message", target.on_sync_digest, outgoing.bucket_hashes)
            if self.reachable(dst, src):
                push = self._call("message", sender.on_sync_digest_reply, dst, buckets, members)
                if push is not None:
                    self.deliver(src, push)
        else:
            raise AssertionError(outgoing.kind)

    def _probe(self, src: str, outgoing: Outgoing) -> None:
        """Like the driver: helpers in parallel plus a direct ping; a failure takes the timeout."""
        target = outgoing.target_node_id

        def both_ways(a: str, b: str) -> bool:
            return self.reachable(a, b) and self.reachable(b, a)

        ok = both_ways(src, target) or any(
            both_ways(src, helper) and both_ways(helper, target) for helper, _ in outgoing.helpers)
        prober = self.nodes[src]

        def report() -> None:
            if src not in self.killed and self.nodes[src] is prober:
                self._call("probe", prober.on_probe_result, target, ok)

        if ok:
            report()
        else:
            due_s = self.now_s() + (outgoing.timeout_s or self.config.indirect_probe_timeout_s)
            heapq.heappush(self._timers, (due_s, next(self._timer_seq), report))

    # -- observations
    def view(self, observer: str, node_id: str) -> MemberInfo | None:
        return self.nodes[observer].get(node_id)

    def all_see(self, node_id: str, state: MemberState, generation: int | None = None) -> bool:
        for observer in self.live_ids():
            if observer == node_id:
                continue
            seen = self.view(observer, node_id)
            if seen is None or seen.state != state:
                return False
            if generation is not None and seen.generation != generation:
                return False
        return True

    def converged(self) -> bool:
        live = self.live_ids()
        return all(self.view(o, i) is not None and self.view(o, i).state == ALIVE
                   for o in live for i in live)

    def first_seen(self, node_id: str, state: MemberState) -> dict[str, Change]:
        """For each observer, the first change that showed `node_id` in `state`."""
        found: dict[str, Change] = {}
        for change in self.changes:
            if change.new.node_id == node_id and change.new.state == state:
                found.setdefault(change.observer, change)
        return found

    def probes_about(self, node_id: str) -> list[tuple[float, str]]:
        return [(t, src) for t, src, o in self.sent
                if o.kind == "indirect_probe" and o.target_node_id == node_id]


def make_cluster(n: int, *, seed: int = 0, config: GossipConfig = CONFIG, old: Sequence[str] = ()) -> SimNet:
    """n nodes n0..n{n-1} (those in `old` on the protocol before digest sync); each joins through
    n0 in turn, then gossip converges."""
    net = SimNet(config, seed, old)
    net.start_node("n0")
    for i in range(1, n):
        net.start_node(f"n{i}")
        net.join(f"n{i}", "n0")
        net.tick()
    net.run_until(net.converged, timeout_s=10.0)
    return net


def states_ever(net: SimNet, state: MemberState) -> list[Change]:
    return [c for c in net.changes if c.new.state == state]


# ---- member records -----------------------------------------------------------------------------

@pytest.mark.parametrize("new, old, expected", [
    # (generation, incarnation, state) of new and old
    ((2, 0, ALIVE), (1, 9, LEFT), True),     # a new generation beats anything older
    ((1, 9, LEFT), (2, 0, ALIVE), False),
    ((1, 3, ALIVE), (1, 2, DOWN), True),     # same generation: higher incarnation (refutation)
    ((1, 2, DOWN), (1, 3, ALIVE), False),
    ((1, 2, DOWN), (1, 2, ALIVE), True),     # same both: precedence ALIVE < DOWN < OUT < LEFT
    ((1, 2, OUT), (1, 2, DOWN), True),
    ((1, 2, LEFT), (1, 2, OUT), True),
    ((1, 2, ALIVE), (1, 2, DOWN), False),
    ((1, 2, DOWN), (1, 2, OUT), False),
    ((1, 2, ALIVE), (1, 2, ALIVE), False),   # equal records never supersede (re-delivery no-op)
])
def test_supersedes_orders_by_generation_then_incarnation_then_state(new, old, expected):
    """supersedes(): higher generation wins, then higher incarnation, then state precedence."""
    a = member(generation=new[0], incarnation=new[1], state=new[2])
    b = member(generation=old[0], incarnation=old[1], state=old[2])
    assert supersedes(a, b) is expected


def test_member_info_round_trips_through_proto_and_rejects_bad_records():
    """to_proto/from_proto round-trip; malformed wire records raise InvalidMember (bad input)."""
    info = member("n7", generation=123, incarnation=4, state=OUT, free_bytes=55, metrics_port=9100,
                  zone="z1", draining=True, maintenance_until_unix_ms=1_800_000_000_000, disk_full=True)
    assert MemberInfo.from_proto(info.to_proto()) == info
    assert int(MemberState.DOWN) == membership_pb2.MEMBER_STATE_DOWN
    bad = [
        membership_pb2.Member(node_id="n1", address="a:1", state=0),           # UNSPECIFIED
        membership_pb2.Member(node_id="N1!", address="a:1", state=1),          # bad id
        membership_pb2.Member(node_id="n1", address="", state=1),              # no address
    ]
    for message in bad:
        with pytest.raises(InvalidMember):
            MemberInfo.from_proto(message)


def test_ring_rule_keeps_alive_suspect_and_down_out_of_draining_and_weighs_by_capacity():
    """ring_members(): ALIVE, SUSPECT and DOWN records are in the ring, OUT, LEFT and draining ones
    are not; each weighs capacity / weight unit; sorted by node id whatever the table order. The
    daemon's ClusterState and the simulation both build their rings from this function."""
    table = [
        member("n5", state=DOWN, capacity_bytes=4 * GIB, zone="z2"),
        member("n1", zone="z1"),
        member("n3", state=MemberState.SUSPECT, suspected_by="n1"),
        member("n2", state=OUT),
        member("n4", state=LEFT),
        member("n6", draining=True),
    ]
    assert ring_members(table, 2 * GIB) == (RingMember("n1", "z1", 0.5), RingMember("n3", "", 0.5),
                                            RingMember("n5", "z2", 2.0))
    assert [in_ring(m) for m in table] == [True, True, True, False, False, False]
    assert ring_member(table[3], GIB) is None and ring_member(table[1], GIB) == RingMember("n1", "z1", 1.0)


# ---- watchers -----------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8])
@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_watchers_of_and_watched_by_are_inverses_with_exact_counts(n, count):
    """Every node has exactly min(count, N-1) distinct watchers, never itself, and W watches X
    exactly when X is in watched_by(W)."""
    ids = [f"n{i}" for i in range(n)]
    random.Random(n * 10 + count).shuffle(ids)   # input order must not matter
    for x in ids:
        watchers = watchers_of(x, ids, count)
        assert len(watchers) == len(set(watchers)) == min(count, n - 1)
        assert x not in watchers
        for w in ids:
            assert (w in watchers) == (x in watched_by(w, ids, count))
    for w in ids:
        assert len(watched_by(w, ids, count)) == min(count, n - 1)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7])
@pytest.mark.parametrize("count", [0, 1, 3, 8])
def test_sorted_watcher_lookups_equal_the_sorting_ones(n, count):
    """watchers_in_sorted / watched_in_sorted (binary search on the table's sorted live ids) give
    what watchers_of / watched_by give, for subjects in the list and outside it."""
    ids = sorted(f"n{i}" for i in range(0, 2 * n, 2))    # n0, n2, ...: odd ids fall between
    for subject in [f"n{i}" for i in range(2 * n + 1)]:
        assert watchers_in_sorted(subject, ids, count) == watchers_of(subject, ids, count)
        assert watched_in_sorted(subject, ids, count) == watched_by(subject, ids, count)


def test_down_node_keeps_its_watchers():
    """A DOWN node's watchers (computed among ALIVE + itself) are those it had while ALIVE."""
    ids = [f"n{i}" for i in range(6)]
    for x in ids:
        alive_without_x = [i for i in ids if i != x]
        assert watchers_of(x, alive_without_x, 3) == watchers_of(x, ids, 3)


def test_member_table_views_follow_every_change():
    """MemberTable keeps its sorted views (every id, live, dead, down) equal to a full scan through
    a random series of joins and state changes, and a change of state restarts state_since_s."""
    rng = random.Random(3)
    table = MemberTable()
    states = [ALIVE, MemberState.SUSPECT, DOWN, OUT, LEFT]
    for step in range(400):
        node_id = f"n{rng.randrange(60)}"
        entry = table.get(node_id)
        if entry is None:
            table.add(member(node_id, state=rng.choice(states)), float(step))
        else:
            state = rng.choice(states)
            before = entry.state_since_s
            old = table.set(dataclasses.replace(entry.info, incarnation=entry.info.incarnation + 1,
                                                state=state), float(step))
            assert table[node_id].state_since_s == (before if old.state == state else float(step))
        table.check()
    assert [i.node_id for i in table.infos()] == table.ids == sorted(table.ids)
    assert len(table.live) + len(table.dead) <= len(table) == len(table.ids)


# ---- broadcast queue ----------------------------------------------------------------------------

def test_broadcast_newer_update_replaces_older_and_older_is_ignored():
    """One queued record per node: a newer one replaces it (fresh again); an older one is
    dropped."""
    queue = BroadcastQueue(retransmit_max=3, size_max=8)
    queue.push(member("n1", incarnation=1))
    queue.take(8)
    queue.push(member("n1", incarnation=2))
    queue.push(member("n1", incarnation=1))
    assert queue.pending() == [member("n1", incarnation=2)]
    assert [queue.take(8) for _ in range(4)] == [[member("n1", incarnation=2)]] * 3 + [[]]


def test_broadcast_retransmit_limit_fewest_sent_first_and_take_bound():
    """Each record goes out in at most retransmit_max rounds; take() returns at most count_max,
    least-sent first; peek() does not count a round."""
    queue = BroadcastQueue(retransmit_max=2, size_max=8)
    queue.push(member("n1"))
    queue.push(member("n2"))
    assert [m.node_id for m in queue.take(1)] == ["n1"]
    queue.push(member("n3"))
    assert [m.node_id for m in queue.peek(8)] == ["n2", "n3", "n1"]
    assert [m.node_id for m in queue.take(2)] == ["n2", "n3"]
    assert [m.node_id for m in queue.take(8)] == ["n1", "n2", "n3"]
    assert len(queue) == 0 and queue.take(8) == []


def test_broadcast_queue_is_bounded_and_evicts_the_stalest():
    """The queue never holds more than size_max records; the most-sent one makes room."""
    queue = BroadcastQueue(retransmit_max=10, size_max=4)
    for i in range(4):
        queue.push(member(f"n{i}"))
    queue.take(1)                                # n0 now the most sent
    for i in range(4, 14):
        queue.push(member(f"n{i}"))
        assert len(queue) <= 4
    assert "n0" not in {m.node_id for m in queue.pending()}
    queue.resize(2)
    assert len(queue) == 2


# ---- cluster behaviour --------------------------------------------------------------------------

def test_five_nodes_converge_to_all_alive_after_joining_through_one_seed():
    """Five nodes joining through one seed all see all five ALIVE with identical records."""
    net = make_cluster(5, seed=7)
    tables = [net.nodes[i].members() for i in net.live_ids()]
    assert all(t == tables[0] for t in tables)
    assert [m.node_id for m in tables[0]] == [f"n{i}" for i in range(5)]
    assert not states_ever(net, DOWN)
    net.run_for(10.0)                          # and it stays that way
    assert net.converged() and not states_ever(net, DOWN)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_killed_node_is_down_everywhere_within_exact_window_and_only_watchers_accuse(seed):
    """A killed node is DOWN at every other node within [down_after_s + indirect_probe_timeout_s
    + suspicion_timeout_s_min, the same + heartbeat_interval_s + 5 gossip rounds] of its death (its
    watchers suspect it, push their accusations to one another, and with every watcher confirming
    the suspicion lasts the minimum), and only its watchers originate the verdict (everyone else
    learns it by gossip)."""
    net = make_cluster(5, seed=seed)
    victim = f"n{seed % 5}"
    # Kill right after the victim's heartbeats went out, so the watchers last heard it at kill_s.
    net.run_until(lambda: any(t == net.now_s() and src == victim and o.kind == "heartbeat"
                              for t, src, o in net.sent[-20:]), timeout_s=2.0)
    kill_s = net.now_s()
    net.kill(victim)
    net.run_until(lambda: net.all_see(victim, DOWN), timeout_s=10.0)

    c = net.config
    window = (kill_s + c.down_after_s + c.indirect_probe_timeout_s + c.suspicion_timeout_s_min,
              kill_s + c.down_after_s + c.heartbeat_interval_s + c.indirect_probe_timeout_s
              + c.suspicion_timeout_s_min + 5 * c.gossip_interval_s)
    seen = net.first_seen(victim, DOWN)
    assert set(seen) == set(net.live_ids())
    for observer, change in seen.items():
        assert window[0] <= change.time_s <= window[1], (observer, change.time_s, window)
    watchers = set(watchers_of(victim, net.nodes, c.monitor_count))
    originators = {o for o, change in seen.items() if change.via == "step"}
    assert originators and originators <= watchers
    assert {src for _, src in net.probes_about(victim)} <= watchers
    assert all(change.via == "message" for o, change in seen.items() if o not in watchers)


def test_one_dropped_link_does_not_cause_down_because_the_indirect_probe_gets_through():
    """With the link between a watcher and its target cut, the watcher probes through helpers,
    reaches the target, and nobody ever marks it DOWN."""
    net = make_cluster(5, seed=11)
    target = "n2"
    watcher = watchers_of(target, net.nodes, net.config.monitor_count)[0]
    net.cut_link(watcher, target)
    net.run_for(20.0)
    probes = [src for _, src in net.probes_about(target)]
    assert probes.count(watcher) >= 3           # the check ran, again and again, and passed
    assert not states_ever(net, DOWN)
    assert net.converged()


def test_falsely_accused_live_node_refutes_and_ends_alive_everywhere():
    """A DOWN rumour about a live node reaches it; it refutes with a higher incarnation and every
    node ends with it ALIVE at that incarnation."""
    net = make_cluster(5, seed=5)
    victim, accuser = "n3", "n0"
    before = net.nodes[victim].me()
    net.nodes[accuser].on_gossip([dataclasses.replace(before, state=DOWN)])
    assert net.view(accuser, victim).state == DOWN
    net.run_until(lambda: net.all_see(victim, ALIVE) and all(
        net.view(o, victim).incarnation > before.incarnation for o in net.live_ids()),
        timeout_s=5.0)
    after = net.nodes[victim].me()
    assert after.state == ALIVE and after.incarnation > before.incarnation
    assert after.generation == before.generation


def test_heartbeat_reply_tells_a_node_believed_down_so_it_refutes():
    """A heartbeat from a node I hold DOWN in the same generation and incarnation gets my DOWN
    record back; applying it makes the sender bump its incarnation."""
    clock = ManualClock()
    a = Membership(config=CONFIG, me=member("a1"), clock=clock, rng=random.Random(1))
    b = Membership(config=CONFIG, me=member("b1"), clock=clock, rng=random.Random(2))
    a.on_gossip([dataclasses.replace(b.me(), state=DOWN)])
    reply = a.on_heartbeat(b.me(), [])
    assert dataclasses.replace(b.me(), state=DOWN) in reply
    b.on_heartbeat_reply("a1", reply)
    assert b.me().state == ALIVE and b.me().incarnation == 1
    assert a.on_heartbeat(b.me(), []) is not None and a.get("b1").state == ALIVE


@pytest.mark.parametrize("old", [(), ("n1", "n4"), ("n0", "n1", "n2", "n3", "n4")])
def test_healed_partition_converges_back_to_all_alive(old):
    """After a partition in which each side marked the other DOWN, the periodic sync to a DOWN
    member reconnects the sides: every node ends ALIVE everywhere, refuted by incarnation. The same
    in a cluster mid-upgrade (old nodes on both sides, which send whole tables and answer digests
    with UNIMPLEMENTED) and in one of old nodes only. Only syncs can reconnect the sides, so this
    is the test that old and new nodes converge through each other's syncs. After the heal a new
    node sends a digest to an old peer at most once (it answers UNIMPLEMENTED, and gets whole tables
    from then on)."""
    config = dataclasses.replace(CONFIG, state_sync_interval_s=2.0)
    net = make_cluster(5, seed=12, config=config, old=old)
    left, right = ["n0", "n1", "n2"], ["n3", "n4"]
    for a in left:
        for b in right:
            net.cut_link(a, b)
    net.run_until(lambda: all(net.view(a, b).state == DOWN and net.view(b, a).state == DOWN
                              for a in left for b in right), timeout_s=10.0)
    healed_at = len(net.sent)
    net.cut.clear()
    net.run_until(net.converged, timeout_s=3 * config.state_sync_interval_s)
    assert all(net.nodes[i].me().incarnation > 0 for i in net.live_ids())
    syncs = [(src, o.kind, o.target_node_id) for _, src, o in net.sent if o.kind in ("sync", "sync_digest")]
    new = [i for i in net.live_ids() if i not in old]
    assert not [s for s in syncs if s[0] in old and s[1] == "sync_digest"]    # old nodes know no digests
    assert not [s for s in syncs if s[0] in new and s[2] in new and s[1] == "sync"]
    if old and new:     # digests to old nodes were refused and followed by whole tables
        assert [s for s in syncs if s[0] in new and s[2] in old and s[1] == "sync_digest"]
        assert [s for s in syncs if s[0] in new and s[2] in old and s[1] == "sync"]
    if not old:
        assert [s for s in syncs if s[1] == "sync_digest"]
    after_heal = collections.Counter((src, o.target_node_id) for _, src, o in net.sent[healed_at:]
                                     if o.kind == "sync_digest" and o.target_node_id in old)
    assert all(count == 1 for count in after_heal.values()), after_heal   # all reachable now


@pytest.mark.parametrize("dead_state", [DOWN, OUT])
def test_restarted_node_with_new_generation_comes_back_alive_everywhere(dead_state):
    """A node restarted (new generation) after being DOWN or OUT joins again and is ALIVE at
    every node, its new generation superseding the DOWN/OUT record of its previous life."""
    net = make_cluster(5, seed=9, config=dataclasses.replace(CONFIG, repair_after_down_s=5.0))
    victim = "n4"
    old_generation = net.nodes[victim].me().generation
    net.kill(victim)
    net.run_until(lambda: net.all_see(victim, dead_state), timeout_s=15.0)
    net.start_node(victim)
    net.join(victim, "n0")
    new_generation = net.nodes[victim].me().generation
    assert new_generation > old_generation
    net.run_until(lambda: net.all_see(victim, ALIVE, generation=new_generation), timeout_s=5.0)
    assert net.converged()
    assert all(m.state == ALIVE for m in net.nodes[victim].members())


def test_down_turns_out_after_repair_after_down_s():
    """A DOWN node turns OUT at each node between the first DOWN verdict + repair_after_down_s and
    that node's own DOWN time + repair_after_down_s, and leaves the ring."""
    config = dataclasses.replace(CONFIG, repair_after_down_s=5.0)
    net = make_cluster(5, seed=3, config=config)
    victim = "n1"
    net.kill(victim)
    net.run_until(lambda: net.all_see(victim, DOWN), timeout_s=10.0)
    assert all(victim in {m.node_id for m in net.nodes[o].ring_members()} for o in net.live_ids())
    net.run_until(lambda: net.all_see(victim, OUT), timeout_s=10.0)
    down = net.first_seen(victim, DOWN)
    out = net.first_seen(victim, OUT)
    first_down_s = min(c.time_s for c in down.values())
    for observer in net.live_ids():
        assert (first_down_s + config.repair_after_down_s <= out[observer].time_s
                <= down[observer].time_s + config.repair_after_down_s)
        assert victim not in {m.node_id for m in net.nodes[observer].ring_members()}


def test_left_after_leave_spreads_to_all_and_is_never_turned_down():
    """leave() marks the node LEFT with a bumped incarnation; every node learns it, it leaves the
    ring, and nobody accuses it once it is gone."""
    net = make_cluster(5, seed=4)
    leaver = "n2"
    before = net.nodes[leaver].me()
    record = net.nodes[leaver].leave()
    assert record.state == LEFT and record.incarnation == before.incarnation + 1
    net.run_until(lambda: net.all_see(leaver, LEFT), timeout_s=3.0)
    net.kill(leaver)                          # the process exits after leaving
    net.run_for(3 * net.config.down_after_s)
    assert net.all_see(leaver, LEFT)
    assert not [c for c in net.changes if c.new.node_id == leaver and c.new.state == DOWN]
    for observer in net.live_ids():
        assert leaver not in {m.node_id for m in net.nodes[observer].ring_members()}


def test_maintenance_window_holds_off_out_until_it_closes():
    """A node that set a maintenance window before it died stays DOWN (in the ring) past
    repair_after_down_s while the window is open, and turns OUT everywhere right after it closes."""
    config = dataclasses.replace(CONFIG, repair_after_down_s=5.0)
    net = make_cluster(5, seed=11, config=config)
    victim = "n2"
    window_s = 20.0
    net.nodes[victim].update_me(maintenance_until_unix_ms=net.clock.wall_ms() + int(window_s * 1000))
    closes_ms = net.nodes[victim].me().maintenance_until_unix_ms
    net.run_until(lambda: all(net.view(o, victim).maintenance_until_unix_ms == closes_ms
                              for o in net.live_ids()), timeout_s=3.0)
    net.kill(victim)
    net.run_until(lambda: net.all_see(victim, DOWN), timeout_s=10.0)
    net.run_for(2 * config.repair_after_down_s)
    assert net.clock.wall_ms() < closes_ms
    assert net.all_see(victim, DOWN) and not states_ever(net, OUT)
    assert all(victim in {m.node_id for m in net.nodes[o].ring_members()} for o in net.live_ids())
    net.run_until(lambda: net.all_see(victim, OUT), timeout_s=window_s)
    first_out_ms = min(net.clock.wall_ms() - int((net.now_s() - c.time_s) * 1000)
                       for c in net.first_seen(victim, OUT).values())
    assert first_out_ms >= closes_ms


def test_draining_node_leaves_the_ring_but_stays_alive_and_cancel_brings_it_back():
    """draining is the node's own attribute: it spreads like any update, takes the node out of every
    ring member set while it stays ALIVE (it still serves), and clearing it puts the node back."""
    net = make_cluster(4, seed=12)
    drainer = "n3"
    net.nodes[drainer].update_me(draining=True)
    net.run_until(lambda: all(net.view(o, drainer).draining for o in net.live_ids()), timeout_s=3.0)
    for observer in net.live_ids():
        assert drainer not in {m.node_id for m in net.nodes[observer].ring_members()}
        assert net.nodes[observer].is_live(drainer)
    net.nodes[drainer].update_me(draining=False)
    net.run_until(lambda: all(drainer in {m.node_id for m in net.nodes[o].ring_members()}
                              for o in net.live_ids()), timeout_s=3.0)


@pytest.mark.parametrize("late", [True, False])
def test_lifeguard_late_step_holds_back_verdicts(late):
    """A step that runs 5 heartbeat intervals late (no heartbeats delivered meanwhile) emits no
    indirect probe, nor does the on-time step after it (deadlines were pushed back by the
    lateness), and the cluster never marks anyone DOWN; the same silence observed by a step
    running on time does start the probe (control)."""
    net = make_cluster(5, seed=6)
    watcher = net.nodes["n0"]
    assert watcher.watched()
    silence_s = 5 * net.config.heartbeat_interval_s
    if late:
        net.clock.advance(silence_s)             # the whole machine stalled: nobody stepped
        outgoing = watcher.step()
        assert not [o for o in outgoing if o.kind == "indirect_probe"]
        net.clock.advance(net.config.gossip_interval_s)   # the next step is on time, and the
        outgoing = watcher.step()                         # deadlines moved by the lateness
        assert not [o for o in outgoing if o.kind == "indirect_probe"]
        for o in outgoing:
            net.deliver("n0", o)
        net.run_for(10.0)
        assert not states_ever(net, DOWN) and net.converged()
    else:
        outgoing = []
        for _ in range(int(silence_s / net.config.gossip_interval_s)):
            net.clock.advance(net.config.gossip_interval_s)
            outgoing += watcher.step()            # on time, but nothing is delivered
        probed = {o.target_node_id for o in outgoing if o.kind == "indirect_probe"}
        assert probed == set(watcher.watched())


# ---- local health ------------------------------------------------------------------------------

def _late_steps(node: Membership, clock: ManualClock, count: int, late_s: float = 5.0) -> None:
    for _ in range(count):
        clock.advance(late_s)
        node.step()


def test_each_late_step_raises_local_health_up_to_health_max_and_zero_turns_it_off():
    clock = ManualClock()
    node = Membership(config=dataclasses.replace(CONFIG, health_max=3), me=member("a1"), clock=clock,
                      rng=random.Random(1))
    node.step()
    assert node.health() == 0
    _late_steps(node, clock, 2)
    assert node.health() == 2
    _late_steps(node, clock, 5)
    assert node.health() == 3
    off = Membership(config=dataclasses.replace(CONFIG, health_max=0), me=member("b1"), clock=clock,
                     rng=random.Random(2))
    off.step()
    _late_steps(off, clock, 4)
    assert off.health() == 0


def test_local_health_falls_one_point_per_calm_period_scaled_by_itself():
    """From 2: one point back after 3 calm heartbeat intervals (1 + 2), the next after 2 more."""
    clock = ManualClock()
    node = Membership(config=CONFIG, me=member("a1"), clock=clock, rng=random.Random(1))
    node.step()
    _late_steps(node, clock, 2)
    raised_s = clock.monotonic_s()
    seen: dict[int, float] = {}
    while node.health() > 0 and clock.monotonic_s() - raised_s < 10.0:
        clock.advance(CONFIG.gossip_interval_s)
        node.step()
        seen.setdefault(node.health(), clock.monotonic_s() - raised_s)
    assert seen == {2: 0.25, 1: 3.0, 0: 5.0}


def test_refuting_an_accusation_raises_local_health_but_a_stale_claim_does_not():
    clock = ManualClock()
    node = Membership(config=CONFIG, me=member("a1"), clock=clock, rng=random.Random(1))
    node.on_gossip([dataclasses.replace(node.me(), incarnation=4)])   # a stale ALIVE claim
    assert node.me().incarnation == 5 and node.health() == 0
    node.on_gossip([dataclasses.replace(node.me(), state=DOWN)])
    assert node.me().state == ALIVE and node.me().incarnation == 6 and node.health() == 1


@pytest.mark.parametrize("stopped_after_s, raised", [(1.0, True), (30.0, False)])
def test_a_down_verdict_refuted_soon_after_raises_the_accusers_health(stopped_after_s, raised):
    """n2 stops (nothing in or out, no steps) until its watchers declare it DOWN. Resumed a second
    later, its refutation tells each of them their verdict was false (health 1); resumed after a
    long stop, it says nothing about them (health stays 0)."""
    net = make_cluster(5, seed=21)
    target = "n2"
    net.kill(target)
    def verdict(c) -> bool:   # a suspicion of the accuser's own turning DOWN in its step
        return c.via == "step" and c.new.node_id == target and c.new.state == DOWN

    net.run_until(lambda: any(verdict(c) for c in net.changes), timeout_s=10.0)
    accusers = sorted({c.observer for c in net.changes if verdict(c)})
    net.run_for(stopped_after_s)
    net.killed.discard(target)          # SIGCONT: its next step runs late and holds its verdicts
    net.run_until(lambda: net.all_see(target, ALIVE), timeout_s=60.0)
    assert accusers and net.nodes[target].health() >= 1
    for accuser in accusers:
        assert net.nodes[accuser].health() == (1 if raised else 0), accuser


def test_an_unhealthy_watcher_waits_longer_and_gives_its_probe_a_longer_budget():
    """A watcher at health 7 whose watched node died: its silence threshold and the probe's budget
    are the configured ones times 1 + its health at the time of the probe (which has been falling
    meanwhile, with nothing to raise it); at health 0, the configured ones."""
    for start_health in (0, 7):
        net = make_cluster(3, seed=22, config=dataclasses.replace(CONFIG, monitor_count=1))
        watcher = net.nodes["n0"]
        [target] = watcher.watched()
        net.kill(target)
        watcher._health = start_health   # as if just raised to it by late steps
        watcher._health_changed_s = net.now_s()
        silenced_s = net.now_s()
        net.run_until(lambda: net.probes_about(target), timeout_s=60.0)
        [(probed_s, _)] = net.probes_about(target)
        [probe] = [o for _, _, o in net.sent if o.kind == "indirect_probe"]
        scale = 1 + watcher.health()
        assert (scale == 1) == (start_health == 0)
        assert probe.timeout_s == CONFIG.indirect_probe_timeout_s * scale
        waited_s = probed_s - silenced_s
        # The silence began at the last heartbeat heard, up to one interval before the kill.
        threshold_s = scale * CONFIG.down_after_s
        assert threshold_s - CONFIG.heartbeat_interval_s < waited_s <= threshold_s + CONFIG.heartbeat_interval_s


def test_update_me_bumps_incarnation_and_spreads():
    """update_me() changes my attributes under a higher incarnation, which wins everywhere."""
    net = make_cluster(3, seed=8)
    net.nodes["n1"].update_me(free_bytes=12345)
    new = net.nodes["n1"].me()
    assert new.incarnation == 1 and new.free_bytes == 12345
    net.run_until(lambda: all(net.view(o, "n1") == new for o in net.live_ids()), timeout_s=3.0)
    with pytest.raises(ValueError):
        net.nodes["n1"].update_me(generation=1)


# ---- driver -------------------------------------------------------------------------------------

class MemTransport:
    """Transport that calls the peer's Membership directly; `down` addresses are unreachable,
    `rejecting` addresses refuse us, and `old` addresses answer a digest sync with UNIMPLEMENTED.
    `calls` counts (kind, address) of every call made."""

    def __init__(self) -> None:
        self.nodes: dict[str, Membership] = {}
        self.down: set[str] = set()
        self.rejecting: set[str] = set()
        self.old: set[str] = set()
        self.calls: collections.Counter[tuple[str, str]] = collections.Counter()

    def _peer(self, address: str, kind: str) -> Membership:
        self.calls[(kind, address)] += 1
        if address in self.rejecting:
            raise PeerRejected(address, "bad cluster secret")
        if address in self.down or address not in self.nodes:
            raise PeerUnreachable(address, "connection refused")
        return self.nodes[address]

    def heartbeat(self, address: str, sender: MemberInfo, updates: Sequence[MemberInfo],
                  timeout_s: float) -> list[MemberInfo]:
        return self._peer(address, "heartbeat").on_heartbeat(sender, updates)

    def gossip(self, address: str, updates: Sequence[MemberInfo], timeout_s: float) -> None:
        self._peer(address, "gossip").on_gossip(updates)

    def sync(self, address: str, members: Sequence[MemberInfo],
             timeout_s: float) -> list[MemberInfo]:
        return self._peer(address, "sync").on_sync(members)

    def sync_digest(self, address: str, bucket_hashes: Sequence[int],
                    timeout_s: float) -> tuple[list[int], list[MemberInfo]]:
        peer = self._peer(address, "sync_digest")
        if address in self.old:
            raise PeerUnimplemented(address, "UNIMPLEMENTED: Method not found!")
        return peer.on_sync_digest(bucket_hashes)

    def indirect_probe(self, helper_address: str, target_node_id: str, target_address: str,
                       timeout_s: float) -> bool:
        self._peer(helper_address, "indirect_probe")
        try:
            return self.ping(target_address, target_node_id, timeout_s) is not None
        except PeerUnreachable:
            return False

    def ping(self, address: str, node_id: str, timeout_s: float) -> MemberInfo | None:
        me = self._peer(address, "ping").me()
        return me if me.node_id == node_id else None

    def join(self, address: str, me: MemberInfo, timeout_s: float) -> list[MemberInfo]:
        return self._peer(address, "join").on_join(me)


def poll(predicate: Callable[[], bool], deadline_s: float) -> None:
    end_s = time.monotonic() + deadline_s
    while not predicate():
        assert time.monotonic() < end_s, "condition not reached before the deadline"
        time.sleep(0.02)


def test_two_drivers_converge_leave_and_stop_cleanly():
    """Two drivers on the real clock join, see each other ALIVE, spread a leave, and stop with
    their threads joined."""
    config = GossipConfig.local()
    clock = SystemClock()
    transport = MemTransport()
    drivers = []
    for i, node_id in enumerate(("d0", "d1")):
        node = Membership(config=config, me=member(node_id, generation=clock.wall_ms()),
                          clock=clock, rng=random.Random(i))
        transport.nodes[node.me().address] = node
        drivers.append(MembershipDriver(membership=node, transport=transport, config=config,
                                        clock=clock, rng=random.Random(i)))
    a, b = (d._membership for d in drivers)
    before = set(threading.enumerate())
    try:
        drivers[0].start()
        drivers[1].join_cluster(["d1.test:7400", "d0.test:7400"], deadline_s=5.0)
        drivers[1].start()
        poll(lambda: a.is_live("d1") and b.is_live("d0"), deadline_s=10.0)
        assert drivers[1].leave(timeout_s=1.0) == 1
        poll(lambda: a.get("d1").state == LEFT, deadline_s=5.0)
    finally:
        for driver in drivers:
            driver.stop()
    assert not any(d.running for d in drivers)
    poll(lambda: not [t for t in set(threading.enumerate()) - before if t.is_alive()], 5.0)
    assert a.get("d1").state == LEFT and a.is_live("d0")


@pytest.mark.parametrize("refusal, error", [("rejecting", PeerRejected), ("down", PeerUnreachable)])
def test_join_cluster_raises_rejected_at_once_and_unreachable_after_deadline(refusal, error):
    """join_cluster stops at the first PeerRejected (no retry, no waiting) and raises
    PeerUnreachable only once the deadline has passed."""
    clock = ManualClock()
    transport = MemTransport()
    seed = Membership(config=CONFIG, me=member("s1"), clock=clock, rng=random.Random(1))
    transport.nodes["s1.test:7400"] = seed
    getattr(transport, refusal).add("s1.test:7400")
    joiner = Membership(config=CONFIG, me=member("j1"), clock=clock, rng=random.Random(2))
    driver = MembershipDriver(membership=joiner, transport=transport, config=CONFIG, clock=clock)
    try:
        with pytest.raises(error):
            driver.join_cluster(["s1.test:7400", "nowhere.test:1"], deadline_s=4.0)
        elapsed_s = clock.monotonic_s()
        assert elapsed_s == 0.0 if error is PeerRejected else elapsed_s >= 4.0
    finally:
        driver.stop()


def test_join_cluster_that_nobody_answers_names_the_last_failure():
    """The deadline error is a JoinUnanswered (a PeerUnreachable, so callers that catch that keep
    working) that carries the last failure on its own, for the one-line messages built on it."""
    clock = ManualClock()
    joiner = Membership(config=CONFIG, me=member("j1"), clock=clock, rng=random.Random(2))
    driver = MembershipDriver(membership=joiner, transport=MemTransport(), config=CONFIG, clock=clock)
    try:
        with pytest.raises(JoinUnanswered) as raised:
            driver.join_cluster(["gone.test:1"], deadline_s=2.0)
    finally:
        driver.stop()
    assert isinstance(raised.value, PeerUnreachable)
    assert raised.value.last_reason == "gone.test:1: connection refused"
    assert raised.value.reason == "no node answered the join within 2.00 s (last: gone.test:1: connection refused)"


def test_reach_calls_every_address_once_and_merges_two_groups():
    """reach() joins through each address, not only the first that answers: two groups that formed
    apart (a, b and c, d) end up in one table each side, and an unreachable or refusing address is
    skipped, not retried."""
    clock = ManualClock()
    transport = MemTransport()
    nodes = {}
    for i, node_id in enumerate(("a", "b", "c", "d")):
        nodes[node_id] = Membership(config=CONFIG, me=member(node_id), clock=clock, rng=random.Random(i))
        transport.nodes[f"{node_id}.test:7400"] = nodes[node_id]
    nodes["b"].on_sync_reply(nodes["a"].on_join(nodes["b"].me()))
    nodes["d"].on_sync_reply(nodes["c"].on_join(nodes["d"].me()))
    transport.rejecting.add("e.test:7400")
    driver = MembershipDriver(membership=nodes["b"], transport=transport, config=CONFIG, clock=clock)
    try:
        answered = driver.reach(["c.test:7400", "gone.test:1", "e.test:7400", "d.test:7400"], timeout_s=0.5)
    finally:
        driver.stop()
    assert answered == 2
    assert sorted(m.node_id for m in nodes["b"].members()) == ["a", "b", "c", "d"]
    assert nodes["c"].is_live("b") and nodes["d"].is_live("b")
    assert transport.calls[("join", "gone.test:1")] == 1 and transport.calls[("join", "e.test:7400")] == 1


# ---- suspicion (node/gossip/suspicion.py) ------------------------------------------------------

SUSPECT = MemberState.SUSPECT


@pytest.mark.parametrize("confirmations, expected, timeout_s", [
    (0, 2, 6.0),          # a lone accusation: the whole refutation window
    (1, 2, 6.0 - 5.75 * 0.6309),
    (2, 2, 0.25),         # every other watcher confirms: the floor
    (5, 2, 0.25),         # more than expected changes nothing
    (3, 0, 6.0),          # a single watcher has nobody to confirm it
])
def test_suspicion_timeout_shrinks_on_a_log_scale_with_confirmations(confirmations, expected, timeout_s):
    from node.gossip.suspicion import suspicion_timeout_s
    assert suspicion_timeout_s(confirmations, expected, 0.25, 6.0) == pytest.approx(timeout_s, abs=1e-3)


def test_a_suspect_is_still_live_and_in_the_ring_and_refutes_when_it_hears():
    """SUSPECT routes like ALIVE (nothing acts on a suspicion); the accused bumps its incarnation."""
    clock = ManualClock()
    node = Membership(config=CONFIG, me=member("a1"), clock=clock, rng=random.Random(1))
    node.on_gossip([member("b1", state=SUSPECT, suspected_by="c1")])
    assert node.is_live("b1") and "b1" in {m.node_id for m in node.ring_members()}
    node.on_gossip([dataclasses.replace(node.me(), state=SUSPECT, suspected_by="c1")])
    assert node.me().state == ALIVE and node.me().incarnation == 1
    assert node.health() == 0     # a suspicion costs the accused nothing


def test_only_an_accuser_without_contact_turns_a_suspicion_down():
    """A node holding someone else's suspicion never turns it DOWN, however long it lasts; an
    accuser does once the timeout passes, unless the suspect answered it within a silence
    threshold."""
    clock = ManualClock()
    config = dataclasses.replace(CONFIG, suspicion_timeout_s_min=0.25, suspicion_timeout_s_max=2.0)
    bystander = Membership(config=config, me=member("a1"), clock=clock, rng=random.Random(1))
    accuser = Membership(config=config, me=member("c1"), clock=clock, rng=random.Random(2))
    for node in (bystander, accuser):
        node.on_gossip([member("b1"), member("d1")])
    bystander.on_gossip([member("b1", state=SUSPECT, suspected_by="c1")])
    accuser.on_gossip([member("b1", state=SUSPECT, suspected_by="c1")])   # as its own probe would
    accuser.heard_from("b1")                    # ... but it did hear from b1 a moment ago
    for _ in range(8):
        clock.advance(config.gossip_interval_s)
        bystander.step(), accuser.step()
    assert bystander.get("b1").state == SUSPECT and accuser.get("b1").state == SUSPECT
    for _ in range(round(config.down_after_s / config.gossip_interval_s)):   # contact goes stale
        clock.advance(config.gossip_interval_s)
        accuser.step(), bystander.step()
    assert accuser.get("b1").state == DOWN and bystander.get("b1").state == SUSPECT


def test_a_confirmation_from_another_accuser_shortens_the_timeout_and_is_gossiped_on():
    clock = ManualClock()
    config = dataclasses.replace(CONFIG, suspicion_timeout_s_min=0.25, suspicion_timeout_s_max=6.0)
    node = Membership(config=config, me=member("c1"), clock=clock, rng=random.Random(1))
    node.on_gossip([member(n) for n in ("b1", "d1", "e1")])
    node.on_gossip([member("b1", state=SUSPECT, suspected_by="c1")])
    node.step()
    clock.advance(1.0)
    node.step()
    assert node.get("b1").state == SUSPECT            # one accuser: 6 s
    node.on_gossip([member("b1", state=SUSPECT, suspected_by="d1")])
    node.on_gossip([member("b1", state=SUSPECT, suspected_by="e1")])
    clock.advance(config.gossip_interval_s)
    gossiped = [u for o in node.step() for u in o.updates if u.node_id == "b1"]
    assert "e1" in {u.suspected_by for u in gossiped}   # the queue keeps one record per node: the latest
    clock.advance(0.25)
    node.step()
    assert node.get("b1").state == DOWN               # three accusers: the floor, long passed


def test_a_joiner_is_told_the_generation_of_its_ids_earlier_life():
    """on_join remembers the generation of the joiner's record held before (a restart or a replaced
    disk under the same id), which the Join answer carries; a node never seen before gets 0."""
    clock = ManualClock()
    seed = Membership(config=CONFIG, me=member("a1"), clock=clock, rng=random.Random(1))
    seed.on_join(member("b1", generation=100))
    assert seed.previous_generation("b1") == 0
    seed.on_join(member("b1", generation=200))
    assert seed.previous_generation("b1") == 100
    assert seed.get("b1").generation == 200


def test_a_joiner_whose_new_life_reached_the_seed_first_is_still_told_its_earlier_one():
    """A restarted node serves its peer port before it joins, so a seed's probe or gossip can carry
    its new record in before its Join call: the Join answer still names the life it replaced (else a
    node on a replaced disk would take itself for a new one and answer metadata reads empty)."""
    clock = ManualClock()
    seed = Membership(config=CONFIG, me=member("a1"), clock=clock, rng=random.Random(1))
    seed.on_join(member("b1", generation=100))
    seed.on_gossip([member("b1", generation=200)])
    seed.on_join(member("b1", generation=200))
    assert seed.previous_generation("b1") == 100 and seed.previous_state("b1") == ALIVE


def test_a_joiner_is_told_the_state_of_its_ids_earlier_life():
    """on_join also remembers the state of that earlier record, so a node the cluster turned OUT
    learns it when it starts again (it then drops its manifests: node/repair/tombstones.py)."""
    clock = ManualClock()
    seed = Membership(config=CONFIG, me=member("a1"), clock=clock, rng=random.Random(1))
    seed.on_join(member("b1", generation=100))
    assert seed.previous_state("b1") is None
    seed.on_gossip([member("b1", generation=100, state=OUT)])
    seed.on_join(member("b1", generation=200))
    assert seed.previous_state("b1") == OUT and seed.previous_generation("b1") == 100
    seed.on_join(member("b1", generation=300))
    assert seed.previous_state("b1") == ALIVE


def test_refuting_an_out_verdict_about_me_is_counted_and_a_down_one_is_not():
    """A DOWN verdict about me is refuted and not counted as "gone"; an OUT one is both."""
    clock = ManualClock()
    node = Membership(config=CONFIG, me=member("a1", generation=5), clock=clock, rng=random.Random(1))
    node.on_gossip([member("a1", generation=5, incarnation=0, state=DOWN)])
    assert node.gone_verdicts() == 0 and node.me().state == ALIVE
    node.on_gossip([member("a1", generation=5, incarnation=node.me().incarnation, state=OUT)])
    assert node.gone_verdicts() == 1 and node.me().state == ALIVE
    node.on_gossip([member("a1", generation=4, state=OUT)])  # another life's record: ignored
    assert node.gone_verdicts() == 1


# ---- state sync by digest -----------------------------------------------------------------------

def _table(*records: MemberInfo, me: str = "a0", config: GossipConfig = CONFIG) -> Membership:
    """A Membership named `me` that holds `records` (applied as a sync answer)."""
    clock = ManualClock()
    node = Membership(config=config, me=member(me), clock=clock, rng=random.Random(1))
    node.on_sync_reply(list(records))
    return node


def test_record_hash_and_bucket_follow_the_wire_contract():
    """The hash and bucket definitions written in membership.proto (SyncDigestRequest), computed
    here independently: nodes of any build must agree on them byte for byte."""
    import hashlib

    from node.gossip.digest import bucket_of, record_hash

    def h(data: bytes) -> int:
        return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")

    info = member("n7", generation=1_700_000_000_123, incarnation=5, state=DOWN)
    assert record_hash(info) == h(b"n7\0" + (1_700_000_000_123).to_bytes(8, "big") + (5).to_bytes(8, "big")
                                  + bytes([membership_pb2.MEMBER_STATE_DOWN]))
    assert bucket_of("n7", 64) == h(b"n7") % 64


def test_record_hash_covers_identity_and_version_only():
    """A record's hash changes with its node id, generation, incarnation and state, and not with
    the accuser named in a SUSPECT record nor any attribute: two nodes may legitimately hold the
    same version with different accusers, and no sync could ever make those fields agree."""
    from node.gossip.digest import record_hash

    base = member("n1", generation=10, incarnation=2, state=MemberState.SUSPECT, suspected_by="n2")
    same = [dataclasses.replace(base, suspected_by="n3"), dataclasses.replace(base, free_bytes=99)]
    other = [dataclasses.replace(base, node_id="n9"), dataclasses.replace(base, generation=11),
             dataclasses.replace(base, incarnation=3), dataclasses.replace(base, state=DOWN, suspected_by="")]
    assert {record_hash(r) for r in same} == {record_hash(base)}
    assert len({record_hash(r) for r in other} | {record_hash(base)}) == 5


def test_table_digest_kept_incrementally_equals_the_digest_from_scratch():
    """TableDigest after any series of adds and replacements equals bucket_hashes() of the final
    table; differing() names exactly the buckets of the records that differ."""
    from node.gossip.digest import TableDigest, bucket_hashes, differing

    rng = random.Random(5)
    digest = TableDigest(16)
    table: dict[str, MemberInfo] = {}
    for _ in range(300):
        node_id = f"n{rng.randrange(80)}"
        old = table.get(node_id)
        new = member(node_id, incarnation=(old.incarnation + 1) if old else 0,
                     state=rng.choice([ALIVE, DOWN, OUT]))
        digest.add(new) if old is None else digest.replace(old, new)
        table[node_id] = new
    digest.check(table.values())
    changed = dataclasses.replace(table["n3"], incarnation=table["n3"].incarnation + 1)
    theirs = bucket_hashes([changed if i.node_id == "n3" else i for i in table.values()], 16)
    assert differing(digest.hashes(), theirs) == [digest.bucket("n3")]


@pytest.mark.parametrize("count", [0, 4097])
def test_a_digest_with_no_buckets_or_too_many_is_invalid_argument(count):
    """Bad network input: 0 or more than BUCKETS_MAX hashes raise InvalidDigest (INVALID_ARGUMENT at
    the gRPC edge), never an assertion."""
    from node.errors import InvalidArgument
    from node.gossip.digest import InvalidDigest

    node = _table(member("n1"))
    with pytest.raises(InvalidDigest) as info:
        node.on_sync_digest([0] * count)
    assert isinstance(info.value, InvalidArgument) and "1..4096" in str(info.value)


def test_digest_limit_agrees_with_the_config_limit():
    """GossipConfig validates state_sync_buckets against the same maximum a peer accepts, and the
    bucket cache holds a full table's buckets twice over."""
    from node import config
    from node.gossip.digest import BUCKET_CACHE_MAX, BUCKETS_MAX

    assert config.STATE_SYNC_BUCKETS_MAX == BUCKETS_MAX
    assert BUCKET_CACHE_MAX >= 2 * MEMBERS_MAX     # a full table's buckets, under two bucket counts
    GossipConfig(state_sync_buckets=BUCKETS_MAX)
    with pytest.raises(config.ConfigError, match="state_sync_buckets"):
        GossipConfig(state_sync_buckets=BUCKETS_MAX + 1)


def test_converged_tables_sync_with_one_digest_and_no_records():
    """Two nodes holding the same table: the step's sync is a digest of state_sync_buckets hashes,
    and the answer names no bucket and carries no record, at N = 40 as at N = 2."""
    records = [member(f"n{i}") for i in range(40)]
    a, b = _table(*records, me="a0"), _table(*records, me="b0")
    a.on_gossip([b.me()]), b.on_gossip([a.me()])
    a._clock.advance(CONFIG.state_sync_interval_s)
    syncs = [o for o in a.step() if o.kind in ("sync", "sync_digest")]
    assert {o.kind for o in syncs} == {"sync_digest"}
    assert len(syncs[0].bucket_hashes) == CONFIG.state_sync_buckets and syncs[0].updates == ()
    assert b.on_sync_digest(syncs[0].bucket_hashes) == ([], [])


def test_digest_sync_leaves_both_sides_with_the_greater_records_sending_only_differing_buckets():
    """A and B disagree on four records: each holds one newer than the other's, and each knows a
    node the other does not. After digest, answer and push back both hold the greater of every
    record; the answer carries only B's records in the differing buckets and the push back only
    A's records there that B lacked or held older."""
    from node.gossip.digest import bucket_of

    shared = [member(f"n{i}") for i in range(30)]
    a = _table(*shared, member("x1", incarnation=2), member("y1", incarnation=1), member("only-a"), me="a0")
    b = _table(*shared, member("x1", incarnation=1), member("y1", incarnation=3), member("only-b"), me="b0")
    a.on_gossip([b.me()]), b.on_gossip([a.me()])
    buckets, answer = b.on_sync_digest(a._table.digest.hashes())
    count = CONFIG.state_sync_buckets
    assert buckets == sorted({bucket_of(i, count) for i in ("x1", "y1", "only-a", "only-b")})
    assert {r.node_id for r in answer} == {i for i in b._table.ids if bucket_of(i, count) in buckets}
    push = a.on_sync_digest_reply("b0", buckets, answer)
    assert push is not None and push.kind == "gossip" and push.target_node_id == "b0"
    assert {r.node_id for r in push.updates} == {"x1", "only-a"}
    b.on_gossip(push.updates)
    for node in (a, b):
        node.check()
    assert a.members() == b.members()
    assert a.get("x1").incarnation == 2 and a.get("y1").incarnation == 3
    assert b.on_sync_digest(a._table.digest.hashes()) == ([], [])


def test_a_peer_without_digest_sync_gets_whole_tables_until_it_restarts():
    """An old peer answers the digest with UNIMPLEMENTED: the node sends it the whole table at once,
    and whole tables at every later sync, until the peer's record shows a new generation (the
    upgrade restarted it), when the digest is tried again."""
    a = _table(member("n1"), member("old1", generation=100), me="a0",
               config=dataclasses.replace(CONFIG, state_sync_interval_s=1.0))
    fallback = a.on_sync_digest_unsupported("old1")
    assert fallback.kind == "sync" and fallback.target_node_id == "old1"
    assert [r.node_id for r in fallback.updates] == ["a0", "n1", "old1"]

    def kinds_to_old1() -> set[str]:
        kinds = set()
        for _ in range(40):     # sync targets are random: step until old1 was picked a few times
            a._clock.advance(1.0)
            kinds |= {o.kind for o in a.step() if o.target_node_id == "old1" and "sync" in o.kind}
        return kinds

    assert kinds_to_old1() == {"sync"}
    a.on_gossip([member("old1", generation=200)])            # restarted: maybe upgraded
    assert kinds_to_old1() == {"sync_digest"}
    assert a.on_sync_digest_unsupported("nobody") is None


def test_a_node_with_no_digest_buckets_sends_whole_tables_and_still_answers_digests():
    """state_sync_buckets = 0 is the protocol before digests for what the node sends; a digest it
    receives, of any bucket count, is answered from a digest computed for it."""
    records = [member(f"n{i}") for i in range(20)]
    plain = _table(*records, me="p0", config=dataclasses.replace(CONFIG, state_sync_buckets=0))
    plain._clock.advance(CONFIG.state_sync_interval_s)
    assert {o.kind for o in plain.step() if "sync" in o.kind} == {"sync"}
    other = _table(*records, member("extra"), me="p0")
    other.on_gossip([plain.me()])
    buckets, answer = plain.on_sync_digest(other._table.digest.hashes())
    assert [other._table.digest.bucket("extra")] == buckets
    assert all(other._table.digest.bucket(r.node_id) == buckets[0] for r in answer)
    push = other.on_sync_digest_reply("p0", buckets, answer)
    assert [r.node_id for r in push.updates] == ["extra"]


def test_driver_falls_back_to_whole_tables_for_an_old_peer_once_per_generation():
    """Through the real driver: a new node's digest to an old peer fails with PeerUnimplemented, the
    driver sends the whole table at once, and later syncs to it are whole tables without another
    digest; the old node's own whole-table syncs are answered."""
    config = dataclasses.replace(GossipConfig.local(), state_sync_interval_s=0.1)
    clock = SystemClock()
    transport = MemTransport()
    nodes = {}
    for i, node_id in enumerate(("d0", "d1")):
        node_config = dataclasses.replace(config, state_sync_buckets=0) if node_id == "d1" else config
        nodes[node_id] = Membership(config=node_config, me=member(node_id, generation=clock.wall_ms()),
                                    clock=clock, rng=random.Random(i))
        transport.nodes[nodes[node_id].me().address] = nodes[node_id]
    transport.old.add("d1.test:7400")
    drivers = [MembershipDriver(membership=n, transport=transport, config=config, clock=clock,
                                rng=random.Random(i)) for i, n in enumerate(nodes.values())]
    try:
        drivers[0].start()
        drivers[1].join_cluster(["d0.test:7400"], deadline_s=5.0)
        drivers[1].start()
        poll(lambda: transport.calls[("sync", "d1.test:7400")] >= 3
             and transport.calls[("sync", "d0.test:7400")] >= 3, deadline_s=10.0)
    finally:
        for driver in drivers:
            driver.stop()
    assert transport.calls[("sync_digest", "d1.test:7400")] == 1
    assert nodes["d0"].members() == nodes["d1"].members()
