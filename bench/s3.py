"""The S3 port against the native gRPC client, in one run on one cluster.

    python -m bench.s3 [--nodes 4] [--big-mib 1024] [--small-count 200] [--rounds 2] [--insecure]
                       [--seed N] [--json PATH]

Each round, on the same TLS cluster and through the same node (its client port for the native
client, its S3 port for boto3): one `--big-mib` object put and got, then `--small-count` 1 MiB
objects put and got one after another, first natively (bench.put_get), then with boto3
(`put_object` of a streamed body, which botocore sends as aws-chunked with a CRC32 trailer over
HTTPS; `get_object` read in 1 MiB pieces, each object's MD5 checked against its ETag on a thread
beside the reads). MB/s, and the nodes' CPU seconds per MB (the client's is not counted: it is
boto3's or ours, another program), with the ratios issue 16 sets targets for: S3 throughput at
least 0.85 x native, node CPU per MB at most 1.2 x. Rounds alternate the order (native first, then
S3 first), and the table gives medians.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import pathlib
import statistics
import tempfile
import types

import boto3
from botocore.config import Config

from bench.put_get import (MIB, CpuMeter, RssHighWater, SeededStream, object_seed, process_cpu_s, put_get_many,
                           put_get_object, rates, seeded_bytes, timed)
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


def read_checked(s3, bucket: str, key: str) -> int:
    """Get an object in READ_BYTES pieces, checking its MD5 against its ETag on a thread of its own
    (hashlib lets go of the GIL), so the check does not hold up the reads; bytes read."""
    answer = s3.get_object(Bucket=bucket, Key=key)
    md5 = hashlib.md5(usedforsecurity=False)
    size = 0
    body = answer["Body"]
    with cf.ThreadPoolExecutor(1) as hasher:
        pending = None
        while piece := body.read(READ_BYTES):
            if pending is not None:
                pending.result()
            pending = hasher.submit(md5.update, piece)
            size += len(piece)
        if pending is not None:
            pending.result()
    assert answer["ETag"].strip('"') == md5.hexdigest(), f"{bucket}/{key}: MD5 {md5.hexdigest()}, ETag {answer['ETag']}"
    return size


def s3_big(s3, meter: CpuMeter, bucket: str, key: str, size_bytes: int, seed: bytes) -> dict:
    rss = RssHighWater(meter.pids)
    rss.reset()
    wall, cpu = timed(meter, lambda: s3.put_object(Bucket=bucket, Key=key, Body=SeededStream(seed, size_bytes),
                                                   ContentLength=size_bytes))
    result = {"size_bytes": size_bytes, **rates(size_bytes, wall, cpu, "put"), **rss.read("put")}
    rss.reset()
    read: list[int] = []
    wall, cpu = timed(meter, lambda: read.append(read_checked(s3, bucket, key)))
    assert read == [size_bytes]
    return {**result, **rates(size_bytes, wall, cpu, "get"), **rss.read("get")}


def s3_many(s3, meter: CpuMeter, bucket: str, prefix: str, count: int, size_bytes: int, seed: int) -> dict:
    keys = [f"{prefix}/{i}" for i in range(count)]
    wall, cpu = timed(meter, lambda: [s3.put_object(Bucket=bucket, Key=key,
                                                    Body=seeded_bytes(object_seed(seed, key), size_bytes))
                                      for key in keys])
    result = {"count": count, "size_bytes": size_bytes, **rates(count * size_bytes, wall, cpu, "put")}
    read: list[int] = []
    wall, cpu = timed(meter, lambda: read.extend(read_checked(s3, bucket, key) for key in keys))
    assert read == [size_bytes] * count
    return {**result, **rates(count * size_bytes, wall, cpu, "get")}


def one_round(cluster: LocalCluster, args: argparse.Namespace | types.SimpleNamespace, number: int) -> dict:
    node = next(iter(cluster.nodes.values()))
    meter = NodeCpuMeter([n.pid for n in cluster.nodes.values()])
    s3 = s3_client(cluster, node)
    bucket = f"s3-bench-{number}"
    policy = {"replicas": args.replicas}
    out: dict = {}
    with cluster.client(node.address, timeout_s=600.0) as client:
        client.create_bucket(bucket, replicas=args.replicas)

        def native() -> None:
            out["native_big"] = put_get_object(client, meter, bucket, f"native-big-{number}", args.big_mib * MIB,
                                               object_seed(args.seed + number, "big"), policy)
            out["native_mib"] = put_get_many(client, meter, bucket, f"native-mib-{number}", args.small_count, MIB,
                                             args.seed + number, policy)

        def over_s3() -> None:
            out["s3_big"] = s3_big(s3, meter, bucket, f"s3-big-{number}", args.big_mib * MIB,
                                   object_seed(args.seed + number, "big"))
            out["s3_mib"] = s3_many(s3, meter, bucket, f"s3-mib-{number}", args.small_count, MIB, args.seed + number)

        for part in ((native, over_s3) if number % 2 == 0 else (over_s3, native)):
            part()
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
