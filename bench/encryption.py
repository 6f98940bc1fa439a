"""Client-side encryption's cost: put and get MB/s, and the client's CPU per MB, with and without.

    python -m bench.encryption [--nodes 3] [--mib 32] [--rounds 3] [--json PATH]

One cluster of real noded processes on loopback (started by cluster-sim, stopped in `finally`);
one client puts and gets a `--mib` MiB object of random bytes `--rounds` times plain, then the
same encrypted under a fresh key (nodectl/client/encryption.py), back to back in one run. Prints
the medians and stores them as JSON (bench/results/, or `--json PATH`).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import tempfile
import time

from bench.report import write_results
from cluster_sim.cluster import LocalCluster
from nodectl.client import Client
from nodectl.client.encryption import EncryptionKey

MIB = 1024 * 1024


def _timed(fn) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) of fn()."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def run(nodes: int, mib: int, rounds: int) -> dict:
    data = os.urandom(mib * MIB)
    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench-encryption-") as directory:
        cluster = LocalCluster.up(pathlib.Path(directory) / "cluster", nodes=nodes)
        try:
            address = cluster.addresses()[0]
            with cluster.client(address) as setup:
                setup.create_bucket("bench")
            for name, key in (("plain", None), ("encrypted", EncryptionKey.new())):
                client: Client
                with cluster.client(address) as client:
                    client.encryption_key = key
                    puts, gets = [], []
                    for r in range(rounds):
                        object_key = f"{name}-{r}"
                        puts.append(_timed(lambda: client.put("bench", object_key, data)))
                        gets.append(_timed(lambda: client.get_bytes("bench", object_key)))
                rows[name] = {
                    "put_mb_s": round(mib * MIB / 1e6 / statistics.median(w for w, _ in puts), 1),
                    "get_mb_s": round(mib * MIB / 1e6 / statistics.median(w for w, _ in gets), 1),
                    "put_client_cpu_ms_per_mb": round(1000 * statistics.median(c for _, c in puts) / (mib * MIB / 1e6), 2),
                    "get_client_cpu_ms_per_mb": round(1000 * statistics.median(c for _, c in gets) / (mib * MIB / 1e6), 2),
                }
        finally:
            cluster.down()
    return {"bench": "encryption", "nodes": nodes, "object_mib": mib, "rounds": rounds, "rows": rows}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.encryption", description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--mib", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", dest="json_path", default="", help="Where to write the JSON (default: bench/results/).")
    args = parser.parse_args(argv)
    results = run(args.nodes, args.mib, args.rounds)
    print(f"{'':10}  {'put MB/s':>8}  {'get MB/s':>8}  {'put client CPU ms/MB':>20}  {'get client CPU ms/MB':>20}")
    for name, row in results["rows"].items():
        print(f"{name:10}  {row['put_mb_s']:>8}  {row['get_mb_s']:>8}  {row['put_client_cpu_ms_per_mb']:>20}  "
              f"{row['get_client_cpu_ms_per_mb']:>20}")
    write_results(results, "encryption", args.json_path)
    return results


if __name__ == "__main__":
    main()
