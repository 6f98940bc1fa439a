"""`nodectl`: the thin command line over `nodectl.client`.

Each command parses its arguments, makes one or two client calls and formats the result; channels,
deadlines, retries and validation belong to the client. The small pure functions here (address
resolution, BUCKET/KEY and range parsing, table formatting) are what the unit tests pin down.

Errors: every failure is one line on stderr, `nodectl: error: <message>`, and the exit code of its
class (see `nodectl.errors`); the group's `main` catches client errors, gRPC errors, local file
errors and click's usage errors, so neither a user mistake nor a cluster failure shows a traceback.
Output meant for scripts is `--json` (one JSON document on stdout); tables are for people.

Redundancy flags: `mb`, `put` and `convert` take `--replicas N` or `--ec K+M` (never both: a usage
error, exit 2). The K+M text is parsed by the client's `parse_ec`, before any file is read or any
request sent, so a typo costs nothing and reads like the node's own message would.

`stat` shows, per chunk, one line per holder: `copy N` under replication, `share I (data)` or
`share I (parity)` under erasure coding (I below K is a data share), with the node's state and
`handoff for X` when the copy stands in for a DOWN node. Indexes are the placement record's own
(from 0), so they match `stat --json`.

`get` writes to a temporary file beside the destination and renames it into place only after
the last byte arrived (and, for whole objects, matched its blake3), so a failed or interrupted get
never leaves a half-written file under the destination name.

`repair status`, `fsck` and `scrub status` are reports. `repair status` and `scrub status` exit 0
whatever they show, and warn on stderr (`warning: node-4 did not answer: ...`) about ALIVE
members that did not answer. `fsck` exits by what it found: 0 all chunks full, 10 (EXIT_DEGRADED)
some below full but readable, 5 (EXIT_DATA_LOSS) some unreadable, so a cron job can alert on it
without parsing. `repair set` and `scrub start` are actions: they print the nodes that applied
them and exit 4 (unavailable) when some member did not answer, since the cluster then runs with
mixed settings. Rejected: exiting non-zero from `repair status` when there is debt; debt after a
node loss is normal work in progress, and a status command that "fails" then is useless in a loop.

`node status|drain|maintenance` act on one node, through any node. `node drain` starts the drain
and then (unless --no-wait) polls the node until it is LEFT: on a terminal a redrawn progress line
of the bytes moved off it, otherwise one stderr line each time what it holds changes, so a log
shows the drain's pace. Waiting is only watching: a timeout (exit 4), a Ctrl-C (exit 130) or a
failed poll ends the command, never the drain, and each says so and how to check on it. Rejected:
returning as soon as the drain starts, always; an operator then has to write the polling loop
that decides when the process may be stopped, and "LEFT" is exactly that signal.

`ring plan add|drain NODE` is a report like `repair status` (unreachable members are warnings and
the plan is marked partial), with one exception: layouts that could not be placed after the change
exit 6 (EXIT_CONFLICT, the failed-precondition code), the answer DrainNode would give to the same
change, so a script can run the plan as a gate before the drain.

Time: commands read the wall clock (maintenance time left) and wait (drain polls) through a
`Clock`; tests pass a manual one as click's `obj`, so an hour-long drain runs in no time with exact
output, and nothing sleeps.

Rejected alternative: click's default error handling. It prints a multi-line usage block for
usage errors and a traceback for anything else, and its exit codes cannot say "not found" from
"cluster unavailable", which scripts need to tell apart.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import mimetypes
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

import click
import grpc

from nodectl.client import (
    LIVE_STATES,
    EC_SHARES_MAX,
    FSCK_FINDINGS_MAX,
    LIST_PAGE_SIZE_MAX,
    MAINTENANCE_S_MAX,
    RETRIES_MAX_LIMIT,
    UINT32_MAX,
    UINT64_MAX,
    BucketInfo,
    Client,
    ClusterStatus,
    ConvertProgress,
    ConvertResult,
    FsckFinding,
    FsckMetadataFinding,
    FsckProgress,
    FsckReport,
    FsckSummary,
    Member,
    MemberStatus,
    NodeScrubStatus,
    NodeStatus,
    ObjectInfo,
    ObjectStat,
    RedundancyLevel,
    RepairStatus,
    RingPlan,
    ScrubStatus,
    validate_bucket,
    validate_key,
    validate_policy,
    validate_prefix,
)
from nodectl.errors import (
    EXIT_CODES_HELP,
    EXIT_CONFLICT,
    EXIT_DATA_LOSS,
    EXIT_DEGRADED,
    EXIT_OK,
    EXIT_OTHER,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    RingstoreError,
    Unavailable,
    from_rpc_error,
    one_line,
)

ADDRESS_ENV = "RINGSTORE_ADDR"
# Transfers at least this large get a progress line when stderr is a terminal.
PROGRESS_MIN_BYTES = 4 * 1024 * 1024
# Least time between two redraws of the progress line.
PROGRESS_REDRAW_S = 0.1
# Exit code after Ctrl-C, as shells report a SIGINT death.
EXIT_INTERRUPTED = 130
# Members states in the order `status` summarises them.
MEMBER_STATES_ORDER = ("ALIVE", "SUSPECT", "DOWN", "OUT", "LEFT", "UNSPECIFIED")
# `node drain` polls the node this often by default; more often only loads it, less often only
# reports LEFT later.
DRAIN_POLL_S_DEFAULT = 1.0
DRAIN_POLL_S_MIN = 0.1
DRAIN_POLL_S_MAX = 3600.0
# `repair wait` polls the cluster's repair status this often by default: each poll asks every
# ALIVE member, so not as often as a drain polls its one node.
REPAIR_POLL_S_DEFAULT = 2.0
# Longest `node drain` waits for LEFT (and its default): a node's worth of data at a throttled
# repair rate can take days; past a week something is stuck and a person should look.
DRAIN_WAIT_S_MAX = 7 * 24 * 3600.0


# ---------------------------------------------------------------------------------------------
# Pure parsing and formatting
# ---------------------------------------------------------------------------------------------


def resolve_address(flag: str | None, env: Mapping[str, str]) -> str:
    """The node address: --addr if given, else RINGSTORE_ADDR, else a usage error naming both."""
    if flag:
        return flag
    from_env = env.get(ADDRESS_ENV, "").strip()
    if from_env:
        return from_env
    raise click.UsageError(f"no node address: pass --addr HOST:PORT or set {ADDRESS_ENV}")


def split_bucket_key(text: str, *, key_required: bool = True) -> tuple[str, str]:
    """(bucket, key) of "BUCKET/KEY", both validated; the key may hold more slashes.

    With key_required=False, "BUCKET" and "BUCKET/" give an empty key (the caller fills it in).
    """
    bucket, sep, key = text.partition("/")
    if not sep and key_required:
        raise InvalidArgument(f"expected BUCKET/KEY, got {text!r}")
    validate_bucket(bucket)
    if key or key_required:
        validate_key(key)
    return bucket, key


def split_bucket_prefix(text: str) -> tuple[str, str]:
    """(bucket, prefix) of "BUCKET" or "BUCKET/PREFIX"."""
    bucket, _, prefix = text.partition("/")
    validate_bucket(bucket)
    validate_prefix(prefix)
    return bucket, prefix


def parse_range(text: str) -> tuple[int, int | None]:
    """(start_bytes, length_bytes or None) of "START-END" (END inclusive) or "START-"."""
    usage = f"range {text!r} is not START-END or START- (byte offsets, END inclusive)"
    start_text, sep, end_text = text.partition("-")
    if not sep or not start_text.isdigit() or not (end_text == "" or end_text.isdigit()):
        raise InvalidArgument(usage)
    start = int(start_text)
    if end_text == "":
        return start, None
    end = int(end_text)
    if end < start:
        raise InvalidArgument(f"range {text!r} ends before it starts")
    return start, end - start + 1


def parse_policy_flags(replicas: int | None, ec: str | None, *,
                       required: bool = False) -> tuple[int | None, tuple[int, int] | None]:
    """(replicas, (K, M) or None) from --replicas and --ec; usage error when both (or, if
    `required`, neither) are given, InvalidArgument (exit 2) for a bad K+M."""
    if replicas is not None and ec is not None:
        raise click.UsageError("give either --replicas or --ec, not both")
    if required and replicas is None and ec is None:
        raise click.UsageError("give the target policy: --ec K+M or --replicas N")
    return replicas, validate_policy(replicas, ec)


def policy_flags_text(replicas: int | None, ec: tuple[int, int] | None) -> str:
    """"replicas=N" or "ec=K+M" as the flags asked for, in the node's own spelling; "" for neither."""
    if replicas is not None:
        return f"replicas={replicas}"
    if ec is not None:
        return f"ec={ec[0]}+{ec[1]}"
    return ""


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


def format_buckets(buckets: Sequence[BucketInfo]) -> list[str]:
    """The `ls` table of buckets: NAME  POLICY (the default redundancy, "replicas=3" or "ec=4+2")."""
    return format_table(("NAME", "POLICY"), ((b.name, b.policy or "-") for b in buckets))


# Width of the SIZE column of `ls`: fixed so object listings can stream page by page.
LS_SIZE_WIDTH = 12


def format_object_line(info: ObjectInfo) -> str:
    """One `ls` line: SIZE  MODIFIED(UTC ISO)  KEY."""
    return f"{info.size_bytes:>{LS_SIZE_WIDTH}}  {iso_utc(info.created_at_unix_ms):<20}  {info.key}"


def format_object_header() -> str:
    return f"{'SIZE':>{LS_SIZE_WIDTH}}  {'MODIFIED':<20}  KEY"


def holder_role(ec: tuple[int, int] | None, share_index: int) -> str:
    """"copy N" under replication; "share I (data)" or "share I (parity)" under ec=K+M."""
    if ec is None:
        return f"copy {share_index}"
    return f"share {share_index} ({'data' if share_index < ec[0] else 'parity'})"


def physical_text(stat: ObjectStat) -> str:
    """The `physical` line of `stat`: bytes on disk across the cluster and the ratio to logical."""
    info = stat.info
    if info.inline:
        return "0 bytes (inline in the manifest)"
    if stat.physical_bytes == 0 and info.size_bytes > 0:
        return "- (the node did not report it)"
    text = f"{stat.physical_bytes} bytes ({human_bytes(stat.physical_bytes)})"
    if info.size_bytes > 0:
        text += f", {stat.physical_bytes / info.size_bytes:.2f}x logical"
    return text


def format_stat(stat: ObjectStat) -> list[str]:
    """The `stat` report: the version, then each chunk and one line per holder with its role."""
    info = stat.info
    metadata = ", ".join(f"{k}={v}" for k, v in sorted(info.metadata.items())) or "-"
    lines = [
        f"{info.bucket}/{info.key}",
        f"  size        {info.size_bytes} bytes ({human_bytes(info.size_bytes)})",
        f"  physical    {physical_text(stat)}",
        f"  blake3      {info.blake3_hex or '-'}",
        f"  version     {info.version or '-'}",
        f"  policy      {info.policy or '-'}",
        f"  type        {info.content_type or '-'}",
        f"  created     {iso_utc(info.created_at_unix_ms)}",
        f"  metadata    {metadata}",
        f"  stored      {'inline in the manifest' if info.inline else f'{info.chunk_count} chunks'}",
    ]
    for index, chunk in enumerate(stat.chunks):
        lines.append(f"  chunk {index}  offset {chunk.offset_bytes}  {chunk.size_bytes} bytes  "
                     f"{chunk.chunk_id_hex[:16]}")
        rows = [[holder_role(info.ec, h.share_index), h.node_id, h.state,
                 f"handoff for {h.handoff_for_node_id}" if h.handoff_for_node_id else ""]
                for h in chunk.holders]
        lines += ["    " + row for row in _aligned(rows)] or ["    no holders"]
    return lines


def format_convert_result(bucket: str, key: str, result: ConvertResult, asked: str) -> str:
    """The one line `convert` prints; `asked` is the policy the flags named (shown if the node's
    reply names none)."""
    name = f"{bucket}/{key}"
    policy = result.info.policy or asked
    if result.unchanged:
        return f"{name} already has {policy}; nothing to do"
    return (f"converted {name} to {policy}: "
            f"{_count(result.info.chunk_count, 'chunk')} rewritten, "
            f"{_count(result.copies_released, 'old copy', 'old copies')} released "
            f"({result.copies_still_referenced} still referenced, "
            f"{result.copies_not_reached} not reached)")


def format_status(status: ClusterStatus, *, now_unix_ms: int) -> list[str]:
    """The `status` report: NODE STATE GEN ADDRESS ZONE RING% table (STATE with the member's
    flags: draining, maintenance time left, disk full), then the summary lines."""
    lines = format_table(
        ("NODE", "STATE", "GEN", "ADDRESS", "ZONE", "RING%"),
        ((m.node_id, state_flags_text(m, now_unix_ms=now_unix_ms), str(m.generation), m.address,
          m.zone or "-", f"{100 * m.ring_share:.1f}") for m in status.members))
    counts: dict[str, int] = {}
    for m in status.members:
        counts[m.state] = counts.get(m.state, 0) + 1
    order = list(MEMBER_STATES_ORDER) + sorted(set(counts) - set(MEMBER_STATES_ORDER))
    by_state = ", ".join(f"{counts[s]} {s}" for s in order if counts.get(s)) or "none"
    lines += [
        "",
        f"health: {status.health or '-'} (as seen by {status.node_id or '?'}, "
        f"software {status.software_version or '?'})",
        f"members: {by_state}",
        f"repair debt: {status.repair_debt_chunks} chunks",
    ]
    return lines


def rate_text(bytes_per_s: float) -> str:
    """"41.2 MiB/s"."""
    return f"{human_bytes(bytes_per_s)}/s"


def duration_text(seconds: float) -> str:
    """"4 s", "2 min 5 s", "3 h 20 min", "2 d 4 h": the two largest units, rounded to the second."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def eta_text(eta_s: float | None) -> str:
    """An ETA for people: a duration, or "unknown" when nothing was repaired lately to measure."""
    return "unknown" if eta_s is None else duration_text(eta_s)


def _is_ec(policy: str) -> bool:
    return policy.startswith("ec=")


def level_text(level: RedundancyLevel) -> str:
    """"replicas=3 at 2 of 3 copies"; "ec=4+2 at K+1 (5 of 6 shares)" (K-1 is unreadable)."""
    if _is_ec(level.policy):
        return (f"{level.policy} at K{level.copies_spare:+d} "
                f"({level.copies_present} of {level.copies_wanted} shares)")
    return f"{level.policy} at {level.copies_present} of {level.copies_wanted} copies"


def unreachable_warning(entry: str) -> str:
    """"warning: node-4 did not answer: <reason>" for the wire's "node-id: reason"."""
    node_id, sep, reason = one_line(entry).partition(": ")
    warning = f"warning: {node_id} did not answer"
    return f"{warning}: {reason}" if sep else warning


def repair_summary_line(status: RepairStatus) -> str:
    """The cluster line of `repair status`: chunks below full redundancy, bytes left, rate, ETA."""
    left, rate = human_bytes(status.bytes_left), rate_text(status.rate_bytes_per_s)
    eta = eta_text(status.eta_s)
    if status.chunks_below_full:
        return (f"repair: {_count(status.chunks_below_full, 'chunk')} below full redundancy, "
                f"{left} left, {rate}, ETA {eta}")
    if status.bytes_left:
        return f"repair: all chunks at full redundancy; {left} of moves left, {rate}, ETA {eta}"
    return "repair: all chunks at full redundancy"


def format_repair_status(status: RepairStatus) -> list[str]:
    """The `repair status` report: a cluster line, the merged levels worst first, one row per node,
    then one line per unrepairable chunk. Unreachable nodes are warned about separately."""
    lines = [repair_summary_line(status)]
    levels = status.levels
    if levels:
        lines += format_table(
            ("LEVEL", "CHUNKS", "MISSING"),
            ((level_text(lv), str(lv.chunks), human_bytes(lv.bytes_missing)) for lv in levels),
            right=(1, 2))
    lines += format_table(
        ("NODE", "RESPONSIBLE", "BELOW FULL", "MISPLACED", "LEFT", "RATE", "ETA", "REPAIRED",
         "LAST SCAN"),
        ((n.node_id, str(n.chunks_responsible), str(n.chunks_below_full), str(n.chunks_misplaced),
          human_bytes(n.bytes_left), rate_text(n.rate_bytes_per_s),
          eta_text(n.eta_s) if n.bytes_left else "-", human_bytes(n.bytes_repaired_total),
          iso_utc(n.last_scan_unix_ms)) for n in status.nodes),
        right=(1, 2, 3, 4, 5, 7))
    lines += [f"unrepairable: chunk {u.chunk_id_hex[:16]} ({u.policy}) on {u.node_id}, "
              f"{_count(u.attempts, 'attempt')}: {one_line(u.reason)}"
              for u in status.unrepairable]
    return lines


def repair_config_text(repair_bandwidth_bytes_per_s: int | None,
                       repair_concurrency_max: int | None,
                       scrub_bandwidth_bytes_per_s: int | None) -> str:
    """The settings `repair set` changed, in their config names: "repair_concurrency_max=4, ..."."""
    parts = []
    if repair_bandwidth_bytes_per_s is not None:
        shown = (rate_text(repair_bandwidth_bytes_per_s) if repair_bandwidth_bytes_per_s
                 else "unthrottled")
        parts.append(f"repair_bandwidth_bytes_per_s={repair_bandwidth_bytes_per_s} ({shown})")
    if repair_concurrency_max is not None:
        parts.append(f"repair_concurrency_max={repair_concurrency_max}")
    if scrub_bandwidth_bytes_per_s is not None:
        parts.append(f"scrub_bandwidth_bytes_per_s={scrub_bandwidth_bytes_per_s} "
                     f"({rate_text(scrub_bandwidth_bytes_per_s)})")
    return ", ".join(parts)


def not_applied_error(what: str, unreachable: Sequence[str]) -> Unavailable:
    """The error a fan-out action ends with when some ALIVE members did not answer (exit 4)."""
    return Unavailable(f"{what} not applied on {_count(len(unreachable), 'node')} that did not "
                       f"answer ({'; '.join(unreachable)}); run it again once they do")


def format_finding(finding: FsckFinding) -> str:
    """One `fsck` line: "degraded: BUCKET/KEY chunk ID (offset N) POLICY: 5 of 6 shares (...)"."""
    kind = "unreadable" if finding.unreadable else "degraded"
    unit = "shares" if _is_ec(finding.policy) else "copies"
    line = (f"{kind}: {finding.bucket}/{finding.key} chunk {finding.chunk_id_hex[:16]} "
            f"(offset {finding.offset_bytes}) {finding.policy}: "
            f"{finding.copies_present} of {finding.copies_wanted} {unit}")
    if finding.unreadable:
        line += f", {finding.copies_needed} needed"
    detail = one_line(finding.detail)
    return f"{line} ({detail})" if detail else line


def format_metadata_finding(finding: FsckMetadataFinding) -> str:
    """One `fsck` line for a metadata replica: "metadata corrupt: BUCKET/KEY on NODE (...)"."""
    kind = "corrupt" if finding.corrupt else "missing"
    detail = one_line(finding.detail)
    line = f"metadata {kind}: {finding.bucket}/{finding.key} on {finding.node_id}"
    return f"{line} ({detail})" if detail else line


def format_fsck_summary(summary: FsckSummary) -> str:
    """The last `fsck` line: what was audited, how many chunks are full, degraded, unreadable, and
    how many metadata replicas are missing or corrupt (only when some are)."""
    line = (f"fsck: {_count(summary.buckets_checked, 'bucket')}, "
            f"{_count(summary.objects_checked, 'object')}, "
            f"{_count(summary.chunks_checked, 'chunk')}: {summary.chunks_full} full, "
            f"{summary.chunks_degraded} degraded, {summary.chunks_unreadable} unreadable "
            f"({summary.chunks_misplaced} misplaced)")
    if summary.metadata_replicas_missing or summary.metadata_replicas_corrupt:
        line += (f"; metadata replicas: {summary.metadata_replicas_missing} missing, "
                 f"{summary.metadata_replicas_corrupt} corrupt")
    return line


def fsck_exit_code(report: FsckReport) -> int:
    """5 when any chunk is unreadable, 10 when any is only degraded, 0 when all are full.

    The summary counts every chunk; the findings are also looked at so that a line printed as
    degraded or unreadable never comes with exit 0, whatever the summary says."""
    summary = report.summary
    if summary.chunks_unreadable or any(f.unreadable for f in report.findings):
        return EXIT_DATA_LOSS
    if (summary.chunks_degraded or report.findings or report.findings_omitted
            or summary.metadata_replicas_missing or summary.metadata_replicas_corrupt
            or report.metadata_findings):
        return EXIT_DEGRADED
    return EXIT_OK


def _scrub_checked_text(node: NodeScrubStatus) -> str:
    """"1200/5000 copies (24%)", the percentage of bytes; no percentage before any is indexed."""
    text = f"{node.copies_checked}/{node.copies_total} copies"
    if node.bytes_total:
        text += f" ({100 * node.bytes_checked / node.bytes_total:.0f}%)"
    return text


def format_scrub_status(status: ScrubStatus) -> list[str]:
    """The `scrub status` table: NODE RUNNING CHECKED CORRUPT (this pass / since start) PASSES
    LAST PASS (when it finished and how long it took)."""
    return format_table(
        ("NODE", "RUNNING", "CHECKED", "CORRUPT", "PASSES", "LAST PASS"),
        ((n.node_id, "yes" if n.running else "no", _scrub_checked_text(n),
          f"{n.corrupt_found} / {n.corrupt_found_total}", str(n.passes_completed),
          f"{iso_utc(n.last_pass_finished_unix_ms)} ({duration_text(n.last_pass_s)})"
          if n.last_pass_finished_unix_ms > 0 else "-")
         for n in status.nodes),
        right=(4,))


def utc_text(unix_ms: int) -> str:
    """"2024-05-01 12:30:00 UTC", for times people read in a sentence."""
    moment = datetime.datetime.fromtimestamp(unix_ms / 1000, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


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


def disk_text(status: NodeStatus) -> str:
    """The `node status` disk line: used of size, free, the full watermarks, and FULL when over."""
    if not status.disk_size_bytes:
        return "- (the node did not report it)"
    size = status.disk_size_bytes
    used = max(0, size - status.disk_free_bytes)
    text = (f"{human_bytes(used)} used of {human_bytes(size)} ({100 * used / size:.0f} %), "
            f"{human_bytes(status.disk_free_bytes)} free; full at "
            f"{round(100 * status.disk_full_ratio, 1):g} % used or under "
            f"{human_bytes(status.disk_free_bytes_min)} free")
    if status.member.disk_full:
        text += "; FULL: new copies go to other nodes"
    return text


def maintenance_text(until_unix_ms: int, *, now_unix_ms: int) -> str:
    """The `node status` maintenance line: "no", or until when and the time left."""
    if until_unix_ms <= 0:
        return "no"
    if until_unix_ms <= now_unix_ms:
        return f"no (ended {utc_text(until_unix_ms)})"
    left = short_duration_text((until_unix_ms - now_unix_ms) / 1000)
    return f"until {utc_text(until_unix_ms)} ({left} left): DOWN will not turn OUT before then"


def holdings_text(status: NodeStatus) -> str:
    """What a node holds: "120 copies (480.0 MiB), 30 placement records, 12 metadata records"
    (only a node that answered for itself, `reported_by_node`, has counts)."""
    assert status.reported_by_node, "only the node itself knows what it holds"
    return (f"{_count(status.shares_stored, 'copy', 'copies')} "
            f"({human_bytes(status.bytes_stored)}), "
            f"{_count(status.placement_records, 'placement record')}, "
            f"{_count(status.metadata_records, 'metadata record')}")


def format_node_status(status: NodeStatus, *, now_unix_ms: int) -> list[str]:
    """The `node status` report: state and flags, then where it is, what it holds, its disk and
    maintenance window."""
    member = status.member
    lines = [
        f"{status.node_id}  {state_flags_text(member, now_unix_ms=now_unix_ms)}",
        f"  address      {member.address or '-'} (zone {member.zone or '-'}, "
        f"generation {member.generation})",
    ]
    if status.reported_by_node:
        lines += [f"  holds        {holdings_text(status)}", f"  disk         {disk_text(status)}"]
    else:
        lines.append(f"  holds        - (it is {member.state}: only its membership record is "
                     "known)")
    if member.draining:
        lines.append("  drain        in progress: it turns LEFT once it holds no copies, placement "
                     "records or metadata records")
    lines.append(f"  maintenance  "
                 f"{maintenance_text(member.maintenance_until_unix_ms, now_unix_ms=now_unix_ms)}")
    return lines


def drain_line(status: NodeStatus, *, now_unix_ms: int) -> str:
    """One progress line of `node drain` off a terminal: "node-b ALIVE draining: 80 copies
    (320.0 MiB), 20 placement records, 8 metadata records left"."""
    flags = state_flags_text(status.member, now_unix_ms=now_unix_ms)
    if not status.reported_by_node:
        return f"{status.node_id} {flags}: not answering for itself; what it holds is unknown"
    return f"{status.node_id} {flags}: {holdings_text(status)} left"


def left_clause(status: NodeStatus) -> str:
    """"with 80 copies (...) left", or "while DOWN" when the node cannot say."""
    if status.reported_by_node:
        return f"with {holdings_text(status)} left"
    return f"while {status.member.state}"


def left_text(status: NodeStatus) -> str:
    """The final line of a drain that reached LEFT."""
    return (f"{status.node_id} is LEFT: it holds no data; stop its process and remove its "
            "data dir")


def plan_ideal(plan: RingPlan, ring_members_after: int | None) -> tuple[float, str]:
    """The least a change can move, as a fraction of the copies, and how it is reckoned: for an
    add, the new node's fair share, 1 / (ring members after, which only an add needs); for a
    drain, the copies the drained node holds (all of which must go, whatever the ring does)."""
    if plan.change == "add":
        assert ring_members_after, "an add plan needs the ring's size after the add"
        fraction = 1 / ring_members_after
        return fraction, (f"ideal for add to {ring_members_after} ring members: "
                          f"1/{ring_members_after} = {percent_text(fraction)}")
    own = plan.copies_from(plan.node_id)
    fraction = own / plan.copies_total if plan.copies_total else 0.0
    return fraction, (f"ideal for drain: {plan.node_id}'s own "
                      f"{_count(own, 'copy', 'copies')} = {percent_text(fraction)}")


def format_ring_plan(plan: RingPlan, ideal: str) -> list[str]:
    """The `ring plan` report: SOURCE TARGET COPIES BYTES (a share rebuilt from K others has the
    source "(rebuild)"), the totals against the ideal, then the layouts that could not be placed.
    Unreachable members are warned about separately."""
    lines = format_table(
        ("SOURCE", "TARGET", "COPIES", "BYTES"),
        ((m.source_node_id or "(rebuild)", m.target_node_id, str(m.copies), human_bytes(m.bytes))
         for m in plan.moves),
        right=(2, 3)) if plan.moves else []
    lines.append(f"moves {plan.copies_moved} of {_count(plan.copies_total, 'copy', 'copies')} "
                 f"({percent_text(plan.moved_fraction)}), {human_bytes(plan.bytes_moved)} of "
                 f"{human_bytes(plan.bytes_total)}; {ideal}")
    if plan.layouts_unplaceable:
        lines.append(f"unplaceable: {_count(plan.layouts_unplaceable, 'chunk layout')} could not "
                     f"be placed after this {plan.change}, for example:")
        lines += [f"  {one_line(reason)}" for reason in plan.unplaceable_reasons]
    return lines


def partial_plan_warning(unreachable: Sequence[str]) -> str:
    """The line that says a plan left out the layouts of members that did not answer."""
    return (f"warning: plan is partial: {_count(len(unreachable), 'member')} did not answer; "
            "the chunk layouts they are responsible for are not counted")


class Progress:
    """A one-line progress renderer (`\\r`-redrawn) for stderr; silent when disabled."""

    def __init__(self, *, label: str, total_bytes: int | None, stream: IO[str], enabled: bool,
                 monotonic_s: Callable[[], float] = time.monotonic) -> None:
        self._label = label
        self._total_bytes = total_bytes
        self._stream = stream
        self._enabled = enabled
        self._monotonic_s = monotonic_s
        self._started_s = monotonic_s()
        self._drawn_s = float("-inf")
        self._done_bytes = 0
        self._detail = ""

    def update(self, done_bytes: int, *, detail: str = "", total_bytes: int | None = None) -> None:
        """Record progress; redraw if enabled and PROGRESS_REDRAW_S passed. `detail` (e.g.
        "2/3 chunks") is shown after the label; `total_bytes`, when given, replaces the total
        (work that grows while it is done)."""
        self._done_bytes = done_bytes
        if total_bytes is not None:
            self._total_bytes = total_bytes
        self._detail = detail
        now_s = self._monotonic_s()
        if self._enabled and now_s - self._drawn_s >= PROGRESS_REDRAW_S:
            self._drawn_s = now_s
            self._stream.write("\r" + self.line(now_s))
            self._stream.flush()

    def line(self, now_s: float) -> str:
        elapsed_s = max(now_s - self._started_s, 1e-9)
        rate = f"{self._done_bytes / elapsed_s / 1e6:.1f} MB/s"
        label = f"{self._label}  {self._detail}" if self._detail else self._label
        if self._total_bytes:
            percent = 100 * self._done_bytes / self._total_bytes
            return (f"{label}  {human_bytes(self._done_bytes)} / "
                    f"{human_bytes(self._total_bytes)}  {percent:3.0f}%  {rate}")
        return f"{label}  {human_bytes(self._done_bytes)}  {rate}"

    def finish(self) -> None:
        if self._enabled and self._drawn_s != float("-inf"):
            self._stream.write("\r" + self.line(self._monotonic_s()) + "\n")
            self._stream.flush()


def _wall_unix_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclasses.dataclass(frozen=True)
class Clock:
    """The time commands read and wait on. The real one by default; a test passes its own as
    click's `obj` (`CliRunner().invoke(main, args, obj=clock)`)."""

    monotonic_s: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    unix_ms: Callable[[], int] = _wall_unix_ms


class _WaitView:
    """What the views of a wait share: a Progress line on a terminal, otherwise a line each time
    what it shows changes."""

    def __init__(self, *, stream: IO[str], terminal: bool, clock: Clock) -> None:
        self._stream = stream
        self._terminal = terminal
        self._clock = clock
        self._progress: Progress | None = None
        self._last_shown: tuple[object, ...] = ()

    def _line_if_changed(self, shown: tuple[object, ...], line: Callable[[], str]) -> None:
        if shown != self._last_shown:
            self._stream.write(line() + "\n")
            self._stream.flush()
            self._last_shown = shown

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.finish()


class DrainView(_WaitView):
    """How `node drain` shows a drain on stderr: on a terminal a Progress line of the bytes moved
    off the node (the total is what it held at the first answer), otherwise one line each time
    its state, flags or holdings change (not when only the maintenance time left ticks down)."""

    def __init__(self, *, stream: IO[str], terminal: bool, clock: Clock) -> None:
        super().__init__(stream=stream, terminal=terminal, clock=clock)
        self._start_bytes = 0

    def show(self, status: NodeStatus) -> None:
        if status.member.state == "LEFT":  # the command's last line says so
            if self._progress is not None:
                self._progress.update(self._start_bytes, detail="nothing left")
            return
        if not self._terminal:
            member = status.member
            shown = (member.state, member.draining, member.maintenance_until_unix_ms,
                     member.disk_full, status.shares_stored, status.bytes_stored,
                     status.placement_records, status.metadata_records)
            self._line_if_changed(shown, lambda: drain_line(status, now_unix_ms=self._clock.unix_ms()))
            return
        if not status.reported_by_node:
            return  # nothing to count while it is not ALIVE; the line keeps its last value
        if self._progress is None:
            self._start_bytes = status.bytes_stored
            self._progress = Progress(label=f"drain {status.node_id}",
                                      total_bytes=self._start_bytes, stream=self._stream,
                                      enabled=True, monotonic_s=self._clock.monotonic_s)
        self._progress.update(max(0, self._start_bytes - status.bytes_stored),
                              detail=f"{_count(status.shares_stored, 'copy', 'copies')} left")


def wait_for_drain(client: Client, status: NodeStatus, *, poll_s: float, timeout_s: float,
                   clock: Clock, show: Callable[[NodeStatus], None]) -> NodeStatus:
    """Poll `status.node_id` every poll_s until it is LEFT and return its last status;
    `show(status)` for the first status and each answer.

    Raises, with what is left and how to check on it: DeadlineExceeded after timeout_s;
    FailedPrecondition when the drain was cancelled (the node is ALIVE and not draining);
    Unavailable when the node turned OUT instead (repair restores its data from other copies).
    Each pass sleeps min(poll_s, time left), so there are at most timeout_s / poll_s + 1 polls.
    """
    node_id = status.node_id
    check = f"check it with `nodectl node status {node_id}`"
    deadline_s = clock.monotonic_s() + timeout_s
    show(status)
    while status.member.state != "LEFT":
        if status.member.state == "OUT":
            raise Unavailable(f"{node_id} turned OUT while draining: repair restores what it "
                              "held from the other copies; see `nodectl repair status`")
        if status.member.state in LIVE_STATES and not status.member.draining:
            raise FailedPrecondition(f"the drain of {node_id} was cancelled "
                                     f"{left_clause(status)}; start it again with "
                                     f"`nodectl node drain {node_id}`")
        remaining_s = deadline_s - clock.monotonic_s()
        if remaining_s <= 0:
            raise DeadlineExceeded(f"{node_id} still draining after {duration_text(timeout_s)} "
                                   f"{left_clause(status)}; the drain goes on in the cluster: "
                                   f"{check}")
        clock.sleep(min(poll_s, remaining_s))
        try:
            status = client.node_status(node_id)
        except RingstoreError as err:
            raise type(err)(f"{node_id} is draining, but asking for its status failed: {err}; "
                            f"the drain goes on in the cluster: {check}", code=err.code) from err
        show(status)
    return status


def repair_scans_fresh(status: RepairStatus, scans_before: Mapping[str, int]) -> bool:
    """Every node that answered finished a scan after the wait began: its last scan ends later
    than it did at the first poll (by the node's own clock, so nodectl's clock does not matter)."""
    return bool(status.nodes) and all(n.last_scan_unix_ms > scans_before.get(n.node_id, 0)
                                      for n in status.nodes)


def _repair_settled_view(status: RepairStatus, scans_before: Mapping[str, int]) -> bool:
    """The status can end a wait at all: every ALIVE member answered, from a scan that ended after
    the wait began, with no damage report queued for its next scan."""
    return (repair_scans_fresh(status, scans_before) and not status.unreachable
            and not any(n.queued for n in status.nodes))


def repair_done(status: RepairStatus, scans_before: Mapping[str, int]) -> bool:
    """Nothing left to repair or move, as scans that ended after the wait began found it, on
    every ALIVE member."""
    return (_repair_settled_view(status, scans_before)
            and status.chunks_below_full == 0 and status.chunks_misplaced == 0
            and status.bytes_left == 0 and not status.unrepairable)


def repair_stuck(status: RepairStatus, scans_before: Mapping[str, int]) -> bool:
    """Only chunks repair cannot restore are left, and nothing is moving: waiting changes nothing
    until an operator acts (adds nodes, brings a holder back)."""
    return (_repair_settled_view(status, scans_before)
            and bool(status.unrepairable) and status.rate_bytes_per_s == 0
            and status.chunks_below_full <= len(status.unrepairable))


class RepairView(_WaitView):
    """How `repair wait` shows progress on stderr: on a terminal a Progress line of the bytes
    written since the wait began against those plus the bytes left, otherwise the cluster line of
    `repair status` each time its counts change."""

    def __init__(self, *, stream: IO[str], terminal: bool, clock: Clock) -> None:
        super().__init__(stream=stream, terminal=terminal, clock=clock)
        self._repaired_before = 0

    def show(self, status: RepairStatus) -> None:
        if not self._terminal:
            shown = (status.chunks_below_full, status.chunks_misplaced, status.bytes_left,
                     len(status.unrepairable))
            self._line_if_changed(shown, lambda: repair_summary_line(status))
            return
        repaired = sum(n.bytes_repaired_total for n in status.nodes)
        if self._progress is None:
            self._repaired_before = repaired
            self._progress = Progress(label="repair", total_bytes=None, stream=self._stream,
                                      enabled=True, monotonic_s=self._clock.monotonic_s)
        done = max(0, repaired - self._repaired_before)
        self._progress.update(done, total_bytes=done + status.bytes_left,
                              detail=f"{_count(status.chunks_below_full, 'chunk')} below full, "
                                     f"{status.chunks_misplaced} misplaced")


class RepairStuck(FailedPrecondition):
    """`repair wait` found only chunks repair cannot restore: exit 10, as fsck does for degraded."""

    exit_code = EXIT_DEGRADED


def wait_for_repair(client: Client, *, poll_s: float, timeout_s: float, clock: Clock,
                    show: Callable[[RepairStatus], None]) -> RepairStatus:
    """Poll the cluster's repair status every poll_s until `repair_done` and return the last one;
    `show(status)` for each answer. A node's scan runs every repair_scan_interval_s (60 s on lan)
    and at once on a membership change, so even a healthy cluster takes up to one interval.

    Raises DeadlineExceeded after timeout_s, and FailedPrecondition (exit 10) when `repair_stuck`:
    both say what is left and how to look at it. Each pass sleeps min(poll_s, time left).
    """
    deadline_s = clock.monotonic_s() + timeout_s
    status = client.repair_status()
    scans_before = {n.node_id: n.last_scan_unix_ms for n in status.nodes}
    show(status)
    while not repair_done(status, scans_before):
        if repair_stuck(status, scans_before):
            first = status.unrepairable[0]
            raise RepairStuck(
                f"repair cannot finish: {_count(len(status.unrepairable), 'chunk')} cannot be "
                f"repaired (chunk {first.chunk_id_hex[:16]} ({first.policy}) on {first.node_id}: "
                f"{one_line(first.reason)}); see `nodectl repair status` for each reason")
        remaining_s = deadline_s - clock.monotonic_s()
        if remaining_s <= 0:
            raise DeadlineExceeded(f"repair not finished after {duration_text(timeout_s)}: "
                                   f"{repair_summary_line(status).removeprefix('repair: ')}; it "
                                   "goes on in the cluster: watch it with `nodectl repair status`")
        clock.sleep(min(poll_s, remaining_s))
        status = client.repair_status()
        show(status)
    return status


# ---------------------------------------------------------------------------------------------
# Error handling at the top
# ---------------------------------------------------------------------------------------------


def _fail(message: str, exit_code: int) -> NoReturn:
    click.echo(f"nodectl: error: {one_line(message)}", err=True)
    sys.exit(exit_code)


def _os_error_text(err: OSError) -> str:
    if err.filename is not None and err.strerror:
        return f"{err.filename}: {err.strerror}"
    return str(err) or type(err).__name__


class _Nodectl(click.Group):
    """The root group: turns every failure into one stderr line and its exit code."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        try:
            result = super().main(args, prog_name or "nodectl", complete_var,
                                  standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as err:
            # A group run without a command: its help, as click prints it, not an error line.
            err.show()
            sys.exit(err.exit_code)
        except click.ClickException as err:
            hint = ""
            context = getattr(err, "ctx", None)
            if isinstance(err, click.UsageError) and context is not None:
                hint = f" (see '{context.command_path} --help')"
            _fail(err.format_message() + hint, err.exit_code)
        except click.Abort:
            _fail("interrupted", EXIT_INTERRUPTED)
        except RingstoreError as err:
            _fail(str(err), err.exit_code)
        except grpc.RpcError as err:  # a path the client did not translate; still one line
            error = from_rpc_error(err)
            _fail(str(error), error.exit_code)
        except BrokenPipeError:
            _silence_stdout()
            sys.exit(EXIT_OTHER)
        except OSError as err:
            _fail(_os_error_text(err), EXIT_OTHER)
        # With standalone_mode=False click returns the exit code for --help and ctx.exit().
        sys.exit(result if isinstance(result, int) else 0)


def _silence_stdout() -> None:
    """After a closed pipe on stdout, keep Python from failing again when it flushes at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


class _Settings:
    def __init__(self, addr: str | None, timeout_s: float, retries_max: int, clock: Clock) -> None:
        self.addr = addr
        self.timeout_s = timeout_s
        self.retries_max = retries_max
        self.clock = clock

    def client(self) -> Client:
        return Client(address=resolve_address(self.addr, os.environ), timeout_s=self.timeout_s,
                      retries_max=self.retries_max, sleep=self.clock.sleep)


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _progress(label: str, total_bytes: int | None) -> Progress:
    big = total_bytes is None or total_bytes >= PROGRESS_MIN_BYTES
    return Progress(label=label, total_bytes=total_bytes, stream=sys.stderr,
                    enabled=big and _stderr_is_terminal())


def _binary(stream: Any) -> Any:
    """The byte stream under a text stdio stream (sys.stdin.buffer), or the stream itself."""
    return getattr(stream, "buffer", stream)


def _unbuffered_stdin() -> Any:
    """stdin's file descriptor as an unbuffered binary file, for `put -`.

    The client reads a pipe from gRPC's sending thread. Through sys.stdin.buffer that thread holds
    the buffer's lock while it waits on a slow producer; when the put fails meanwhile (the node
    went away) and the main thread exits, the interpreter cannot take that lock at shutdown and
    aborts (`Fatal Python error: _enter_buffered_busy`, exit 134). An unbuffered read holds no lock
    while it blocks. Nothing has read stdin before this, so no buffered bytes are skipped. Without
    a descriptor (a test's in-memory stdin), the stream itself."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        return _binary(sys.stdin)
    return open(fd, "rb", buffering=0, closefd=False)


def _print_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, sort_keys=True))


@click.group(cls=_Nodectl, epilog=EXIT_CODES_HELP,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--addr", metavar="HOST:PORT", default=None,
              help=f"Node to talk to (any node of the cluster); default ${ADDRESS_ENV}.")
@click.option("--timeout-s", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True, metavar="S",
              help="Deadline of one request; streams add 1 s per 10 MB moved.")
@click.option("--retries-max", type=click.IntRange(0, RETRIES_MAX_LIMIT), default=3,
              show_default=True, metavar="N",
              help="Retries of a request the node answers UNAVAILABLE (or cannot be reached).")
@click.pass_context
def main(ctx: click.Context, addr: str | None, timeout_s: float, retries_max: int) -> None:
    """Ringstore command line: buckets, objects, cluster status, node operations, ring plans,
    repair, fsck and scrub."""
    clock = ctx.obj if isinstance(ctx.obj, Clock) else Clock()
    ctx.obj = _Settings(addr, timeout_s, retries_max, clock)


# The --ec flag's help, shared by mb, put and convert.
EC_HELP = (f"Erasure-code every chunk into K data + M parity shares, any K of which rebuild it "
           f"(K, M >= 1; K+M at most {EC_SHARES_MAX} and at most the live nodes).")


@main.command("mb")
@click.argument("bucket")
@click.option("--replicas", type=click.IntRange(min=1), default=None, metavar="N",
              help="Copies of every chunk (default: the cluster's policy).")
@click.option("--ec", default=None, metavar="K+M", help=EC_HELP + " Not with --replicas.")
@click.pass_obj
def make_bucket(settings: _Settings, bucket: str, replicas: int | None, ec: str | None) -> None:
    """Create BUCKET, whose objects default to --replicas N or --ec K+M."""
    replicas, shares = parse_policy_flags(replicas, ec)
    with settings.client() as client:
        info = client.create_bucket(bucket, replicas=replicas, ec=shares)
    click.echo(f"created bucket {info.name} ({info.policy or 'cluster default policy'})")


@main.command("rb")
@click.argument("bucket")
@click.pass_obj
def remove_bucket(settings: _Settings, bucket: str) -> None:
    """Remove BUCKET, which must be empty."""
    with settings.client() as client:
        client.delete_bucket(bucket)
    click.echo(f"removed bucket {bucket}")


@main.command("ls")
@click.argument("target", required=False, metavar="[BUCKET[/PREFIX]]")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--page-size", type=click.IntRange(1, LIST_PAGE_SIZE_MAX), default=1000,
              show_default=True, metavar="N", help="Objects fetched per request.")
@click.pass_obj
def list_command(settings: _Settings, target: str | None, as_json: bool, page_size: int) -> None:
    """List buckets, or the objects of BUCKET whose keys start with PREFIX."""
    if target is None:
        with settings.client() as client:
            buckets = client.list_buckets()
        if as_json:
            _print_json({"buckets": [b.to_dict() for b in buckets]})
        else:
            click.echo("\n".join(format_buckets(buckets)))
        return
    bucket, prefix = split_bucket_prefix(target)
    with settings.client() as client:
        objects = client.list_objects(bucket, prefix=prefix, page_size=page_size)
        if as_json:
            _print_json({"bucket": bucket, "prefix": prefix,
                         "objects": [o.to_dict() for o in objects]})
            return
        first = next(objects, None)  # fail before printing a header when the bucket is missing
        click.echo(format_object_header())
        if first is not None:
            click.echo(format_object_line(first))
            for info in objects:
                click.echo(format_object_line(info))


@main.command("put")
@click.argument("local_path", metavar="LOCAL_PATH")
@click.argument("target", metavar="BUCKET/KEY")
@click.option("--replicas", type=click.IntRange(min=1), default=None, metavar="N",
              help="Copies of every chunk (default: the bucket's policy).")
@click.option("--ec", default=None, metavar="K+M", help=EC_HELP + " Not with --replicas.")
@click.option("--content-type", default=None, metavar="T",
              help="MIME type to record (default: guessed from LOCAL_PATH's name).")
@click.pass_obj
def put_command(settings: _Settings, local_path: str, target: str, replicas: int | None,
                ec: str | None, content_type: str | None) -> None:
    """Store LOCAL_PATH (- for stdin) as BUCKET/KEY.

    A KEY that is empty or ends in / gets LOCAL_PATH's file name appended. --replicas N or
    --ec K+M override the bucket's policy for this object.
    """
    replicas, shares = parse_policy_flags(replicas, ec)
    bucket, key = split_bucket_key(target, key_required=False)
    if not key or key.endswith("/"):
        if local_path == "-":
            raise InvalidArgument("put from stdin needs a full BUCKET/KEY")
        key += Path(local_path).name
        validate_key(key)
    if content_type is None:
        content_type = "" if local_path == "-" else (mimetypes.guess_type(local_path)[0] or "")
    if local_path == "-":
        data: Any = _unbuffered_stdin()
        total_bytes = None
    else:
        path = Path(local_path)
        if path.is_dir():
            raise IsADirectoryError(21, "is a directory", local_path)
        data = path
        total_bytes = path.stat().st_size
    progress = _progress(f"put {bucket}/{key}", total_bytes)
    with settings.client() as client:
        try:
            info = client.put(bucket, key, data, replicas=replicas, ec=shares,
                              content_type=content_type, progress=progress.update)
        finally:
            progress.finish()
    click.echo(f"stored {info.bucket}/{info.key}: {info.size_bytes} bytes, "
               f"blake3 {info.blake3_hex}, version {info.version}")


@main.command("get")
@click.argument("source", metavar="BUCKET/KEY")
@click.argument("local_path", metavar="LOCAL_PATH|-")
@click.option("--range", "byte_range", default=None, metavar="START-END",
              help="Only bytes START..END (inclusive); START- reads to the end.")
@click.pass_obj
def get_command(settings: _Settings, source: str, local_path: str, byte_range: str | None) -> None:
    """Read BUCKET/KEY into LOCAL_PATH (a file or directory; - for stdout).

    The bytes go to a temporary file beside LOCAL_PATH, renamed into place only once complete.
    """
    bucket, key = split_bucket_key(source)
    start_bytes, length_bytes = (None, None) if byte_range is None else parse_range(byte_range)
    with settings.client() as client, client.get(
            bucket, key, range_start_bytes=start_bytes, range_length_bytes=length_bytes) as reader:
        progress = _progress(f"get {bucket}/{key}", reader.range_length_bytes)
        try:
            if local_path == "-":
                stdout = _binary(sys.stdout)
                reader.readinto_file(stdout, progress=progress.update)
                stdout.flush()
            else:
                destination = Path(local_path)
                if destination.is_dir():
                    destination = destination / key.rsplit("/", 1)[-1]
                _write_atomically(destination, lambda f: reader.readinto_file(
                    f, progress=progress.update))
        finally:
            progress.finish()


def _write_atomically(destination: Path, write: Callable[[IO[bytes]], object]) -> None:
    """write(f) into a temp file beside destination, fsync, then rename it over destination."""
    fd, temp_name = tempfile.mkstemp(dir=destination.parent or Path("."),
                                     prefix=f".{destination.name}.", suffix=".part")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; give the usual new-file mode
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp_name, destination)
    except BaseException:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise


@main.command("rm")
@click.argument("target", metavar="BUCKET/KEY")
@click.pass_obj
def remove_command(settings: _Settings, target: str) -> None:
    """Delete BUCKET/KEY."""
    bucket, key = split_bucket_key(target)
    with settings.client() as client:
        client.delete(bucket, key)
    click.echo(f"deleted {bucket}/{key}")


@main.command("stat")
@click.argument("target", metavar="BUCKET/KEY")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def stat_command(settings: _Settings, target: str, as_json: bool) -> None:
    """Show BUCKET/KEY's size and bytes on disk, blake3, version, policy, and each chunk's
    holders (copy N, or share I data/parity under erasure coding)."""
    bucket, key = split_bucket_key(target)
    with settings.client() as client:
        stat = client.stat(bucket, key)
    if as_json:
        _print_json(stat.to_dict())
    else:
        click.echo("\n".join(format_stat(stat)))


@main.command("convert")
@click.argument("target", metavar="BUCKET/KEY")
@click.option("--ec", default=None, metavar="K+M", help=EC_HELP)
@click.option("--replicas", type=click.IntRange(min=1), default=None, metavar="N",
              help="Whole copies of every chunk on N nodes.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON document.")
@click.pass_obj
def convert_command(settings: _Settings, target: str, ec: str | None, replicas: int | None,
                    as_json: bool) -> None:
    """Rewrite BUCKET/KEY under --ec K+M or --replicas N (exactly one).

    The old copies are released only once the new ones are durable; converting to the policy
    the object already has does nothing. Progress goes to stderr when it is a terminal.
    """
    replicas, shares = parse_policy_flags(replicas, ec, required=True)
    bucket, key = split_bucket_key(target)
    bars: list[Progress] = []  # made at the first progress message, which tells the size

    def on_progress(done: ConvertProgress) -> None:
        if not bars:
            bars.append(_progress(f"convert {bucket}/{key}", done.bytes_total))
        bars[0].update(done.bytes_done, detail=f"{done.chunks_done}/{done.chunks_total} chunks")

    with settings.client() as client:
        try:
            result = client.convert(bucket, key, replicas=replicas, ec=shares,
                                    progress=on_progress)
        finally:
            if bars:
                bars[0].finish()
    if as_json:
        _print_json(result.to_dict())
    else:
        click.echo(format_convert_result(bucket, key, result, policy_flags_text(replicas, shares)))


@main.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def status_command(settings: _Settings, as_json: bool) -> None:
    """Show the cluster's members, their states and ring shares, health and repair debt."""
    with settings.client() as client:
        status = client.cluster_status()
    if as_json:
        _print_json(status.to_dict())
    else:
        click.echo("\n".join(format_status(status, now_unix_ms=settings.clock.unix_ms())))


def _warn_unreachable(unreachable: Sequence[str]) -> None:
    for entry in unreachable:
        click.echo(unreachable_warning(entry), err=True)


# The --node-only flag's help, shared by the repair and scrub commands.
NODE_ONLY_HELP = "Only the node at --addr; default: every ALIVE member, through it."


@main.group("repair")
def repair_group() -> None:
    """Repair debt and progress; repair and scrub throttles."""


@repair_group.command("status")
@click.option("--node-only", is_flag=True, help=NODE_ONLY_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def repair_status_command(settings: _Settings, node_only: bool, as_json: bool) -> None:
    """Show chunks below full redundancy by level (worst first), bytes left, rate and ETA, each
    node's share of the work, and every chunk repair could not restore.

    Exits 0 whatever the debt: it is a report (use `nodectl fsck` for an exit code that says
    whether data is at risk)."""
    with settings.client() as client:
        status = client.repair_status(this_node_only=node_only)
    if as_json:
        _print_json(status.to_dict())
    else:
        click.echo("\n".join(format_repair_status(status)))
    _warn_unreachable(status.unreachable)


@repair_group.command("wait")
@click.option("--poll-s", type=click.FloatRange(DRAIN_POLL_S_MIN, DRAIN_POLL_S_MAX),
              default=REPAIR_POLL_S_DEFAULT, show_default=True, metavar="S",
              help="Seconds between two status polls.")
@click.option("--timeout-s", "wait_s", type=click.FloatRange(0, DRAIN_WAIT_S_MAX, min_open=True),
              default=DRAIN_WAIT_S_MAX, metavar="S",
              help="Stop waiting after S seconds (repair goes on); default and limit 7 days.")
@click.option("--json", "as_json", is_flag=True, help="Print the last status as JSON.")
@click.pass_obj
def repair_wait_command(settings: _Settings, poll_s: float, wait_s: float, as_json: bool) -> None:
    """Wait until every chunk is at full redundancy and on its home nodes, as scans that ended
    after the command started found on every ALIVE member; progress on stderr, then the status.

    Takes up to one repair scan interval (60 s on lan) even when nothing is left. Exits 4 when
    --timeout-s passes first or a member does not answer until then, 10 when only chunks repair
    cannot restore are left (each listed by `nodectl repair status`). Ctrl-C stops the waiting,
    not the repair."""
    with settings.client() as client:
        view = RepairView(stream=sys.stderr, terminal=_stderr_is_terminal(), clock=settings.clock)
        try:
            try:
                status = wait_for_repair(client, poll_s=poll_s, timeout_s=wait_s,
                                         clock=settings.clock, show=view.show)
            finally:
                view.finish()
        except KeyboardInterrupt:
            _fail("interrupted: stopped waiting; repair goes on in the cluster: watch it with "
                  "`nodectl repair status`", EXIT_INTERRUPTED)
    if as_json:
        _print_json(status.to_dict())
    else:
        click.echo("\n".join(format_repair_status(status)))


@repair_group.command("set")
@click.option("--bandwidth-bytes-per-s", type=click.IntRange(0, UINT64_MAX), default=None,
              metavar="N", help="Most bytes per second repair writes on each node; 0: unthrottled.")
@click.option("--concurrency", type=click.IntRange(1, UINT32_MAX), default=None, metavar="N",
              help="Most chunks each node repairs at once.")
@click.option("--scrub-bandwidth-bytes-per-s", type=click.IntRange(1, UINT64_MAX), default=None,
              metavar="N", help="Most bytes per second scrub reads on each node.")
@click.option("--node-only", is_flag=True, help=NODE_ONLY_HELP)
@click.pass_obj
def repair_set_command(settings: _Settings, bandwidth_bytes_per_s: int | None,
                       concurrency: int | None, scrub_bandwidth_bytes_per_s: int | None,
                       node_only: bool) -> None:
    """Change repair and scrub throttles now, until the nodes restart (they then read their
    config again). Exits 4 when an ALIVE member did not answer, after naming those that applied
    it."""
    if (bandwidth_bytes_per_s is None and concurrency is None
            and scrub_bandwidth_bytes_per_s is None):
        raise click.UsageError("give at least one of --bandwidth-bytes-per-s, --concurrency and "
                               "--scrub-bandwidth-bytes-per-s")
    with settings.client() as client:
        applied, unreachable = client.set_repair_config(
            repair_bandwidth_bytes_per_s=bandwidth_bytes_per_s,
            repair_concurrency_max=concurrency,
            scrub_bandwidth_bytes_per_s=scrub_bandwidth_bytes_per_s,
            this_node_only=node_only)
    changed = repair_config_text(bandwidth_bytes_per_s, concurrency, scrub_bandwidth_bytes_per_s)
    click.echo(f"set {changed} on {', '.join(applied) or 'no node'}")
    if unreachable:
        raise not_applied_error("repair config", unreachable)


@main.command("fsck")
@click.argument("bucket", required=False)
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document: findings and summary.")
@click.option("--deep", is_flag=True,
              help="Have every holder read each copy back and check its blake3 (a corrupt copy "
                   "counts as missing and is quarantined for repair); slow: at disk or throttle "
                   "speed.")
@click.option("--bandwidth-bytes-per-s", type=click.IntRange(min=1), default=None, metavar="N",
              help="With --deep: the most bytes per second each holder reads (default: its scrub "
                   "throttle).")
@click.pass_context
def fsck_command(ctx: click.Context, bucket: str | None, as_json: bool, deep: bool,
                 bandwidth_bytes_per_s: int | None) -> None:
    """Audit every object (or BUCKET's): one line per chunk below full redundancy and per metadata
    replica missing or corrupt, then a summary.

    Holders check each copy's index entry and file; with --deep they also read it back against
    its hash. Exits 0 when every chunk is at full redundancy and every metadata replica holds the
    current manifest, 10 when some are degraded (or missing, or corrupt) but all read, and 5 when
    any chunk is unreadable. Progress goes to stderr when it is a terminal."""
    if bandwidth_bytes_per_s is not None and not deep:
        raise click.UsageError("--bandwidth-bytes-per-s limits --deep's reads: add --deep")
    settings: _Settings = ctx.obj
    progress = _progress(f"fsck {bucket}" if bucket else "fsck", None)

    def on_progress(done: FsckProgress) -> None:
        progress.update(done.bytes_checked, detail=f"{_count(done.objects_checked, 'object')}, "
                                                   f"{_count(done.chunks_checked, 'chunk')}")

    with settings.client() as client:
        try:
            report = client.fsck(bucket, deep=deep, bandwidth_bytes_per_s=bandwidth_bytes_per_s or 0,
                                 progress=on_progress)
        finally:
            progress.finish()
    if as_json:
        _print_json(report.to_dict())
    else:
        lines = [format_finding(f) for f in report.findings]
        lines += [format_metadata_finding(f) for f in report.metadata_findings]
        if report.findings_omitted:
            lines.append(f"fsck: {report.findings_omitted} more findings not shown (only the "
                         f"first {FSCK_FINDINGS_MAX} are kept; the summary counts them all)")
        lines.append(format_fsck_summary(report.summary))
        click.echo("\n".join(lines))
    ctx.exit(fsck_exit_code(report))


@main.group("scrub")
def scrub_group() -> None:
    """Re-read stored copies against their hashes: start a pass, watch its progress."""


@scrub_group.command("start")
@click.option("--node-only", is_flag=True, help=NODE_ONLY_HELP)
@click.pass_obj
def scrub_start_command(settings: _Settings, node_only: bool) -> None:
    """Start a scrub pass now (a node already scrubbing carries on). Exits 4 when an ALIVE member
    did not answer, after naming those that run one."""
    with settings.client() as client:
        started, unreachable = client.start_scrub(this_node_only=node_only)
    click.echo(f"scrub running on {', '.join(started) or 'no node'}")
    if unreachable:
        raise not_applied_error("scrub start", unreachable)


@scrub_group.command("status")
@click.option("--node-only", is_flag=True, help=NODE_ONLY_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def scrub_status_command(settings: _Settings, node_only: bool, as_json: bool) -> None:
    """Show each node's scrub pass: copies and bytes checked, corrupt copies found, passes done."""
    with settings.client() as client:
        status = client.scrub_status(this_node_only=node_only)
    if as_json:
        _print_json(status.to_dict())
    else:
        click.echo("\n".join(format_scrub_status(status)))
    _warn_unreachable(status.unreachable)


@main.group("node")
def node_group() -> None:
    """One node: its status, draining it out of the cluster, maintenance windows."""


@node_group.command("status")
@click.argument("node_id", metavar="[NODE]", required=False, default="")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def node_status_command(settings: _Settings, node_id: str, as_json: bool) -> None:
    """Show NODE's state and flags, the copies, bytes and records it holds, its disk (used, free,
    full watermarks) and maintenance window. Default NODE: the node at --addr."""
    with settings.client() as client:
        status = client.node_status(node_id)
    if as_json:
        _print_json(status.to_dict())
    else:
        click.echo("\n".join(format_node_status(status, now_unix_ms=settings.clock.unix_ms())))


@node_group.command("drain")
@click.argument("node_id", metavar="NODE")
@click.option("--cancel", is_flag=True,
              help="Stop draining instead: NODE rejoins the ring (what moved stays moved).")
@click.option("--no-wait", is_flag=True, help="Return once the drain has started.")
@click.option("--json", "as_json", is_flag=True, help="Print NODE's last status as JSON.")
@click.option("--poll-s", type=click.FloatRange(DRAIN_POLL_S_MIN, DRAIN_POLL_S_MAX),
              default=DRAIN_POLL_S_DEFAULT, show_default=True, metavar="S",
              help="Seconds between two status polls while waiting.")
@click.option("--timeout-s", "wait_s", type=click.FloatRange(0, DRAIN_WAIT_S_MAX, min_open=True),
              default=DRAIN_WAIT_S_MAX, metavar="S",
              help="Stop waiting after S seconds (the drain goes on); default and limit 7 days.")
@click.pass_obj
def node_drain_command(settings: _Settings, node_id: str, cancel: bool, no_wait: bool,
                       as_json: bool, poll_s: float, wait_s: float) -> None:
    """Drain NODE out of the cluster: it leaves the ring at once, repair moves its data to the
    nodes that now own it, and it turns LEFT once it holds nothing. Then its process can be
    stopped and its data dir removed.

    Waits for LEFT, showing what is left on NODE on stderr. Exits 4 when --timeout-s passes
    first, 6 when NODE is not ALIVE, has LEFT, or the ring left behind would be too small for
    some redundancy policy (see `nodectl ring plan drain NODE`). Ctrl-C stops the waiting, not
    the drain."""
    with settings.client() as client:
        status = client.drain_node(node_id, cancel=cancel)
        if cancel:
            if as_json:
                _print_json(status.to_dict())
            else:
                click.echo(f"{node_id} is no longer draining: it rejoins the ring (copies already "
                           "moved stay where they are)")
            return
        if not no_wait:
            view = DrainView(stream=sys.stderr, terminal=_stderr_is_terminal(),
                             clock=settings.clock)
            try:
                try:
                    status = wait_for_drain(client, status, poll_s=poll_s, timeout_s=wait_s,
                                            clock=settings.clock, show=view.show)
                finally:
                    view.finish()  # end the progress line before any error line
            except KeyboardInterrupt:
                _fail(f"interrupted: stopped waiting, but {node_id} keeps draining in the "
                      f"cluster; check it with `nodectl node status {node_id}`, or stop it with "
                      f"`nodectl node drain {node_id} --cancel`", EXIT_INTERRUPTED)
    if as_json:
        _print_json(status.to_dict())
    elif no_wait:
        click.echo(f"{node_id} is draining {left_clause(status)}; watch it with "
                   f"`nodectl node status {node_id}`")
    else:
        click.echo(left_text(status))


@node_group.command("maintenance")
@click.argument("node_id", metavar="NODE")
@click.option("--for-s", "for_s", type=int, default=None, metavar="N",
              help=f"Window length in seconds, 1..{MAINTENANCE_S_MAX} (7 days).")
@click.option("--end", is_flag=True, help="End NODE's maintenance window now.")
@click.pass_obj
def node_maintenance_command(settings: _Settings, node_id: str, for_s: int | None,
                             end: bool) -> None:
    """Put NODE in maintenance for N seconds (--for-s N), or end it (--end). While the window
    lasts, NODE going DOWN does not turn OUT, so a planned restart causes no repair. NODE must be
    ALIVE: set the window before stopping it."""
    if (for_s is None) == (not end):
        raise click.UsageError("give either --for-s N or --end")
    if for_s is not None and not 1 <= for_s <= MAINTENANCE_S_MAX:
        raise click.UsageError(
            f"--for-s {for_s} is outside 1..{MAINTENANCE_S_MAX} seconds (7 days): a longer "
            "absence should let repair restore the node's data elsewhere; --end ends a window")
    with settings.client() as client:
        status = client.set_maintenance(node_id, for_s or 0)
    if end:
        click.echo(f"{node_id} is out of maintenance: if it goes DOWN it turns OUT as usual")
        return
    until = status.member.maintenance_until_unix_ms
    if not until:
        raise Internal(f"{node_id} answered without the maintenance window it was asked to set")
    left = short_duration_text((until - settings.clock.unix_ms()) / 1000)
    click.echo(f"{node_id} in maintenance until {utc_text(until)} ({left}): DOWN will not turn "
               "OUT before then")


@main.group("ring")
def ring_group() -> None:
    """The consistent-hash ring: preview what a change would move."""


@ring_group.group("plan")
def ring_plan_group() -> None:
    """What adding or draining a node would move, before anything moves.

    Exits 6 when some chunk layouts could not be placed after the change (too few ring members
    for their policy), which is what the drain itself would be refused for."""


def _report_plan(plan: RingPlan, ring_members_after: int | None, as_json: bool) -> None:
    """Print a plan (table or JSON), warn about a partial one, exit 6 if anything is unplaceable."""
    ideal_fraction, ideal = plan_ideal(plan, ring_members_after)
    if as_json:
        document = plan.to_dict()
        document.update(moved_fraction=plan.moved_fraction, ideal_fraction=ideal_fraction)
        _print_json(document)
    else:
        click.echo("\n".join(format_ring_plan(plan, ideal)))
    _warn_unreachable(plan.unreachable)
    if plan.unreachable:
        click.echo(partial_plan_warning(plan.unreachable), err=True)
    if plan.layouts_unplaceable:
        click.get_current_context().exit(EXIT_CONFLICT)


@ring_plan_group.command("add")
@click.argument("node_id", metavar="NODE")
@click.option("--zone", default="", metavar="Z", help="The new node's zone.")
@click.option("--capacity-bytes", type=click.IntRange(0, UINT64_MAX), default=0, metavar="N",
              help="The new node's capacity (its ring weight); default: the ring's median.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def ring_plan_add_command(settings: _Settings, node_id: str, zone: str, capacity_bytes: int,
                          as_json: bool) -> None:
    """Show the copies and bytes that adding NODE would move, by source and target, against the
    ideal 1 / (ring members after). Exits 6 when some layouts could not be placed."""
    with settings.client() as client:
        plan = client.plan_ring("add", node_id, zone=zone, capacity_bytes=capacity_bytes)
        ring_members_after = len(client.ring().ownership) + 1
    _report_plan(plan, ring_members_after, as_json)


@ring_plan_group.command("drain")
@click.argument("node_id", metavar="NODE")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def ring_plan_drain_command(settings: _Settings, node_id: str, as_json: bool) -> None:
    """Show the copies and bytes that draining NODE would move, by source and target, against
    the copies NODE holds. Exits 6 when some layouts could not be placed after the drain."""
    with settings.client() as client:
        plan = client.plan_ring("drain", node_id)
    _report_plan(plan, None, as_json)
