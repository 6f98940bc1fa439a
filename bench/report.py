"""The suite's figures as rows, each beside the ceiling or target it should be read against.

Helpers without clocks or processes: the percentile every latency and detection figure uses, the
row type, the ratio, the text table, and `write_results`, which every bench entry point uses to
store its JSON. `python -m bench` prints the table and stores the same rows
in its JSON, so the docs and the terminal show the same numbers.

Percentiles are nearest-rank (the smallest sample with at least q of the samples at or below it):
every reported p99 is a latency that really happened. Rejected: linear interpolation between
samples (numpy's default), which at 400 samples invents a p99 between the two slowest calls.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import time
from collections.abc import Sequence

COLUMN_GAP = "  "
HEADERS = ("figure", "value", "unit", "against", "ratio")


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank q-quantile (0 < q <= 1) of `values`, which need not be sorted."""
    if not values:
        raise ValueError("percentile of no samples; run at least one operation")
    if not 0 < q <= 1:
        raise ValueError(f"q must be in (0, 1], got {q}")
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)), 1) - 1]


def median(values: Sequence[float]) -> float:
    """The nearest-rank median (a sample, not an average of two)."""
    return percentile(values, 0.5)


@dataclasses.dataclass(frozen=True)
class Row:
    """One figure of the run, and what it is read against (a ceiling measured in the same run, or
    a DESIGN target) when there is something to read it against."""

    figure: str
    value: float
    unit: str
    against: str = ""  # "dd conv=fsync 812 MB/s", "target < 2000 B/s"
    reference: float | None = None  # the number in `against`, in the row's unit

    @property
    def ratio(self) -> float | None:
        if self.reference is None or self.reference == 0:
            return None
        return self.value / self.reference

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "ratio": self.ratio}


def format_value(value: float | None) -> str:
    """Three significant figures at most, no exponent for the ranges the suite prints."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    magnitude = abs(value)
    if magnitude >= 100 or value == int(value):
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def format_table(rows: Sequence[Row]) -> str:
    """Rows as aligned text: figure and unit left-aligned, numbers right-aligned."""
    cells = [HEADERS] + [(r.figure, format_value(r.value), r.unit, r.against or "-", format_value(r.ratio))
                         for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADERS))]
    right = {1, 4}
    lines = []
    for line in cells:
        lines.append(COLUMN_GAP.join(text.rjust(width) if i in right else text.ljust(width)
                                     for i, (text, width) in enumerate(zip(line, widths))).rstrip())
    lines.insert(1, COLUMN_GAP.join("-" * width for width in widths))
    return "\n".join(lines)


def write_results(results: dict, name: str, path: str = "") -> pathlib.Path:
    """Write `results` as JSON to `path` (a `--json` argument), or by default to
    bench/results/NAME-<unix time>.json; print and return where it went."""
    target = pathlib.Path(path or pathlib.Path(__file__).parent / "results" / f"{name}-{int(time.time())}.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=2))
    print(f"wrote {target}")
    return target
