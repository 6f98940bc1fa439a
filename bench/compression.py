"""Compression's cost and gain: stored bytes, put and get MB/s, with and without zstd, in one run.

    python -m bench.compression [--nodes 3] [--mib 32] [--rounds 3] [--json PATH]

One cluster of real noded processes on loopback (started by cluster-sim, stopped in `finally`);
one client puts and gets a `--mib` MiB object `--rounds` times into a plain bucket and into a
bucket set to zstd, for text-like bytes (log lines) and for random bytes, back to back. Prints the
medians, the compression ratio (logical / stored once) and the CPU the whole cluster and client
spent per MB, and stores them as JSON (bench/results/, or `--json PATH`).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import random
import statistics
import tempfile
import time

from bench.report import write_results
from cluster_sim.cluster import LocalCluster

MIB = 1024 * 1024


def _log_lines(size: int) -> bytes:
    rng = random.Random(7)
    levels, paths = ["INFO", "WARN", "DEBUG", "ERROR"], ["/api/objects", "/api/buckets", "/health", "/metrics"]
    out = bytearray()
    while len(out) < size:
        out += (f"2026-12-05T10:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(1000):03d}Z "
                f"{rng.choice(levels)} node-{rng.randrange(1, 6)} GET {rng.choice(paths)}/{rng.randrange(10**6)} "
                f"{rng.choice([200, 200, 200, 404, 503])} {rng.randrange(1, 9999)}us\n").encode()
    return bytes(out[:size])


def _cpu_s(cluster: LocalCluster) -> float:
    """CPU seconds of every node process and of this one, so far."""
    total = time.process_time()
    for node in cluster.nodes.values():
        try:
            fields = pathlib.Path(f"/proc/{node.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


def run(nodes: int, mib: int, rounds: int) -> dict:
    payloads = {"text": _log_lines(mib * MIB), "random": os.urandom(mib * MIB)}
    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench-compression-") as directory:
        cluster = LocalCluster.up(pathlib.Path(directory) / "cluster", nodes=nodes)
        try:
            with cluster.client(timeout_s=300.0) as client:
                client.create_bucket("plain")
                client.create_bucket("zstd")
                client.set_compression("zstd", "zstd")
                for kind, data in payloads.items():
                    for bucket in ("plain", "zstd"):
                        puts, gets, cpu = [], [], []
                        for r in range(rounds):
                            key = f"{kind}-{r}"
                            before, started = _cpu_s(cluster), time.perf_counter()
                            client.put(bucket, key, data)
                            puts.append(time.perf_counter() - started)
                            started = time.perf_counter()
                            assert client.get_bytes(bucket, key) == data
                            gets.append(time.perf_counter() - started)
                            cpu.append(_cpu_s(cluster) - before)
                        stat = client.stat(bucket, f"{kind}-0")
                        rows[f"{kind} {bucket}"] = {
                            "ratio": round(len(data) / stat.stored_bytes, 2),
                            "put_mb_s": round(len(data) / 1e6 / statistics.median(puts), 1),
                            "get_mb_s": round(len(data) / 1e6 / statistics.median(gets), 1),
                            "cpu_ms_per_mb": round(1000 * statistics.median(cpu) / (len(data) / 1e6), 1),
                            "physical_bytes": stat.physical_bytes,
                        }
        finally:
            cluster.down()
    return {"bench": "compression", "nodes": nodes, "object_mib": mib, "rounds": rounds, "rows": rows}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.compression", description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--mib", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", dest="json_path", default="", help="Where to write the JSON (default: bench/results/).")
    args = parser.parse_args(argv)
    results = run(args.nodes, args.mib, args.rounds)
    print(f"{'':14}  {'ratio':>6}  {'put MB/s':>8}  {'get MB/s':>8}  {'CPU ms/MB (put+get, all)':>24}")
    for name, row in results["rows"].items():
        print(f"{name:14}  {row['ratio']:>6}  {row['put_mb_s']:>8}  {row['get_mb_s']:>8}  {row['cpu_ms_per_mb']:>24}")
    write_results(results, "compression", args.json_path)
    return results


if __name__ == "__main__":
    main()
