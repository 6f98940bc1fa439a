"""A soak: every (scenario, seed) run once, one after another, and a pass table of the lot.

One seed proves little about a scenario that draws its operations, keys, sizes and fault choices
from the seed: node-crash passed on most seeds while seeds 3 and 7 failed. `cluster-sim scenario
soak [NAME...] --seeds A-B [--full] [--json]` runs each named scenario (default: every shipped one)
once per seed, sequentially (a run is a whole cluster: two at once on a shared machine measure the
scheduler), prints one progress line per run, then a table (scenario x seed, pass and fail counts,
mean and longest run) and, for every failure, its failed invariants, the directory its logs (and its
whole report, `report.txt`) were kept in and the line that reproduces it.

This module is the pure part: parsing `--seeds`, looping over a `run_one` callable, the table and
the JSON document, so the CLI's behaviour is unit-tested with a fake runner. The CLI passes a
`run_one` that calls `runner.run` in a fresh temporary directory (kept when the run fails).

Rejected alternative: a soak that stops at the first failure. A soak is read for its failure
rate and for which seeds fail together; stopping early hides both.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Sequence

SEEDS_MAX = 1000  # runs per scenario in one soak; a short run is ~20-60 s, so this is already hours
_SEEDS_RE = re.compile(r"(\d+)(?:-(\d+))?")


@dataclasses.dataclass(frozen=True)
class SoakRun:
    """One (scenario, seed) run: whether it passed, how long it took, where its logs are."""

    scenario: str
    seed: int
    ok: bool
    run_s: float
    directory: str  # kept when the run failed; removed (temporary) when it passed
    reproduce: str
    failures: tuple[str, ...] = ()  # one line per failed invariant

    def to_dict(self) -> dict:
        document = dataclasses.asdict(self)
        document["failures"] = list(self.failures)
        return document


def parse_seeds(text: str) -> list[int]:
    """"3" -> [3]; "1-20" -> [1, ..., 20]. ValueError (one line) for anything else."""
    match = _SEEDS_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"--seeds {text!r} is not a seed or a range A-B (e.g. 1-20)")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) is not None else low
    if high < low:
        raise ValueError(f"--seeds {text!r}: the range ends before it starts; write it low-high")
    if high - low + 1 > SEEDS_MAX:
        raise ValueError(f"--seeds {text!r} names {high - low + 1} seeds; at most {SEEDS_MAX} per soak")
    return list(range(low, high + 1))


def soak(names: Sequence[str], seeds: Sequence[int], run_one: Callable[[str, int], SoakRun],
         progress: Callable[[SoakRun, int, int], None]) -> list[SoakRun]:
    """Run every name on every seed (scenario by scenario, seeds in order); `progress(run, done,
    total)` after each."""
    results: list[SoakRun] = []
    total = len(names) * len(seeds)
    for name in names:
        for seed in seeds:
            results.append(run_one(name, seed))
            progress(results[-1], len(results), total)
    return results


def progress_line(run: SoakRun, done: int, total: int) -> str:
    verdict = "ok" if run.ok else f"FAIL ({run.failures[0] if run.failures else 'no invariant named'})"
    return f"[{done}/{total}] {run.scenario} seed {run.seed}: {verdict} in {run.run_s:.1f} s"


def _summary(runs: Sequence[SoakRun]) -> dict[str, float | int]:
    durations = [run.run_s for run in runs]
    passed = sum(run.ok for run in runs)
    return {"passed": passed, "failed": len(runs) - passed,
            "mean_s": round(sum(durations) / len(durations), 1) if durations else 0.0,
            "max_s": round(max(durations), 1) if durations else 0.0}


def _by_scenario(runs: Sequence[SoakRun]) -> dict[str, list[SoakRun]]:
    grouped: dict[str, list[SoakRun]] = {}
    for run in runs:
        grouped.setdefault(run.scenario, []).append(run)
    return grouped


def table(runs: Sequence[SoakRun]) -> str:
    """The pass table: a row per scenario, a column per seed (ok / FAIL), counts and durations;
    then one block per failure (its failed invariants, logs, reproduce line) and a total."""
    seeds = sorted({run.seed for run in runs})
    rows = [("SCENARIO", *(str(seed) for seed in seeds), "PASS", "FAIL", "MEAN S", "MAX S")]
    for name, group in _by_scenario(runs).items():
        verdicts = {run.seed: "ok" if run.ok else "FAIL" for run in group}
        summary = _summary(group)
        rows.append((name, *(verdicts.get(seed, "-") for seed in seeds), str(summary["passed"]),
                     str(summary["failed"]), f"{summary['mean_s']:.1f}", f"{summary['max_s']:.1f}"))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    failed = [run for run in runs if not run.ok]
    if failed:
        lines += ["", "failures:"]
        for run in failed:
            lines += [f"  {run.scenario} seed {run.seed}:",
                      *(f"    {failure}" for failure in run.failures or ("failed",)),
                      f"    logs kept in {run.directory}", f"    reproduce with: {run.reproduce}"]
    total = _summary(runs)
    lines += ["", f"{len(runs)} runs: {total['passed']} passed, {total['failed']} failed, "
                  f"{sum(run.run_s for run in runs):.0f} s in all"]
    return "\n".join(lines)


def to_json(runs: Sequence[SoakRun], *, full: bool) -> str:
    document = {
        "ok": all(run.ok for run in runs),
        "form": "full" if full else "short",
        "seeds": sorted({run.seed for run in runs}),
        "scenarios": {name: _summary(group) for name, group in _by_scenario(runs).items()},
        "runs": [run.to_dict() for run in runs],
    }
    return json.dumps(document, indent=2, sort_keys=True)
