"""The benchmark suite in one command: every figure of docs/performance.md, one seed, one table.

    python -m bench [--quick] [--only throughput,small,s3,membership,lan,repair] [--seed N] [--json PATH]
                    [--with-swift [--swift-harness DIR]]

Runs, one after another (never two clusters at once: they would measure each other):

- ceilings (always, first): `dd conv=fsync` sequential write, blake3 and zfec 4+2 encode/decode on
  one and two threads, so every figure after them reads as a ratio of what the machine allows;
- throughput: on 6 nodes (ec=4+2 needs six), 200 x 1 MiB, 64 MiB and 1 GiB objects put and got
  under replicas=3 and ec=4+2, MB/s and CPU seconds per MB over client and nodes (bench.put_get);
- small: 4 KiB put/get ops per second, p50/p99 and CPU per op at concurrency 1 and 16, both policies
  (throughput and small run the lan profile's timers, as a deployment does: DATA_PATH_PROFILE);
- s3: the largest object and the 1 MiB objects through the S3 port with boto3 against the native
  client, on one 4-node cluster, as ratios with issue 16's targets (bench.s3);
- membership: idle gossip bytes/s and CPU per node, then kill -9 detection times (first and all
  observers) and false DOWN verdicts, on N = 10 and N = 30 nodes, local profile (bench.membership);
- lan: the same on the lan profile (1 s heartbeats, DESIGN's timers), fewer kills;
- repair: repair MB/s after losing a node (bench.repair's repair part).

`--with-swift` (root; issue 15) first runs OpenStack Swift through the harness in
../shared/peers/swift/ with the same sizes (bench.swift), stops it, and only then runs the parts,
then prints Swift's and our figures side by side with the ratio and the issue's targets. The
throughput part also reports each large put's and get's RSS high-water marks (nodes and client).

`--quick` shrinks every part (1 MiB x 20, 16 and 64 MiB objects, 100 small ops, N = 10 only, no lan,
300 MiB for repair) to finish in a few minutes. Each part starts its own cluster and stops every
process it started before the next begins (in `finally`); a part that fails is recorded with its
error and the others still run, and the exit status is then 1.

Every row of the table names what it is read against: a ceiling measured in this run, or a target
from DESIGN (Swift's figures on this machine, the gossip and detection targets). The JSON under
bench/results/ holds the rows, every part's raw figures, the command, the seed, the commit and the
load average around each part, since other work on the machine moves these figures.

Rejected: running the existing per-module commands from a shell script. Each would start its own
clusters and measure its own ceilings, and the figures would come from different moments of a
shared machine with nothing tying them together.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import random
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable

from bench import membership as membership_bench
from bench import put_get
from bench import s3 as s3_bench
from bench import swift as swift_bench
from bench.erasure import cpu_ceilings
from bench.repair import bench_repair
from bench.report import Row, format_table, write_results
from cluster_sim.cluster import LocalCluster
from ringstore.memory import bound_malloc_arenas

MIB = 1024 * 1024
PARTS = ("throughput", "small", "s3", "membership", "lan", "repair")
POLICIES = (("replicas=3", {"replicas": 3}), ("ec=4+2", {"ec": "4+2"}))
# The data-path parts run the nodes' deployed timers: the local profile's 4 Hz heartbeats, 10 Hz gossip
# and 2 s repair scans are for tests and cost an idle 6-node cluster 14 % of both cores (lan: 7 %),
# which a put or get then pays for (1 GiB put: 18.6 against 17.0 ms of CPU per MB). Swift's half runs
# its background daemons at their default intervals too.
DATA_PATH_PROFILE = "lan"
OBJECT_NODES = 6  # ec=4+2 puts one share on each of six distinct nodes
REPAIR_NODES = 6
S3_NODES = 4
UP_TIMEOUT_S = 120.0
# A cluster timeout carries every node's view and log tail (tens of KB at N = 30); the JSON keeps
# the head, the terminal shows all of it.
ERROR_TEXT_MAX = 4000
# DESIGN's figures for this machine and its targets.
DESIGN_DD_MB_S = 800.0
DESIGN_BLAKE3_MB_S_PER_CORE = 3000.0
DESIGN_ZFEC_ENCODE_MB_S_PER_CORE = 300.0
SWIFT_PUT_CPU_S_PER_MB = 0.012
SWIFT_SMALL_PUTS_PER_S = 64.0
SWIFT_SMALL_PUT_CPU_MS = 23.0
GOSSIP_BYTES_PER_S_PER_NODE_MAX = 2000.0
DETECTION_ALL_DOWN_INTERVALS = 4.5  # 4.5 s median at N = 30 with 1 s heartbeats
NODE_RSS_MIB_MAX = swift_bench.NODE_RSS_TARGET.value  # issue 15: while serving a 1 GiB put or get
CLIENT_RSS_MIB_MAX = swift_bench.CLIENT_RSS_TARGET.value


@dataclasses.dataclass(frozen=True)
class Plan:
    """How big each part is; `full()` is what docs/performance.md reports."""

    dd_mib: int
    many_count: int
    object_mibs: tuple[int, ...]
    small_ops: int
    membership_nodes: tuple[int, ...]
    membership_kills: int
    idle_window_s: float
    saturate_s: float
    lan_nodes: tuple[int, ...]
    lan_kills: int
    repair_size_mib: int

    @classmethod
    def full(cls) -> "Plan":
        return cls(dd_mib=1024, many_count=200, object_mibs=(64, 1024), small_ops=400, membership_nodes=(10, 30),
                   membership_kills=5, idle_window_s=20.0, saturate_s=30.0, lan_nodes=(10, 30), lan_kills=3, repair_size_mib=3000)

    @classmethod
    def quick(cls) -> "Plan":
        return cls(dd_mib=256, many_count=20, object_mibs=(16, 64), small_ops=100, membership_nodes=(10,),
                   membership_kills=3, idle_window_s=10.0, saturate_s=10.0, lan_nodes=(), lan_kills=0, repair_size_mib=300)

    @property
    def is_quick(self) -> bool:
        """Whether this is `--quick`'s plan (`quick` itself is the constructor, and always true)."""
        return self == Plan.quick()


@dataclasses.dataclass
class Context:
    plan: Plan
    seed: int
    root: pathlib.Path
    ceilings: dict


def size_label(mib: int) -> str:
    return f"{mib // 1024} GiB" if mib >= 1024 and mib % 1024 == 0 else f"{mib} MiB"


def part_seed(seed: int, part: str) -> int:
    """A part's own seed from the run's: the same whichever parts `--only` picks."""
    return random.Random(f"{seed}:{part}").getrandbits(63)


def threads_text(threads: int) -> str:
    return f"{threads} thread{'s' if threads > 1 else ''}"


def ceilings_part(ctx: Context) -> tuple[dict, list[Row]]:
    found = {"dd_conv_fsync_mb_s": put_get.disk_ceiling_mb_s(str(ctx.root), ctx.plan.dd_mib),
             "dd_mib": ctx.plan.dd_mib, **cpu_ceilings()}
    rows = [Row(f"dd conv=fsync, {ctx.plan.dd_mib} MiB", found["dd_conv_fsync_mb_s"], "MB/s",
                f"DESIGN ~{DESIGN_DD_MB_S:.0f}", DESIGN_DD_MB_S)]
    for threads in (1, 2):
        reference = DESIGN_BLAKE3_MB_S_PER_CORE * threads
        rows.append(Row(f"blake3, {threads_text(threads)}", found[f"blake3_{threads}t_mb_s"], "MB/s",
                        f"DESIGN ~{reference:.0f}", reference))
    for op in ("encode", "decode"):
        for threads in (1, 2):
            reference = DESIGN_ZFEC_ENCODE_MB_S_PER_CORE * threads
            rows.append(Row(f"zfec 4+2 {op}, {threads_text(threads)}", found[f"zfec_4_2_{op}_{threads}t_mb_s"],
                            "MB/s", f"DESIGN encode ~{reference:.0f}", reference))
    return found, rows


def throughput_part(ctx: Context) -> tuple[dict, list[Row]]:
    plan, seed = ctx.plan, part_seed(ctx.seed, "throughput")
    dd = ctx.ceilings["dd_conv_fsync_mb_s"]
    results: dict = {"nodes": OBJECT_NODES, "profile": DATA_PATH_PROFILE}
    with LocalCluster.up(ctx.root / "throughput", nodes=OBJECT_NODES, timeout_s=UP_TIMEOUT_S,
                         profile=DATA_PATH_PROFILE) as cluster:
        meter = put_get.cluster_meter(cluster)
        with cluster.client(cluster.any_address(), timeout_s=put_get.CLIENT_TIMEOUT_S) as client:
            client.create_bucket("bench")
            for label, policy in POLICIES:
                runs = {"many": put_get.put_get_many(client, meter, "bench", f"many-{label}", plan.many_count, MIB,
                                                     seed, policy)}
                for mib in plan.object_mibs:
                    key = f"big-{label}-{mib}"
                    runs[f"{mib}mib"] = put_get.put_get_object(client, meter, "bench", key, mib * MIB,
                                                               put_get.object_seed(seed, key), policy)
                results[label] = runs
    rows = []
    for label, _ in POLICIES:
        named = [("many", f"{plan.many_count} x 1 MiB")] + [(f"{m}mib", size_label(m)) for m in plan.object_mibs]
        for name, what in named:
            run = results[label][name]
            for op in ("put", "get"):
                rows.append(Row(f"{op} {what}, {label}", run[f"{op}_mb_s"], "MB/s", f"dd {dd:.0f} MB/s", dd))
                swift = op == "put"
                rows.append(Row("  CPU per MB", run[f"{op}_cpu_s_per_mb"], "s/MB",
                                f"Swift {SWIFT_PUT_CPU_S_PER_MB}" if swift else "",
                                SWIFT_PUT_CPU_S_PER_MB if swift else None))
                if f"{op}_node_rss_hwm_mib" in run:
                    rows.append(Row("  node RSS high-water, max over nodes", run[f"{op}_node_rss_hwm_mib"], "MiB",
                                    f"target < {NODE_RSS_MIB_MAX:.0f}", NODE_RSS_MIB_MAX))
                    rows.append(Row("  client RSS high-water", run[f"{op}_client_rss_hwm_mib"], "MiB",
                                    f"target < {CLIENT_RSS_MIB_MAX:.0f}", CLIENT_RSS_MIB_MAX))
    return results, rows


def small_part(ctx: Context) -> tuple[dict, list[Row]]:
    results: dict = {"nodes": OBJECT_NODES, "profile": DATA_PATH_PROFILE,
                     "object_bytes": put_get.SMALL_OBJECT_BYTES}
    with LocalCluster.up(ctx.root / "small", nodes=OBJECT_NODES, timeout_s=UP_TIMEOUT_S,
                         profile=DATA_PATH_PROFILE) as cluster:
        meter = put_get.cluster_meter(cluster)
        address = cluster.any_address()
        with cluster.client(address) as client:
            client.create_bucket("small")
        for label, policy in POLICIES:
            results[label] = put_get.small_ops(cluster, address, meter, "small", label, policy, ctx.plan.small_ops)
    rows = []
    for label, _ in POLICIES:
        for concurrency in (1, 16):
            for op in ("put", "get"):
                run = results[label][f"{op}_c{concurrency}"]
                swift = op == "put"
                stored = inline_text(run) if op == "put" else ""
                rows.append(Row(f"4 KiB {op} c={concurrency}, {label}{stored}", run["ops_per_s"], "ops/s",
                                f"Swift {SWIFT_SMALL_PUTS_PER_S:.0f}" if swift else "",
                                SWIFT_SMALL_PUTS_PER_S if swift else None))
                rows.append(Row("  p50", run["p50_ms"], "ms"))
                rows.append(Row("  p99", run["p99_ms"], "ms"))
                rows.append(Row("  CPU per op", run["cpu_ms_per_op"], "ms",
                                f"Swift {SWIFT_SMALL_PUT_CPU_MS:.0f}" if swift else "",
                                SWIFT_SMALL_PUT_CPU_MS if swift else None))
    return results, rows


def inline_text(run: dict) -> str:
    """How the node stored a put run's objects: ", inline" (in the manifest), ", not inline", or
    "" when the run mixed both."""
    return {(True,): ", inline", (False,): ", not inline"}.get(tuple(run["inline"]), "")


def membership_rows(cluster: dict) -> list[Row]:
    n, profile = cluster["nodes"], cluster["profile"]
    idle, d = cluster["idle"], cluster["detection"]
    interval_s = d["heartbeat_interval_s"]
    tag = f"N={n} {profile}"
    rows = [
        Row(f"idle gossip sent per node, {tag}", idle["sent_bytes_per_s_per_node"], "B/s",
            f"target < {GOSSIP_BYTES_PER_S_PER_NODE_MAX:.0f}", GOSSIP_BYTES_PER_S_PER_NODE_MAX),
        Row("  busiest node", idle["sent_bytes_per_s_max_node"], "B/s",
            f"target < {GOSSIP_BYTES_PER_S_PER_NODE_MAX:.0f}", GOSSIP_BYTES_PER_S_PER_NODE_MAX),
        *([Row("  on the loopback wire (own netns)", idle["wire_bytes_per_s_per_node"], "B/s",
               f"target < {GOSSIP_BYTES_PER_S_PER_NODE_MAX:.0f}", GOSSIP_BYTES_PER_S_PER_NODE_MAX)]
          if idle["wire_bytes_per_s_per_node"] is not None else []),
        Row("  idle CPU per node", idle["cpu_cores_per_node"], "cores"),
        Row(f"kill -9 -> first DOWN, median, {tag}", d["first_median_s"], "s"),
        Row(f"kill -9 -> all DOWN, median, {tag}", d["all_median_s"], "s"),
        Row(f"  in heartbeats of {interval_s} s", d["all_median_intervals"], "intervals",
            f"DESIGN {DETECTION_ALL_DOWN_INTERVALS}", DETECTION_ALL_DOWN_INTERVALS),
        Row("  max", d["all_max_s"], "s"),
        Row(f"  false DOWNs ({d['kills']} kills + idle)",
            d["false_downs"] + (idle["false_downs"] or 0), "verdicts", "target 0"),
    ]
    sat = cluster.get("saturated")
    if sat is not None:
        rows += [
            Row(f"  false DOWNs, cores saturated {sat['window_s']:.0f} s (load {sat['load_1m_at_end']:.0f})",
                sat["false_downs"] if sat["false_downs"] is not None else float("nan"), "verdicts", "DESIGN 0"),
            Row("    local health at its end, highest node", sat["local_health_max"] if sat["local_health_max"] is not None
                else float("nan"), "score", "0 healthy, 7 max"),
        ]
    return rows


def membership_part(ctx: Context, profile: str, nodes: int, kills: int) -> tuple[dict, list[Row]]:
    found = membership_bench.bench_membership(ctx.root, nodes, profile=profile, kills=kills,
                                              idle_window_s=ctx.plan.idle_window_s,
                                              saturate_s=ctx.plan.saturate_s,
                                              seed=part_seed(ctx.seed, f"{profile}-{nodes}"))
    return found, membership_rows(found)


def s3_part(ctx: Context) -> tuple[dict, list[Row]]:
    """The S3 port (boto3) against the native client on one cluster, alternating (bench.s3)."""
    big_mib = max(ctx.plan.object_mibs)
    rounds, summary = s3_bench.run_on(ctx.root / "s3", nodes=S3_NODES, replicas=3, big_mib=big_mib,
                                      small_count=ctx.plan.many_count, rounds=1 if ctx.plan.is_quick else 2,
                                      seed=part_seed(ctx.seed, "s3"))
    rows = [Row(f"S3/native {row['row']}", row["ratio"], "x",
                f"target {'>=' if 'MB/s' in row['row'] else '<='} {row['target']}", row["target"])
            for row in summary]
    return {"rounds": rounds, "summary": summary, "nodes": S3_NODES}, rows


def repair_part(ctx: Context) -> tuple[dict, list[Row]]:
    dd = ctx.ceilings["dd_conv_fsync_mb_s"]
    r = bench_repair(ctx.root, REPAIR_NODES, ctx.plan.repair_size_mib, dd)
    return r, [
        Row(f"repair after losing {r['lost_bytes'] / MIB:.0f} MiB ({REPAIR_NODES} nodes)", r["repair_mb_s"], "MB/s",
            f"dd {dd:.0f} MB/s", dd),
        Row("  survivors' CPU per MB", r["node_cpu_s_per_mb"] or 0.0, "s/MB"),
        Row("  kill -9 -> all see OUT", r["kill_to_all_out_s"], "s"),
        Row("  OUT -> every chunk full", r["repair_s"], "s"),
    ]


def swift_half(plan: Plan, chosen: list[str], harness: pathlib.Path, root: str) -> dict:
    """Swift through the harness (setup, bench with our plan's sizes, teardown), its measurements and
    ceilings parsed; a failure is in "error" with whatever the harness gave before it."""
    args = swift_bench.bench_args(plan.many_count, plan.object_mibs, plan.small_ops,
                                  throughput="throughput" in chosen, small="small" in chosen)
    load_before, t0 = os.getloadavg()[0], time.monotonic()
    try:
        raw = swift_bench.run_harness(harness, root, args)
    except swift_bench.SwiftError as err:
        raw = {**err.detail, "error": str(err)}
    except Exception as err:  # noqa: BLE001 - our own parts still run, and the error is recorded
        traceback.print_exc()
        raw = {"harness": str(harness), "root": root, "bench_args": args, "error": f"{type(err).__name__}: {err}"}
    found = {key: value for key, value in raw.items() if key not in ("bench-results.json", "ceiling.txt")}
    found.update(seconds=time.monotonic() - t0, load_average_before=load_before,
                 load_average_after=os.getloadavg()[0], runs=[], ceiling={})
    try:
        if raw.get("bench-results.json"):
            found["runs"] = swift_bench.parse_bench_json(raw["bench-results.json"])
        found["ceiling_text"] = raw.get("ceiling.txt") or ""
        found["ceiling"] = swift_bench.parse_ceiling(found["ceiling_text"])
    except (ValueError, KeyError, TypeError) as err:
        found["error"] = found.get("error") or f"cannot read the harness's results: {type(err).__name__}: {err}"
    return found


def swift_comparison(results: dict, ctx: Context) -> list[swift_bench.Comparison]:
    """Print and store the comparison of the Swift half with ours: rows, dd ceilings, foreign CPU."""
    swift = results["swift"]
    figures = swift_bench.swift_figures(swift["runs"])
    rows = swift_bench.compare(figures, swift_bench.ringstore_figures(results["parts"]), results["parts"])
    ours_dd = ctx.ceilings.get("dd_conv_fsync_mb_s")
    swift["figures"] = [{"policy": k[0], "size": k[1], "op": k[2], "conc": k[3], **f} for k, f in figures.items()]
    results["comparison"] = [row.to_dict() for row in rows]
    results["dd_ceilings"] = {"swift_before_mb_s": swift["ceiling"].get("before", {}).get("dd_conv_fsync_mb_s"),
                              "swift_after_mb_s": swift["ceiling"].get("after", {}).get("dd_conv_fsync_mb_s"),
                              "ringstore_mb_s": ours_dd, "ringstore_dd_mib": ctx.ceilings.get("dd_mib")}
    print()
    print(f"Swift and Ringstore, back to back ({'quick: small samples, noisy' if ctx.plan.is_quick else 'full'}); "
          "ratio = Ringstore / Swift (CPU rows: lower is better)")
    print(swift_bench.format_comparison(rows))
    neither = sum(row.swift is None and row.ringstore is None for row in rows)
    if neither:
        print(f"{neither} of the issue's rows measured by neither half"
              f"{' (--quick puts no 1 GiB object)' if ctx.plan.is_quick else ''}")
    print(swift_bench.ceilings_text(swift["ceiling"], ours_dd, ctx.ceilings.get("dd_mib")))
    for line in (swift_bench.foreign_cpu_text(figures),
                 f"Swift's bench.py counted {sum(f['errors'] for f in figures.values())} failed requests"
                 if any(f["errors"] for f in figures.values()) else ""):
        if line:
            print(line)
    return rows


def commit_text() -> str:
    """`git describe --always --dirty` of the tree, or "" outside a checkout."""
    done = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                          cwd=pathlib.Path(__file__).parent, check=False)
    return done.stdout.strip()


def main() -> int:
    bound_malloc_arenas()  # as nodectl does: the client's threads share two arenas (ringstore/memory.py)
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, N=10 only, no lan: a few minutes")
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated parts among {','.join(PARTS)} (ceilings always run)")
    parser.add_argument("--seed", type=int, default=int(time.time()), help="seed of contents and victims")
    parser.add_argument("--json", default="", help="where to write results (default bench/results/suite-*.json)")
    parser.add_argument("--with-swift", action="store_true",
                        help="first run OpenStack Swift through its harness (root), then ours, and compare")
    parser.add_argument("--swift-harness", type=pathlib.Path, default=None,
                        help="the harness's folder (default ../shared/peers/swift beside the checkout)")
    args = parser.parse_args()
    chosen = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = sorted(set(chosen) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose among {', '.join(PARTS)}")
    plan = Plan.quick() if args.quick else Plan.full()
    swift_root = os.environ.get("SWIFT_PEER_ROOT", swift_bench.DEFAULT_ROOT)
    if args.with_swift:
        harness = args.swift_harness or swift_bench.default_harness()
        if not {"throughput", "small"} & set(chosen):
            parser.error("--with-swift compares the throughput and small parts; --only must name one of them")
        refused = swift_bench.preflight(harness, swift_root)
        if refused:
            parser.error(refused)

    results: dict = {"command": " ".join(["python -m bench", *sys.argv[1:]]), "seed": args.seed,
                     "quick": args.quick, "plan": dataclasses.asdict(plan), "commit": commit_text(),
                     "started_unix_s": time.time(), "cores": os.cpu_count(), "parts": {}, "errors": {}}
    rows: list[Row] = []
    print(f"python -m bench: seed {args.seed}, {'quick' if args.quick else 'full'}, parts: "
          f"{'swift, ' if args.with_swift else ''}ceilings, {', '.join(chosen)}; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    if args.with_swift:
        # Swift first and stopped before anything of ours starts: the two halves never overlap.
        print(f"== swift (harness {harness}, root {swift_root}) ...", flush=True)
        results["swift"] = swift_half(plan, chosen, harness, swift_root)
        if results["swift"].get("error"):
            results["errors"]["swift"] = results["swift"]["error"]
            print(f"== swift FAILED after {results['swift']['seconds']:.0f} s: {results['swift']['error']}", flush=True)
        else:
            print(f"== swift: {len(results['swift']['runs'])} measurements in {results['swift']['seconds']:.0f} s",
                  flush=True)
    with tempfile.TemporaryDirectory(prefix="ringstore-bench-") as tmp:
        ctx = Context(plan=plan, seed=args.seed, root=pathlib.Path(tmp), ceilings={})
        # (part, what the run calls it, the measurement); a cluster size of its own so that a
        # failure at N = 30 keeps the N = 10 figures.
        units: list[tuple[str, str, Callable[[], tuple[dict, list[Row]]]]] = [
            ("ceilings", "ceilings", lambda: ceilings_part(ctx)),
            ("throughput", "throughput", lambda: throughput_part(ctx)),
            ("small", "small", lambda: small_part(ctx)),
            ("s3", "s3", lambda: s3_part(ctx)),
            *[("membership", f"membership N={n}",
               lambda n=n: membership_part(ctx, "local", n, plan.membership_kills)) for n in plan.membership_nodes],
            *[("lan", f"lan N={n}", lambda n=n: membership_part(ctx, "lan", n, plan.lan_kills))
              for n in plan.lan_nodes],
            ("repair", "repair", lambda: repair_part(ctx)),
        ]
        for part, name, run in units:
            if part != "ceilings" and part not in chosen:
                continue
            load_before, t0 = os.getloadavg()[0], time.monotonic()
            print(f"== {name} ...", flush=True)
            try:
                found, part_rows = run()
            except Exception as err:  # noqa: BLE001 - one failed part must not hide the others' figures
                results["errors"][name] = f"{type(err).__name__}: {err}"[:ERROR_TEXT_MAX]
                traceback.print_exc()
                first_line = results["errors"][name].splitlines()[0]
                print(f"== {name} FAILED after {time.monotonic() - t0:.0f} s: {first_line}", flush=True)
                continue
            if name == "ceilings":
                ctx.ceilings = found
            results["parts"][name] = {**found, "seconds": time.monotonic() - t0, "load_average_before": load_before,
                                      "load_average_after": os.getloadavg()[0]}
            rows.extend(part_rows)
            print(format_table(part_rows), flush=True)
    results["rows"] = [row.to_dict() for row in rows]
    print()
    print(format_table(rows))
    if args.with_swift and results["swift"]["runs"]:
        swift_comparison(results, ctx)
    print(f"seed {args.seed}")
    write_results(results, "suite", args.json)
    ours_failed = [name for name in results["errors"] if name != "swift"]
    if ours_failed:
        print(f"FAILED parts: {', '.join(ours_failed)}")
    if "swift" in results["errors"]:
        print(f"--with-swift FAILED: {results['errors']['swift']}")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
