"""Adding up what nodes count: bytes moved, corrupt copies, and DOWN verdicts sorted into true and false.

Nodes count in Prometheus counters that start at 0 in every process, so a node's count is lost
when it is killed and starts over when it comes back. The runner therefore scrapes every running
node before each step of the fault schedule and at the end, and this module adds up the increase
of each counter per node and generation (a new generation counts from 0). What a node counted
between its last scrape and its own kill is not seen; scraping before every step keeps that to
what happened during one step.

False DOWN verdicts. `ringstore_member_down_total{member}` on observer O counts the transitions of
member M to DOWN in O's table (its own verdicts and those it heard). An increase between two
scrapes of O, [from_s, to_s], is true when some fault window excuses M for O in that interval,
else false. A window excuses its member for every observer (kill, stop) or for the observers on
the other side (partition), from its start until `VERDICT_GRACE_S` after it ends: a verdict that
was already under way when the node came back is not a false accusation. A scrape interval
cannot be split, so one that overlaps a window excuses all of that member's verdicts in it; the
count of false verdicts is therefore a lower bound, exact when faults are scrape intervals apart.

Rejected alternative: polling every node's view continuously and diffing states. It needs an RPC
per node every few hundred ms, adds load that itself causes late heartbeats, and still misses a
DOWN that is refuted between two polls; the nodes' own counters miss nothing.
"""

from __future__ import annotations

import dataclasses
import re

# How long after a fault ends verdicts about its node are still excused. The local profile detects
# in ~1 s and spreads a verdict in a few gossip rounds; 5 s covers both with room for a busy machine.
VERDICT_GRACE_S = 5.0
DOWN_METRIC = "ringstore_member_down_total"
REPAIR_BYTES_METRIC = "ringstore_repair_bytes_total"
CORRUPT_METRIC = "ringstore_corrupt_shares_total"
FALSE_LISTED_MAX = 50
_SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample of metric `name` in Prometheus text: sorted label pairs -> value."""
    result = {}
    for line in text.splitlines():
        match = _SAMPLE_RE.match(line)
        if match is None or match.group(1) != name:
            continue
        labels = tuple(sorted(_LABEL_RE.findall(match.group(2) or "")))
        result[labels] = float(match.group(3))
    return result


def total(text: str, name: str) -> float:
    """The sum of a metric's samples over all labels (0 when it has none)."""
    return sum(samples(text, name).values())


def by_label(text: str, name: str, label: str) -> dict[str, float]:
    """A metric's samples summed per value of one label."""
    result: dict[str, float] = {}
    for labels, value in samples(text, name).items():
        key = dict(labels).get(label, "")
        result[key] = result.get(key, 0.0) + value
    return result


@dataclasses.dataclass
class FaultWindow:
    """A time during which `member` could rightly be seen DOWN by `observers` (None: by everyone)."""

    member: str
    kind: str  # kill, stop, partition
    start_s: float
    end_s: float | None = None  # None while the fault lasts
    observers: frozenset[str] | None = None

    def excuses(self, observer: str, member: str, from_s: float, to_s: float,
                grace_s: float = VERDICT_GRACE_S) -> bool:
        if member != self.member or (self.observers is not None and observer not in self.observers):
            return False
        ends_s = float("inf") if self.end_s is None else self.end_s + grace_s
        return self.start_s <= to_s and ends_s >= from_s


@dataclasses.dataclass(frozen=True)
class FalseDown:
    observer: str
    member: str
    count: int
    from_s: float
    to_s: float

    def line(self) -> str:
        return (f"{self.observer} saw {self.member} go DOWN {self.count}x between {self.from_s:.1f} s and "
                f"{self.to_s:.1f} s with no fault on it")


@dataclasses.dataclass
class _Seen:
    generation: int
    at_s: float
    values: dict[str, float]


class Ledger:
    """Counter increases per node and generation, and DOWN verdicts judged against fault windows."""

    def __init__(self, *, grace_s: float = VERDICT_GRACE_S) -> None:
        self.grace_s = grace_s
        self.windows: list[FaultWindow] = []
        self.bytes_moved = 0
        self.corrupt_found = 0
        self.down_verdicts = 0
        self.false_down = 0
        self.false_listed: list[FalseDown] = []
        # False until some node serves the DOWN counter: a cluster that does not count cannot pass.
        self.down_metric_served = False
        self._seen: dict[str, _Seen] = {}

    def open_window(self, member: str, kind: str, at_s: float,
                    observers: frozenset[str] | None = None) -> FaultWindow:
        window = FaultWindow(member=member, kind=kind, start_s=at_s, observers=observers)
        self.windows.append(window)
        return window

    def close_windows(self, member: str, kinds: tuple[str, ...], at_s: float) -> None:
        """End every open window of `member` of these kinds."""
        for window in self.windows:
            if window.member == member and window.kind in kinds and window.end_s is None:
                window.end_s = at_s

    def scrape(self, node_id: str, generation: int, text: str, at_s: float, *, baseline: bool = False) -> None:
        """Take one scrape of `node_id`. `baseline`: the first scrape before any fault, whose counts
        (cluster start-up) are not part of the run."""
        if DOWN_METRIC in text:
            self.down_metric_served = True
        values = {f"down:{member}": value for member, value in by_label(text, DOWN_METRIC, "member").items()}
        values["repair_bytes"] = total(text, REPAIR_BYTES_METRIC)
        values["corrupt"] = total(text, CORRUPT_METRIC)
        before = self._seen.get(node_id)
        self._seen[node_id] = _Seen(generation, at_s, values)
        if baseline:
            return
        if before is not None and before.generation == generation:
            previous, from_s = before.values, before.at_s
        else:  # a new process counts from 0; it started after its predecessor's last scrape
            previous, from_s = {}, before.at_s if before is not None else 0.0
        increase = {name: value - previous.get(name, 0.0) for name, value in values.items()
                    if value > previous.get(name, 0.0)}
        self.bytes_moved += int(increase.get("repair_bytes", 0))
        self.corrupt_found += int(increase.get("corrupt", 0))
        for name, count in sorted(increase.items()):
            if not name.startswith("down:"):
                continue
            member = name[len("down:"):]
            self.down_verdicts += int(count)
            if not any(window.excuses(node_id, member, from_s, at_s, self.grace_s) for window in self.windows):
                self.false_down += int(count)
                if len(self.false_listed) < FALSE_LISTED_MAX:
                    self.false_listed.append(FalseDown(node_id, member, int(count), from_s, at_s))
