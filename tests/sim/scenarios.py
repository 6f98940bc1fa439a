"""Scenarios: what a run does to the cluster and what it measures, in heartbeat intervals.

Every scenario forms the cluster warm, waits until it has settled (converged, gossip queues drained),
takes the first checkpoint (which places the synthetic layouts) and then applies its faults, taking
a checkpoint (layouts.py) whenever the cluster has converged again. Times are measured in virtual
seconds and reported divided by `heartbeat_interval_s`, so profiles with other timers compare.

- standard: idle traffic over `IDLE_INTERVALS`; kill a node (detection by the first and by every
  running node; OUT everywhere); join a new node; kill and restart one (new generation); one leaves
  gracefully. The figures the report table prints.
- quiet: no fault for `QUIET_INTERVALS`; false DOWN verdicts must be zero (with or without loss).
- partition: cut 40 % of the nodes off until each side holds the other DOWN, heal, and converge.
- pause: SIGSTOP one node until everyone holds it DOWN, resume it; its late step must hold back
  its verdicts (Lifeguard) and it must refute.
- overload: a machine with more runnable work than cores, as every node's process sees it: for
  `OVERLOAD_INTERVALS` each node stalls again and again, for 0.5 to 2 silence thresholds at a
  time, running 0.5 to 1.5 heartbeat intervals in between; then it converges. The figures are the
  DOWN verdicts per node during the overload and the convergence time after it. Run it with
  `--health-max 0` to see what local health saves.
- upgrade: a rolling upgrade from the protocol before digest sync. The old nodes (all formed nodes
  unless `--old-ratio` says otherwise) are restarted as new ones one at a time, each after the
  cluster converged again; then idle traffic is measured over `QUIET_INTERVALS`, in which every sync
  must be a digest (a new node that found a peer old forgets it when the peer restarts).

`--old-ratio R` runs any scenario on a cluster of which that share of the formed nodes is old (see
engine.py): a cluster in the middle of a rolling upgrade.

A scenario returns a `RunResult`, a flat record (plus checkpoints) that run.py tabulates and dumps
as JSON. Which node a fault hits is drawn from the run's rng, so it is part of the seed.

Rejected: scenarios as data (a list of timed fault events). Waiting for a condition ("until every
node holds it DOWN") and measuring from it is the point of most steps, and a small function says
that more plainly than a schema of conditions would.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from node.gossip import MemberState

from .engine import RPC_KINDS, Sim, SimConfig, sim_gossip_config
from .invariants import Verdict
from .layouts import Checkpoint

# Idle traffic is averaged over this many heartbeat intervals after settling.
IDLE_INTERVALS = 10
# The quiet scenario runs this long without faults.
QUIET_INTERVALS = 60
# Deadlines for the conditions scenarios wait on, in heartbeat intervals (past them the run fails
# with the reproduce line). Detection takes about 4, gossip convergence a few rounds; the periodic
# sync (state_sync_interval_s) is added where only it can make progress.
DETECT_INTERVALS_MAX = 30
CONVERGE_INTERVALS_MAX = 60
# Settling drains N * gossip_retransmit_max / piggyback_updates_max gossip rounds of the formation
# burst; allowed twice that plus this many intervals.
SETTLE_INTERVALS_EXTRA = 60
# Share of the nodes cut off by the partition scenario (the rest keep a majority).
PARTITION_MINORITY_RATIO = 0.4
# The pause scenario keeps the node stopped this many intervals after everyone holds it DOWN.
PAUSE_EXTRA_INTERVALS = 2
# The overload scenario: how long it lasts, each stall as a fraction of down_after_s, and the
# running time between stalls in heartbeat intervals.
OVERLOAD_INTERVALS = 40
OVERLOAD_STALL_RANGE = (0.5, 2.0)
OVERLOAD_RUN_RANGE = (0.5, 1.5)

ALIVE, DOWN, OUT, LEFT = MemberState.ALIVE, MemberState.DOWN, MemberState.OUT, MemberState.LEFT


@dataclasses.dataclass
class RunResult:
    """One run's figures; times in heartbeat intervals, None where the scenario has no such step."""

    scenario: str
    nodes: int
    seed: int
    loss_ratio: float
    digest: str = ""
    events: int = 0
    virtual_s: float = 0.0
    cpu_s: float = 0.0
    settle: float | None = None
    # Idle traffic, per node per heartbeat interval: RPCs by kind, and member records carried
    # (requests and replies); and per node per second, the serialized payload of every membership
    # message, requests and replies (wire.py; what ringstore_gossip_bytes_total counts).
    idle_rpcs: dict[str, float] = dataclasses.field(default_factory=dict)
    idle_records: float | None = None
    idle_bytes_per_s: float | None = None
    detect_first: float | None = None
    detect_all: float | None = None
    out_all: float | None = None
    join_converge: float | None = None
    restart_converge: float | None = None
    leave_converge: float | None = None
    heal_converge: float | None = None
    resume_converge: float | None = None
    overload_verdicts: float | None = None     # DOWN verdicts per node during the overload
    overload_converge: float | None = None
    upgrade_converge: float | None = None      # the slowest convergence after one node's upgrade
    verdicts: int = 0
    false_down: int = 0
    false_down_listed: list[Verdict] = dataclasses.field(default_factory=list)
    # Longest time a live node was held DOWN by a majority (from its last fault).
    majority_down_max: float = 0.0
    dropped_in_flight: int = 0
    checkpoints: list[Checkpoint] = dataclasses.field(default_factory=list)

    def ring_moved_ratio(self, change: str) -> float | None:
        """Key space moved by the first "join" or "leave" checkpoint, times N (ideal 1.0)."""
        return next((c.moved_ratio for c in self.checkpoints if c.change.startswith(change)), None)

    def copies_moved_ratio(self, label: str) -> float | None:
        """Copies made at checkpoint `label` over all copies, times N (rebalancing; ideal ~1)."""
        found = next((c for c in self.checkpoints if c.label == label), None)
        if found is None or not found.copies:
            return None
        return found.copies_made / found.copies * found.members


def reproduce_args(scenario: str, config: SimConfig) -> str:
    health = ("" if config.gossip.health_max == sim_gossip_config().health_max
              else f" --health-max {config.gossip.health_max}")
    old = f" --old-ratio {config.old_ratio:g}" if config.old_ratio else ""
    return (f"--nodes {config.nodes} --scenario {scenario} --loss {config.network.loss_ratio:g} "
            f"--layouts {config.layouts}{health}{old}")


def run(scenario: str, config: SimConfig) -> RunResult:
    """Run one scenario on a fresh simulation; raises SimViolation on a violated invariant."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
    started_cpu_s = time.process_time()
    sim = Sim(config, reproduce_args=reproduce_args(scenario, config))
    result = RunResult(scenario=scenario, nodes=config.nodes, seed=config.seed,
                       loss_ratio=config.network.loss_ratio)
    _form(sim, result)
    SCENARIOS[scenario](sim, result)
    sim.checker.finish()
    checker = sim.checker
    result.digest = sim.digest()
    result.events = sim.events
    result.virtual_s = sim.now_s
    result.cpu_s = time.process_time() - started_cpu_s
    result.verdicts = checker.verdicts
    result.false_down = checker.false_verdicts
    result.false_down_listed = list(checker.false_verdicts_listed)
    result.majority_down_max = checker.majority_down_max_us / 1e6 / sim.heartbeat_s
    result.dropped_in_flight = sim.dropped_in_flight
    result.checkpoints = list(sim.checkpoints)
    return result


# ---- steps shared by the scenarios ------------------------------------------------------------

def _form(sim: Sim, result: RunResult) -> None:
    ids = sim.form(sim.config.nodes)
    gossip = sim.gossip
    drain_rounds = len(ids) * gossip.gossip_retransmit_max / gossip.piggyback_updates_max
    timeout_s = (2 * drain_rounds * gossip.gossip_interval_s
                 + SETTLE_INTERVALS_EXTRA * sim.heartbeat_s)
    result.settle = sim.settle(timeout_s) / sim.heartbeat_s
    sim.checkpoint("formed")


def _intervals(sim: Sim, seconds: float) -> float:
    return seconds / sim.heartbeat_s


def _converge(sim: Sim, what: str, *, after_heal: bool = False) -> float:
    timeout_s = CONVERGE_INTERVALS_MAX * sim.heartbeat_s
    if after_heal:
        timeout_s += 2 * sim.gossip.state_sync_interval_s
    return _intervals(sim, sim.run_until(sim.converged, timeout_s, what))


def _all_see_down(sim: Sim, node_id: str) -> float:
    """Run until every running node holds the killed `node_id` DOWN or OUT."""
    return _intervals(sim, sim.run_until(lambda: sim.checker.agreement(node_id),
                                         DETECT_INTERVALS_MAX * sim.heartbeat_s,
                                         f"every node holding {node_id} DOWN"))


def _pick(sim: Sim) -> str:
    return sim.rng.choice(sim.live_ids())


# ---- scenarios ----------------------------------------------------------------------------------

def standard(sim: Sim, result: RunResult) -> None:
    hb_s = sim.heartbeat_s
    _idle(sim, result, IDLE_INTERVALS)

    victim = _pick(sim)
    sim.run_for(sim.rng.random() * hb_s)      # kill at a random phase of the heartbeat cycle
    generation = sim.own_record(victim).generation
    killed_s = sim.now_s
    sim.kill(victim)
    result.detect_all = _all_see_down(sim, victim)
    first_s = sim.checker.first_seen_s(victim, generation, DOWN)
    result.detect_first = _intervals(sim, first_s - killed_s)
    sim.checkpoint("down")
    reference = sim.live_ids()[0]
    sim.run_until(lambda: sim.converged() and sim.view(reference, victim).state == OUT,
                  sim.gossip.repair_after_down_s + DETECT_INTERVALS_MAX * hb_s,
                  f"every node holding {victim} OUT")
    result.out_all = _intervals(sim, sim.now_s - killed_s)
    sim.checkpoint("out", expect_full=True)

    joined_s = sim.now_s
    joiner = sim.join()
    _converge(sim, f"convergence after {joiner} joined")
    result.join_converge = _intervals(sim, sim.now_s - joined_s)
    sim.checkpoint("join", expect_full=True)

    restarted = _pick(sim)
    sim.kill(restarted)
    _all_see_down(sim, restarted)
    restarted_s = sim.now_s
    sim.restart(restarted)
    _converge(sim, f"convergence after {restarted} restarted")
    result.restart_converge = _intervals(sim, sim.now_s - restarted_s)
    sim.checkpoint("restart", expect_full=True)

    leaver = _pick(sim)
    left_s = sim.now_s
    sim.leave(leaver)
    sim.run_until(lambda: sim.checker.agreement(leaver), CONVERGE_INTERVALS_MAX * hb_s,
                  f"every node holding {leaver} LEFT")
    result.leave_converge = _intervals(sim, sim.now_s - left_s)
    sim.kill(leaver)                           # the process exits after leaving
    _converge(sim, f"convergence after {leaver} left")
    sim.checkpoint("leave", expect_full=True)


def quiet(sim: Sim, result: RunResult) -> None:
    _idle(sim, result, QUIET_INTERVALS)


def partition(sim: Sim, result: RunResult) -> None:
    ids = sim.live_ids()
    minority = sorted(sim.rng.sample(ids, max(1, int(len(ids) * PARTITION_MINORITY_RATIO))))
    majority = sorted(set(ids) - set(minority))
    sim.partition(minority)

    def sides_apart() -> bool:
        down_by = sim.checker.down_by
        return (all(down_by(x).issuperset(majority) for x in minority)
                and all(down_by(x).issuperset(minority) for x in majority))

    sim.run_until(sides_apart, DETECT_INTERVALS_MAX * sim.heartbeat_s,
                  "each side of the partition holding the other DOWN",
                  poll_s=sim.gossip.gossip_interval_s)
    healed_s = sim.now_s
    sim.heal()
    _converge(sim, "convergence after the partition healed", after_heal=True)
    result.heal_converge = _intervals(sim, sim.now_s - healed_s)
    sim.checkpoint("healed", expect_full=True)


def pause(sim: Sim, result: RunResult) -> None:
    paused = _pick(sim)
    sim.pause(paused)
    others = len(sim.live_ids()) - 1
    sim.run_until(lambda: len(sim.checker.down_by(paused)) == others,
                  DETECT_INTERVALS_MAX * sim.heartbeat_s, f"every node holding paused {paused} DOWN")
    sim.run_for(PAUSE_EXTRA_INTERVALS * sim.heartbeat_s)
    resumed_s = sim.now_s
    sim.resume(paused)
    _converge(sim, f"convergence after {paused} resumed")
    result.resume_converge = _intervals(sim, sim.now_s - resumed_s)
    sim.checkpoint("resumed", expect_full=True)


def overload(sim: Sim, result: RunResult) -> None:
    hb_s, down_after_s = sim.heartbeat_s, sim.gossip.down_after_s
    ids = sim.live_ids()
    start_s = sim.now_s
    end_s = start_s + OVERLOAD_INTERVALS * hb_s
    faults: list[tuple[float, int, str]] = []   # (when, 0 pause | 1 resume, node)
    for node_id in ids:
        at_s = start_s + sim.rng.uniform(0.0, hb_s)
        while at_s < end_s:
            stall_s = sim.rng.uniform(*OVERLOAD_STALL_RANGE) * down_after_s
            faults += [(at_s, 0, node_id), (at_s + stall_s, 1, node_id)]
            at_s += stall_s + sim.rng.uniform(*OVERLOAD_RUN_RANGE) * hb_s
    verdicts_before = sim.checker.verdicts
    for at_s, kind, node_id in sorted(faults):
        sim.run_for(max(0.0, at_s - sim.now_s))
        (sim.resume if kind else sim.pause)(node_id)
    result.overload_verdicts = (sim.checker.verdicts - verdicts_before) / len(ids)
    over_s = sim.now_s
    _converge(sim, "convergence after the overload")
    result.overload_converge = _intervals(sim, sim.now_s - over_s)
    sim.checkpoint("overload", expect_full=True)


def upgrade(sim: Sim, result: RunResult) -> None:
    old = [node_id for node_id in sim.live_ids() if sim.procs[node_id].old]
    if not old:
        raise ValueError("the upgrade scenario needs old nodes to upgrade: --old-ratio > 0")
    worst = 0.0
    for node_id in old:
        sim.restart(node_id, upgrade=True)
        worst = max(worst, _converge(sim, f"convergence after {node_id} was upgraded"))
    result.upgrade_converge = worst
    sim.checkpoint("upgraded", expect_full=True)
    sim.settle(CONVERGE_INTERVALS_MAX * sim.heartbeat_s)     # the last restart's gossip drains
    _idle(sim, result, QUIET_INTERVALS)


def _idle(sim: Sim, result: RunResult, intervals: int) -> None:
    """Run `intervals` heartbeat intervals without faults and record the traffic per node."""
    before = dict(sim.rpcs)
    records_before, bytes_before = sim.records_sent, sim.bytes_sent
    nodes = len(sim.live_ids())
    sim.run_for(intervals * sim.heartbeat_s)
    per = nodes * intervals
    result.idle_rpcs = {kind: (sim.rpcs[kind] - before.get(kind, 0)) / per for kind in RPC_KINDS}
    result.idle_records = (sim.records_sent - records_before) / per
    result.idle_bytes_per_s = (sim.bytes_sent - bytes_before) / per / sim.heartbeat_s


SCENARIOS: dict[str, Callable[[Sim, RunResult], None]] = {
    "standard": standard,
    "quiet": quiet,
    "partition": partition,
    "pause": pause,
    "overload": overload,
    "upgrade": upgrade,
}
