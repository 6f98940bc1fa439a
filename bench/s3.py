"""The S3 port against the native gRPC client, in one run on one cluster.

    python -m bench.s3 [--nodes 4] [--big-mib 1024] [--small-count 200] [--rounds 2] [--insecure]
                       [--seed N] [--json PATH]

Each round, on the same TLS cluster and through the same node (its client port for the native
client, its S3 port for boto3): one `--big-mib` object put, then got; then `--small-count` 1 MiB
objects put one after another, then got. Each of those four runs natively (bench.put_get's
calls) and with boto3 (`put_object` of a streamed body, which botocore sends as aws-chunked with a
CRC32 trailer over HTTPS; `get_object` read in 1 MiB pieces, the bytes' blake3 checked as the
native reader checks it and the ETag against the MD5 of what was put) back to back, the first of
each pair alternating with the round: the host drifts by more than the difference measured over
minutes, far less over seconds. MB/s, and the nodes' CPU seconds per MB (the client's is not counted: it is boto3's or ours,
another program), with the ratios issue 16 sets targets for: S3 throughput at least 0.85 x native,
node CPU per MB at most 1.2 x. The table gives medians over rounds.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import pathlib
import statistics
import tempfile
import types
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

import blake3
import boto3
from botocore.config import Config

from bench.put_get import (MIB, CpuMeter, RssHighWater, SeededStream, object_seed, process_cpu_s, rates,
                           read_through, seeded_bytes, timed)
from bench.report import write_results
from cluster_sim.cluster import LocalCluster
from ringstore.memory import bound_malloc_arenas

REGION = "ringstore"
READ_BYTES = MIB
# The lan profile's timers, as a deployment runs (idle gossip at the local profile's rate would
# blur the CPU figures).
PROFILE = "lan"
TARGET_THROUGHPUT_RATIO = 0.85
TARGET_CPU_RATIO = 1.2


def s3_client(cluster: LocalCluster, node):
    credentials = cluster.credentials
    key_id, secret = (credentials.key_id, credentials.secret) if credentials else ("RK" + "A" * 18, "insecure")
    return boto3.client("s3", endpoint_url=node.s3_address, aws_access_key_id=key_id, aws_secret_access_key=secret,
                        region_name=REGION, verify=cluster.ca_file or False,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                      read_timeout=600, max_pool_connections=4))


class NodeCpuMeter(CpuMeter):
    """CPU seconds of the cluster's processes only: issue 16's target is the nodes' CPU per MB (the
    client's is another program's, boto3's or ours)."""

    def sample(self) -> float:
        return sum(process_cpu_s(pid) for pid in self.pids)


class Expected(NamedTuple):
    """What an object's bytes hash to, worked out before the clock starts."""
    blake3_hex: str
    md5_hex: str


def expected_of(pieces: Iterable[bytes]) -> Expected:
    md5, hasher = hashlib.md5(usedforsecurity=False), blake3.blake3()
    for piece in pieces:
        md5.update(piece)
        hasher.update(piece)
    return Expected(hasher.hexdigest(), md5.hexdigest())


def read_checked(s3, bucket: str, key: str, expected: Expected | None = None) -> int:
    """Get an object in READ_BYTES pieces; bytes read. With `expected`, the bytes' blake3 is checked
    against it, as the native reader checks the manifest's, and the ETag against its MD5; without,
    the bytes' MD5 against the ETag, on a thread beside the reads (hashlib lets go of the GIL). The
    bench passes `expected`: an MD5 of every byte read costs the client 2 ms of CPU per MB on the
    same two cores as the nodes, ten times the native reader's blake3, and slowed the S3 get for a
    check no S3 client makes."""
    answer = s3.get_object(Bucket=bucket, Key=key)
    etag = answer["ETag"].strip('"')
    size = 0
    body = answer["Body"]
    if expected is not None:
        hasher = blake3.blake3()
        while piece := body.read(READ_BYTES):
            hasher.update(piece)
            size += len(piece)
        assert hasher.hexdigest() == expected.blake3_hex, f"{bucket}/{key}: blake3 {hasher.hexdigest()}, put {expected}"
        assert etag == expected.md5_hex, f"{bucket}/{key}: ETag {etag}, MD5 of the bytes put {expected.md5_hex}"
        return size
    md5 = hashlib.md5(usedforsecurity=False)
    with cf.ThreadPoolExecutor(1) as hasher:
        pending = None
        while piece := body.read(READ_BYTES):
            if pending is not None:
                pending.result()
            pending = hasher.submit(md5.update, piece)
            size += len(piece)
        if pending is not None:
            pending.result()
    assert etag == md5.hexdigest(), f"{bucket}/{key}: MD5 {md5.hexdigest()}, ETag {answer['ETag']}"
    return size


def measured(meter: CpuMeter, size_bytes: int, prefix: str, fn: Callable[[], object], rss: bool = False) -> dict:
    """`fn()` timed: MB/s and node CPU s/MB over `size_bytes`, and with `rss` the nodes' RSS peak."""
    high = RssHighWater(meter.pids)
    high.reset()
    wall, cpu = timed(meter, fn)
    return {**rates(size_bytes, wall, cpu, prefix), **(high.read(prefix) if rss else {})}


def one_round(cluster: LocalCluster, args: argparse.Namespace | types.SimpleNamespace, number: int) -> dict:
    """Each row's native and S3 runs back to back (the host drifts between minutes far more than
    between seconds), the first of the pair alternating with the round."""
    node = next(iter(cluster.nodes.values()))
    meter = NodeCpuMeter([n.pid for n in cluster.nodes.values()])
    s3 = s3_client(cluster, node)
    bucket = f"s3-bench-{number}"
    policy = {"replicas": args.replicas}
    big_bytes = args.big_mib * MIB
    big_seed = object_seed(args.seed + number, "big")
    mib_keys = {way: [f"{way}-mib-{number}/{i}" for i in range(args.small_count)] for way in ("native", "s3")}
    mib_bytes = args.small_count * MIB

    def mib_body(key: str) -> bytes:
        return seeded_bytes(object_seed(args.seed + number, key.split("-", 1)[1]), MIB)

    def stream_pieces(stream: SeededStream) -> Iterator[bytes]:
        while piece := stream.read(READ_BYTES):
            yield piece

    big_expected = expected_of(stream_pieces(SeededStream(big_seed, big_bytes)))
    mib_expected = {key: expected_of([mib_body(key)]) for key in mib_keys["s3"]}

    out: dict = {"native_big": {"size_bytes": big_bytes}, "s3_big": {"size_bytes": big_bytes},
                 "native_mib": {"count": args.small_count, "size_bytes": MIB},
                 "s3_mib": {"count": args.small_count, "size_bytes": MIB}}
    with cluster.client(node.address, timeout_s=600.0) as client:
        client.create_bucket(bucket, replicas=args.replicas)
        native_info: list = []

        def native_big_get() -> None:
            read_bytes, blake3_hex = read_through(client, bucket, "native-big")
            assert read_bytes == big_bytes and blake3_hex == native_info[0].blake3_hex

        rows = {
            ("big", "put"): (big_bytes, True,
                             lambda: native_info.append(client.put(bucket, "native-big", SeededStream(big_seed, big_bytes),
                                                                   **policy)),
                             lambda: s3.put_object(Bucket=bucket, Key="s3-big", Body=SeededStream(big_seed, big_bytes),
                                                   ContentLength=big_bytes)),
            ("big", "get"): (big_bytes, True, native_big_get,
                             lambda: read_checked(s3, bucket, "s3-big", big_expected)),
            ("mib", "put"): (mib_bytes, False,
                             lambda: [client.put(bucket, key, mib_body(key), **policy) for key in mib_keys["native"]],
                             lambda: [s3.put_object(Bucket=bucket, Key=key, Body=mib_body(key))
                                      for key in mib_keys["s3"]]),
            ("mib", "get"): (mib_bytes, False,
                             lambda: [client.get_bytes(bucket, key) for key in mib_keys["native"]],
                             lambda: [read_checked(s3, bucket, key, mib_expected[key]) for key in mib_keys["s3"]]),
        }
        for (size, op), (total, rss, native, over_s3) in rows.items():
            pair = (("native", native), ("s3", over_s3))
            for way, fn in (pair if number % 2 == 0 else pair[::-1]):
                out[f"{way}_{size}"].update(measured(meter, total, op, fn, rss))
    return out


ROWS = [("big", "put", "mb_s"), ("big", "get", "mb_s"), ("mib", "put", "mb_s"), ("mib", "get", "mb_s"),
        ("big", "put", "cpu_s_per_mb"), ("big", "get", "cpu_s_per_mb"), ("mib", "put", "cpu_s_per_mb"),
        ("mib", "get", "cpu_s_per_mb")]


def summary(rounds: list[dict]) -> list[dict]:
    rows = []
    for size, op, figure in ROWS:
        native = statistics.median(r[f"native_{size}"][f"{op}_{figure}"] for r in rounds)
        s3 = statistics.median(r[f"s3_{size}"][f"{op}_{figure}"] for r in rounds)
        throughput = figure == "mb_s"
        scale = 1 if throughput else 1000  # CPU in ms per MB
        ratio = s3 / native
        target = TARGET_THROUGHPUT_RATIO if throughput else TARGET_CPU_RATIO
        rows.append({"row": f"{size} {op} {'MB/s' if throughput else 'node CPU ms/MB'}", "native": native * scale,
                     "s3": s3 * scale, "ratio": ratio, "target": target,
                     "met": ratio >= target if throughput else ratio <= target})
    return rows


def run_on(root: pathlib.Path, *, nodes: int, replicas: int, big_mib: int, small_count: int, rounds: int, seed: int,
           insecure: bool = False) -> tuple[list[dict], list[dict]]:
    """Every round on one new cluster under `root`: (rounds' figures, the summary rows)."""
    args = types.SimpleNamespace(replicas=replicas, big_mib=big_mib, small_count=small_count, seed=seed)
    with LocalCluster.up(root, nodes=nodes, replicas=replicas, insecure=insecure, profile=PROFILE) as cluster:
        rounds_out = [one_round(cluster, args, number) for number in range(rounds)]
    return rounds_out, summary(rounds_out)


def main() -> None:
    bound_malloc_arenas()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--big-mib", type=int, default=1024)
    parser.add_argument("--small-count", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--insecure", action="store_true", help="plaintext ports (HTTP on the S3 port)")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ringstore-bench-s3-") as tmp:
        rounds, rows = run_on(pathlib.Path(tmp, "cluster"), nodes=args.nodes, replicas=args.replicas,
                              big_mib=args.big_mib, small_count=args.small_count, rounds=args.rounds, seed=args.seed,
                              insecure=args.insecure)
    print(f"S3 port against the native client: {args.nodes} nodes, replicas={args.replicas}, "
          f"{'plaintext' if args.insecure else 'TLS'}, {args.big_mib} MiB and {args.small_count} x 1 MiB, "
          f"medians of {args.rounds} rounds")
    print(f"{'row':<24} {'native':>10} {'s3':>10} {'ratio':>7} {'target':>8}")
    for row in rows:
        sign = ">=" if "MB/s" in row["row"] else "<="
        print(f"{row['row']:<24} {row['native']:>10.1f} {row['s3']:>10.1f} {row['ratio']:>7.2f} "
              f"{sign}{row['target']:<6} {'met' if row['met'] else 'MISSED'}")
    for number, r in enumerate(rounds):
        print(f"round {number}: RSS high-water, node max: native put {r['native_big']['put_node_rss_hwm_mib']:.0f} "
              f"get {r['native_big']['get_node_rss_hwm_mib']:.0f}, S3 put {r['s3_big']['put_node_rss_hwm_mib']:.0f} "
              f"get {r['s3_big']['get_node_rss_hwm_mib']:.0f} MiB")
    write_results({"command": "python -m bench.s3", "args": vars(args), "rows": rows, "rounds": rounds}, "s3",
                  args.json)


if __name__ == "__main__":
    main()
