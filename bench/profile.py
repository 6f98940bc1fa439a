"""Where the CPU of one data-path operation goes: per process, per thread and per Python function.

    python -m bench.profile [--case CASE[,CASE...]|all] [--nodes 6] [--insecure] [--profile lan|local]
                            [--rate 100] [--perf] [--out DIR]

Cases: put-1g, put-1g-ec, get-1g, get-1g-ec (one 1 GiB object, replicas=3 or ec=4+2), get-1m,
get-1m-ec, put-1m, put-1m-ec (200 x 1 MiB), get-4k-c16, put-4k-c16 (400 x 4 KiB at concurrency 16), get-4k-c1,
put-4k-c1 (400 x 4 KiB, one at a time), idle (10 s); s3-put-1g, s3-get-1g, s3-put-1m, s3-get-1m: the
same objects through the coordinator's S3 port with boto3, as `python -m bench.s3` sends them.

Starts a cluster (cluster-sim, real noded processes, TLS unless --insecure), prepares what the case
reads, then runs the case once while it samples:

- every process's CPU (utime+stime from /proc) and every thread's, grouped by the thread's name
  (gRPC's core threads are named by gRPC: `grpc_global_tim`, `default-executo`, event engine
  pollers; Python threads show as `python` or the name noded gives them), so the C side of gRPC
  (HTTP/2 framing, TLS records, polling) is separated from the Python side;
- with py-spy (`pip install py-spy`), each process's Python stacks, sampled without stopping it
  (`--nonblocking`), written as collapsed stacks to DIR/<case>-<process>.txt and summarised here as
  the functions with most own samples and most inclusive samples.

The client is this process; the coordinator is the node it talks to; the other nodes are holders.
Figures are per MB (large cases) or per op (4 KiB cases), like `python -m bench`, so the split adds
up to the total that bench reports. A profiler costs CPU itself: read the split, not the total.

Rejected: cProfile inside the nodes. It sees only the thread it was started in (gRPC handlers run
on pool threads), costs 2-3x on call-heavy code and cannot see gRPC's C threads at all.
"""

from __future__ import annotations

import argparse
import collections
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from bench import put_get
from bench import s3 as bench_s3
from cluster_sim.cluster import PROFILES, LocalCluster
from ringstore.memory import bound_malloc_arenas

MIB = 1024 * 1024
CASES = ("put-1g", "put-1g-ec", "get-1g", "get-1g-ec", "put-1m", "put-1m-ec", "get-1m", "get-1m-ec", "get-4k-c16",
         "put-4k-c16", "get-4k-c1", "put-4k-c1", "idle", "s3-put-1g", "s3-get-1g", "s3-put-1m", "s3-get-1m")
IDLE_S = 10.0
EXITED = "threads that ended"
TOP = 25


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread name of one process, split into user and system time.

    Each thread's total is its scheduler runtime (/proc/PID/task/TID/schedstat, nanoseconds); only
    the user/system split comes from its stat fields, which count whole clock ticks and truncate each
    thread's share: summed over a node's hundred threads they fell 17 % short of the process's total
    in one 4 KiB put run (1.91 s against 2.31 s, where the schedstat sum gave 2.30), and the gap used
    to be reported as threads that ended."""
    found: dict[str, float] = collections.defaultdict(float)
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return {}
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                text = f.read()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                runtime_s = int(f.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        user_ticks, system_ticks = int(fields[11]), int(fields[12])
        user_s = runtime_s * user_ticks / (user_ticks + system_ticks) if user_ticks + system_ticks else runtime_s
        found[f"{name} user"] += user_s
        found[f"{name} system"] += runtime_s - user_s
    return dict(found)


def snapshot(pids: dict[str, int]) -> dict[str, dict[str, float]]:
    """Per process: CPU per live thread name, and under EXITED what threads that have ended used
    (the process's total from /proc/PID/stat counts them, /proc/PID/task no longer lists them:
    gRPC Python starts a thread per client-streaming call to drain its request iterator, and the
    bench's own worker threads end with each run)."""
    found = {}
    for name, pid in pids.items():
        threads = thread_cpu(pid)
        total = put_get.process_cpu_s(pid) if pid != os.getpid() else put_get.self_cpu_s()
        threads[EXITED] = max(0.0, total - sum(threads.values()))
        found[name] = threads
    return found


def difference(after: dict, before: dict) -> dict[str, dict[str, float]]:
    return {proc: {t: after[proc].get(t, 0.0) - before.get(proc, {}).get(t, 0.0) for t in after[proc]}
            for proc in after}


class Sampler:
    """py-spy record (Python stacks holding the GIL) or perf record (every native frame, by shared
    object) on each process for the length of a `with` block."""

    def __init__(self, pids: dict[str, int], out: pathlib.Path, case: str, rate: int, tool: str) -> None:
        self._pids, self._out, self._case, self._rate = pids, out, case, rate  # rate 0: no sampling
        self._tool = tool
        self._running: dict[str, subprocess.Popen] = {}
        self.files: dict[str, pathlib.Path] = {}

    def _command(self, pid: int, path: pathlib.Path) -> list[str] | None:
        if self._tool == "perf":
            perf = shutil.which("perf")
            return None if perf is None else [perf, "record", "-F", str(self._rate), "-g", "-p", str(pid),
                                                "-o", str(path), "--quiet"]
        spy = shutil.which("py-spy")
        return None if spy is None else [spy, "record", "--pid", str(pid), "--rate", str(self._rate),
                                          "--nonblocking", "--gil", "--format", "raw", "--output", str(path)]

    def __enter__(self) -> "Sampler":
        if self._rate == 0:
            return self
        for name, pid in self._pids.items():
            path = self._out / f"{self._case}-{name}.{'data' if self._tool == 'perf' else 'txt'}"
            command = self._command(pid, path)
            if command is None:
                print(f"{self._tool} not found: thread CPU only", flush=True)
                return self
            self.files[name] = path
            self._running[name] = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # the samplers attach before the case starts
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self._running.values():
            proc.send_signal(signal.SIGINT)
        for proc in self._running.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def read_stacks(path: pathlib.Path) -> list[tuple[list[str], int]]:
    """py-spy's raw format: `frame;frame;... count` per line, outermost frame first."""
    stacks = []
    if not path.exists():
        return stacks
    for line in path.read_text().splitlines():
        text, _, count = line.rpartition(" ")
        if text and count.isdigit():
            stacks.append((text.split(";"), int(count)))
    return stacks


def short(frame: str) -> str:
    """`fn (path/to/file.py:123)` -> `fn (file.py)`."""
    name, _, where = frame.partition(" (")
    return f"{name} ({os.path.basename(where.split(':')[0])})" if where else name


def perf_dsos(path: pathlib.Path) -> list[tuple[float, str]]:
    """(percent of samples, shared object) from a perf.data file, largest first."""
    if not path.exists():
        return []
    text = subprocess.run(["perf", "report", "-i", str(path), "--sort", "dso", "--stdio", "--no-children"],
                          capture_output=True, text=True, check=False).stdout
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].endswith("%"):
            found.append((float(parts[0][:-1]), parts[1]))
    return found


def perf_symbols(path: pathlib.Path, limit: int = TOP) -> list[tuple[float, str]]:
    if not path.exists():
        return []
    text = subprocess.run(["perf", "report", "-i", str(path), "--sort", "dso,sym", "--stdio", "--no-children",
                           "-g", "none"], capture_output=True, text=True, check=False).stdout
    found = []
    for line in text.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[0].endswith("%"):
            found.append((float(parts[0][:-1]), parts[1].strip()))
    return found[:limit]


def summarise(stacks: list[tuple[list[str], int]]) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    own: collections.Counter = collections.Counter()
    inclusive: collections.Counter = collections.Counter()
    total = 0
    for frames, count in stacks:
        total += count
        names = [short(f) for f in frames]
        own[names[-1]] += count
        for name in set(names):
            inclusive[name] += count
    return total, own.most_common(TOP), inclusive.most_common(TOP)


def run_case(cluster: LocalCluster, case: str, out: pathlib.Path, rate: int, seed: int, tool: str,
             number: int = 0) -> dict:
    address = cluster.any_address()
    coordinator = next(n for n, node in cluster.nodes.items() if node.address == address)
    pids = {"client": os.getpid(), **{f"{n}{'-coordinator' if n == coordinator else ''}": node.pid
                                      for n, node in cluster.nodes.items()}}
    policy = {"ec": "4+2"} if case.endswith("-ec") else {"replicas": 3}
    big = put_get.SeededStream(put_get.object_seed(seed, "big"), 1024 * MIB)
    s3 = bench_s3.s3_client(cluster, cluster.nodes[coordinator]) if case.startswith("s3-") else None
    with cluster.client(address, timeout_s=put_get.CLIENT_TIMEOUT_S) as client:
        bucket = f"prof-{number}-{case}"
        client.create_bucket(bucket)
        keys = []
        if case.startswith(("get-1m", "s3-get-1m")):
            keys = [f"m/{i}" for i in range(200)]
            for key in keys:
                data = put_get.seeded_bytes(put_get.object_seed(seed, key), MIB)
                if s3 is None:
                    client.put(bucket, key, data, **policy)
                else:  # an S3 put, so the ETag the get checks is the content's MD5
                    s3.put_object(Bucket=bucket, Key=key, Body=data)
        elif case.startswith("get-4k"):  # the keys the get run reads: writer w's i-th key
            put_get.latency_run(cluster, address, bucket, 16 if case == "get-4k-c16" else 1, 400, "put",
                                prefix="s", policy=policy)
        elif case == "s3-get-1g":
            s3.put_object(Bucket=bucket, Key="big", Body=big, ContentLength=1024 * MIB)
        elif case.startswith("get-1g"):
            client.put(bucket, "big", big, **policy)

        def work() -> None:
            if case.startswith("put-1g"):
                client.put(bucket, "big", big, **policy)
            elif case.startswith("get-1g"):
                put_get.read_through(client, bucket, "big")
            elif case.startswith("put-1m"):
                for i in range(200):
                    key = f"p/{i}"
                    client.put(bucket, key, put_get.seeded_bytes(put_get.object_seed(seed, key), MIB), **policy)
            elif case.startswith("get-1m"):
                for key in keys:
                    client.get_bytes(bucket, key)
            elif case == "get-4k-c16":
                put_get.latency_run(cluster, address, bucket, 16, 400, "get", prefix="s")
            elif case == "put-4k-c16":
                put_get.latency_run(cluster, address, bucket, 16, 400, "put", prefix="s", policy=policy)
            elif case == "get-4k-c1":
                put_get.latency_run(cluster, address, bucket, 1, 400, "get", prefix="s")
            elif case == "put-4k-c1":
                put_get.latency_run(cluster, address, bucket, 1, 400, "put", prefix="s", policy=policy)
            elif case == "s3-put-1g":
                s3.put_object(Bucket=bucket, Key="big", Body=big, ContentLength=1024 * MIB)
            elif case == "s3-get-1g":
                bench_s3.read_checked(s3, bucket, "big")
            elif case == "s3-put-1m":
                for i in range(200):
                    key = f"p/{i}"
                    s3.put_object(Bucket=bucket, Key=key, Body=put_get.seeded_bytes(put_get.object_seed(seed, key), MIB))
            elif case == "s3-get-1m":
                for key in keys:
                    bench_s3.read_checked(s3, bucket, key)
            elif case == "idle":
                time.sleep(IDLE_S)  # what the nodes' own loops cost with no request at all

        units, unit = ((1024 * MIB / 1e6, "MB") if case.removeprefix("s3-").startswith(("put-1g", "get-1g")) else
                       (200 * MIB / 1e6, "MB") if case.removeprefix("s3-").startswith(("get-1m", "put-1m")) else
                       (IDLE_S, "s") if case == "idle" else (400, "op"))
        with Sampler(pids, out, case, rate, tool) as sampler:
            rss = put_get.RssHighWater([pid for name, pid in pids.items() if name != "client"])
            rss.reset()
            before, t0 = snapshot(pids), time.perf_counter()
            work()
            wall = time.perf_counter() - t0
            spent = difference(snapshot(pids), before)
            peaks = rss.read(case)
    report = {"case": case, "wall_s": wall, "per": unit, "units": units, "processes": {}, "rss": peaks}
    print(f"\n== {case}: {wall:.2f} s wall, {units:.0f} {unit}; CPU ms per {unit} by process and thread", flush=True)
    for proc, threads in spent.items():
        total = sum(threads.values())
        stacks = [] if tool == "perf" else read_stacks(sampler.files.get(proc, pathlib.Path("/nonexistent")))
        samples, own, inclusive = summarise(stacks)
        report["processes"][proc] = {"cpu_ms_per_unit": 1000 * total / units,
                                     "threads_ms_per_unit": {t: 1000 * s / units for t, s in threads.items() if s},
                                     "py_samples": samples, "own": own, "inclusive": inclusive}
        print(f"{proc:24} {1000 * total / units:8.2f} ms/{unit}", flush=True)
        for name, seconds in sorted(threads.items(), key=lambda kv: -kv[1]):
            if seconds >= 0.01 * total and seconds > 0:
                print(f"    {name:20} {1000 * seconds / units:8.2f}", flush=True)
    grand = sum(p["cpu_ms_per_unit"] for p in report["processes"].values())
    print(f"{'all processes':24} {grand:8.2f} ms/{unit}")
    by_pid = {str(pid): name for name, pid in pids.items()}
    print("RSS high-water MiB: " + ", ".join(f"{by_pid[pid]} {mib:.0f}" for pid, mib in
                                             peaks[f"{case}_rss_hwm_mib_by_pid"].items())
          + f", client {peaks[f'{case}_client_rss_hwm_mib']:.0f}")
    if tool == "perf":
        for proc, path in sampler.files.items():
            dsos, symbols = perf_dsos(path), perf_symbols(path)
            report["processes"][proc].update(perf_dsos=dsos, perf_symbols=symbols)
            print(f"\n-- {case} {proc}: samples by shared object")
            for percent, dso in dsos[:12]:
                print(f"    {percent:5.1f}%  {dso}")
            print("   by symbol:")
            for percent, symbol in symbols:
                print(f"    {percent:5.1f}%  {symbol}")
        return report
    for proc, found in report["processes"].items():
        if not found["py_samples"]:
            continue
        print(f"\n-- {case} {proc}: {found['py_samples']} Python samples; own (self) time:")
        for name, count in found["own"][:12]:
            print(f"    {100 * count / found['py_samples']:5.1f}%  {name}")
        print("   inclusive:")
        for name, count in found["inclusive"][:TOP]:
            print(f"    {100 * count / found['py_samples']:5.1f}%  {name}")
    return report


def main() -> int:
    bound_malloc_arenas()  # as nodectl does: the client's threads share two arenas (ringstore/memory.py)
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="all", help=f"one of {', '.join(CASES)} or all")
    parser.add_argument("--nodes", type=int, default=6)
    parser.add_argument("--insecure", action="store_true", help="plaintext cluster (default TLS)")
    parser.add_argument("--profile", choices=PROFILES, default="lan",
                        help="the nodes' timers (default lan, as deployed; local is the tests' fast timers)")
    parser.add_argument("--rate", type=int, default=100, help="samples per second (0: CPU per thread only)")
    parser.add_argument("--perf", action="store_true",
                        help="sample native frames with perf (by shared object) instead of Python stacks with py-spy")
    parser.add_argument("--out", default="", help="where the collapsed stacks go (default a temp dir, kept)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    cases = CASES if args.case == "all" else tuple(args.case.split(","))
    bad = [c for c in cases if c not in CASES]
    if bad:
        parser.error(f"unknown case {', '.join(bad)}; choose among {', '.join(CASES)} or all")
    out = pathlib.Path(args.out or tempfile.mkdtemp(prefix="ringstore-profile-"))
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ringstore-profile-cluster-") as tmp:
        with LocalCluster.up(pathlib.Path(tmp), nodes=args.nodes, insecure=args.insecure,
                             profile=args.profile) as cluster:
            for number, case in enumerate(cases):
                run_case(cluster, case, out, args.rate, args.seed, "perf" if args.perf else "py-spy", number)
    print(f"\ncollapsed stacks in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
