"""What quotas cost and how far racing writers get past one.

    python -m bench.quota [--nodes 4] [--writers 8] [--rounds 5] [--quota-objects 100] [--size-bytes 8192]
                          [--ops 400] [--json PATH]

One cluster of real noded processes on loopback (started by cluster-sim, stopped in `finally`), one
tenant with an access key. Overshoot: `--rounds` rounds, each on a new bucket with a quota of
`--quota-objects` objects, `--writers` threads spread over every node putting new objects until each
is refused three times; what the bucket then holds less the quota is the overshoot (the desk design
aims at 0 in a steady cluster: docs/design.md, "Quotas and usage counters"). Cost: `--ops` puts of
`--size-bytes` at concurrency `--writers` into a bucket without a quota, then into one with a quota
too large to bind, puts per second and median latency of each, back to back.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import pathlib
import statistics
import tempfile
import threading
import time

from bench.report import write_results
from cluster_sim.cluster import LocalCluster
from nodectl.errors import ResourceExhausted
from ringstore.auth.credentials import Credentials

REFUSALS_TO_STOP = 3
ROUND_DEADLINE_S = 120.0


def _race(cluster: LocalCluster, key: Credentials, bucket: str, writers: int, size: int) -> int:
    """Writers put new objects until each is refused REFUSALS_TO_STOP times; returns puts stored."""
    addresses = cluster.addresses()
    stored = 0
    lock = threading.Lock()

    def writer(i: int) -> None:
        nonlocal stored
        refused = n = 0
        deadline = time.monotonic() + ROUND_DEADLINE_S
        with cluster.client(addresses[i % len(addresses)], credentials=key, retries_max=0) as client:
            while refused < REFUSALS_TO_STOP:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"writer {i} was not refused within {ROUND_DEADLINE_S:.0f} s")
                try:
                    client.put(bucket, f"w{i}-{n}", b"q" * size)
                    with lock:
                        stored += 1
                except ResourceExhausted:
                    refused += 1
                n += 1

    with cf.ThreadPoolExecutor(writers) as pool:
        list(pool.map(writer, range(writers)))
    return stored


def _rate(cluster: LocalCluster, key: Credentials, bucket: str, writers: int, size: int, ops: int) -> dict:
    addresses = cluster.addresses()
    latencies: list[float] = []
    lock = threading.Lock()

    def writer(i: int) -> None:
        with cluster.client(addresses[i % len(addresses)], credentials=key) as client:
            for n in range(i, ops, writers):
                started = time.perf_counter()
                client.put(bucket, f"r{n}", b"c" * size)
                with lock:
                    latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with cf.ThreadPoolExecutor(writers) as pool:
        list(pool.map(writer, range(writers)))
    elapsed = time.perf_counter() - started
    return {"puts_per_s": ops / elapsed, "median_ms": statistics.median(latencies) * 1e3,
            "p90_ms": sorted(latencies)[int(len(latencies) * 0.9)] * 1e3}


def _await_quota(cluster: LocalCluster, key: Credentials, bucket: str, objects: int) -> None:
    """Until every node shows the quota through the cache its puts are admitted by."""
    deadline = time.monotonic() + 30
    for address in cluster.addresses():
        with cluster.client(address, credentials=key) as client:
            while client.bucket_info(bucket).usage.quota.objects != objects:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{address} does not show the quota of {bucket} after 30 s")
                time.sleep(0.1)


def run(nodes: int, writers: int, rounds: int, quota_objects: int, size: int, ops: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-quota-") as directory:
        cluster = LocalCluster.up(pathlib.Path(directory) / "cluster", nodes=nodes)
        try:
            with cluster.client() as operator:
                operator.create_tenant("bench")
                made = operator.create_key("bench")
                key = Credentials(made.key.key_id, made.secret)
                with cluster.client(credentials=key) as tenant:
                    for name in ["free", "limited"] + [f"race-{r}" for r in range(rounds)]:
                        tenant.create_bucket(name)
                operator.set_quota(bucket="limited", objects=10 * ops)
                for r in range(rounds):
                    operator.set_quota(bucket=f"race-{r}", objects=quota_objects)
            _await_quota(cluster, key, "limited", 10 * ops)
            races = []
            for r in range(rounds):
                _await_quota(cluster, key, f"race-{r}", quota_objects)
                stored = _race(cluster, key, f"race-{r}", writers, size)
                with cluster.client(credentials=key) as tenant:
                    held = tenant.usage(bucket=f"race-{r}").objects
                races.append({"stored": stored, "held": held, "overshoot": held - quota_objects})
            cost = {"without_quota": _rate(cluster, key, "free", writers, size, ops),
                    "with_quota": _rate(cluster, key, "limited", writers, size, ops)}
        finally:
            cluster.down()
    return {"nodes": nodes, "writers": writers, "quota_objects": quota_objects, "size_bytes": size,
            "races": races, "overshoot_max": max(r["overshoot"] for r in races), "cost": cost}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quota-objects", type=int, default=100)
    parser.add_argument("--size-bytes", type=int, default=8192)
    parser.add_argument("--ops", type=int, default=400)
    parser.add_argument("--json", default="", help="where to write results (default bench/results/...)")
    args = parser.parse_args()
    results = run(args.nodes, args.writers, args.rounds, args.quota_objects, args.size_bytes, args.ops)
    print(f"quota: {args.nodes} nodes, {args.writers} writers, {args.size_bytes}-byte objects")
    for i, race in enumerate(results["races"]):
        print(f"  round {i}: quota {args.quota_objects} objects, stored {race['stored']}, bucket holds "
              f"{race['held']}, overshoot {race['overshoot']}")
    for what, row in results["cost"].items():
        print(f"  {what:14s} {row['puts_per_s']:7.1f} puts/s  median {row['median_ms']:6.1f} ms  "
              f"p90 {row['p90_ms']:6.1f} ms")
    write_results(results, "quota", args.json)


if __name__ == "__main__":
    main()
