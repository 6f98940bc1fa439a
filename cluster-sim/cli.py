"""The `cluster-sim` command: a thin click layer over LocalCluster.

Every command finds its cluster through `--dir DIR` (DIR/cluster.json), so `up` in one shell and
`kill`/`status`/`down` in another work on the same processes. Errors print one line
(`cluster-sim: error: ...`) and exit 1; the details (what each node saw, log tails) stay in the
node logs named by the message. Rejected alternative: a long-running supervisor process that owns
the nodes and takes commands over a socket — it would restart or reap nodes behind the tests' backs,
and cluster.json plus pid-ownership checks give the same control without another daemon.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cluster_sim import scenarios
from cluster_sim.cluster import NODES_MAX, PROFILES, LocalCluster
from cluster_sim.clusterfile import natural_key
from cluster_sim.errors import ClusterError
from cluster_sim.processes import SIGNAL_NAMES, parse_signal
from cluster_sim.scenarios import soak as soak_module

MIB = 1024 * 1024
DEMO_BUCKET = "demo"
DEMO_KEY = "random.bin"
DEMO_DOWN_TIMEOUT_S = 30.0
SOAK_REPORT_FILE_NAME = "report.txt"


def _user_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [ClusterError, ValueError, OSError]
    try:
        from nodectl.errors import RingstoreError
        errors.append(RingstoreError)
    except ImportError:
        pass
    return tuple(errors)


def _one_line(err: BaseException) -> str:
    text = err.message if isinstance(err, ClusterError) else str(err)
    lines = text.strip().splitlines()
    return lines[0] if lines else type(err).__name__


class _Group(click.Group):
    """Turns cluster and user errors into one line on stderr and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _user_errors() as err:
            click.echo(f"cluster-sim: error: {_one_line(err)}", err=True)
            raise click.exceptions.Exit(1) from None


def _node_table(cluster: LocalCluster) -> str:
    rows = [("NODE", "PID", "PROCESS", "ADDRESS", "PEER ADDRESS", "METRICS", "S3", "GEN", "ZONE", "LOG")]
    for node_id, entry in cluster.status().items():
        rows.append((node_id, str(entry["pid"]), entry["process"], entry["address"] or "-",
                     entry["peer_address"] or "-",
                     entry["metrics_address"] or "-", entry["s3_address"] or "-", str(entry["generation"]),
                     entry["zone"] or "-", entry["log_path"]))
    return _format_rows(rows)


def _format_rows(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in rows)


def _view_matrix(status: dict[str, dict[str, Any]]) -> str:
    """Rows: observers; columns: members; cells: the state the observer reports."""
    targets = sorted(status, key=natural_key)
    rows = [("SEEN BY \\ NODE", *targets)]
    for observer, entry in status.items():
        view = entry["view"]
        if view is None:
            reason = entry["process"] if entry["process"] != "running" else "no answer"
            rows.append((observer, *([f"({reason})"] + [""] * (len(targets) - 1))))
        else:
            rows.append((observer, *(view.get(target, "-") for target in targets)))
    return _format_rows(rows)


@click.group(cls=_Group)
def main() -> None:
    """Run a local Ringstore cluster of real noded processes."""


@main.command()
@click.option("--nodes", type=click.IntRange(1, NODES_MAX), required=True, help="Nodes to start.")
@click.option("--dir", "directory", type=click.Path(file_okay=False), required=True,
              help="Directory for data dirs, logs and cluster.json.")
@click.option("--replicas", type=click.IntRange(1), default=3, show_default=True,
              help="Default replicas for new buckets.")
@click.option("--zones", type=click.IntRange(0), default=0, show_default=True,
              help="Spread nodes round-robin over this many zones (0: no zones).")
@click.option("--profile", type=click.Choice(PROFILES), default="local", show_default=True)
@click.option("--timeout-s", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True, help="How long to wait for every node to see every other ALIVE.")
@click.option("--fault-injection", is_flag=True,
              help="Start every node with --allow-fault-injection, for `faults` and `heal`.")
@click.option("--ca-dir", type=click.Path(file_okay=False), default=None,
              help="Use (or make) the cluster CA in this directory; default DIR/tls/ca.")
@click.option("--insecure", is_flag=True, help="Plaintext on every port, no certificates (one trusted machine).")
@click.option("--hosts", is_flag=True,
              help="Each node on its own loopback address (127.0.0.2, 127.0.0.3, ...), as on separate hosts.")
def up(nodes: int, directory: str, replicas: int, zones: int, profile: str,
       timeout_s: float, fault_injection: bool, ca_dir: str | None, insecure: bool, hosts: bool) -> None:
    """Start NODES nodes and wait until they all see each other ALIVE.

    Every port serves TLS under a cluster CA made for the cluster (or --ca-dir); the last lines
    printed are the exports nodectl needs."""
    start_s = time.monotonic()
    cluster = LocalCluster.up(directory, nodes=nodes, replicas=replicas, zones=zones,
                              profile=profile, timeout_s=timeout_s, fault_injection=fault_injection,
                              insecure=insecure, ca_dir=ca_dir, hosts=hosts)
    click.echo(_node_table(cluster))
    click.echo(f"{nodes} nodes up in {time.monotonic() - start_s:.1f} s; "
               f"stop them with: cluster-sim down --dir {directory}")
    click.echo(_exports(cluster))


@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False), required=True)
def env(directory: str) -> None:
    """Print the exports that point nodectl and AWS tools at the cluster in DIR (eval "$(cluster-sim env --dir DIR)")."""
    click.echo(_exports(LocalCluster.load(directory)))


def _exports(cluster: LocalCluster) -> str:
    lines = [f"export RINGSTORE_ADDR={cluster.any_address()}"]
    if cluster.ca_file:
        lines.append(f"export RINGSTORE_CA={cluster.ca_file}")
        lines.append(f"export RINGSTORE_CREDENTIALS_FILE={cluster.credentials_file}")
    else:
        lines.append("export RINGSTORE_INSECURE=1")
    if cluster.s3_endpoint():
        config_path, credentials_path = cluster.write_aws_profile()
        lines += [f"export AWS_CONFIG_FILE={config_path}", f"export AWS_SHARED_CREDENTIALS_FILE={credentials_path}",
                  "export AWS_PROFILE=ringstore", f"export RINGSTORE_S3_ENDPOINT={cluster.s3_endpoint()}"]
        if cluster.ca_file:
            # The profile names the CA too, but an AWS_CA_BUNDLE already exported would win over it.
            lines.append(f"export AWS_CA_BUNDLE={cluster.ca_file}")
    return "\n".join(lines)


@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False), required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def status(directory: str, as_json: bool) -> None:
    """Each node's process and its view of every member."""
    cluster = LocalCluster.load(directory)
    entries = cluster.status()
    if as_json:
        click.echo(json.dumps(entries, indent=2, sort_keys=True))
        return
    click.echo(_node_table(cluster))
    click.echo()
    click.echo(_view_matrix(entries))


@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False), required=True)
@click.option("--signal", "signal_name", default="KILL", show_default=True,
              help=f"One of {', '.join(SIGNAL_NAMES)}.")
@click.argument("node_id")
def kill(directory: str, signal_name: str, node_id: str) -> None:
    """Send a signal to NODE_ID (KILL and TERM wait until it has exited)."""
    signum = parse_signal(signal_name)
    cluster = LocalCluster.load(directory)
    pid = cluster.nodes[node_id].pid if node_id in cluster.nodes else 0
    cluster.kill(node_id, signal_name)
    click.echo(f"sent {signum.name} to {node_id} (pid {pid})")


@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False), required=True)
@click.option("--timeout-s", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True)
@click.argument("node_ids", metavar="NODE_ID...", nargs=-1, required=True)
def restart(directory: str, timeout_s: float, node_ids: tuple[str, ...]) -> None:
    """Restart each NODE_ID with the same data dir, port and secret (several: started together)."""
    cluster = LocalCluster.load(directory)
    cluster.restart_many(node_ids, timeout_s=timeout_s)
    for node_id in node_ids:
        node = cluster.nodes[node_id]
        click.echo(f"{node_id} restarted: pid {node.pid} at {node.address}, generation {node.generation}")


@main.command("replace-disk")
@click.option("--dir", "directory", type=click.Path(file_okay=False), required=True)
@click.option("--timeout-s", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True, help="How long to wait for the node to serve again.")
@click.argument("node_id")
def replace_disk(directory: str, timeout_s: float, node_id: str) -> None:
    """kill -9 NODE_ID, remove its data dir and start it empty under the same id and port."""
    cluster = LocalCluster.load(directory)
    cluster.replace_disk(node_id, timeout_s=timeout_s)
    node = cluster.nodes[node_id]
    click.echo(f"{node_id} started on an empty data dir {node.data_dir}: pid {node.pid} at {node.address}, "
               f"generation {node.generation}")


@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False), required=True)
@click.option("--drop-to", default="", metavar="N1,N2",
              help="Node ids whose calls NODE_ID drops (one way; run it on both sides to partition).")
@click.option("--delay-rpc-ms", type=click.IntRange(0), default=0, show_default=True,
              help="Delay before NODE_ID handles each RPC it serves.")
@click.option("--delay-disk-ms", type=click.IntRange(0), default=0, show_default=True,
              help="Delay before each fsync of a chunk copy NODE_ID writes.")
@click.argument("node_id")
def faults(directory: str, drop_to: str, delay_rpc_ms: int, delay_disk_ms: int, node_id: str) -> None:
    """Replace the faults NODE_ID injects (no options: clear them). Needs `up --fault-injection`."""
    targets = [target.strip() for target in drop_to.split(",") if target.strip()]
    cluster = LocalCluster.load(directory)
    cluster.set_faults(node_id, drop_to=targets, delay_rpc_ms=delay_rpc_ms, delay_disk_ms=delay_disk_ms)
    click.echo(f"{node_id}: drops calls to {', '.join(targets) or 'nobody'}; RPCs delayed {delay_rpc_ms} ms; "
               f"disk delayed {delay_disk_ms} ms")


@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False), required=True)
def heal(directory: str) -> None:
    """Clear the faults of every running node."""
    cluster = LocalCluster.load(directory)
    cluster.heal()
    healed = cluster.running() if cluster.fault_injection else []
    click.echo(f"cleared faults on {len(healed)} node(s)" + (f": {', '.join(healed)}" if healed else ""))


@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False), required=True)
def down(directory: str) -> None:
    """Stop every node process this directory's cluster.json records."""
    cluster = LocalCluster.load(directory)
    running = [node_id for node_id, entry in cluster.status().items() if entry["process"] != "dead"]
    cluster.down()
    click.echo(f"stopped {len(running)} node(s)" + (f": {', '.join(running)}" if running else ""))


class _Steps:
    """Prints each demo step with the time since the demo started."""

    def __init__(self) -> None:
        self._start_s = time.monotonic()

    def __call__(self, message: str) -> None:
        click.echo(f"[{time.monotonic() - self._start_s:7.2f} s] {message}")


def _holder_ids(stat: Any) -> list[str]:
    """Node ids holding the object's chunks, from nodectl's ObjectStat (shape read defensively:
    chunks[].holders[] with .node_id or .holder.node_id)."""
    ids: list[str] = []
    for chunk in getattr(stat, "chunks", None) or []:
        for holder in getattr(chunk, "holders", None) or []:
            node_id = getattr(holder, "node_id", None) or getattr(
                getattr(holder, "holder", None), "node_id", None)
            if isinstance(node_id, str) and node_id and node_id not in ids:
                ids.append(node_id)
    return ids


@main.command()
@click.option("--nodes", type=click.IntRange(2, NODES_MAX), default=5, show_default=True)
@click.option("--size-bytes", type=click.IntRange(0), default=12 * MIB, show_default=True)
@click.option("--keep", is_flag=True, help="Leave the cluster running at the end.")
def demo(nodes: int, size_bytes: int, keep: bool) -> None:
    """Store a file, kill -9 a node holding it, and read it back."""
    import blake3

    step = _Steps()
    directory = tempfile.mkdtemp(prefix="ringstore-demo-")
    cluster: LocalCluster | None = None
    succeeded = False
    try:
        step(f"starting {nodes} nodes in {directory}")
        cluster = LocalCluster.up(directory, nodes=nodes)
        step(f"cluster up: every node sees all {nodes} ALIVE")
        coordinator_id = cluster.running()[0]
        address = cluster.nodes[coordinator_id].address
        with cluster.client(address) as client:
            client.create_bucket(DEMO_BUCKET)
            step(f"created bucket {DEMO_BUCKET!r} through {coordinator_id} ({address})")
            data = os.urandom(size_bytes)
            digest = blake3.blake3(data).hexdigest()
            put_start_s = time.monotonic()
            info = client.put(DEMO_BUCKET, DEMO_KEY, data)
            put_s = time.monotonic() - put_start_s
            stored_digest = getattr(info, "blake3_hex", digest)
            if stored_digest != digest:
                raise ClusterError(f"put recorded blake3 {stored_digest[:16]}..., "
                                   f"the file has {digest[:16]}...")
            step(f"stored {size_bytes} bytes as {DEMO_BUCKET}/{DEMO_KEY} in {put_s:.2f} s "
                 f"({size_bytes / MIB / max(put_s, 1e-9):.1f} MiB/s), blake3 {digest[:16]}...")
            _check_fetch(client, digest, size_bytes, step, "first read")
            holders = _holder_ids(client.stat(DEMO_BUCKET, DEMO_KEY))
            candidates = [node_id for node_id in holders if node_id != coordinator_id]
            if candidates:
                victim = candidates[0]
                step(f"holders: {', '.join(holders)}; killing holder {victim}")
            else:
                victim = next(node_id for node_id in cluster.running() if node_id != coordinator_id)
                step(f"no holder list available; killing {victim}")
            cluster.kill(victim, "KILL")
            step(f"kill -9 {victim} done")
            elapsed_s = cluster.wait_state(victim, "DOWN", timeout_s=DEMO_DOWN_TIMEOUT_S)
            step(f"every other node sees {victim} DOWN {elapsed_s:.2f} s after the kill")
            _check_fetch(client, digest, size_bytes, step, f"read with {victim} down")
        succeeded = True
        step("demo passed")
    finally:
        if cluster is not None and keep:
            click.echo(f"cluster kept in {directory}; stop it with: cluster-sim down --dir {directory}")
            click.echo(_exports(cluster))
        elif cluster is not None:
            cluster.down()
            step("stopped every node")
        if succeeded and not keep:
            shutil.rmtree(directory, ignore_errors=True)
        elif not succeeded:
            click.echo(f"logs kept in {directory}/logs", err=True)


def _check_fetch(client: Any, digest: str, size_bytes: int, step: _Steps, label: str) -> None:
    import blake3

    start_s = time.monotonic()
    fetched = client.get_bytes(DEMO_BUCKET, DEMO_KEY)
    took_s = time.monotonic() - start_s
    got = blake3.blake3(fetched).hexdigest()
    if len(fetched) != size_bytes or got != digest:
        raise ClusterError(f"{label}: got {len(fetched)} bytes with blake3 {got[:16]}..., "
                           f"expected {size_bytes} bytes with {digest[:16]}...")
    step(f"{label}: {len(fetched)} bytes in {took_s:.2f} s, blake3 matches")


@main.group()
def scenario() -> None:
    """Seeded workloads under fault schedules, checked against invariants (docs/operations.md)."""


@scenario.command("list")
def scenario_list() -> None:
    """The shipped scenarios, with their short (CI) and full (--full) workload durations."""
    rows = [("NAME", "SHORT", "FULL", "DESCRIPTION")]
    for name in scenarios.shipped_names():
        short, full = scenarios.load(name), scenarios.load(name, full=True)
        rows.append((name, f"{short.workload.duration_s:g} s", f"{full.workload.duration_s:g} s",
                     short.description))
    click.echo(_format_rows(rows))


@scenario.command("run")
@click.argument("name_or_file")
@click.option("--seed", type=click.IntRange(0), default=None,
              help="Seed of the workload and the fault schedule (default: a random one, printed).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document.")
@click.option("--full", is_flag=True, help="The long form (more data, longer), as the benchmark runs it.")
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="Directory for the cluster (default: a new temporary one).")
@click.option("--keep", is_flag=True, help="Leave the cluster running at the end.")
def scenario_run(name_or_file: str, seed: int | None, as_json: bool, full: bool, directory: str | None,
                 keep: bool) -> None:
    """Run a shipped scenario (by NAME) or a scenario FILE and print its report.

    Progress goes to stderr. Exits 1 when an invariant fails, with one line per failed invariant.
    """
    spec = scenarios.load(name_or_file, full=full)
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    started_s = time.monotonic()

    def progress(message: str) -> None:
        click.echo(f"[{time.monotonic() - started_s:7.2f} s] {message}", err=True)

    report = scenarios.run(spec, seed=seed, name_or_file=name_or_file, directory=directory, keep=keep,
                           progress=progress)
    click.echo(report.to_json() if as_json else report.text())
    if not report.ok:
        for line in report.failures():
            click.echo(f"cluster-sim: invariant failed: {line}", err=True)
        raise click.exceptions.Exit(1)


def _soak_run_one(full: bool) -> Callable[[str, int], soak_module.SoakRun]:
    """One real run in a fresh temporary directory (the runner keeps it, and this the report in it,
    when the run fails)."""

    def run_one(name: str, seed: int) -> soak_module.SoakRun:
        spec = scenarios.load(name, full=full)
        report = scenarios.run(spec, seed=seed, name_or_file=name)
        if not report.ok:  # the runner kept the directory: keep the whole report beside the logs
            (Path(report.directory) / SOAK_REPORT_FILE_NAME).write_text(report.text() + "\n", encoding="utf-8")
        return soak_module.SoakRun(scenario=spec.name, seed=seed, ok=report.ok, run_s=report.run_s,
                                   directory=report.directory, reproduce=report.reproduce,
                                   failures=tuple(report.failures()))

    return run_one


@scenario.command("soak")
@click.argument("names", nargs=-1)
@click.option("--seeds", "seeds_text", required=True, metavar="A-B",
              help="Seeds to run each scenario with: one seed or a range, e.g. 1-20.")
@click.option("--full", is_flag=True, help="The long forms.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON document.")
def scenario_soak(names: tuple[str, ...], seeds_text: str, full: bool, as_json: bool) -> None:
    """Run each scenario NAME (default: every shipped one) once per seed, one after another.

    A progress line per run goes to stderr, then the pass table (or --json) to stdout. Exits 1 when
    any run failed, with the reproduce line of each failure on stderr; failed runs keep their logs.
    """
    seeds = soak_module.parse_seeds(seeds_text)
    chosen = list(names) or scenarios.shipped_names()
    for name in chosen:
        scenarios.load(name, full=full)  # every file is checked before the first cluster starts
    started_s = time.monotonic()

    def progress(run: soak_module.SoakRun, done: int, total: int) -> None:
        line = soak_module.progress_line(run, done, total)
        click.echo(f"[{time.monotonic() - started_s:7.1f} s] {line}", err=True)

    runs = soak_module.soak(chosen, seeds, _SOAK_RUN_ONE(full), progress)
    click.echo(soak_module.to_json(runs, full=full) if as_json else soak_module.table(runs))
    failed = [run for run in runs if not run.ok]
    if failed:
        for run in failed:
            click.echo(f"cluster-sim: run failed: {run.reproduce} (logs in {run.directory})", err=True)
        raise click.exceptions.Exit(1)


# What `scenario soak` calls to run one (scenario, seed); the unit tests put a fake here.
_SOAK_RUN_ONE: Callable[[bool], Callable[[str, int], soak_module.SoakRun]] = _soak_run_one


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
