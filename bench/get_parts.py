"""The parts of a small get at one client, each timed alone: where a 1 MiB get's time goes.

    python -m bench.get_parts [--objects 100] [--json PATH]

Starts six nodes (TLS, lan profile), stores `--objects` replicated objects of 1 MiB and of 4 KiB,
and then, one call at a time:

- the disk alone: O_DIRECT reads of 1 MiB from a scratch file written with O_DIRECT, as holders
  read share files (no page cache);
- a 4 KiB get: the metadata path (OpenObject, a read quorum of the bucket's homes, the data inline);
- OpenObject of each 1 MiB object alone: the same path, answering a plan of direct reads;
- one direct ReadChunk of each planned chunk, as the client library reads it, twice;
- the whole 1 MiB get as shipped (direct), and streamed through the coordinator (which starts
  reading the chunk as soon as the first home names it: the early read).

Latency p50 and mean per part, and CPU per operation over every node and this process. A direct
get cannot start its chunk read before the read quorum has named the version, so the metadata path
plus one chunk read is its floor on this machine; compare it with what a target allows per get.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import pathlib
import random
import statistics
import tempfile
import time
from typing import Callable, Iterable

from bench import put_get
from cluster_sim.cluster import LocalCluster
from ringstore.v1 import object_pb2

MIB = 1024 * 1024
DISK_FILE_MIB = 128
BUCKET = "get-parts"


def _timed(fn: Callable[[str], object], items: Iterable[str]) -> list[float]:
    latencies = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def _disk(directory: str, reads: int) -> list[float]:
    """O_DIRECT 1 MiB reads at random offsets of a file written with O_DIRECT."""
    path = os.path.join(directory, "disk")
    buffer = mmap.mmap(-1, MIB)
    buffer.write(os.urandom(MIB))
    fd = os.open(path, os.O_CREAT | os.O_RDWR | getattr(os, "O_DIRECT", 0), 0o600)
    try:
        for block in range(DISK_FILE_MIB):
            os.pwritev(fd, [buffer], block * MIB)
        os.fsync(fd)
        rng = random.Random(7)
        offsets = [rng.randrange(DISK_FILE_MIB) * MIB for _ in range(reads)]
        latencies = []
        for offset in offsets:
            started = time.perf_counter()
            os.preadv(fd, [buffer], offset)
            latencies.append((time.perf_counter() - started) * 1000)
        return latencies
    finally:
        os.close(fd)
        os.unlink(path)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.get_parts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=100, help="objects of each size, and reads per part")
    parser.add_argument("--json", default="", help="also write the figures here")
    args = parser.parse_args()
    count = args.objects
    parts: dict[str, dict[str, float]] = {}

    def record(name: str, latencies: list[float], cpu_s: float | None) -> None:
        ordered = sorted(latencies)
        figure = {"p50_ms": ordered[len(ordered) // 2], "mean_ms": statistics.mean(ordered)}
        if cpu_s is not None:
            figure["cpu_ms_per_op"] = 1000 * cpu_s / len(latencies)
        parts[name] = figure
        cpu = f"{figure['cpu_ms_per_op']:6.2f} ms CPU per op" if cpu_s is not None else ""
        print(f"{name:60} p50 {figure['p50_ms']:6.2f} ms  mean {figure['mean_ms']:6.2f} ms  {cpu}", flush=True)

    with tempfile.TemporaryDirectory(prefix="ringstore-get-parts-") as tmp:
        record("disk: O_DIRECT 1 MiB read", _disk(tmp, count), None)
        with LocalCluster.up(pathlib.Path(tmp) / "cluster", nodes=6, profile="lan") as cluster:
            address = cluster.any_address()
            pids = [node.pid for node in cluster.nodes.values()]

            def cpu_s() -> float:
                return sum(put_get.process_cpu_s(pid) for pid in pids) + put_get.self_cpu_s()

            def measured(name: str, fn: Callable[[str], object], keys: list[str]) -> None:
                before = cpu_s()
                latencies = _timed(fn, keys)
                record(name, latencies, cpu_s() - before)

            with cluster.client(address, timeout_s=put_get.CLIENT_TIMEOUT_S) as client:
                client.create_bucket(BUCKET, replicas=3)
                large = [f"large/{i}" for i in range(count)]
                small = [f"small/{i}" for i in range(count)]
                for key in large:
                    client.put(BUCKET, key, put_get.seeded_bytes(put_get.object_seed(1, key), MIB))
                for key in small:
                    client.put(BUCKET, key, put_get.seeded_bytes(put_get.object_seed(1, key), 4096))
                plans: dict[str, list] = {}

                def open_object(key: str) -> None:
                    request = object_pb2.GetObjectRequest(bucket=BUCKET, key=key, info_may_carry_data=True,
                                                          direct_ok=True, direct_shares_ok=True)
                    plans[key] = list(client._open_rpc(request, timeout=put_get.CLIENT_TIMEOUT_S).info.direct)

                def read_chunk(key: str) -> None:
                    client._direct.read(plans[key][0])

                measured("4 KiB get (metadata path, data inline)", lambda key: client.get_bytes(BUCKET, key), small)
                measured("1 MiB: OpenObject alone (a plan)", open_object, large)
                if not all(len(plan) == 1 for plan in plans.values()):
                    raise SystemExit("expected a plan of one direct chunk per 1 MiB object")
                measured("1 MiB: one direct ReadChunk", read_chunk, large)
                measured("1 MiB: one direct ReadChunk, again", read_chunk, large)
                measured("1 MiB: whole get, direct", lambda key: client.get_bytes(BUCKET, key), large)
            with cluster.client(address, timeout_s=put_get.CLIENT_TIMEOUT_S, direct_reads=False) as streamed:
                measured("1 MiB: whole get, streamed (early read)", lambda key: streamed.get_bytes(BUCKET, key), large)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"objects": count, "parts": parts}, indent=2) + "\n")


if __name__ == "__main__":
    main()
