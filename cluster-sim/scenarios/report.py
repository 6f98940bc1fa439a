"""A scenario's report: its figures, the invariants judged on them, as a text table or JSON.

Two invariants hold for every scenario and cannot be configured away: no acknowledged write is
lost and no read returns a value it could not legally return (checker.py). The rest come from the
scenario's `[expect]` (spec.py). `judge` is a pure function of the figures and the expectations,
so what makes a run pass is unit-tested without a cluster.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from cluster_sim.scenarios.schedule import Detection
from cluster_sim.scenarios.spec import Expect
from cluster_sim.scenarios.workload import OpCounts


@dataclasses.dataclass(frozen=True)
class Invariant:
    name: str
    ok: bool
    detail: str  # the figures behind the verdict, one line


@dataclasses.dataclass
class Report:
    scenario: str
    description: str
    form: str  # short, full
    seed: int
    nodes: int
    directory: str
    reproduce: str
    run_s: float = 0.0
    ops: dict[str, OpCounts] = dataclasses.field(default_factory=dict)
    keys_checked: int = 0
    lost_writes: int = 0
    lost_listed: list[str] = dataclasses.field(default_factory=list)
    wrong_reads: int = 0
    wrong_listed: list[str] = dataclasses.field(default_factory=list)
    down_verdicts: int = 0
    false_down: int = 0
    false_down_listed: list[str] = dataclasses.field(default_factory=list)
    down_metric_served: bool = False
    detections: list[Detection] = dataclasses.field(default_factory=list)
    faults_ended_s: float = 0.0
    # Seconds from the end of the last fault to the first fsck that found every chunk full; None: never.
    full_redundancy_s: float | None = None
    bytes_moved: int = 0
    # Bytes of puts made while some node was down or stopped: what a handoff return may move.
    handoff_bytes: int = 0
    corrupt_found: int = 0
    flipped_files: int = 0
    # The cold set's node (cold.py); "" when the scenario has no [cold] table.
    victim: str = ""
    cold_keys: int = 0
    victim_snapshot_taken: bool = False  # stat of every key right before the step that hit it
    # What it held, right before that step, of versions still current at the end.
    victim_keys: int = 0
    victim_copies: int = 0
    victim_bytes: int = 0
    victim_cold_bytes: int = 0  # of victim_bytes, the cold set's
    victim_stats_failed: int = 0  # keys left out because their stat failed
    victim_metadata_min: int = 0  # metadata records it kept once the cold set was written
    # What it reported storing at the end (None: it did not answer as ALIVE).
    victim_shares_after: int | None = None
    victim_bytes_after: int | None = None
    victim_metadata_after: int | None = None
    # Copies/shares of still-current data it held that its disk lacks at the end (None: not looked at).
    victim_missing_after: int | None = None
    errors: list[str] = dataclasses.field(default_factory=list)
    invariants: list[Invariant] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(invariant.ok for invariant in self.invariants)

    def failures(self) -> list[str]:
        """One line per failed invariant."""
        return [f"{invariant.name}: {invariant.detail}" for invariant in self.invariants if not invariant.ok]

    def failed_ops(self, *kinds: str) -> int:
        return sum(self.ops[kind].failed for kind in kinds if kind in self.ops)

    def to_dict(self) -> dict[str, Any]:
        document = dataclasses.asdict(self)
        document["ok"] = self.ok
        return document

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def text(self) -> str:
        lines = [f"scenario {self.scenario} ({self.form}, {self.nodes} nodes, seed {self.seed}): {self.description}",
                 f"ran {self.run_s:.1f} s; {self.keys_checked} keys read back at the end", ""]
        rows = [("OP", "DONE", "FAILED", "FAILURES BY STATUS")]
        for kind, counts in sorted(self.ops.items()):
            codes = ", ".join(f"{code} {count}" for code, count in sorted(counts.failed_by_code.items()))
            rows.append((kind, str(counts.done), str(counts.failed), codes or "-"))
        lines += _table(rows) + [""]
        full = "never" if self.full_redundancy_s is None else f"{self.full_redundancy_s:.1f} s"
        figures = [
            ("acknowledged writes lost", str(self.lost_writes)),
            ("reads that returned wrong values", str(self.wrong_reads)),
            ("false DOWN verdicts", f"{self.false_down} (of {self.down_verdicts} DOWN transitions counted)"
             if self.down_metric_served else "not counted (nodes serve no ringstore_member_down_total)"),
            ("time to full redundancy", f"{full} after the last fault ({self.faults_ended_s:.1f} s in)"),
            ("bytes moved by repair", f"{self.bytes_moved} (puts while a node was down: {self.handoff_bytes})"),
            ("corrupt copies found", f"{self.corrupt_found} ({self.flipped_files} files flipped)"),
        ]
        if self.victim:
            after = ("not running or no answer" if self.victim_shares_after is None else
                     f"{self.victim_shares_after} copies/shares, {self.victim_bytes_after} bytes, "
                     f"{self.victim_metadata_after} metadata records")
            if self.victim_missing_after is not None:
                after += f"; {self.victim_missing_after} of the copies/shares it held still missing"
            figures += [
                ("cold set",
                 f"{self.cold_keys} objects, {self.victim_cold_bytes} bytes still current on {self.victim}"),
                (f"{self.victim} held (still current)",
                 f"{self.victim_bytes} bytes in {self.victim_copies} copies/shares of {self.victim_keys} objects"
                 if self.victim_snapshot_taken else "not measured (the step that hits it never ran)"),
                (f"{self.victim} stores at the end", f"{after} (metadata records after the cold set: "
                                                     f"{self.victim_metadata_min})"),
            ]
        lines += _table([("FIGURE", "VALUE"), *figures])
        if self.detections:
            lines += ["", *_table([("DETECTION", "AT", "OBSERVERS", "FIRST", "ALL")] + [
                (f"{d.node} ({d.how})", f"{d.at_s:.1f} s", str(d.observers), _seconds(d.first_s), _seconds(d.all_s))
                for d in self.detections])]
        examples = [f"{kind}: {example}" for kind, counts in sorted(self.ops.items()) for example in counts.examples]
        for title, listed in (("first failures by op", examples),
                              ("lost writes", self.lost_listed), ("wrong reads", self.wrong_listed),
                              ("false DOWN verdicts", self.false_down_listed), ("errors", self.errors)):
            if listed:
                lines += ["", f"{title}:", *(f"  {line}" for line in listed)]
        lines += ["", *(f"{'ok  ' if inv.ok else 'FAIL'} {inv.name}: {inv.detail}" for inv in self.invariants),
                  "", f"reproduce with: {self.reproduce}"]
        return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def judge(report: Report, expect: Expect) -> list[Invariant]:
    """The invariants for this report's figures under `expect`."""
    result = [
        Invariant("schedule and workload ran", not report.errors,
                  "; ".join(report.errors) if report.errors else "every step done, no worker error"),
        Invariant("no acknowledged write lost", report.lost_writes == 0,
                  f"{report.lost_writes} lost of {report.keys_checked} keys read back"),
        Invariant("no wrong read", report.wrong_reads == 0, f"{report.wrong_reads} reads returned an illegal value"),
    ]
    if report.down_metric_served:
        result.append(Invariant(f"false DOWN verdicts <= {expect.false_down_max}",
                                report.false_down <= expect.false_down_max,
                                f"{report.false_down} false of {report.down_verdicts} DOWN transitions"))
    else:
        result.append(Invariant("false DOWN verdicts counted", False,
                                "no node serves ringstore_member_down_total, so false verdicts cannot be counted"))
    full = report.full_redundancy_s
    result.append(Invariant(f"full redundancy within {expect.full_redundancy_s_max:g} s of the last fault",
                            full is not None and full <= expect.full_redundancy_s_max,
                            "never reached" if full is None else f"reached after {full:.1f} s"))
    if expect.failed_reads_max is not None:
        failed = report.failed_ops("get")
        result.append(Invariant(f"failed reads <= {expect.failed_reads_max}", failed <= expect.failed_reads_max,
                                f"{failed} gets failed"))
    if expect.failed_puts_max is not None:
        failed = report.failed_ops("put", "overwrite", "fill", "cold")
        result.append(Invariant(f"failed puts <= {expect.failed_puts_max}", failed <= expect.failed_puts_max,
                                f"{failed} puts failed"))
    if expect.bytes_moved_min is not None:
        result.append(Invariant(f"bytes moved >= {expect.bytes_moved_min}",
                                report.bytes_moved >= expect.bytes_moved_min,
                                f"repair moved {report.bytes_moved} bytes"))
    if expect.bytes_moved_covers_victim:
        result.append(Invariant(
            "repair moved at least what the victim held",
            report.victim_snapshot_taken and report.victim_bytes > 0 and report.bytes_moved >= report.victim_bytes,
            f"repair moved {report.bytes_moved} bytes; {report.victim or 'the victim'} held "
            + (f"{report.victim_bytes} bytes of still-current data in {report.victim_copies} copies/shares "
               f"({report.victim_cold_bytes} of them cold)" if report.victim_snapshot_taken
               else "nothing measured: the step that hits it never ran")))
    if expect.victim_refilled:
        missing, metadata = report.victim_missing_after, report.victim_metadata_after
        refilled = (report.victim_snapshot_taken and report.victim_copies > 0 and missing == 0
                    and metadata is not None and metadata >= report.victim_metadata_min)
        result.append(Invariant(
            "the victim is refilled", refilled,
            f"{report.victim or 'the victim'} did not answer at the end" if metadata is None or missing is None else
            f"{report.victim}'s disk lacks {missing} of the {report.victim_copies} copies/shares of still-current data "
            f"it held; it keeps {metadata} metadata records (it kept {report.victim_metadata_min} after the cold set)"))
    if expect.bytes_moved_within_handoff:
        result.append(Invariant("no repair beyond the handoff return", report.bytes_moved <= report.handoff_bytes,
                                f"repair moved {report.bytes_moved} bytes; puts while a node was down wrote "
                                f"{report.handoff_bytes}"))
    if expect.corrupt_found_min is not None:
        result.append(Invariant(f"corrupt copies found >= {expect.corrupt_found_min}",
                                report.corrupt_found >= expect.corrupt_found_min,
                                f"{report.corrupt_found} found, {report.flipped_files} files flipped"))
    if expect.detection_s_max is not None:
        kills = [d for d in report.detections if d.how == "kill"]
        slow = [d for d in kills if d.all_s is None or d.all_s > expect.detection_s_max]
        slowest_s = max((d.all_s or 0.0 for d in kills), default=0.0)
        result.append(Invariant(f"every kill seen DOWN by all within {expect.detection_s_max:g} s", not slow,
                                ", ".join(f"{d.node} at {d.at_s:.1f} s: {_seconds(d.all_s)}" for d in slow)
                                or f"{len(kills)} kill(s), slowest {slowest_s:.2f} s"))
    return result
