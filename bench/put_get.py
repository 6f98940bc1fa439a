"""Put/get throughput, CPU cost and small-object latency on a local cluster, beside the disk ceiling.

    python -m bench.put_get [--nodes 5] [--replicas 3] [--big-mib 256] [--small-count 200]
                            [--ops 400] [--seed N] [--json PATH] [--insecure | --tls-cost [--rounds 3]]

`--tls-cost` starts a TLS cluster and an --insecure one side by side (lan profile) and runs every
measurement on each in turn, `--rounds` times (default 3), the order swapped every round, then prints
the median of each figure and TLS against plaintext: MB/s and CPU ms per MB for large and 1 MiB
objects, CPU ms per 4 KiB op. Alternating matters: the machine moves more between minutes than TLS
moves a small op, and two halves run minutes apart measured the minute as much as the transport. The
idle cluster costs the machine some CPU while the other is measured, but is not counted.

Starts a cluster with cluster-sim (real noded processes on loopback), measures, prints a table and
writes JSON, then stops every process it started. CPU seconds are summed over this client process and
every node process (from /proc/<pid>/stat), so the figures show what a stored MB costs the machine,
not only how fast it went. The disk ceiling is `dd ... conv=fsync` in the same run, so every MB/s
reads as a fraction of what the disk allows. `python -m bench` runs the same measurements under
replicas=3 and ec=4+2 on six nodes (the functions below), next to every other figure.

Object contents come from a seed (`fill_seeded`): one block of blake3 output made once, with a tag
of the object's seed and the block's number over the start of every MiB, so every object and every
MiB of it differs (chunks are content addressed, and repeating a few buffers would let deduplication
flatter the figures) while making one costs a copy, as Swift's harness reads a page-cache-hot file.
blake3's XOF for every byte was the first design: 4-5 GB/s on an AVX-512 host, but 0.7 GB/s on an
AVX2 one, where it was 1.5 ms of every MB the client put, timed with the put. Large objects are
streamed to the client from a file-like `SeededStream` and read back chunk by chunk, so a 1 GiB
object is never in the client's memory at all; the client checks the blake3 of what it read against
the manifest. Rejected: `os.urandom` buffers (270 MB/s here, and the whole object in memory twice
once read back) and files on disk (the page cache and the disk would be part of the measurement).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import io
import os
import pathlib
import re
import resource
import subprocess
import tempfile
import time
from collections.abc import Callable

import blake3

from bench.report import median, percentile, write_results
from cluster_sim.cluster import LocalCluster
from nodectl.client import Client
from ringstore.memory import bound_malloc_arenas

MIB = 1024 * 1024
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
SMALL_OBJECT_BYTES = 4096
# --tls-cost's clusters run a deployment's timers, so idle gossip does not blur what TLS costs.
TLS_COST_PROFILE = "lan"
CLIENT_TIMEOUT_S = 600.0


def process_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_S


def self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU seconds used by this process and the cluster's processes between two samples."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids

    def sample(self) -> float:
        return self_cpu_s() + sum(process_cpu_s(p) for p in self.pids)


def status_mib(pid: int | str, field: str = "VmHWM") -> float:
    """A memory line of /proc/PID/status ("self": this process) in MiB: VmHWM, the resident set's
    high-water mark, or VmRSS, the resident set now."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    raise ValueError(f"/proc/{pid}/status has no {field} line")


def reset_hwm(pid: int | str) -> bool:
    """Reset `pid`'s VmHWM to its current RSS (`echo 5 > /proc/PID/clear_refs`); False when refused."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


class RssHighWater:
    """Peak resident sets over one operation: every node's and the client's (this process; the bench
    is the client). `reset()` before, `read()` after. Where the kernel refuses the reset, the peak
    is since the process started, which bounds the operation's from above; `reset` says which. The
    resident sets at the reset are kept too: a Python process rarely gives freed memory back, so
    the client's peak starts from what earlier runs left it."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.reset_ok = False
        self.start: dict[str, float] = {}

    def reset(self) -> None:
        self.reset_ok = all([reset_hwm("self"), *(reset_hwm(pid) for pid in self.pids)])
        self.start = {"client": status_mib("self", "VmRSS"),
                      **{str(pid): status_mib(pid, "VmRSS") for pid in self.pids}}

    def read(self, prefix: str) -> dict:
        nodes = {str(pid): status_mib(pid) for pid in self.pids}
        return {f"{prefix}_node_rss_hwm_mib": max(nodes.values(), default=0.0), f"{prefix}_rss_hwm_mib_by_pid": nodes,
                f"{prefix}_client_rss_hwm_mib": status_mib("self"), f"{prefix}_rss_reset": self.reset_ok,
                f"{prefix}_rss_at_start_mib_by_pid": self.start}


def disk_ceiling_mb_s(directory: str, size_mib: int) -> float:
    path = os.path.join(directory, "dd.bin")
    out = subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={size_mib}", "conv=fsync"],
                         capture_output=True, text=True, check=True).stderr
    os.unlink(path)
    match = re.search(r"copied, ([\d.]+) s", out)
    assert match, out
    return size_mib * MIB / float(match.group(1)) / 1e6


def timed(meter: CpuMeter, fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) that fn() took."""
    cpu0, t0 = meter.sample(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, meter.sample() - cpu0


def object_seed(seed: int, *parts: object) -> bytes:
    """The content seed of one object: the run's seed and the object's name."""
    return ":".join(str(p) for p in (seed, *parts)).encode()


# What every seeded object is made of: one block of blake3 output made once per process, with a tag
# of the object's seed and the block's number over the first TAG_BYTES of each block. Every MiB of
# every object therefore differs (no chunk or share is stored once for two), and making an object
# costs a copy, as reading the page-cache-hot file Swift's harness sends does: the bench times the
# storage system, not its generator. (Seeding every byte through blake3's XOF cost the client 1.5 ms
# per MB on an AVX2 host, inside the timed put.)
SEED_BLOCK_BYTES = MIB
SEED_TAG_BYTES = 32
_SEED_BLOCK = memoryview(blake3.blake3(b"ringstore bench block").digest(length=SEED_BLOCK_BYTES))


def _seed_tag(seed: bytes, index: int) -> bytes:
    return blake3.blake3(seed + b"#" + str(index).encode()).digest(length=SEED_TAG_BYTES)


def fill_seeded(seed: bytes, position: int, buffer: memoryview) -> None:
    """Write bytes [position, position + len(buffer)) of the object seeded by `seed` into `buffer`."""
    done, count = 0, len(buffer)
    while done < count:
        index, offset = divmod(position + done, SEED_BLOCK_BYTES)
        n = min(SEED_BLOCK_BYTES - offset, count - done)
        buffer[done:done + n] = _SEED_BLOCK[offset:offset + n]
        if offset < SEED_TAG_BYTES:
            k = min(SEED_TAG_BYTES - offset, n)
            buffer[done:done + k] = _seed_tag(seed, index)[offset:offset + k]
        done += n


def seeded_bytes(seed: bytes, size_bytes: int) -> bytes:
    out = bytearray(size_bytes)
    fill_seeded(seed, 0, memoryview(out))
    return bytes(out)


class SeededStream(io.RawIOBase):
    """`size_bytes` of pseudo-random bytes from `seed`, read like a file and never held whole.

    Seekable, so the client learns the size up front (the node checks it) and may replay the put.
    """

    def __init__(self, seed: bytes, size_bytes: int) -> None:
        super().__init__()
        self._seed = seed
        self._size_bytes = size_bytes
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size_bytes}[whence]
        if base + offset < 0:
            raise ValueError(f"seek to {base + offset}, before the start of the stream")
        self._position = base + offset
        return self._position

    def readinto(self, buffer) -> int:
        count = max(min(len(buffer), self._size_bytes - self._position), 0)
        if count:
            fill_seeded(self._seed, self._position, memoryview(buffer).cast("B")[:count])
            self._position += count
        return count


def read_through(client: Client, bucket: str, key: str) -> tuple[int, str]:
    """Stream an object and drop it; (bytes read, manifest blake3). The reader checks the blake3."""
    with client.get(bucket, key) as reader:
        return sum(len(chunk) for chunk in reader), reader.info.blake3_hex


def rates(size_bytes: int, wall_s: float, cpu_s: float, prefix: str) -> dict:
    mb = size_bytes / 1e6
    return {f"{prefix}_mb_s": mb / wall_s, f"{prefix}_cpu_s_per_mb": cpu_s / mb, f"{prefix}_s": wall_s}


def put_get_object(client: Client, meter: CpuMeter, bucket: str, key: str, size_bytes: int, seed: bytes,
                   policy: dict) -> dict:
    """Put one object streamed from a SeededStream, then read it back streamed; MB/s, CPU s/MB, and
    the RSS high-water marks of the nodes and the client over each of the two."""
    box: list = []
    rss = RssHighWater(meter.pids)
    rss.reset()
    wall, cpu = timed(meter, lambda: box.append(client.put(bucket, key, SeededStream(seed, size_bytes),
                                                           **policy)))
    info = box.pop()
    result = {"size_bytes": size_bytes, "chunks": info.chunk_count, **rates(size_bytes, wall, cpu, "put"),
              **rss.read("put")}
    rss.reset()
    wall, cpu = timed(meter, lambda: box.append(read_through(client, bucket, key)))
    read_bytes, blake3_hex = box.pop()
    assert read_bytes == size_bytes and blake3_hex == info.blake3_hex, \
        f"{bucket}/{key}: read {read_bytes} bytes with blake3 {blake3_hex}, put {size_bytes} as {info.blake3_hex}"
    return {**result, **rates(size_bytes, wall, cpu, "get"), **rss.read("get")}


def put_get_many(client: Client, meter: CpuMeter, bucket: str, prefix: str, count: int, size_bytes: int,
                 seed: int, policy: dict) -> dict:
    """Put `count` different objects of `size_bytes` one after another, then get them; MB/s, CPU s/MB."""
    keys = [f"{prefix}/{i}" for i in range(count)]
    wall, cpu = timed(meter, lambda: [client.put(bucket, key, seeded_bytes(object_seed(seed, key), size_bytes),
                                                 **policy) for key in keys])
    result = {"count": count, "size_bytes": size_bytes, **rates(count * size_bytes, wall, cpu, "put")}
    # Each object is dropped as soon as it is read (the reader has checked it against its chunk ids): a
    # list of every object read would hold count x size_bytes, which is the bench's memory, not the
    # client's, and would be left fragmented in malloc's arenas for the runs measured after this one.
    read: list[int] = []
    wall, cpu = timed(meter, lambda: read.extend(len(client.get_bytes(bucket, key)) for key in keys))
    assert read == [size_bytes] * count, f"{bucket}/{prefix}: read sizes {sorted(set(read))}, put {size_bytes} each"
    return {**result, **rates(count * size_bytes, wall, cpu, "get")}


def latency_run(cluster: LocalCluster, address: str, bucket: str, concurrency: int, ops: int, op: str, *,
                prefix: str = "small", policy: dict | None = None) -> dict:
    """`ops` 4 KiB puts (or gets of what a put run stored under `prefix`) from `concurrency` threads,
    each with its own client; ops/s and nearest-rank p50/p99. Puts also say whether the node stored
    the object inline in its manifest."""
    data = os.urandom(SMALL_OBJECT_BYTES)
    latencies: list[float] = []
    inline: set[bool] = set()

    def worker(worker_id: int) -> list[float]:
        out = []
        with cluster.client(address) as client:
            for i in range(ops // concurrency):
                key = f"{prefix}/{worker_id}/{i}"
                t0 = time.perf_counter()
                if op == "put":
                    inline.add(client.put(bucket, key, data, **(policy or {})).inline)
                else:
                    client.get_bytes(bucket, key)
                out.append(time.perf_counter() - t0)
        return out

    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(concurrency) as pool:
        for result in pool.map(worker, range(concurrency)):
            latencies.extend(result)
    elapsed = time.perf_counter() - t0
    out = {"ops": len(latencies), "ops_per_s": len(latencies) / elapsed, "p50_ms": 1000 * median(latencies),
           "p99_ms": 1000 * percentile(latencies, 0.99)}
    if op == "put":
        out["inline"] = sorted(inline)
    return out


def small_ops(cluster: LocalCluster, address: str, meter: CpuMeter, bucket: str, label: str, policy: dict, ops: int,
              concurrencies: tuple[int, ...] = (1, 16)) -> dict:
    """4 KiB put then get runs at each concurrency under one policy; adds CPU ms per op."""
    results = {}
    for concurrency in concurrencies:
        prefix = f"small-{label}-c{concurrency}"
        for op in ("put", "get"):
            cpu0 = meter.sample()
            run = latency_run(cluster, address, bucket, concurrency, ops, op, prefix=prefix, policy=policy)
            run["cpu_ms_per_op"] = 1000 * (meter.sample() - cpu0) / run["ops"]
            results[f"{op}_c{concurrency}"] = run
    return results


def cluster_meter(cluster: LocalCluster) -> CpuMeter:
    return CpuMeter([n.pid for n in cluster.nodes.values()])


def run(args: argparse.Namespace, *, insecure: bool) -> dict:
    """One cluster, every measurement; TLS on every port unless `insecure`."""
    with tempfile.TemporaryDirectory(prefix="ringstore-bench-") as tmp:
        ceiling = disk_ceiling_mb_s(tmp, args.big_mib)
        with LocalCluster.up(pathlib.Path(tmp, "cluster"), nodes=args.nodes, replicas=args.replicas,
                             insecure=insecure) as cluster:
            return {**measure(cluster, args, insecure=insecure), "disk_ceiling_mb_s": ceiling}


def measure(cluster: LocalCluster, args: argparse.Namespace, *, insecure: bool, round_number: int = 0) -> dict:
    """Every measurement once on a running cluster: a big object, `small_count` 1 MiB objects and the
    4 KiB runs, under keys of their own for each round."""
    policy = {"replicas": args.replicas}
    results: dict = {"nodes": args.nodes, "replicas": args.replicas, "seed": args.seed,
                     "transport": "plaintext (--insecure)" if insecure else "TLS"}
    meter = cluster_meter(cluster)
    address = cluster.any_address()
    bucket = f"bench-{round_number}"
    with cluster.client(address, timeout_s=CLIENT_TIMEOUT_S) as client:
        client.create_bucket(bucket, replicas=args.replicas)
        results["big"] = put_get_object(client, meter, bucket, "big", args.big_mib * MIB,
                                        object_seed(args.seed + round_number, "big"), policy)
        results["mib"] = put_get_many(client, meter, bucket, "mib", args.small_count, MIB,
                                      args.seed + round_number, policy)
    results["small"] = small_ops(cluster, address, meter, bucket, f"replicas={args.replicas}", policy, args.ops)
    return results


def medians(runs: list[dict]) -> dict:
    """One result with each number the median over `runs` (same shape); other values from the first."""
    first = runs[0]
    if isinstance(first, dict):
        return {key: medians([r[key] for r in runs]) for key in first}
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return median(runs)
    return first


def run_tls_cost(args: argparse.Namespace) -> tuple[dict, dict]:
    """A TLS and an --insecure cluster up at once; every measurement on each in turn, `rounds` times,
    the order swapped each round; the median of each figure per cluster, with every round kept."""
    rounds: dict[str, list[dict]] = {"tls": [], "insecure": []}
    with tempfile.TemporaryDirectory(prefix="ringstore-bench-") as tmp:
        ceiling = disk_ceiling_mb_s(tmp, args.big_mib)
        with LocalCluster.up(pathlib.Path(tmp, "tls"), nodes=args.nodes, replicas=args.replicas,
                             profile=TLS_COST_PROFILE) as tls_cluster, \
                LocalCluster.up(pathlib.Path(tmp, "insecure"), nodes=args.nodes, replicas=args.replicas,
                                insecure=True, profile=TLS_COST_PROFILE) as plain_cluster:
            order = [("tls", tls_cluster), ("insecure", plain_cluster)]
            for round_number in range(args.rounds):
                for name, cluster in (order if round_number % 2 == 0 else order[::-1]):
                    print(f"round {round_number + 1} of {args.rounds}: {name}", flush=True)
                    rounds[name].append(measure(cluster, args, insecure=name == "insecure",
                                                round_number=round_number))
    tls, plain = (medians(rounds[name]) for name in ("tls", "insecure"))
    for result, name in ((tls, "tls"), (plain, "insecure")):
        result.update(disk_ceiling_mb_s=ceiling, rounds=rounds[name], profile=TLS_COST_PROFILE)
    return tls, plain


def report(results: dict, args: argparse.Namespace) -> None:
    ceiling = results["disk_ceiling_mb_s"]
    print(f"{results['transport']}: disk ceiling (dd conv=fsync): {ceiling:.0f} MB/s; {args.nodes} nodes, "
          f"replicas={args.replicas}")
    print(f"{'workload':<24}{'MB/s':>8}{'x ceiling':>11}{'CPU s/MB':>10}")
    for name, label in [("big", f"{args.big_mib} MiB"), ("mib", f"{args.small_count} x 1 MiB")]:
        for op in ("put", "get"):
            r = results[name]
            print(f"{op + ' ' + label:<24}{r[op + '_mb_s']:>8.1f}{r[op + '_mb_s'] / ceiling:>11.2f}"
                  f"{r[op + '_cpu_s_per_mb']:>10.4f}")
    print(f"{'4 KiB op':<24}{'ops/s':>8}{'p50 ms':>11}{'p99 ms':>10}{'CPU ms/op':>11}")
    for concurrency in (1, 16):
        for op in ("put", "get"):
            r = results["small"][f"{op}_c{concurrency}"]
            print(f"{op + ' c=' + str(concurrency):<24}{r['ops_per_s']:>8.0f}{r['p50_ms']:>11.2f}"
                  f"{r['p99_ms']:>10.2f}{r['cpu_ms_per_op']:>11.2f}")


def compare(tls: dict, plain: dict, args: argparse.Namespace) -> dict:
    """What TLS costs: CPU per MB and per small op, TLS against plaintext, from two back-to-back runs."""
    rows = {}
    print(f"\nTLS against --insecure ({args.nodes} nodes, replicas={args.replicas}; CPU of client and nodes; "
          f"median of {args.rounds} alternating rounds)")
    print(f"{'figure':<34}{'TLS':>10}{'insecure':>10}{'TLS/ins.':>10}")
    for name, label in [("big", f"{args.big_mib} MiB"), ("mib", f"{args.small_count} x 1 MiB")]:
        for op in ("put", "get"):
            for field, unit, scale in ((f"{op}_mb_s", "MB/s", 1.0), (f"{op}_cpu_s_per_mb", "CPU ms/MB", 1000.0)):
                a, b = tls[name][field] * scale, plain[name][field] * scale
                key = f"{op} {label} {unit}"
                rows[key] = {"tls": a, "insecure": b, "ratio": a / b if b else None}
                print(f"{key:<34}{a:>10.2f}{b:>10.2f}{a / b if b else float('nan'):>10.2f}")
    for concurrency in (1, 16):
        for op in ("put", "get"):
            a = tls["small"][f"{op}_c{concurrency}"]["cpu_ms_per_op"]
            b = plain["small"][f"{op}_c{concurrency}"]["cpu_ms_per_op"]
            key = f"4 KiB {op} c={concurrency} CPU ms/op"
            rows[key] = {"tls": a, "insecure": b, "difference": a - b}
            print(f"{key:<34}{a:>10.2f}{b:>10.2f}{a - b:>+10.2f}")
    return rows


def main() -> None:
    bound_malloc_arenas()  # as nodectl does: the client's threads share two arenas (ringstore/memory.py)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--big-mib", type=int, default=256)
    parser.add_argument("--small-count", type=int, default=200)
    parser.add_argument("--ops", type=int, default=400, help="4 KiB operations per latency run")
    parser.add_argument("--seed", type=int, default=int(time.time()), help="seed of the objects' contents")
    parser.add_argument("--json", default="", help="where to write results (default bench/results/...)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--insecure", action="store_true", help="run the cluster in plaintext instead of TLS")
    mode.add_argument("--tls-cost", action="store_true",
                      help="a TLS and an --insecure cluster side by side, measured in turn; print what TLS costs")
    parser.add_argument("--rounds", type=int, default=3, help="with --tls-cost: rounds on each cluster (medians)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    if not args.tls_cost:
        results = run(args, insecure=args.insecure)
        report(results, args)
        write_results(results, "put_get", args.json)
        return
    tls, plain = run_tls_cost(args)
    report(tls, args)
    report(plain, args)
    write_results({"tls": tls, "insecure": plain, "tls_cost": compare(tls, plain, args)}, "put_get_tls", args.json)


if __name__ == "__main__":
    main()
