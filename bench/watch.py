"""Change-feed delivery latency: from an acknowledged put to a watcher on another node.

    python -m bench.watch [--nodes 4] [--puts 200] [--interval-s 0.05] [--json PATH]

One cluster of real noded processes on loopback (started by cluster-sim, stopped in `finally`).
A watcher on one node watches a bucket from now; a writer on another node puts `--puts` small
objects one after another (`--interval-s` apart); for each, the latency is the time from the put's
acknowledgement to the watcher's receiving its change (both on this machine's monotonic clock).
Prints p50, p90, p99 and max in ms, and stores them as JSON (bench/results/, or `--json PATH`).
The target is p99 under 1 s on the local profile.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import tempfile
import threading
import time

from bench.report import write_results
from cluster_sim.cluster import LocalCluster
from nodectl.errors import RingstoreError


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(nodes: int, puts: int, interval_s: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as directory:
        cluster = LocalCluster.up(pathlib.Path(directory) / "cluster", nodes=nodes)
        try:
            watcher_address, writer_address = cluster.addresses()[0], cluster.addresses()[-1]
            with cluster.client(writer_address) as writer:
                writer.create_bucket("feed")
            arrived: dict[str, float] = {}
            started = threading.Event()
            stop = threading.Event()

            def watch() -> None:
                try:
                    with cluster.client(watcher_address) as client:
                        for event in client.watch("feed", from_now=True):
                            started.set()
                            if event.change is not None:
                                arrived.setdefault(event.change.key, time.monotonic())
                            if stop.is_set():
                                return
                except RingstoreError:
                    if not stop.is_set():
                        raise

            thread = threading.Thread(target=watch, daemon=True)
            thread.start()
            if not started.wait(30):
                raise RuntimeError("the watch did not start within 30 s")
            acked: dict[str, float] = {}
            with cluster.client(writer_address) as writer:
                for i in range(puts):
                    key = f"k{i:05d}"
                    writer.put("feed", key, b"x" * 100)
                    acked[key] = time.monotonic()
                    time.sleep(interval_s)
            deadline = time.monotonic() + 30
            while len(arrived) < puts and time.monotonic() < deadline:
                time.sleep(0.05)
            stop.set()
            missing = sorted(set(acked) - set(arrived))
            if missing:
                raise RuntimeError(f"{len(missing)} acknowledged puts never reached the watcher: {missing[:5]}")
            latencies = [max(0.0, (arrived[key] - acked[key]) * 1000) for key in acked]
        finally:
            cluster.down()
    return {"bench": "watch", "nodes": nodes, "puts": puts, "interval_s": interval_s,
            "p50_ms": round(statistics.median(latencies), 1), "p90_ms": round(_percentile(latencies, 0.9), 1),
            "p99_ms": round(_percentile(latencies, 0.99), 1), "max_ms": round(max(latencies), 1)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.watch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--puts", type=int, default=200)
    parser.add_argument("--interval-s", type=float, default=0.05)
    parser.add_argument("--json", dest="json_path", default="", help="Where to write the JSON (default: bench/results/).")
    args = parser.parse_args(argv)
    results = run(args.nodes, args.puts, args.interval_s)
    print(f"watch: {args.nodes} nodes, {args.puts} puts on one node watched from another: "
          f"p50 {results['p50_ms']} ms, p90 {results['p90_ms']} ms, p99 {results['p99_ms']} ms, "
          f"max {results['max_ms']} ms (target p99 < 1000 ms)")
    write_results(results, "watch", args.json_path)
    return results


if __name__ == "__main__":
    main()
