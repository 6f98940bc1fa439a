"""The simulation engine: real `Membership` state machines on one virtual clock, a simulated network,
and a seeded event heap that decides everything.

Design. Time is virtual and discrete-event: a heap of (time in integer microseconds, sequence
number) entries, so two events at the same instant run in the order they were scheduled and no
float comparison ever decides an order. One `random.Random(seed)` draws everything random: each
node's own rng (seeded from it when the node starts), each node's step phase, every message's loss
and delay, every choice a scenario makes. So the same seed replays the same event trace, which
`digest()` condenses; nothing iterates a set of strings where the order could matter, so the trace
does not depend on PYTHONHASHSEED either.

Each node is the real `Membership` (node/gossip) with a `ManualClock` shared by all; nothing here
reimplements a membership rule. The engine plays the driver and the transport (`driver.py`,
`node/api/membership_service.py`):
- `step()` runs every `gossip_interval_s` from a per-node phase, late steps skip ahead as the
  driver's loop does (`next = max(next + interval, now)`), and every `Outgoing` becomes an RPC;
- heartbeat, sync, sync_digest and join are request/response (`on_heartbeat` ->
  `on_heartbeat_reply`, `on_sync` -> `on_sync_reply`, `on_sync_digest` -> `on_sync_digest_reply`,
  whose push back is sent at once, `on_join` -> `on_sync_reply`); gossip is one-way with an ack; a reply
  later than `rpc_timeout_s` after its request is dropped, as the driver's deadline drops it; at
  most one RPC per (sender process, kind, target) is in flight, as in the driver (its cap of
  `RPCS_IN_FLIGHT_MAX` per node is not modelled: a node here has a dozen at most);
- an indirect probe asks every helper and pings the target directly at once; it reports reachable
  at the first path that completes within `indirect_probe_timeout_s`, unreachable at the timeout, and
  a direct ping that answers also hands the target's record to `on_gossip` (the driver's `_ping`).
  The paths are decided when the probe starts, from the network and processes at that moment.
Process faults: kill (the process is gone; messages to it are dropped), restart (a new process and
generation, joining through a live node like `noded --join`; `upgrade=True` restarts an old node as
a new one), pause/resume (SIGSTOP: messages wait in its inbox, its step runs late on resume, which is
what Lifeguard must absorb), leave.

Old nodes (`SimConfig.old_ratio`): a share of the formed nodes runs the membership protocol from
before digest sync, as in a cluster halfway through a rolling upgrade. Their `Membership` is
configured with `state_sync_buckets = 0`, so it sends whole-table syncs, and the engine answers a
digest sent to one with UNIMPLEMENTED, as gRPC answers a method an old daemon does not register;
the sender's `on_sync_digest_unsupported` then gives the whole-table sync it sends instead. That is
all that differs between the versions on the wire.

Every event, and every fault a scenario applies, is one numbered event: the engine traces it,
feeds the membership changes it caused to the invariant checker (`invariants.py`), and a violation
raises `SimViolation` naming the event number, the virtual time and `reproduce with --seed N`.

The cluster forms warm: all nodes start at t = 0 and each gets the whole initial table through
`on_sync_reply`, as if each had synced with a node that knew everyone. Rejected: forming it by N
joins through one seed. Joins are what a scenario measures, one at a time on a formed cluster; N of
them up front costs O(N^2) records before the first measurement and measures the seed, not the
cluster. Either way every node learns N - 1 records at once and gossips them for a while; `settle`
waits for that to drain before anything is measured.

Rejected: a fixed tick that steps every node at the same instant (the unit tests' SimNet). It is
simple, but every node then acts in lockstep with zero-latency delivery, which hides exactly the
orderings (a reply overtaking the next request, a probe racing a heartbeat) a simulation is for.
Rejected: running the real `MembershipDriver` threads under the manual clock: thread scheduling
would make the trace differ from run to run.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import heapq
import itertools
import random
from collections.abc import Callable, Sequence

from node.config import GossipConfig, RingConfig
from node.gossip import ManualClock, MemberInfo, MemberState, Membership, Outgoing
from node.gossip.driver import LEAVE_PUSH_PEERS_MAX
from node.gossip.ring_members import ring_members
from node.ring import RingMember

from .invariants import Checker, SimViolation
from .layouts import Checkpoint, LayoutBook
from .network import US_PER_S, Network, NetworkConfig
from . import wire

TIB = 1024**4
# Kinds of RPC counted per node (the four `Outgoing` kinds, the pings an indirect probe causes, and
# joins).
RPC_KINDS = ("heartbeat", "gossip", "sync", "sync_digest", "indirect_probe", "ping", "join")
# The answer an old node gives a digest sync (gRPC UNIMPLEMENTED), in place of a reply.
UNIMPLEMENTED = "UNIMPLEMENTED"
# Join attempts a starting node makes, one per rpc_timeout_s + heartbeat_interval_s, before the run
# stops trying (the scenario waiting for convergence then fails with the reproduce line).
JOIN_ATTEMPTS_MAX = 30
# Trace entries kept in memory; later ones still go into the digest. About 100 bytes each.
TRACE_KEPT_MAX_DEFAULT = 100_000
# Last trace entries quoted in a violation message.
TRACE_TAIL_MAX = 12
# Trace lines hashed per digest update (batching keeps hashing off the profile).
DIGEST_BATCH_LINES = 4096
# Gossip port in every simulated address; only its presence matters.
NODE_PORT = 7400
# Most nodes one run may start (node ids are n0000..n9999).
NODES_MAX = 9999


def sim_gossip_config(**changes: object) -> GossipConfig:
    """The LAN profile (1 s heartbeats), with OUT after 10 s instead of 300 s so a run sees it."""
    return dataclasses.replace(GossipConfig.lan(), **{"repair_after_down_s": 10.0, **changes})


@dataclasses.dataclass(frozen=True)
class SimConfig:
    """One simulated cluster."""

    # Nodes formed at t = 0 (scenarios may join more).
    nodes: int = 10
    # Seeds the one rng of the run: the same seed gives the same trace.
    seed: int = 1
    # Membership timers. Detection and convergence scale with heartbeat_interval_s; the figures are
    # reported in heartbeat intervals.
    gossip: GossipConfig = dataclasses.field(default_factory=sim_gossip_config)
    network: NetworkConfig = dataclasses.field(default_factory=NetworkConfig)
    # Ring tokens and weights, as the daemon uses them. Fewer vnodes build rings faster at the cost
    # of less even ownership (the 1.3/N movement bound assumes 256).
    ring: RingConfig = dataclasses.field(default_factory=RingConfig)
    # Failure zones, assigned round-robin; preference lists spread over them.
    zones: int = 3
    # Every node's capacity (equal weights at the default weight unit).
    capacity_bytes: int = TIB
    # Synthetic chunk layouts planned at every checkpoint (half replicas=3, half ec=4+2).
    layouts: int = 200
    # Trace entries kept in memory (the digest covers all of them).
    trace_kept_max: int = TRACE_KEPT_MAX_DEFAULT
    # Share of the formed nodes (the first round(nodes * old_ratio) ids) that run the protocol from
    # before digest sync (see the module docstring); joined nodes are new, restarted ones keep
    # their version unless upgraded.
    old_ratio: float = 0.0

    def __post_init__(self) -> None:
        if not 1 <= self.nodes <= NODES_MAX:
            raise ValueError(f"nodes must be in 1..{NODES_MAX}, got {self.nodes}")
        if self.zones < 1:
            raise ValueError(f"zones must be >= 1 (try 3), got {self.zones}")
        if not 0.0 <= self.old_ratio <= 1.0:
            raise ValueError(f"old_ratio must be in 0..1 (try 0.5), got {self.old_ratio}")
        if self.layouts < 0 or self.trace_kept_max < 0:
            raise ValueError(f"layouts ({self.layouts}) and trace_kept_max "
                             f"({self.trace_kept_max}) must be >= 0")


def node_id_of(index: int) -> str:
    return f"n{index:04d}"


def address_of(node_id: str) -> str:
    return f"{node_id}.sim:{NODE_PORT}"


class Proc:
    """One running process of a node: its Membership and what the driver around it would hold."""

    __slots__ = ("node_id", "pid", "membership", "paused", "inbox", "next_step_us", "step_waiting",
                 "joined", "old")

    def __init__(self, node_id: str, pid: int, membership: Membership, old: bool = False) -> None:
        self.node_id = node_id
        self.pid = pid
        self.membership = membership
        self.old = old   # runs the protocol from before digest sync
        self.paused = False
        self.inbox: list[tuple[Callable, tuple]] = []   # events held while paused
        self.next_step_us = 0
        self.step_waiting = False
        self.joined = True


@dataclasses.dataclass(frozen=True)
class TraceEntry:
    time_s: float
    kind: str
    node: str
    detail: str


class Sim:
    """A simulated cluster; see the module docstring. Scenarios call the fault methods between
    `run_*` calls; every method that changes something is one traced, checked event."""

    def __init__(self, config: SimConfig, *, reproduce_args: str = "") -> None:
        self.config = config
        self.gossip = config.gossip
        self.reproduce_args = reproduce_args or f"--nodes {config.nodes}"
        self.rng = random.Random(config.seed)
        self.clock = ManualClock()
        self.network = Network(config.network, self.rng)
        self.procs: dict[str, Proc] = {}
        self._last_record: dict[str, MemberInfo] = {}
        self.now_us = 0
        self._heap: list[tuple[int, int, Callable, tuple]] = []
        self._seq = itertools.count()
        self._pids = itertools.count(1)
        self._next_index = 0
        self._old_gossip = dataclasses.replace(self.gossip, state_sync_buckets=0)
        # Nodes whose next process runs the old protocol (membership tests only, never iterated).
        self._old_ids: set[str] = set()
        self._step_us = round(self.gossip.gossip_interval_s * US_PER_S)
        self._rpc_timeout_us = round(self.gossip.rpc_timeout_s * US_PER_S)
        self._probe_timeout_us = round(self.gossip.indirect_probe_timeout_s * US_PER_S)
        self._join_retry_us = self._rpc_timeout_us + round(self.gossip.heartbeat_interval_s
                                                           * US_PER_S)
        self._in_flight: dict[tuple[int, str, str], int] = {}
        self._changes: list[tuple[Proc, MemberInfo | None, MemberInfo]] = []
        self._stepper: str | None = None
        self.paused_count = 0
        # Figures.
        self.events = 0
        self.rpcs: collections.Counter[str] = collections.Counter()
        self.records_sent = 0
        # Serialized payload of every membership message sent, requests and replies (wire.py).
        self.bytes_sent = 0
        self.dropped_in_flight = 0
        self.last_gossip_us = 0
        # Trace.
        self.trace: list[TraceEntry] = []
        self._tail: collections.deque[TraceEntry] = collections.deque(maxlen=TRACE_TAIL_MAX)
        self._digest = hashlib.blake2b(digest_size=16)
        self._digest_lines: list[str] = []
        self.checker = Checker(self)
        self.layouts = LayoutBook(self.rng, config.layouts, config.ring.vnodes_per_node)
        self.checkpoints: list[Checkpoint] = []

    # ---- reading ---------------------------------------------------------------------------

    @property
    def now_s(self) -> float:
        return self.now_us / US_PER_S

    @property
    def heartbeat_s(self) -> float:
        return self.gossip.heartbeat_interval_s

    def live_ids(self) -> list[str]:
        """Running processes (paused ones included), sorted."""
        return sorted(self.procs)

    def own_record(self, node_id: str) -> MemberInfo | None:
        """A node's own record: its running process's, or the last one it had before it died."""
        proc = self.procs.get(node_id)
        return proc.membership.me() if proc is not None else self._last_record.get(node_id)

    def view(self, observer: str, node_id: str) -> MemberInfo | None:
        return self.procs[observer].membership.get(node_id)

    def converged(self) -> bool:
        """Every running node sees every node as it really is and derives the same ring, and no
        process is paused. O(1)."""
        return self.checker.agreement() and self.checker.ring_agreed() and not self.paused_count

    def digest(self) -> str:
        """Hex digest of every trace entry so far (the same seed gives the same digest)."""
        self._flush_digest()
        return self._digest.copy().hexdigest()

    def violation(self, invariant: str, detail: str) -> SimViolation:
        """The exception for a broken invariant or a missed deadline, with the reproduce line."""
        tail = "; ".join(f"{e.time_s:.6f} {e.kind} {e.node} {e.detail}" for e in self._tail)
        return SimViolation(
            f"invariant {invariant} violated at event {self.events} (t={self.now_s:.6f} s): "
            f"{detail}; reproduce with --seed {self.config.seed} {self.reproduce_args}"
            + (f" [last events: {tail}]" if tail else ""))

    # ---- running ---------------------------------------------------------------------------

    def run_for(self, seconds: float) -> None:
        end_us = self.now_us + round(seconds * US_PER_S)
        heap = self._heap
        while heap and heap[0][0] <= end_us:
            self._run_one()
        self._advance(end_us)

    def run_until(self, predicate: Callable[[], bool], timeout_s: float, what: str, *,
                  poll_s: float | None = None) -> float:
        """Run events until `predicate()` holds (checked after every event, or at most every
        `poll_s` for predicates that are not O(1)); returns the virtual seconds it took. Raises
        SimViolation when `timeout_s` passes first."""
        start_us = self.now_us
        deadline_us = start_us + round(timeout_s * US_PER_S)
        poll_us = round(poll_s * US_PER_S) if poll_s else 0
        next_poll_us = start_us
        heap = self._heap
        while True:
            if self.now_us >= next_poll_us:
                if predicate():
                    return (self.now_us - start_us) / US_PER_S
                next_poll_us = self.now_us + poll_us
            if not heap or heap[0][0] > deadline_us:
                self._advance(deadline_us)
                raise self.violation("liveness", f"{what} not reached within {timeout_s:.1f} s of "
                                                 f"virtual time")
            self._run_one()

    def settle(self, timeout_s: float) -> float:
        """Run until converged with no gossip sent for a whole heartbeat interval (every queue of
        fresh updates has drained); returns the virtual seconds it took."""
        quiet_us = round(self.heartbeat_s * US_PER_S)
        return self.run_until(
            lambda: self.converged() and self.now_us - self.last_gossip_us >= quiet_us,
            timeout_s, "settled cluster (converged, no gossip for one heartbeat interval)")

    # ---- faults and operations (each one event) ----------------------------------------------

    def form(self, count: int) -> list[str]:
        """Start `count` nodes now and hand each the whole initial table (see the module
        docstring); returns their ids."""
        old_count = round(count * self.config.old_ratio)
        for offset in range(old_count):
            self._old_ids.add(node_id_of(self._next_index + offset))
        started = [self._fault("start", node_id_of(self._take_index()), "formed", self._start)
                   for _ in range(count)]
        table = [proc.membership.me() for proc in started]
        for proc in started:
            self._begin("form", proc.node_id, f"{len(table)} records")
            proc.membership.on_sync_reply(table)
            self._end_event()
        return [proc.node_id for proc in started]

    def join(self, via: str | None = None) -> str:
        """Start a new node and join it through `via` (a random running node when None)."""
        node_id = node_id_of(self._take_index())
        via = via or self._pick_live()
        proc = self._fault("start", node_id, f"join via {via}", self._start)
        proc.joined = False
        self._send_join(proc, via, 1)
        return node_id

    def kill(self, node_id: str) -> None:
        self._fault("kill", node_id, "", self._kill)

    def restart(self, node_id: str, via: str | None = None, *, upgrade: bool = False) -> None:
        """Start `node_id` again in a new generation (killing its running process first) and join
        through `via` (a random running node when None); `upgrade` makes an old node new."""
        if node_id in self.procs:
            self.kill(node_id)
        via = via or self._pick_live()
        if upgrade:
            self._old_ids.discard(node_id)
        detail = f"restart via {via}" + (" upgraded" if upgrade else "")
        proc = self._fault("start", node_id, detail, self._start)
        proc.joined = False
        self._send_join(proc, via, 1)

    def pause(self, node_id: str) -> None:
        def pause(proc: Proc) -> None:
            proc.paused = True
            self.paused_count += 1
            self.checker.on_fault(node_id)
        self._fault("pause", node_id, "", lambda _: pause(self.procs[node_id]))

    def resume(self, node_id: str) -> None:
        """Resume a paused node at the current instant: its late step runs first, then what reached
        it meanwhile. Of the orders a real SIGCONT allows this is the hard one: the step sees the
        whole pause as silence of the nodes it watches, which Lifeguard must not turn into
        verdicts."""
        def resume(proc: Proc) -> None:
            proc.paused = False
            self.paused_count -= 1
            if proc.step_waiting:
                proc.step_waiting = False
                self._schedule(self.now_us, self._on_step, (proc,))
            for fn, args in proc.inbox:
                self._schedule(self.now_us, fn, args)
            proc.inbox = []
            self.checker.on_fault(node_id)
        self._fault("resume", node_id, "", lambda _: resume(self.procs[node_id]))

    def leave(self, node_id: str) -> None:
        """Graceful leave (`MembershipDriver.leave`): LEFT, pushed to a few live peers. The process
        keeps running until a scenario kills it."""
        def leave(_: object) -> None:
            proc = self.procs[node_id]
            record = proc.membership.leave()
            self.checker.on_left(node_id)
            peers = [m.node_id for m in proc.membership.members()
                     if m.state == MemberState.ALIVE and m.node_id != node_id]
            for peer in self.rng.sample(peers, min(len(peers), LEAVE_PUSH_PEERS_MAX)):
                self._rpc(proc, "gossip", peer, None, (record,))
        self._fault("leave", node_id, "", leave)

    def partition(self, *groups: list[str]) -> None:
        """Split the network into `groups` plus everyone not named (see network.py)."""
        detail = " | ".join(",".join(sorted(g)) for g in groups)

        def partition(_: object) -> None:
            self.network.partition(groups)
            self.checker.on_network_change(healed=False)
        self._fault("partition", "-", detail, partition)

    def cut(self, src: str, dst: str) -> None:
        """Drop everything from `src` to `dst`."""
        def cut(_: object) -> None:
            self.network.cut(src, dst)
            self.checker.on_network_change(healed=False)
        self._fault("cut", src, dst, cut)

    def heal(self) -> None:
        def heal(_: object) -> None:
            self.network.heal()
            self.checker.on_network_change(healed=True)
        self._fault("heal", "-", "", heal)

    def inject(self, observer: str, record: MemberInfo) -> None:
        """Hand `observer` a record as if gossiped (a rumour, or a forged record to test checks)."""
        self._fault("inject", observer, f"{record.node_id} {record.state.name} "
                    f"g{record.generation} i{record.incarnation}",
                    lambda _: self.procs[observer].membership.on_gossip([record]))

    def checkpoint(self, label: str, *, expect_full: bool = False) -> Checkpoint:
        """On a converged cluster: check every running node derives exactly the same ring member
        set, then the ring movement and the repair plans of the synthetic layouts (layouts.py)."""
        self._begin("checkpoint", "-", label)
        if not self.converged():
            raise self.violation("checkpoint", f"checkpoint {label!r} taken before convergence "
                                               f"({self.checker.wrong_total} views disagree)")
        reference = self.procs[min(self.procs)]
        members = self._ring_members(reference)
        for node_id, proc in self.procs.items():
            if self._ring_members(proc) != members:
                raise self.violation("same-ring", f"{node_id} derives a ring member set other than "
                                                  f"{reference.node_id}'s at {label!r}")
        result = self.layouts.checkpoint(label, self.now_s, members, reference.membership.is_live,
                                         expect_full=expect_full, violation=self.violation)
        self.checkpoints.append(result)
        self._end_event()
        return result

    def _ring_members(self, proc: Proc) -> tuple[RingMember, ...]:
        """The ring member set as the daemon derives it (`ClusterState.rebuild`: the same
        function on the same table)."""
        return ring_members(proc.membership.members(), self.config.ring.weight_unit_bytes)

    # ---- tracing -----------------------------------------------------------------------------

    def trace_change(self, observer: str, new: MemberInfo) -> None:
        self._trace("change", observer, f"{new.node_id} {new.state.name} g{new.generation} "
                                        f"i{new.incarnation}")

    def _trace(self, kind: str, node: str, detail: str) -> None:
        entry = TraceEntry(self.now_us / US_PER_S, kind, node, detail)
        self._tail.append(entry)
        if len(self.trace) < self.config.trace_kept_max:
            self.trace.append(entry)
        lines = self._digest_lines
        lines.append(f"{self.now_us} {kind} {node} {detail}")
        if len(lines) >= DIGEST_BATCH_LINES:
            self._flush_digest()

    def _flush_digest(self) -> None:
        if self._digest_lines:
            self._digest.update(("\n".join(self._digest_lines) + "\n").encode())
            self._digest_lines = []

    # ---- the event loop ------------------------------------------------------------------------

    def _schedule(self, at_us: int, fn: Callable, args: tuple) -> None:
        heapq.heappush(self._heap, (at_us, next(self._seq), fn, args))

    def _advance(self, to_us: int) -> None:
        if to_us > self.now_us:
            self.clock.advance((to_us - self.now_us) / US_PER_S)
            self.now_us = to_us

    def _run_one(self) -> None:
        at_us, _, fn, args = heapq.heappop(self._heap)
        self._advance(at_us)
        fn(*args)

    def _begin(self, kind: str, node: str, detail: str) -> None:
        self.events += 1
        self._trace(kind, node, detail)

    def _end_event(self) -> None:
        if self._changes:
            changes, self._changes = self._changes, []
            self.checker.after_event(changes, self._stepper)
        else:
            self.checker.tick()
        self._stepper = None

    def _fault(self, kind: str, node_id: str, detail: str, apply: Callable):
        self._begin(kind, node_id, detail)
        result = apply(node_id)
        self._end_event()
        return result

    # ---- processes ---------------------------------------------------------------------------

    def _take_index(self) -> int:
        index = self._next_index
        self._next_index += 1
        return index

    def _pick_live(self) -> str:
        return self.rng.choice(sorted(i for i, p in self.procs.items() if not p.paused))

    def _start(self, node_id: str) -> Proc:
        if node_id in self.procs:
            raise ValueError(f"{node_id} is already running; kill it first or use restart()")
        generation = self.clock.wall_ms()
        previous = self._last_record.get(node_id)
        if previous is not None and generation <= previous.generation:
            raise ValueError(f"{node_id} restarted in the same millisecond as its previous life "
                             f"(generation {generation}); run the clock on first")
        index = int(node_id[1:])
        me = MemberInfo(node_id=node_id, address=address_of(node_id),
                        zone=f"z{index % self.config.zones}",
                        capacity_bytes=self.config.capacity_bytes, generation=generation,
                        incarnation=0, state=MemberState.ALIVE)
        old = node_id in self._old_ids
        membership = Membership(config=self._old_gossip if old else self.gossip, me=me, clock=self.clock,
                                rng=random.Random(self.rng.getrandbits(64)))
        proc = Proc(node_id, next(self._pids), membership, old)
        membership.add_listener(lambda old, new: self._changes.append((proc, old, new)))
        self.procs[node_id] = proc
        self._last_record[node_id] = me
        self.checker.on_start(proc)
        proc.next_step_us = self.now_us + int(self.rng.random() * self._step_us)
        self._schedule(proc.next_step_us, self._on_step, (proc,))
        return proc

    def _kill(self, node_id: str) -> None:
        proc = self.procs.pop(node_id)
        self.paused_count -= proc.paused
        self._last_record[node_id] = proc.membership.me()
        self.checker.on_kill(proc, self._last_record[node_id])

    def _current(self, proc: Proc) -> bool:
        return self.procs.get(proc.node_id) is proc

    # ---- the driver's side -----------------------------------------------------------------------

    def _on_step(self, proc: Proc) -> None:
        if not self._current(proc):
            return
        if proc.paused:
            proc.step_waiting = True
            return
        self._begin("step", proc.node_id, "")
        self._stepper = proc.node_id
        for outgoing in proc.membership.step():
            self._send(proc, outgoing)
        self._end_event()
        proc.next_step_us = max(proc.next_step_us + self._step_us, self.now_us)
        self._schedule(proc.next_step_us, self._on_step, (proc,))

    def _send(self, proc: Proc, outgoing: Outgoing) -> None:
        target = outgoing.target_node_id
        if outgoing.target_address != address_of(target):
            raise self.violation("address", f"{proc.node_id} sends {outgoing.kind} to {target} at "
                                            f"{outgoing.target_address}, not {address_of(target)}")
        if outgoing.kind == "indirect_probe":
            self._indirect_probe(proc, outgoing)
            return
        sender = proc.membership.me() if outgoing.kind == "heartbeat" else None
        self._rpc(proc, outgoing.kind, target, sender, outgoing.updates, outgoing.bucket_hashes)

    def _rpc(self, proc: Proc, kind: str, target: str, sender: MemberInfo | None,
             updates: tuple[MemberInfo, ...], hashes: tuple[int, ...] = ()) -> None:
        """Send one request; its reply (if any) comes back through `_on_reply`."""
        key = (proc.pid, kind, target)
        busy_until_us = self._in_flight.get(key)
        if busy_until_us is not None and busy_until_us > self.now_us:
            self.dropped_in_flight += 1
            return
        self._in_flight[key] = self.now_us + self._rpc_timeout_us
        self.rpcs[kind] += 1
        self.records_sent += len(updates) + (sender is not None)
        self.bytes_sent += (wire.digest_request_bytes(hashes) if kind == "sync_digest"
                            else wire.request_bytes(kind, sender, updates))
        if kind == "gossip":
            self.last_gossip_us = self.now_us
        transit_us = self.network.transit_us()
        if transit_us is not None:
            self._schedule(self.now_us + transit_us, self._on_request,
                           (kind, proc, target, sender, updates, self.now_us, hashes))

    def _send_join(self, proc: Proc, via: str, attempt: int) -> None:
        if not self._current(proc) or proc.joined or attempt > JOIN_ATTEMPTS_MAX:
            return
        self._in_flight.pop((proc.pid, "join", via), None)
        self._rpc(proc, "join", via, proc.membership.me(), ())
        self._schedule(self.now_us + self._join_retry_us, self._send_join, (proc, via, attempt + 1))

    def _on_request(self, kind: str, proc: Proc, target_id: str, sender: MemberInfo | None,
                    updates: tuple[MemberInfo, ...], sent_us: int, hashes: tuple[int, ...] = ()) -> None:
        target = self.procs.get(target_id)
        if target is None or not self.network.reachable(proc.node_id, target_id):
            return
        if target.paused:
            target.inbox.append((self._on_request, (kind, proc, target_id, sender, updates, sent_us, hashes)))
            return
        self._begin("recv", target_id, f"{kind} {proc.node_id}")
        membership = target.membership
        reply: list[MemberInfo] | tuple = ()
        records: Sequence[MemberInfo] = ()
        if kind == "heartbeat":
            reply = membership.on_heartbeat(sender, updates)
        elif kind == "gossip":
            membership.on_gossip(updates)
        elif kind == "sync":
            reply = membership.on_sync(updates)
        elif kind == "sync_digest" and target.old:
            reply = UNIMPLEMENTED
        elif kind == "sync_digest":
            reply = membership.on_sync_digest(hashes)
            records = reply[1]
            self.bytes_sent += wire.digest_reply_bytes(*reply)
        elif kind == "join":
            reply = membership.on_join(sender)
        else:
            raise AssertionError(f"unknown rpc kind {kind!r}")
        self._end_event()
        if kind != "sync_digest":
            records = reply
            self.bytes_sent += wire.reply_bytes(kind, reply)
        self.records_sent += len(records)
        transit_us = self.network.transit_us()
        if transit_us is not None:
            self._schedule(self.now_us + transit_us, self._on_reply,
                           (kind, proc, target_id, reply, sent_us))

    def _on_reply(self, kind: str, proc: Proc, from_id: str, reply: list[MemberInfo],
                  sent_us: int) -> None:
        if not self._current(proc) or not self.network.reachable(from_id, proc.node_id):
            return
        if proc.paused:
            proc.inbox.append((self._on_reply, (kind, proc, from_id, reply, sent_us)))
            return
        if self.now_us > sent_us + self._rpc_timeout_us:
            return   # the caller's deadline passed; the driver dropped the call
        self._in_flight.pop((proc.pid, kind, from_id), None)
        if kind == "gossip":
            proc.membership.heard_from(from_id)   # an empty ack, but an answer
            return
        self._begin("reply", proc.node_id, f"{kind} {from_id}")
        if kind == "heartbeat":
            proc.membership.on_heartbeat_reply(from_id, reply)
        elif kind == "sync_digest":
            proc.membership.heard_from(from_id)
            if reply == UNIMPLEMENTED:
                follow_up = proc.membership.on_sync_digest_unsupported(from_id)
            else:
                follow_up = proc.membership.on_sync_digest_reply(from_id, *reply)
            if follow_up is not None:
                self._send(proc, follow_up)
        else:   # sync, join: a whole table
            proc.membership.heard_from(from_id)
            proc.membership.on_sync_reply(reply)
            proc.joined = True
        self._end_event()

    def _round_trip_us(self, a: str, b: str) -> int | None:
        """One request/response between two running, unpaused processes, or None if it fails."""
        there = self.network.transit_us()
        back = self.network.transit_us()
        if there is None or back is None:
            return None
        if not (self.network.reachable(a, b) and self.network.reachable(b, a)):
            return None
        answering = self.procs.get(b)
        if answering is None or answering.paused:
            return None
        return there + back

    def _indirect_probe(self, proc: Proc, outgoing: Outgoing) -> None:
        src, target = proc.node_id, outgoing.target_node_id
        self.rpcs["ping"] += 1 + len(outgoing.helpers)
        self.rpcs["indirect_probe"] += len(outgoing.helpers)
        direct_us = self._round_trip_us(src, target)
        best_us = direct_us
        answered: list[str] = []
        # Payload: every request; a reply when its round trip completes (the target's record for a
        # ping that reaches it, asked by us or by a helper).
        ping_bytes = wire.ping_request_bytes(target)
        pong_bytes = wire.ping_reply_bytes(self.procs[target].membership.me()) if target in self.procs else 0
        self.bytes_sent += ping_bytes + (pong_bytes if direct_us is not None else 0)
        for helper, _ in outgoing.helpers:
            to_helper_us = self._round_trip_us(src, helper)
            to_target_us = self._round_trip_us(helper, target)
            self.bytes_sent += wire.indirect_probe_request_bytes(target, outgoing.target_address,
                                                                 outgoing.timeout_s)
            if to_helper_us is not None:
                self.bytes_sent += (ping_bytes + (pong_bytes if to_target_us is not None else 0)
                                    + wire.indirect_probe_reply_bytes(to_target_us is not None))
                answered.append(helper)
            if to_helper_us is not None and to_target_us is not None:
                path_us = to_helper_us + to_target_us
                best_us = path_us if best_us is None else min(best_us, path_us)
        budget_us = self._probe_timeout_us
        if direct_us is not None and direct_us <= budget_us:
            record = self.procs[target].membership.me()
            self._schedule(self.now_us + direct_us, self._on_ping_reply, (proc, target, record))
        reachable = best_us is not None and best_us <= budget_us
        self._schedule(self.now_us + (best_us if reachable else budget_us), self._on_probe_result,
                       (proc, target, reachable, tuple(answered)))

    def _on_ping_reply(self, proc: Proc, target: str, record: MemberInfo) -> None:
        if not self._current(proc):
            return
        if proc.paused:
            proc.inbox.append((self._on_ping_reply, (proc, target, record)))
            return
        self._begin("ping", proc.node_id, target)
        proc.membership.heard_from(target)
        proc.membership.on_gossip([record])
        self._end_event()

    def _on_probe_result(self, proc: Proc, target: str, reachable: bool, answered: tuple[str, ...]) -> None:
        if not self._current(proc):
            return
        if proc.paused:
            proc.inbox.append((self._on_probe_result, (proc, target, reachable, answered)))
            return
        self._begin("probe", proc.node_id, f"{target} {'reachable' if reachable else 'unreachable'}")
        for helper in answered:
            proc.membership.heard_from(helper)
        proc.membership.on_probe_result(target, reachable)
        self._end_event()
