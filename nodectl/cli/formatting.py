"""Pure text helpers that several commands share: aligned tables, sizes, rates, durations, times,
counts with their noun, a member's state and flags, and the warning for a member that did not
answer.

Text that one command prints lives with that command (`format_stat` in objects.py,
`format_finding` in fsck.py); what two or more commands print alike lives here, so `status` and
`node status` show a member's flags the same way and every report writes sizes and durations one
way. Functions of their arguments only (no click, no clock, no I/O), so unit tests pin them down
by table.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Sequence

from nodectl.client import Member, MemberStatus
from nodectl.errors import one_line
from ringstore.text import duration_text, utc_text  # noqa: F401 (nodectl's own, re-exported)


def iso_utc(unix_ms: int) -> str:
    """"2024-05-01T12:00:00Z" for a Unix millisecond time; "-" for 0 (unknown)."""
    if unix_ms <= 0:
        return "-"
    moment = datetime.datetime.fromtimestamp(unix_ms / 1000, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def human_bytes(size_bytes: float) -> str:
    """"1.5 MiB" and the like, for progress and summaries (listings show exact bytes)."""
    value = float(size_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_table(header: Sequence[str], rows: Iterable[Sequence[str]], *,
                 right: Sequence[int] = ()) -> list[str]:
    """Columns separated by two spaces, header first, no trailing blanks; left-aligned but for
    the column indexes in `right` (numbers), whose header is right-aligned too."""
    return _aligned([list(header)] + [list(row) for row in rows], right=right)


def _aligned(table: Sequence[Sequence[str]], *, right: Sequence[int] = ()) -> list[str]:
    """Rows of equally many cells as aligned columns, two spaces apart, no trailing blanks."""
    if not table:
        return []
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return ["  ".join(cell.rjust(width) if i in right else cell.ljust(width)
                      for i, (cell, width) in enumerate(zip(row, widths))).rstrip()
            for row in table]


def _count(number: int, noun: str, plural: str | None = None) -> str:
    """"1 chunk", "3 chunks"."""
    return f"{number} {noun if number == 1 else (plural or noun + 's')}"


def rate_text(bytes_per_s: float) -> str:
    """"41.2 MiB/s"."""
    return f"{human_bytes(bytes_per_s)}/s"


def eta_text(eta_s: float | None) -> str:
    """An ETA for people: a duration, or "unknown" when nothing was repaired lately to measure."""
    return "unknown" if eta_s is None else duration_text(eta_s)


def _is_ec(policy: str) -> bool:
    return policy.startswith("ec=")


def unreachable_warning(entry: str) -> str:
    """"warning: node-4 did not answer: <reason>" for the wire's "node-id: reason"."""
    node_id, sep, reason = one_line(entry).partition(": ")
    warning = f"warning: {node_id} did not answer"
    return f"{warning}: {reason}" if sep else warning


def short_duration_text(seconds: float) -> str:
    """Time left, compact and rounded up so it never understates: "45s", "28m", "2h5m", "1d4h",
    "7d" (the two largest units, to the minute under a day, to the hour above)."""
    whole_s = max(0, math.ceil(seconds))
    if whole_s < 60:
        return f"{whole_s}s"
    step_s = 60 if whole_s <= 86400 else 3600
    total_s = math.ceil(whole_s / step_s) * step_s
    days, rest_s = divmod(total_s, 86400)
    hours, rest_s = divmod(rest_s, 3600)
    parts = [(days, "d"), (hours, "h"), (rest_s // 60, "m")]
    first = next(i for i, (value, _) in enumerate(parts) if value)
    return "".join(f"{value}{unit}" for value, unit in parts[first:first + 2] if value)


def state_flags_text(member: MemberStatus | Member, *, now_unix_ms: int) -> str:
    """A member's state and its flags: "ALIVE", "ALIVE draining", "DOWN maint 28m", "ALIVE full"
    (a maintenance window shows only while it lasts, with the time left)."""
    parts = [member.state]
    if member.draining:
        parts.append("draining")
    if member.maintenance_until_unix_ms > now_unix_ms:
        left_s = (member.maintenance_until_unix_ms - now_unix_ms) / 1000
        parts.append(f"maint {short_duration_text(left_s)}")
    if member.disk_full:
        parts.append("full")
    if member.metadata_health:
        parts.append(f"metadata-{member.metadata_health}")
    return " ".join(parts)


def percent_text(fraction: float) -> str:
    """"14.6 %"."""
    return f"{100 * fraction:.1f} %"
