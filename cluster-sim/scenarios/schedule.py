"""The fault schedule: each step of a scenario carried out on a LocalCluster, and what it measured.

Steps run in order in one thread while the workers run in theirs. A step with `at_s` waits for
that time (seconds since the workload started); one that is late because the step before it ran
long starts at once, so faults never overlap in ways the file did not say. Before every step
every running node is scraped (accounting.py), so what a node counted is known up to the moment
the step may kill it.

Nodes leave the workload's pool before they are killed or stopped (workload.py) and come back
once every running node sees them ALIVE again. Each kill and stop opens a fault window that
closes then; partitions open one window per side, closed by `heal`.

Detection is polled: after a single-node kill (or during each flap pause) the running nodes'
views are read every `DETECTION_POLL_S` until all of them show the node DOWN (or OUT), giving the
time to the first and to the last observer. Polling at 0.1 s costs one status RPC per node per
poll and bounds the error of the measurement to that interval.

Rejected alternative: a schedule expressed as absolute wall-clock times with a timer thread per
step. Steps like `wait for out` or `fill` take as long as the cluster needs; chaining them is
what makes a schedule readable ("kill, wait until OUT, wait until full").
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
from collections.abc import Callable
from pathlib import Path

from cluster_sim._status import MemberView
from cluster_sim.cluster import Clock, LocalCluster
from cluster_sim.errors import ClusterError
from cluster_sim.scenarios.accounting import Ledger
from cluster_sim.scenarios.spec import ALL_NODES, VICTIM_ACTIONS, Scenario, Step
from cluster_sim.scenarios.workload import ClientCache, NodePool, Writer
from nodectl.errors import RingstoreError

DETECTION_POLL_S = 0.1
DETECTION_TIMEOUT_S = 30.0  # the local profile detects in ~1 s; past this the kill is reported undetected
FULL_POLL_S = 0.5  # one fsck walks every object: keep it to two a second
FILL_PUTS_MAX = 200  # a node that never reports full after this many puts fails the step
CHUNK_FILES_GLOB = "node-*/store/chunks/*/*/*"
FAULT_ACTIONS = frozenset({"kill", "start", "restart", "replace-disk", "stop", "cont", "flap", "partition", "slow",
                           "heal", "flip-bytes", "fill"})


def pick_one_per_chunk(paths: list[Path], count: int, rng: random.Random) -> list[Path]:
    """Up to `count` of `paths` at random, no two of one chunk (a file is `<chunk id hex>.<share>`)."""
    chosen: list[Path] = []
    chunks: set[str] = set()
    for path in rng.sample(paths, len(paths)):
        chunk = path.name.split(".", 1)[0]
        if chunk not in chunks:
            chunks.add(chunk)
            chosen.append(path)
            if len(chosen) == count:
                break
    return chosen


@dataclasses.dataclass(frozen=True)
class Detection:
    """How long the running nodes took to see a killed or stopped node DOWN."""

    node: str
    how: str  # kill, stop
    at_s: float
    observers: int
    first_s: float | None  # None: no observer saw it in time
    all_s: float | None  # None: not every observer saw it in time


class StepFailed(Exception):
    """A step could not be carried out; the message is one line naming the step."""


class Schedule:
    def __init__(self, *, cluster: LocalCluster, scenario: Scenario, pool: NodePool, ledger: Ledger,
                 writer: Writer, clients: ClientCache, clock: Clock, start_s: float, rng: random.Random,
                 progress: Callable[[str], None],
                 before_victim_fault: Callable[[list[str]], None] | None = None) -> None:
        self.cluster = cluster
        self.scenario = scenario
        self.pool = pool
        self.ledger = ledger
        self.writer = writer
        self.clients = clients
        self.clock = clock
        self.start_s = start_s
        self.rng = rng
        self.progress = progress
        # Called with the targets before each step that kills or replaces nodes (the cold-set snapshot).
        self.before_victim_fault = before_victim_fault
        self.detections: list[Detection] = []
        self.full_seen_s: list[float] = []  # times a fsck found every chunk at full redundancy
        self.faults_ended_s = 0.0
        self.flipped_files = 0
        self.error = ""

    def now(self) -> float:
        return self.clock.monotonic_s() - self.start_s

    # ---------------------------------------------------------------- running

    def run(self) -> None:
        """Every step in order; the first that fails ends the schedule and is kept in `error`."""
        for index, step in enumerate(self.scenario.steps):
            if step.at_s is not None and step.at_s > self.now():
                self.clock.sleep(step.at_s - self.now())
            self.scrape()
            self.progress(f"step {index}: {step.describe()}")
            try:  # action "flip-bytes" is carried out by `_flip_bytes`, and so on (spec.ACTIONS names them all)
                if step.action in VICTIM_ACTIONS and self.before_victim_fault is not None:
                    self.before_victim_fault(self._targets(step))
                getattr(self, "_" + step.action.replace("-", "_"))(step)
            except (ClusterError, RingstoreError, OSError, StepFailed) as err:
                message = err.message if isinstance(err, (ClusterError, RingstoreError)) else str(err)
                self.error = f"steps[{index}] ({step.describe()}): {message.splitlines()[0] if message else err!r}"
                self.progress(f"step {index} failed: {self.error}")
                return
            if step.action in FAULT_ACTIONS:
                self.faults_ended_s = self.now()

    def scrape(self, *, baseline: bool = False) -> None:
        """Take every running node's counters (see accounting.py); a node that does not answer is
        taken at the next scrape."""
        for node_id in self.cluster.running():
            at_s = self.now()
            try:
                text = self.cluster.metrics_text(node_id, timeout_s=5.0)
            except OSError:
                continue
            self.ledger.scrape(node_id, self.cluster.nodes[node_id].generation, text, at_s, baseline=baseline)

    # ---------------------------------------------------------------- helpers

    def _targets(self, step: Step) -> list[str]:
        return self.scenario.node_ids if step.node == ALL_NODES else [step.node]

    def _observers(self, *exclude: str) -> list[str]:
        return [node_id for node_id in self.cluster.running() if node_id not in exclude]

    def _seen_as(self, observer: str, target: str) -> str:
        try:
            return self.cluster.view(observer).get(target, "absent")
        except ClusterError:
            return "no answer"

    def _every_observer(self, target: str, holds: Callable[[MemberView], bool]) -> bool:
        """True when every running node's record of `target` satisfies `holds` (False if one does not answer)."""
        try:
            return all(holds(self.cluster.member_views(observer)[target]) for observer in self._observers())
        except (ClusterError, KeyError):
            return False

    def _wait_alive(self, targets: list[str], timeout_s: float) -> None:
        """Until every running node sees every target ALIVE."""
        def converged() -> bool:
            return all(self._seen_as(observer, target) == "ALIVE"
                       for observer in self.cluster.running() for target in targets)

        self.cluster.wait_until(converged, timeout_s=timeout_s, interval_s=DETECTION_POLL_S,
                                what=f"every running node to see {', '.join(targets)} ALIVE",
                                detail=self.cluster.describe)

    def _detect(self, node_id: str, how: str, at_s: float, *, until_s: float) -> None:
        """Poll the running nodes' views until all see `node_id` DOWN or OUT, or until `until_s`."""
        observers = self._observers(node_id)
        first_s = all_s = None
        seen: set[str] = set()
        while self.now() < until_s and observers:
            for observer in observers:
                if observer not in seen and self._seen_as(observer, node_id) in ("DOWN", "OUT"):
                    seen.add(observer)
                    if first_s is None:
                        first_s = self.now() - at_s
            if len(seen) == len(observers):
                all_s = self.now() - at_s
                break
            self.clock.sleep(DETECTION_POLL_S)
        self.detections.append(Detection(node_id, how, at_s, len(observers), first_s, all_s))
        self.progress(f"{node_id} ({how}) seen DOWN by the first observer after "
                      f"{'-' if first_s is None else f'{first_s:.2f} s'}, by all {len(observers)} after "
                      f"{'-' if all_s is None else f'{all_s:.2f} s'}")

    def _bring_back(self, targets: list[str], timeout_s: float) -> None:
        self._wait_alive(targets, timeout_s)
        at_s = self.now()
        for node_id in targets:
            self.ledger.close_windows(node_id, ("kill", "stop"), at_s)
        self.pool.restore(targets, {node_id: self.cluster.nodes[node_id].address for node_id in targets})

    def _admin(self):
        """A client to some node in the pool (an admin call must not go to a stopped node)."""
        available = self.pool.available()
        if not available:
            raise StepFailed("no running node to ask")
        return self.clients.get(self.pool.address(self.rng.choice(available)))

    def fsck_full(self) -> bool:
        """One fsck: True (and the time kept) when every chunk is at full redundancy."""
        summary = self._admin().fsck().summary
        if summary.chunks_full == summary.chunks_checked:
            self.full_seen_s.append(self.now())
            return True
        return False

    def wait_full(self, timeout_s: float) -> None:
        last: list[str] = []

        def full() -> bool:
            try:
                return self.fsck_full()
            except RingstoreError as err:  # a node busy repairing may time out one fsck: poll again
                last[:] = [err.message]
                return False

        self.cluster.wait_until(full, timeout_s=timeout_s, interval_s=FULL_POLL_S,
                                what="fsck to find every chunk at full redundancy",
                                detail=lambda: f"last fsck error: {last[0] if last else 'none'}")

    # ---------------------------------------------------------------- actions

    def _kill(self, step: Step) -> None:
        targets = self._targets(step)
        self.pool.withdraw(targets)
        at_s = self.now()
        for node_id in targets:
            self.cluster.kill(node_id, "KILL")
            self.ledger.open_window(node_id, "kill", at_s)
        if len(targets) == 1:
            self._detect(targets[0], "kill", at_s, until_s=at_s + DETECTION_TIMEOUT_S)

    def _start(self, step: Step) -> None:
        targets = self._targets(step)
        self.cluster.restart_many(targets, timeout_s=step.timeout_s)
        self._bring_back(targets, step.timeout_s)

    def _restart(self, step: Step) -> None:
        if step.maintenance_s:
            self._maintenance(dataclasses.replace(step, duration_s=step.maintenance_s))
        self._kill(step)
        self._start(step)

    def _replace_disk(self, step: Step) -> None:
        """kill -9, remove the data dir, start it empty under the same id and port; back in the pool
        once every running node sees it ALIVE."""
        self.pool.withdraw([step.node])
        at_s = self.now()
        self.ledger.open_window(step.node, "kill", at_s)
        self.cluster.replace_disk(step.node, timeout_s=step.timeout_s)
        self.progress(f"{step.node} started on an empty data dir {self.now() - at_s:.2f} s after the kill")
        self._bring_back([step.node], step.timeout_s)

    def _stop(self, step: Step) -> None:
        self.pool.withdraw([step.node])
        self.cluster.kill(step.node, "STOP")
        self.ledger.open_window(step.node, "stop", self.now())

    def _cont(self, step: Step) -> None:
        self.cluster.kill(step.node, "CONT")
        self._bring_back([step.node], step.timeout_s)

    def _flap(self, step: Step) -> None:
        for _ in range(step.times):
            self.clock.sleep(self.rng.uniform(*step.gap_s))
            self._stop(step)
            at_s = self.now()
            pause_s = self.rng.uniform(*step.pause_s)
            self._detect(step.node, "stop", at_s, until_s=at_s + pause_s)
            if self.now() < at_s + pause_s:
                self.clock.sleep(at_s + pause_s - self.now())
            self._cont(step)

    def _partition(self, step: Step) -> None:
        peers = list(step.peers) or self._observers(step.node)
        self.cluster.partition(step.node, peers)
        at_s = self.now()
        # A node still reachable by most of the others must stay ALIVE to the nodes that reach it;
        # one cut off from half of them or more may rightly be seen DOWN by anyone (its heartbeats
        # reach too few watchers for the others to vouch for it).
        others = len(self.cluster.running()) - 1
        observers = frozenset(peers) if 2 * len(peers) < others else None
        self.ledger.open_window(step.node, "partition", at_s, observers=observers)
        for peer in peers:
            self.ledger.open_window(peer, "partition", at_s, observers=frozenset({step.node}))

    def _slow(self, step: Step) -> None:
        self.cluster.set_faults(step.node, delay_rpc_ms=step.rpc_ms, delay_disk_ms=step.disk_ms)

    def _heal(self, step: Step) -> None:
        self.cluster.heal()
        at_s = self.now()
        for node_id in self.scenario.node_ids:
            self.ledger.close_windows(node_id, ("partition",), at_s)

    def _flip_bytes(self, step: Step) -> None:
        """XOR one random byte in each of `files` random chunk files (of `node`, or of any node),
        never two files of one chunk: bitrot on every copy of a chunk is a loss no redundancy
        survives (it happened on seed 18: all three shares of one ec=2+1 stripe), and the scenario
        is about the cluster finding and repairing what it can."""
        pattern = f"{step.node}/store/chunks/*/*/*" if step.node else CHUNK_FILES_GLOB
        candidates = sorted(path for path in Path(self.cluster.directory).glob(pattern)
                            if path.is_file() and path.stat().st_size > 0)
        chosen = pick_one_per_chunk(candidates, step.files, self.rng)
        if len(chosen) < step.files:
            raise StepFailed(f"only {len(chosen)} chunks have files stored, {step.files} files of distinct chunks "
                             "were to be flipped; flip fewer or let the workload write more first")
        for path in chosen:
            with contextlib.suppress(FileNotFoundError):  # garbage collection may take it meanwhile
                with open(path, "r+b") as chunk:
                    offset = self.rng.randrange(os.fstat(chunk.fileno()).st_size)
                    chunk.seek(offset)
                    old = chunk.read(1)
                    chunk.seek(offset)
                    chunk.write(bytes([old[0] ^ (1 << self.rng.randrange(8))]))
                self.flipped_files += 1

    def _scrub(self, step: Step) -> None:
        """Start a scrub pass on every node and wait until each has finished one more pass."""
        client = self._admin()
        before = {node.node_id: node.passes_completed for node in client.scrub_status().nodes}
        client.start_scrub()

        def finished() -> bool:
            status = client.scrub_status()
            return all(node.passes_completed > before.get(node.node_id, 0) for node in status.nodes)

        self.cluster.wait_until(finished, timeout_s=step.timeout_s, interval_s=FULL_POLL_S,
                                what="every node to finish a scrub pass")

    def _fill(self, step: Step) -> None:
        """Put objects of `size_bytes` (checked like the workload's) until `node` reports its disk
        full, then wait until every running node sees it full."""
        admin = self._admin()
        for index in range(FILL_PUTS_MAX):
            if admin.node_status(step.node).member.disk_full:
                break
            self.writer.put(f"fill-{index:04d}", "fill", policy="replicas=3", size_bytes=step.size_bytes)
        else:
            raise StepFailed(f"{step.node} did not report its disk full after {FILL_PUTS_MAX} puts of "
                             f"{step.size_bytes} bytes; give it a smaller storage.disk_bytes_max")
        self.cluster.wait_until(lambda: self._every_observer(step.node, lambda member: member.disk_full),
                                timeout_s=step.timeout_s, interval_s=DETECTION_POLL_S,
                                what=f"every node to see {step.node} full")

    def _maintenance(self, step: Step) -> None:
        """Set (or with 0 end) the node's maintenance window and wait until every node knows it."""
        self._admin().set_maintenance(step.node, step.duration_s)
        wanted = step.duration_s > 0
        self.cluster.wait_until(
            lambda: self._every_observer(step.node, lambda member: (member.maintenance_until_unix_ms > 0) == wanted),
            timeout_s=step.timeout_s, interval_s=DETECTION_POLL_S,
            what=f"every node to learn {step.node}'s maintenance window")

    def _wait(self, step: Step) -> None:
        if step.wait_for == "full":
            self.wait_full(step.timeout_s)
        elif step.wait_for == "alive":
            self._wait_alive([step.node], step.timeout_s)
        else:
            self.cluster.wait_state(step.node, step.wait_for.upper(), observers=self._observers(step.node),
                                    timeout_s=step.timeout_s)
