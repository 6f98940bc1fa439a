"""`node status|drain|maintenance`: commands on one node, and the wait for a drain to finish.

`node status|drain|maintenance` act on one node, through any node. `node drain` starts the drain
and then (unless --no-wait) polls the node until it is LEFT: on a terminal a redrawn progress line
of the bytes moved off it, otherwise one stderr line each time what it holds changes, so a log
shows the drain's pace. Waiting is only watching: a timeout (exit 4), a Ctrl-C (exit 130) or a
failed poll ends the command, never the drain, and each says so and how to check on it. Rejected:
returning as soon as the drain starts, always; an operator then has to write the polling loop
that decides when the process may be stopped, and "LEFT" is exactly that signal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import IO

import click

from nodectl.cli.common import (
    DRAIN_POLL_S_DEFAULT,
    DRAIN_POLL_S_MAX,
    DRAIN_POLL_S_MIN,
    DRAIN_WAIT_S_MAX,
    EXIT_INTERRUPTED,
    Clock,
    _fail,
    _print_json,
    _Settings,
)
from nodectl.cli.formatting import (
    _count,
    duration_text,
    human_bytes,
    short_duration_text,
    state_flags_text,
    utc_text,
)
from nodectl.cli.progress import Progress, _stderr_is_terminal, _WaitView
from nodectl.client import LIVE_STATES, MAINTENANCE_S_MAX, Client, NodeStatus
from nodectl.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    RingstoreError,
    Unavailable,
)


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


def tombstones_text(status: NodeStatus) -> str:
    """"none", or "12 (oldest 3 d 4 h)": deleted keys' records waiting to be purged."""
    if not status.tombstones_held:
        return "none"
    return f"{status.tombstones_held} (oldest {duration_text(status.oldest_tombstone_age_s)})"


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
        lines += [f"  holds        {holdings_text(status)}", f"  tombstones   {tombstones_text(status)}",
                  f"  disk         {disk_text(status)}",
                  "  master keys  " + (f"{', '.join(status.master_key_ids)} (primary {status.master_key_ids[-1]})"
                                      if status.master_key_ids else "none (cannot encrypt at rest)")]
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


@click.group("node")
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
