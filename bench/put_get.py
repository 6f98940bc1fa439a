"""Put/get throughput, CPU cost and small-object latency on a local cluster, beside the disk ceiling.

    python -m bench.put_get [--nodes 5] [--replicas 3] [--big-mib 256] [--small-count 200]
                            [--ops 400] [--json PATH]

Starts a cluster with cluster-sim (real noded processes on loopback), measures, prints a table and
writes JSON, then stops every process it started. CPU seconds are summed over this client process and
every node process (from /proc/<pid>/stat), so the figures show what a stored MB costs the machine,
not only how fast it went. The disk ceiling is `dd ... conv=fsync` in the same run, so every MB/s
reads as a fraction of what the disk allows.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import pathlib
import re
import resource
import statistics
import subprocess
import tempfile
import time

from cluster_sim.cluster import LocalCluster
from nodectl.client import Client

MIB = 1024 * 1024
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_S


def self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU seconds used by this process and the cluster's processes between start() and stop()."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids

    def sample(self) -> float:
        return self_cpu_s() + sum(process_cpu_s(p) for p in self.pids)


def disk_ceiling_mb_s(directory: str, size_mib: int) -> float:
    path = os.path.join(directory, "dd.bin")
    out = subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={size_mib}", "conv=fsync"],
                         capture_output=True, text=True, check=True).stderr
    os.unlink(path)
    match = re.search(r"copied, ([\d.]+) s", out)
    assert match, out
    return size_mib * MIB / float(match.group(1)) / 1e6


def timed(meter: CpuMeter, fn) -> tuple[float, float]:
    cpu0, t0 = meter.sample(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, meter.sample() - cpu0


def latency_run(address: str, bucket: str, concurrency: int, ops: int, op: str) -> dict:
    data = os.urandom(4096)
    latencies: list[float] = []

    def worker(worker_id: int) -> list[float]:
        out = []
        with Client(address=address) as client:
            for i in range(ops // concurrency):
                key = f"small/{worker_id}/{i}"
                t0 = time.perf_counter()
                if op == "put":
                    client.put(bucket, key, data)
                else:
                    client.get_bytes(bucket, key)
                out.append(time.perf_counter() - t0)
        return out

    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(concurrency) as pool:
        for result in pool.map(worker, range(concurrency)):
            latencies.extend(result)
    elapsed = time.perf_counter() - t0
    latencies.sort()
    return {"ops_per_s": len(latencies) / elapsed, "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--big-mib", type=int, default=256)
    parser.add_argument("--small-count", type=int, default=200)
    parser.add_argument("--ops", type=int, default=400, help="4 KiB operations per latency run")
    parser.add_argument("--json", default="", help="where to write results (default bench/results/...)")
    args = parser.parse_args()

    results: dict = {"nodes": args.nodes, "replicas": args.replicas}
    with tempfile.TemporaryDirectory(prefix="ringstore-bench-") as tmp:
        results["disk_ceiling_mb_s"] = disk_ceiling_mb_s(tmp, args.big_mib)
        with LocalCluster.up(pathlib.Path(tmp, "cluster"), nodes=args.nodes, replicas=args.replicas) as cluster:
            meter = CpuMeter([n.pid for n in cluster.nodes.values()])
            address = cluster.any_address()
            with Client(address=address, timeout_s=600.0) as client:
                client.create_bucket("bench", replicas=args.replicas)
                big = os.urandom(args.big_mib * MIB)
                wall, cpu = timed(meter, lambda: client.put("bench", "big", big))
                results["big_put"] = {"mb_s": len(big) / wall / 1e6, "cpu_s_per_mb": cpu / (len(big) / 1e6)}
                box: list[bytes] = []
                wall, cpu = timed(meter, lambda: box.append(client.get_bytes("bench", "big")))
                assert box[0] == big, "big object read back different"
                results["big_get"] = {"mb_s": len(big) / wall / 1e6, "cpu_s_per_mb": cpu / (len(big) / 1e6)}

                small = [os.urandom(MIB) for _ in range(8)]
                total = args.small_count * MIB
                wall, cpu = timed(meter, lambda: [client.put("bench", f"mib/{i}", small[i % 8])
                                                  for i in range(args.small_count)])
                results["mib_put"] = {"mb_s": total / wall / 1e6, "cpu_s_per_mb": cpu / (total / 1e6),
                                      "count": args.small_count}
                wall, cpu = timed(meter, lambda: [client.get_bytes("bench", f"mib/{i}")
                                                  for i in range(args.small_count)])
                results["mib_get"] = {"mb_s": total / wall / 1e6, "cpu_s_per_mb": cpu / (total / 1e6),
                                      "count": args.small_count}
            for concurrency in (1, 16):
                for op in ("put", "get"):
                    cpu0 = meter.sample()
                    run = latency_run(address, "bench", concurrency, args.ops, op)
                    run["cpu_ms_per_op"] = 1000 * (meter.sample() - cpu0) / args.ops
                    results[f"small_{op}_c{concurrency}"] = run

    ceiling = results["disk_ceiling_mb_s"]
    print(f"disk ceiling (dd conv=fsync): {ceiling:.0f} MB/s; {args.nodes} nodes, replicas={args.replicas}")
    print(f"{'workload':<24}{'MB/s':>8}{'x ceiling':>11}{'CPU s/MB':>10}")
    for name, label in [("big_put", f"put {args.big_mib} MiB"), ("big_get", f"get {args.big_mib} MiB"),
                        ("mib_put", f"put {args.small_count} x 1 MiB"),
                        ("mib_get", f"get {args.small_count} x 1 MiB")]:
        r = results[name]
        print(f"{label:<24}{r['mb_s']:>8.1f}{r['mb_s'] / ceiling:>11.2f}{r['cpu_s_per_mb']:>10.4f}")
    print(f"{'4 KiB op':<24}{'ops/s':>8}{'p50 ms':>11}{'p99 ms':>10}{'CPU ms/op':>11}")
    for concurrency in (1, 16):
        for op in ("put", "get"):
            r = results[f"small_{op}_c{concurrency}"]
            print(f"{op + ' c=' + str(concurrency):<24}{r['ops_per_s']:>8.0f}{r['p50_ms']:>11.2f}"
                  f"{r['p99_ms']:>10.2f}{r['cpu_ms_per_op']:>11.2f}")
    path = pathlib.Path(args.json or pathlib.Path(__file__).parent / "results" / f"put_get-{int(time.time())}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
