"""Command line: run scenarios over cluster sizes, loss ratios and seeds; print a table and JSON.

    python -m tests.sim --nodes 10,100,1000 --seeds 5 [--seed N] [--loss 0,0.01]
                        [--scenario standard] [--layouts 200] [--health-max N]
                        [--old-ratio R] [--json PATH]

Run from the repository root (`tests` is a namespace package there). Each (nodes, loss, seed) is one
run of the scenario (scenarios.py) on a fresh simulation; `--seeds K` runs seeds 1..K, `--seed N`
only N, which is what a failure's `reproduce with --seed N ...` line gives back. The table shows
the median over seeds and, in brackets, the worst; times are in heartbeat intervals, traffic is per
node per heartbeat interval while idle except "B/s", the serialized payload of every membership
message (requests and replies) per node per second while idle, "ring moved" is the key space a leave or join moved times N
(1.0 is ideal, the bound is 1.3) and "copies moved" the same for the synthetic layouts' copies on
the join. A violated invariant prints its message (with the reproduce line), the other runs go on,
and the exit code is 1.

Logging from node/gossip is silenced below ERROR unless --verbose: a run at N = 1000 logs every
verdict and refutation, which is the trace's job here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable, Sequence

from .engine import SimConfig, sim_gossip_config
from .invariants import SimViolation
from .network import NetworkConfig
from .scenarios import SCENARIOS, RunResult, run

# Seeds one --seeds K runs start here, so `--seeds 3` and `--seed 1` share their first run.
FIRST_SEED = 1


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def _floats(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.sim", description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=_ints, default=[10, 30, 100],
                        help="cluster sizes, comma-separated (default 10,30,100)")
    parser.add_argument("--seeds", type=int, default=3, help="run seeds 1..K (default 3)")
    parser.add_argument("--seed", type=int, help="run only this seed (overrides --seeds)")
    parser.add_argument("--loss", type=_floats, default=[0.0],
                        help="message loss ratios, comma-separated (default 0)")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="standard")
    parser.add_argument("--layouts", type=int, default=SimConfig.layouts,
                        help=f"synthetic chunk layouts (default {SimConfig.layouts})")
    parser.add_argument("--health-max", type=int, default=None,
                        help="gossip.health_max for every node (default: the profile's; 0 turns "
                             "local health off)")
    parser.add_argument("--old-ratio", type=float, default=None,
                        help="share of the formed nodes on the protocol before digest sync (default "
                             "0; 1 for --scenario upgrade)")
    parser.add_argument("--json", metavar="PATH", help="also write every run's figures here")
    parser.add_argument("--verbose", action="store_true", help="show node/gossip logging")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.verbose:
        logging.getLogger("ringstore").setLevel(logging.ERROR)
    seeds = [args.seed] if args.seed is not None else list(range(FIRST_SEED,
                                                                 FIRST_SEED + args.seeds))
    results: list[RunResult] = []
    failures: list[str] = []
    gossip = (sim_gossip_config() if args.health_max is None
              else sim_gossip_config(health_max=args.health_max))
    old_ratio = args.old_ratio if args.old_ratio is not None else (1.0 if args.scenario == "upgrade" else 0.0)
    for nodes in args.nodes:
        for loss in args.loss:
            for seed in seeds:
                config = SimConfig(nodes=nodes, seed=seed, network=NetworkConfig(loss_ratio=loss),
                                   layouts=args.layouts, gossip=gossip, old_ratio=old_ratio)
                started_s = time.monotonic()
                try:
                    result = run(args.scenario, config)
                except SimViolation as error:
                    failures.append(str(error))
                    print(f"FAILED nodes={nodes} loss={loss:g} seed={seed}: {error}",
                          file=sys.stderr, flush=True)
                    continue
                results.append(result)
                print(f"ran {args.scenario} nodes={nodes} loss={loss:g} seed={seed}: "
                      f"{result.virtual_s:.1f} s virtual, {result.events} events, "
                      f"{result.cpu_s:.1f} s CPU, {time.monotonic() - started_s:.1f} s wall, "
                      f"digest {result.digest}", file=sys.stderr, flush=True)
    print(format_table(results))
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"runs": [dataclasses.asdict(r) for r in results], "failures": failures},
                      out, indent=1)
    return 1 if failures else 0


# (header, value of one run); None values are left out of the summary.
_COLUMNS: list[tuple[str, Callable[[RunResult], float | None]]] = [
    ("settle", lambda r: r.settle),
    ("detect 1st", lambda r: r.detect_first),
    ("detect all", lambda r: r.detect_all),
    ("OUT all", lambda r: r.out_all),
    ("join conv", lambda r: r.join_converge),
    ("restart conv", lambda r: r.restart_converge),
    ("leave conv", lambda r: r.leave_converge),
    ("heal conv", lambda r: r.heal_converge),
    ("resume conv", lambda r: r.resume_converge),
    ("overload DOWN/node", lambda r: r.overload_verdicts),
    ("overload conv", lambda r: r.overload_converge),
    ("upgrade conv", lambda r: r.upgrade_converge),
    ("hb/int", lambda r: r.idle_rpcs.get("heartbeat")),
    ("gossip/int", lambda r: r.idle_rpcs.get("gossip")),
    ("sync/int", lambda r: r.idle_rpcs.get("sync")),
    ("digest/int", lambda r: r.idle_rpcs.get("sync_digest")),
    ("probe/int", lambda r: (r.idle_rpcs["indirect_probe"] + r.idle_rpcs["ping"])
     if r.idle_rpcs else None),
    ("records/int", lambda r: r.idle_records),
    ("B/s", lambda r: r.idle_bytes_per_s),
    ("false DOWN", lambda r: r.false_down),
    ("maj DOWN", lambda r: r.majority_down_max),
    ("ring moved leave", lambda r: r.ring_moved_ratio("leave")),
    ("ring moved join", lambda r: r.ring_moved_ratio("join")),
    ("copies moved join", lambda r: r.copies_moved_ratio("join")),
    ("CPU s", lambda r: r.cpu_s),
]


def format_table(results: list[RunResult]) -> str:
    """One row per (scenario, nodes, loss): median [max] over seeds of every column that has a
    value; columns are rows here, since the table is wider than it is tall."""
    groups: dict[tuple[str, int, float], list[RunResult]] = {}
    for result in results:
        groups.setdefault((result.scenario, result.nodes, result.loss_ratio), []).append(result)
    if not groups:
        return "no runs completed"
    keys = sorted(groups)
    header = ["figure"] + [f"N={n} loss={loss:g} ({len(groups[(s, n, loss)])} seeds)"
                           for s, n, loss in keys]
    rows = [header]
    for name, value in _COLUMNS:
        cells = []
        for key in keys:
            values = [v for v in (value(r) for r in groups[key]) if v is not None]
            cells.append(f"{statistics.median(values):.2f} [{max(values):.2f}]" if values else "-")
        if any(cell != "-" for cell in cells):
            rows.append([name] + cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
             for row in rows]
    return "\n".join([f"scenario: {', '.join(sorted({k[0] for k in keys}))}; times in heartbeat "
                      f"intervals, traffic per node per interval while idle"] + lines)


if __name__ == "__main__":
    sys.exit(main())
