"""Running one scenario: cluster up, workload and fault schedule together, heal, read back, judge.

Phases, each narrated through `progress`:
1. Start the cluster (nodes with their own settings join last), create the bucket, write the cold
   set when the scenario has one (cold.py), take a baseline scrape of every node's counters.
2. Start the workers; run the fault schedule in this thread; keep the workers going until both the
   workload's duration has passed and the schedule has ended, so every fault happens under load.
3. Stop the workers. Wait until fsck finds every chunk at full redundancy (the clock for "time to
   full redundancy" started at the end of the last fault).
4. Read every key the workload (and the cold set) touched once more (up to `FINAL_READ_ATTEMPTS`
   through different nodes); an acknowledged value that does not come back is a lost write.
5. Scrape again, ask the cold set's victim what it stores now, and judge the figures against the
   scenario's expectations.

Every process started is stopped in `finally`, whatever happened (unless `keep`); the directory
is removed only when it was a temporary one and the run passed, so a failure leaves its logs.
"""

from __future__ import annotations

import dataclasses
import random
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from cluster_sim.cluster import LocalCluster, SystemClock
from cluster_sim.errors import ClusterError
from cluster_sim.scenarios import cold as cold_set
from cluster_sim.scenarios.accounting import Ledger
from cluster_sim.scenarios.checker import ERROR, Checker
from cluster_sim.scenarios.report import Report, judge
from cluster_sim.scenarios.schedule import Schedule
from cluster_sim.scenarios.spec import Scenario
from cluster_sim.scenarios.workload import (
    BUCKET,
    ClientCache,
    NodePool,
    OpStats,
    Writer,
    bucket_of,
    cold_buckets,
    run_worker,
    worker_keys,
)
from nodectl.client import Client
from nodectl.errors import RingstoreError

FINAL_READ_ATTEMPTS = 3
CLUSTER_UP_TIMEOUT_S = 60.0
WORKER_JOIN_TIMEOUT_S = 120.0  # a worker finishes its current operation (bounded by the client deadline)


def reproduce_command(scenario: Scenario, name_or_file: str, seed: int) -> str:
    return f"cluster-sim scenario run {name_or_file} --seed {seed}" + (" --full" if scenario.full else "")


def run(scenario: Scenario, *, seed: int, name_or_file: str | None = None, directory: str | Path | None = None,
        keep: bool = False, progress: Callable[[str], None] | None = None) -> Report:
    """Run `scenario` with `seed`; returns its report (check `.ok`). `name_or_file` is what the
    reproduce line names (default: the scenario's name). A new cluster is made in `directory`
    (default: a temporary directory)."""
    say = progress or (lambda message: None)
    temporary = directory is None
    where = Path(tempfile.mkdtemp(prefix=f"ringstore-scenario-{scenario.name}-") if temporary else directory)
    report = Report(scenario=scenario.name, description=scenario.description,
                    form="full" if scenario.full else "short", seed=seed, nodes=scenario.nodes,
                    directory=str(where), reproduce=reproduce_command(scenario, name_or_file or scenario.name, seed))
    clock = SystemClock()
    started_s = clock.monotonic_s()
    cluster: LocalCluster | None = None
    clients = ClientCache()
    stop = threading.Event()
    threads: list[threading.Thread] = []
    try:
        say(f"starting {scenario.nodes} nodes in {where}")
        cluster = _start_cluster(scenario, where)
        clients.use(cluster.client_options())
        for bucket in [BUCKET, *(cold_buckets() if scenario.cold is not None else [])]:
            clients.get(cluster.any_address()).create_bucket(bucket)
        if scenario.workload.compressible:
            clients.get(cluster.any_address()).set_compression(BUCKET, "zstd")
        if scenario.workload.encrypted:
            clients.get(cluster.any_address()).set_encryption(BUCKET, True)
        _run_phases(scenario, seed, cluster, clients, clock, stop, threads, report, say)
    except (ClusterError, RingstoreError, OSError) as err:
        message = err.message if isinstance(err, (ClusterError, RingstoreError)) else str(err)
        report.errors.append(f"run stopped: {message.splitlines()[0] if message else repr(err)}")
        report.invariants = judge(report, scenario.expect)
    finally:
        stop.set()
        for thread in threads:
            thread.join(WORKER_JOIN_TIMEOUT_S)
        clients.close()
        if cluster is not None and not keep:
            cluster.down()
            say("stopped every node")
        report.run_s = clock.monotonic_s() - started_s
    if keep:
        say(f"cluster kept in {where}; stop it with: cluster-sim down --dir {where}")
    elif temporary and report.ok:
        shutil.rmtree(where, ignore_errors=True)
    else:
        say(f"logs kept in {where}/logs")
    return report


def _start_cluster(scenario: Scenario, directory: Path) -> LocalCluster:
    own = sorted(scenario.node_settings, key=lambda node_id: int(node_id.split("-")[1]))
    cluster = LocalCluster.up(directory, nodes=scenario.nodes - len(own), settings=dict(scenario.settings),
                              fault_injection=scenario.needs_fault_injection, timeout_s=CLUSTER_UP_TIMEOUT_S)
    try:
        for node_id in own:
            cluster.add_node(node_id=node_id, settings=dict(scenario.node_settings[node_id]))
    except BaseException:
        cluster.down()
        raise
    return cluster


def _run_phases(scenario: Scenario, seed: int, cluster: LocalCluster, clients: ClientCache, clock: SystemClock,
                stop: threading.Event, threads: list[threading.Thread], report: Report,
                say: Callable[[str], None]) -> None:
    workload = scenario.workload
    start_s = clock.monotonic_s()

    def now() -> float:
        return clock.monotonic_s() - start_s

    pool = NodePool({node_id: node.address for node_id, node in cluster.nodes.items()}, clock=now)
    checker, stats, ledger = Checker(), OpStats(), Ledger()

    def writer(stream: str) -> Writer:
        return Writer(seed=seed, workload=workload, pool=pool, checker=checker, stats=stats, clients=clients,
                      clock=now, rng=random.Random(f"{seed}/{stream}"))

    admin_rng = random.Random(f"{seed}/admin")

    def admin() -> Client:
        available = pool.available()
        if not available:
            raise ClusterError("no running node to ask")
        return clients.get(pool.address(admin_rng.choice(available)))

    victim = _Victim()
    if scenario.cold is not None:
        cold = scenario.cold
        say(f"cold set: putting {cold.object_size_bytes}-byte objects until {cold.node} holds {cold.size_bytes} "
            f"bytes of each of {', '.join(workload.policies)}")
        cold_held = cold_set.write(cold, workload.policies, writer("cold"),
                                   lambda key: admin().stat(bucket_of(key), key))
        victim.cold_keys = len(cold_held)
        victim.metadata_min = admin().node_status(cold.node).metadata_records
        say(f"cold set: {len(cold_held)} objects, {sum(item.size_bytes for item in cold_held.values())} bytes on "
            f"{cold.node}, which keeps {victim.metadata_min} metadata records")
        start_s = clock.monotonic_s()  # steps' at_s and the workload's duration count from the workload's start

    def before_victim_fault(targets: list[str]) -> None:
        if scenario.cold is None or scenario.cold.node not in targets or victim.held is not None:
            return
        keys = [key for key in checker.keys() if checker.has_value(key)]
        victim.held, victim.stats_failed = cold_set.snapshot(keys, lambda key: admin().stat(bucket_of(key), key),
                                                             scenario.cold.node)
        say(f"{scenario.cold.node} holds {sum(item.size_bytes for item in victim.held.values())} bytes of the "
            f"{len(keys)} stored keys ({victim.stats_failed} stats failed)")

    schedule = Schedule(cluster=cluster, scenario=scenario, pool=pool, ledger=ledger, writer=writer("fill"),
                        clients=clients, clock=clock, start_s=start_s, rng=random.Random(f"{seed}/faults"),
                        progress=say, before_victim_fault=before_victim_fault)
    schedule.scrape(baseline=True)
    worker_errors: list[str] = []

    def work(index: int) -> None:
        try:
            run_worker(writer(f"worker-{index}"), worker_keys(workload, index), stop)
        except Exception as err:  # noqa: BLE001 - a worker's crash is a failed run, reported, not a hang
            worker_errors.append(f"worker {index} crashed: {type(err).__name__}: {err}")
            stop.set()

    say(f"workload: {workload.workers} workers on {workload.keys} keys for {workload.duration_s:g} s, "
        f"{len(scenario.steps)} steps, seed {seed}")
    for index in range(workload.workers):
        threads.append(threading.Thread(target=work, args=(index,), name=f"scenario-worker-{index}", daemon=True))
        threads[-1].start()
    schedule.run()
    if now() < workload.duration_s and not schedule.error:
        stop.wait(workload.duration_s - now())
    stop.set()
    for thread in threads:
        thread.join(WORKER_JOIN_TIMEOUT_S)
    say(f"workload stopped at {now():.1f} s; waiting for full redundancy")
    report.errors += [schedule.error] if schedule.error else []
    report.errors += worker_errors
    deadline_s = schedule.faults_ended_s + scenario.expect.full_redundancy_s_max
    try:
        schedule.wait_full(max(deadline_s - now(), 0.001))
    except ClusterError:
        pass  # judged below: full_redundancy_s stays None
    later = [at_s for at_s in schedule.full_seen_s if at_s >= schedule.faults_ended_s]
    report.full_redundancy_s = min(later) - schedule.faults_ended_s if later else None
    say("reading every key back")
    final = writer("final")
    keys = checker.keys()
    for key in keys:
        observed = None
        for _ in range(FINAL_READ_ATTEMPTS):
            observed = final.read(key, "final")
            if observed is not None:
                break
        checker.final_read(key, observed if observed is not None else ERROR, at_s=now())
    schedule.scrape()
    if scenario.cold is not None and scenario.cold.node in cluster.running():
        try:
            status = admin().node_status(scenario.cold.node)
        except RingstoreError as err:
            if scenario.expect.victim_refilled:  # otherwise the figure is only shown
                report.errors.append(f"node status of {scenario.cold.node} after the run: {err.message}")
        else:
            if status.reported_by_node:
                victim.after = (status.shares_stored, status.bytes_stored, status.metadata_records)
        if scenario.expect.victim_refilled and victim.held is not None:
            victim.missing = cold_set.missing_from_store(cold_set.current_only(victim.held, checker.state),
                                                         cluster.nodes[scenario.cold.node].data_dir)
    _fill_report(report, scenario, checker, stats, ledger, schedule, len(keys), victim)
    say(f"done: {'every invariant holds' if report.ok else f'{len(report.failures())} invariant(s) failed'}")


@dataclasses.dataclass
class _Victim:
    """What the cold set's node held: counted as the run goes, judged at the end."""

    cold_keys: int = 0
    metadata_min: int = 0  # metadata records it kept once the cold set was written
    held: dict[str, cold_set.Held] | None = None  # per key, taken right before the step that hit it
    stats_failed: int = 0
    after: tuple[int, int, int] | None = None  # shares, bytes, metadata records it reported at the end
    missing: int | None = None  # copies/shares of still-current data it held that its disk lacks at the end


def _fill_report(report: Report, scenario: Scenario, checker: Checker, stats: OpStats, ledger: Ledger,
                 schedule: Schedule, keys_checked: int, victim: _Victim) -> None:
    report.ops = dict(stats.kinds)
    report.keys_checked = keys_checked
    report.lost_writes = checker.lost_writes
    report.lost_listed = [anomaly.line() for anomaly in checker.lost_listed]
    report.wrong_reads = checker.wrong_reads
    report.wrong_listed = [anomaly.line() for anomaly in checker.wrong_listed]
    report.down_verdicts = ledger.down_verdicts
    report.false_down = ledger.false_down
    report.false_down_listed = [item.line() for item in ledger.false_listed]
    report.down_metric_served = ledger.down_metric_served
    report.detections = list(schedule.detections)
    report.faults_ended_s = schedule.faults_ended_s
    report.bytes_moved = ledger.bytes_moved
    down = [(window.start_s, window.end_s if window.end_s is not None else float("inf"))
            for window in ledger.windows if window.kind in ("kill", "stop")]
    report.handoff_bytes = sum(size for start_s, end_s, size in stats.puts
                               if any(start_s <= down_end and end_s >= down_start for down_start, down_end in down))
    report.corrupt_found = ledger.corrupt_found
    report.flipped_files = schedule.flipped_files
    if scenario.cold is not None:
        report.victim = scenario.cold.node
        report.cold_keys = victim.cold_keys
        report.victim_snapshot_taken = victim.held is not None
        holdings = cold_set.still_current(victim.held or {}, checker.state)
        report.victim_keys = holdings.keys
        report.victim_copies = holdings.copies
        report.victim_bytes = holdings.size_bytes
        report.victim_cold_bytes = holdings.cold_size_bytes
        report.victim_stats_failed = victim.stats_failed
        report.victim_metadata_min = victim.metadata_min
        if victim.after is not None:
            report.victim_shares_after, report.victim_bytes_after, report.victim_metadata_after = victim.after
        report.victim_missing_after = victim.missing
    report.invariants = judge(report, scenario.expect)
