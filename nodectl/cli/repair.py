"""`repair status|wait|set`: repair debt and progress, waiting until repair is done, throttles.

`repair status` is a report: it exits 0 whatever it shows, and warns on stderr (`warning: node-4
did not answer: ...`) about ALIVE members that did not answer. `repair set` is an action: it
prints the nodes that applied it and exits 4 (unavailable) when some member did not answer, since
the cluster then runs with mixed settings. Rejected: exiting non-zero from `repair status` when
there is debt; debt after a node loss is normal work in progress, and a status command that
"fails" then is useless in a loop.

`repair wait` ends only on an answer from every ALIVE member whose last scan ended after the wait
began (by each node's own clock), with nothing below full, misplaced, queued or unrepairable:
right after a failure the debt can read zero before any scan has seen it. It exits 10 when only
chunks repair cannot restore are left and nothing moves, since waiting longer changes nothing
until an operator acts.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import IO

import click

from nodectl.cli.common import (
    DRAIN_POLL_S_MAX,
    DRAIN_POLL_S_MIN,
    DRAIN_WAIT_S_MAX,
    EXIT_INTERRUPTED,
    NODE_ONLY_HELP,
    Clock,
    _fail,
    _print_json,
    _Settings,
    _warn_unreachable,
    not_applied_error,
)
from nodectl.cli.formatting import (
    _count,
    _is_ec,
    duration_text,
    eta_text,
    format_table,
    human_bytes,
    iso_utc,
    rate_text,
)
from nodectl.cli.progress import Progress, _stderr_is_terminal, _WaitView
from nodectl.client import UINT32_MAX, UINT64_MAX, Client, RedundancyLevel, RepairStatus
from nodectl.errors import EXIT_DEGRADED, DeadlineExceeded, FailedPrecondition, one_line


# `repair wait` polls the cluster's repair status this often by default: each poll asks every
# ALIVE member, so not as often as a drain polls its one node.
REPAIR_POLL_S_DEFAULT = 2.0


def level_text(level: RedundancyLevel) -> str:
    """"replicas=3 at 2 of 3 copies"; "ec=4+2 at K+1 (5 of 6 shares)" (K-1 is unreadable)."""
    if _is_ec(level.policy):
        return (f"{level.policy} at K{level.copies_spare:+d} "
                f"({level.copies_present} of {level.copies_wanted} shares)")
    return f"{level.policy} at {level.copies_present} of {level.copies_wanted} copies"


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


@click.group("repair")
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
