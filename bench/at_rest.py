"""Encryption at rest's cost: put and get MB/s and CPU per MB, with and without, in one run.

    python -m bench.at_rest [--nodes 3] [--mib 64] [--rounds 3] [--json PATH]

One cluster of real noded processes on loopback (started by cluster-sim, stopped in `finally`);
one client puts and gets a `--mib` MiB object of random bytes `--rounds` times into a plain bucket
and into a bucket set to encrypt at rest (node/objects/at_rest.py), alternating, so both see the
same machine. CPU is every node process's and the client's, per MB of object, for the put and the
get apart. Prints the medians and stores them as JSON (bench/results/, or `--json PATH`).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import tempfile
import time

from bench.compression import _cpu_s
from bench.report import write_results
from cluster_sim.cluster import LocalCluster

MIB = 1024 * 1024
BUCKETS = ("plain", "at-rest")


def run(nodes: int, mib: int, rounds: int) -> dict:
    data = os.urandom(mib * MIB)
    megabytes = len(data) / 1e6
    samples: dict[str, dict[str, list[float]]] = {b: {"put": [], "get": [], "put_cpu": [], "get_cpu": []}
                                                  for b in BUCKETS}
    with tempfile.TemporaryDirectory(prefix="bench-at-rest-") as directory:
        cluster = LocalCluster.up(pathlib.Path(directory) / "cluster", nodes=nodes)
        try:
            with cluster.client(timeout_s=300.0) as client:
                client.create_bucket("plain")
                client.create_bucket("at-rest")
                client.set_encryption("at-rest", True)
                client.put("at-rest", "warm-up", b"x" * 100_000)  # the tenant's data key is made once
                for r in range(rounds):
                    for bucket in BUCKETS:
                        key = f"object-{r}"
                        before, started = _cpu_s(cluster), time.perf_counter()
                        client.put(bucket, key, data)
                        samples[bucket]["put"].append(time.perf_counter() - started)
                        middle = _cpu_s(cluster)
                        samples[bucket]["put_cpu"].append(middle - before)
                        started = time.perf_counter()
                        assert client.get_bytes(bucket, key) == data
                        samples[bucket]["get"].append(time.perf_counter() - started)
                        samples[bucket]["get_cpu"].append(_cpu_s(cluster) - middle)
                assert client.stat("at-rest", "object-0").encrypted_chunks >= 1
        finally:
            cluster.down()
    rows = {bucket: {
        "put_mb_s": round(megabytes / statistics.median(s["put"]), 1),
        "get_mb_s": round(megabytes / statistics.median(s["get"]), 1),
        "put_cpu_ms_per_mb": round(1000 * statistics.median(s["put_cpu"]) / megabytes, 2),
        "get_cpu_ms_per_mb": round(1000 * statistics.median(s["get_cpu"]) / megabytes, 2),
    } for bucket, s in samples.items()}
    return {"bench": "at_rest", "nodes": nodes, "object_mib": mib, "rounds": rounds, "rows": rows}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.at_rest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", dest="json_path", default="", help="Where to write the JSON (default: bench/results/).")
    args = parser.parse_args(argv)
    results = run(args.nodes, args.mib, args.rounds)
    print(f"{'':8}  {'put MB/s':>8}  {'get MB/s':>8}  {'put CPU ms/MB':>13}  {'get CPU ms/MB':>13}  (all processes)")
    for name, row in results["rows"].items():
        print(f"{name:8}  {row['put_mb_s']:>8}  {row['get_mb_s']:>8}  {row['put_cpu_ms_per_mb']:>13}  "
              f"{row['get_cpu_ms_per_mb']:>13}")
    write_results(results, "at_rest", args.json_path)
    return results


if __name__ == "__main__":
    main()
