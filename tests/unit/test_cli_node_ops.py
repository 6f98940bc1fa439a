"""`nodectl node status|drain|maintenance`, `ring plan` and the flags in `status`.

The pure parts (compact durations, state flags, disk and plan lines, the ideal a plan is measured
against) are table-driven; the client and the commands run against `nodectl_fakes.FakeServer`,
a real grpc.server on a free loopback port whose drains progress one step per status poll. Time
is a manual clock handed to the CLI as click's `obj`: a drain's polls advance it, nothing sleeps,
and every duration printed is exact.
"""

from __future__ import annotations

import dataclasses
import io
import json
import random
from collections.abc import Callable, Iterator

import grpc
import pytest
from click.testing import CliRunner
from ringstore.v1 import admin_pb2, membership_pb2

from nodectl import cli, errors
from nodectl.client import MAINTENANCE_S_MAX, Client, Member, NodeStatus, RingMove, RingPlan
from nodectl_fakes import FakeServer, ManualClock, assert_error_line, clocked_cli

MIB = 1024 * 1024
GIB = 1024 * MIB
# The fake's wall clock: 2023-11-14T22:13:20Z.
START_UNIX_MS = 1_700_000_000_000


_MEMBER_FIELDS = {f.name for f in dataclasses.fields(Member)}


def _node_status(**changes: object) -> NodeStatus:
    """node-b, ALIVE, holding 120 copies; `changes` go to the member record or the status."""
    member: dict[str, object] = dict(
        node_id="node-b", address="127.0.0.1:7402", zone="z2", state="ALIVE", generation=5,
        incarnation=1, capacity_bytes=100 * GIB, free_bytes=40 * GIB, metrics_port=0,
        draining=False, maintenance_until_unix_ms=0, disk_full=False)
    fields: dict[str, object] = dict(
        node_id="node-b", shares_stored=120, bytes_stored=480 * MIB, metadata_records=12,
        placement_records=30, disk_size_bytes=100 * GIB, disk_free_bytes=40 * GIB,
        disk_full_ratio=0.9, disk_free_bytes_min=5 * GIB)
    for name, value in changes.items():
        (member if name in _MEMBER_FIELDS and name != "node_id" else fields)[name] = value
    return NodeStatus(member=Member(**member), **fields)  # type: ignore[arg-type]


def _plan(change: str, moves: list[RingMove], *, copies_total: int = 288,
          bytes_total: int = 1152 * MIB, unplaceable: int = 0,
          reasons: tuple[str, ...] = ()) -> RingPlan:
    return RingPlan(
        change=change, node_id="node-d" if change == "add" else "node-b", moves=moves,
        layouts_total=96, copies_total=copies_total, bytes_total=bytes_total,
        copies_moved=sum(m.copies for m in moves), bytes_moved=sum(m.bytes for m in moves),
        layouts_unplaceable=unplaceable, unplaceable_reasons=list(reasons),
        node_ids=["node-a", "node-b"], unreachable=[])


# ---------------------------------------------------------------------------------------------
# Pure: durations, flags, disk, plans
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds,text", [
    (0, "0s"), (-3, "0s"), (0.2, "1s"), (45, "45s"), (59.5, "1m"), (60, "1m"), (61, "2m"),
    (1799.5, "30m"), (1800, "30m"), (3600, "1h"), (7500, "2h5m"), (86400, "1d"),
    (86401, "1d1h"), (90061, "1d2h"), (7 * 86400, "7d"),
])
def test_short_duration_rounds_up_to_two_units(seconds: float, text: str) -> None:
    """Time left reads "45s", "28m", "2h5m", "1d2h": the two largest units, rounded up so a
    window is never shown shorter than it is."""
    assert cli.short_duration_text(seconds) == text


@pytest.mark.parametrize("changes,text", [
    ({}, "ALIVE"),
    ({"draining": True}, "ALIVE draining"),
    ({"state": "DOWN", "maintenance_until_unix_ms": START_UNIX_MS + 28 * 60_000}, "DOWN maint 28m"),
    ({"disk_full": True}, "ALIVE full"),
    # Metadata refilled from peers after damage, or damaged at run time.
    ({"metadata_health": "refilling"}, "ALIVE metadata-refilling"),
    ({"metadata_health": "damaged", "disk_full": True}, "ALIVE full metadata-damaged"),
    ({"draining": True, "disk_full": True,
      "maintenance_until_unix_ms": START_UNIX_MS + 90_000}, "ALIVE draining maint 2m full"),
    # A window that has ended is not shown.
    ({"state": "DOWN", "maintenance_until_unix_ms": START_UNIX_MS}, "DOWN"),
])
def test_state_flags(changes: dict[str, object], text: str) -> None:
    """The STATE column carries the member's flags after its state."""
    assert cli.state_flags_text(_node_status(**changes).member, now_unix_ms=START_UNIX_MS) == text


@pytest.mark.parametrize("changes,text", [
    ({}, "60.0 GiB used of 100.0 GiB (60 %), 40.0 GiB free; full at 90 % used or under "
         "5.0 GiB free"),
    ({"disk_free_bytes": 3 * GIB, "disk_full": True, "disk_full_ratio": 0.95},
     "97.0 GiB used of 100.0 GiB (97 %), 3.0 GiB free; full at 95 % used or under 5.0 GiB free; "
     "FULL: new copies go to other nodes"),
    ({"disk_size_bytes": 0}, "- (the node did not report it)"),
])
def test_disk_line(changes: dict[str, object], text: str) -> None:
    """The disk line: used of size, free, both watermarks, and FULL when the node is over one."""
    assert cli.disk_text(_node_status(**changes)) == text


@pytest.mark.parametrize("until_unix_ms,text", [
    (0, "no"),
    (START_UNIX_MS - 1000, "no (ended 2023-11-14 22:13:19 UTC)"),
    (START_UNIX_MS + 1_800_000, "until 2023-11-14 22:43:20 UTC (30m left): DOWN will not turn "
                                "OUT before then"),
])
def test_maintenance_line(until_unix_ms: int, text: str) -> None:
    """Maintenance reads "no", when it ended, or until when with the time left."""
    assert cli.maintenance_text(until_unix_ms, now_unix_ms=START_UNIX_MS) == text


def test_plan_ideal_for_add_is_one_over_the_ring_after() -> None:
    """Adding a node to a ring of 6 ideally moves 1/7 of the copies, whatever the plan says."""
    plan = _plan("add", [RingMove("node-a", "node-d", 42, 168 * MIB)])
    fraction, text = cli.plan_ideal(plan, 7)
    assert fraction == pytest.approx(1 / 7)
    assert text == "ideal for add to 7 ring members: 1/7 = 14.3 %"


def test_plan_ideal_for_drain_is_the_drained_nodes_own_copies() -> None:
    """A drain must move every copy the node holds (the plan names it as their source); copies
    moved between other nodes are extra, and do not count towards the ideal."""
    plan = _plan("drain", [RingMove("node-a", "node-c", 2, 8 * MIB),
                           RingMove("node-b", "node-a", 30, 120 * MIB),
                           RingMove("node-b", "node-c", 10, 40 * MIB)])
    fraction, text = cli.plan_ideal(plan, None)
    assert fraction == pytest.approx(40 / 288)
    assert text == "ideal for drain: node-b's own 40 copies = 13.9 %"


def test_ring_plan_report() -> None:
    """A table SOURCE TARGET COPIES BYTES (a rebuilt share's source is "(rebuild)"), the totals
    against the ideal, then the unplaceable layouts with their reasons."""
    plan = _plan("add", [RingMove("node-a", "node-d", 40, 160 * MIB),
                         RingMove("", "node-d", 2, 8 * MIB)],
                 unplaceable=3, reasons=("ec=4+2 needs 6 ring members in distinct zones, 5 left",))
    assert cli.format_ring_plan(plan, "IDEAL") == [
        "SOURCE     TARGET  COPIES      BYTES",
        "node-a     node-d      40  160.0 MiB",
        "(rebuild)  node-d       2    8.0 MiB",
        "moves 42 of 288 copies (14.6 %), 168.0 MiB of 1.1 GiB; IDEAL",
        "unplaceable: 3 chunk layouts could not be placed after this add, for example:",
        "  ec=4+2 needs 6 ring members in distinct zones, 5 left",
    ]


def test_ring_plan_report_with_nothing_stored() -> None:
    """With no moves there is no table, and 0 of 0 copies is 0 %, not a division error."""
    plan = _plan("add", [], copies_total=0, bytes_total=0)
    assert cli.format_ring_plan(plan, "IDEAL") == [
        "moves 0 of 0 copies (0.0 %), 0 B of 0 B; IDEAL"]


def test_drain_view_on_a_terminal_draws_bytes_moved() -> None:
    """On a terminal a drain is one redrawn line of the bytes moved off the node out of what it
    held at the start, with the copies left; LEFT completes it."""
    out = io.StringIO()
    manual = ManualClock(START_UNIX_MS)
    view = cli.DrainView(stream=out, terminal=True, clock=manual.clock())
    view.show(_node_status(draining=True))
    manual.now_s = 1.0
    view.show(_node_status(draining=True, shares_stored=30, bytes_stored=120 * MIB))
    manual.now_s = 2.0
    view.show(_node_status(state="LEFT", shares_stored=0, bytes_stored=0))
    view.finish()
    frames = out.getvalue().split("\r")[1:]
    expected = ["drain node-b  120 copies left  0 B / 480.0 MiB    0%  ",
                "drain node-b  30 copies left  360.0 MiB / 480.0 MiB   75%  ",
                "drain node-b  nothing left  480.0 MiB / 480.0 MiB  100%  ",
                "drain node-b  nothing left  480.0 MiB / 480.0 MiB  100%  "]  # finish() redraws
    assert len(frames) == len(expected)
    assert all(frame.startswith(start) for frame, start in zip(frames, expected)), frames
    assert out.getvalue().endswith("\n") and out.getvalue().count("\n") == 1


# ---------------------------------------------------------------------------------------------
# The client against a real in-process server
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture
def client(server: FakeServer) -> Iterator[Client]:
    with Client(address=server.address, timeout_s=10.0, retries_max=2, retry_backoff_s=0.1,
                sleep=lambda _: None, rng=random.Random(1)) as c:
        yield c


def test_node_status_reads_every_field(server: FakeServer, client: Client) -> None:
    """An ALIVE node's own account comes back whole; "" asks the node at the address."""
    server.node.members[1].member.disk_full = True
    status = client.node_status("node-b")
    assert (status.node_id, status.member.state, status.member.zone,
            status.member.disk_full) == ("node-b", "ALIVE", "z2", True)
    assert (status.shares_stored, status.bytes_stored, status.placement_records,
            status.metadata_records) == (120, 480 * MIB, 30, 12)
    assert (status.disk_size_bytes, status.disk_free_bytes, status.disk_full_ratio,
            status.disk_free_bytes_min) == (100 * MIB, 50 * MIB, 0.9, 5 * MIB)
    assert status.reported_by_node
    assert client.node_status().node_id == "node-a"
    assert server.node.admin_requests[-1].node_id == ""


def test_node_status_of_a_down_node_is_its_record_alone(client: Client) -> None:
    """A DOWN node cannot answer for itself: the record gossip holds comes back, no counts."""
    status = client.node_status("node-c")
    assert status.member.state == "DOWN" and not status.reported_by_node
    assert (status.shares_stored, status.disk_size_bytes) == (0, 0)


@pytest.mark.parametrize("call", [
    lambda c: c.node_status("Node-B"),
    lambda c: c.drain_node(""),
    lambda c: c.drain_node("-node"),
    lambda c: c.set_maintenance("node b", 60),
    lambda c: c.plan_ring("drain", "n" * 64),
])
def test_bad_node_ids_are_rejected_before_any_rpc(server: FakeServer, client: Client,
                                                  call: Callable[[Client], object]) -> None:
    """A node id nodes would not accept is InvalidArgument at once, naming the rule."""
    with pytest.raises(errors.InvalidArgument, match=r"node id .* is invalid: use 1\.\.63"):
        call(client)
    assert server.node.calls == []


def test_actions_are_not_retried_but_status_is(server: FakeServer, client: Client) -> None:
    """UNAVAILABLE from DrainNode or SetMaintenance surfaces at once (the node may have applied
    it); GetNodeStatus, a read, is retried."""
    for method, call in (("DrainNode", lambda: client.drain_node("node-b")),
                         ("SetMaintenance", lambda: client.set_maintenance("node-b", 60))):
        server.node.fail_next(method, grpc.StatusCode.UNAVAILABLE, "node-b did not answer")
        with pytest.raises(errors.Unavailable, match="node-b did not answer"):
            call()
        assert server.node.calls.count(method) == 1
    server.node.fail_next("GetNodeStatus", grpc.StatusCode.UNAVAILABLE, "busy", times=2)
    assert client.node_status("node-b").member.state == "ALIVE"
    assert server.node.calls.count("GetNodeStatus") == 3


def test_drain_and_cancel(server: FakeServer, client: Client) -> None:
    """drain_node starts a drain (the node is draining, its counts unchanged yet) and cancel
    stops it; both send the node id."""
    status = client.drain_node("node-b")
    assert status.member.draining and status.shares_stored == 120
    assert client.cluster_status().members[1].draining is True
    status = client.drain_node("node-b", cancel=True)
    assert not status.member.draining
    assert [(r.node_id, r.cancel) for r in server.node.admin_requests] == [
        ("node-b", False), ("node-b", True)]


@pytest.mark.parametrize("duration_s", [-1, MAINTENANCE_S_MAX + 1, 1.5, True])
def test_set_maintenance_range_is_checked_before_any_rpc(server: FakeServer, client: Client,
                                                         duration_s: object) -> None:
    """duration_s must be an integer in 0..MAINTENANCE_S_MAX (7 days)."""
    with pytest.raises(errors.InvalidArgument, match=r"duration_s must be an integer in "
                                                      r"0\.\.604800"):
        client.set_maintenance("node-b", duration_s)  # type: ignore[arg-type]
    assert server.node.calls == []


def test_set_maintenance_sets_and_ends_the_window(client: Client) -> None:
    """The window counts from the node's clock and shows in the cluster status; 0 ends it."""
    status = client.set_maintenance("node-b", 1800)
    assert status.member.maintenance_until_unix_ms == START_UNIX_MS + 1_800_000
    assert client.cluster_status().members[1].maintenance_until_unix_ms == (
        START_UNIX_MS + 1_800_000)
    assert client.set_maintenance("node-b", 0).member.maintenance_until_unix_ms == 0


@pytest.mark.parametrize("kwargs,message", [
    ({"change": "remove", "node_id": "node-d"}, "ring plan change 'remove' is not one of add, "
                                                "drain"),
    ({"change": "drain", "node_id": "node-b", "zone": "z1"}, "a drain plan takes neither"),
    ({"change": "drain", "node_id": "node-b", "capacity_bytes": 5}, "a drain plan takes neither"),
    ({"change": "add", "node_id": "node-d", "zone": "z" * 65}, "zone must be a string of at "
                                                               "most 64 characters"),
    ({"change": "add", "node_id": "node-d", "capacity_bytes": -1}, "capacity_bytes must be an "
                                                                   "integer in 0.."),
])
def test_plan_ring_rejects_bad_requests_before_any_rpc(server: FakeServer, client: Client,
                                                       kwargs: dict[str, object],
                                                       message: str) -> None:
    """An unknown change, add-only fields on a drain, or out-of-range values send nothing."""
    with pytest.raises(errors.InvalidArgument, match=message):
        client.plan_ring(**kwargs)  # type: ignore[arg-type]
    assert server.node.calls == []


def test_plan_ring_sends_the_change_and_reads_the_plan(server: FakeServer, client: Client) -> None:
    """The change, the new node's zone and capacity go on the wire; moves, totals, unplaceable
    layouts and unreachable members come back."""
    server.node.ring_plan = admin_pb2.PlanRingResponse(
        moves=[admin_pb2.RingMove(source_node_id="", target_node_id="node-d", copies=2,
                                  bytes=8 * MIB)],
        layouts_total=10, copies_total=30, bytes_total=120 * MIB, copies_moved=2,
        bytes_moved=8 * MIB, layouts_unplaceable=1, unplaceable_reasons=["too few"],
        node_ids=["node-a", "node-b"])
    server.node.unreachable = ["node-e: refused"]
    plan = client.plan_ring("add", "node-d", zone="z4", capacity_bytes=GIB)
    request = server.node.admin_requests[-1]
    assert (request.change, request.node_id, request.zone, request.capacity_bytes,
            request.this_node_only) == (admin_pb2.PlanRingRequest.CHANGE_ADD, "node-d", "z4",
                                        GIB, False)
    assert plan.moves == [RingMove("", "node-d", 2, 8 * MIB)]
    assert (plan.change, plan.node_id, plan.copies_moved, plan.layouts_unplaceable) == (
        "add", "node-d", 2, 1)
    assert plan.moved_fraction == pytest.approx(2 / 30)
    assert (plan.unplaceable_reasons, plan.node_ids, plan.unreachable) == (
        ["too few"], ["node-a", "node-b"], ["node-e: refused"])
    mine = client.plan_ring("drain", "node-b", this_node_only=True)
    assert server.node.admin_requests[-1].change == admin_pb2.PlanRingRequest.CHANGE_DRAIN
    assert (mine.node_ids, mine.unreachable) == (["node-a"], [])


# ---------------------------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def manual() -> ManualClock:
    return ManualClock(START_UNIX_MS)


@pytest.fixture
def run(server: FakeServer, manual: ManualClock):
    return clocked_cli(server, manual)


def test_node_status_report(run, server: FakeServer, manual: ManualClock) -> None:
    """node status shows state and flags, where the node is, what it holds, its disk and the
    maintenance time left by the CLI's clock."""
    record = server.node.members[1].member
    record.draining, record.maintenance_until_unix_ms = True, START_UNIX_MS + 1_800_000
    manual.now_s = 120.0
    result = run("node", "status", "node-b")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "node-b  ALIVE draining maint 28m",
        "  address      127.0.0.1:7402 (zone z2, generation 1700000000000)",
        "  holds        120 copies (480.0 MiB), 30 placement records, 12 metadata records",
        "  tombstones   4 (oldest 3 d 2 h)",
        "  disk         50.0 MiB used of 100.0 MiB (50 %), 50.0 MiB free; full at 90 % used or "
        "under 5.0 MiB free",
        "  master keys  mk-00000000000000aa, mk-00000000000000bb (primary mk-00000000000000bb)",
        "  drain        in progress: it turns LEFT once it holds no copies, placement records or "
        "metadata records",
        "  maintenance  until 2023-11-14 22:43:20 UTC (28m left): DOWN will not turn OUT before "
        "then",
    ]


def test_node_status_of_a_down_node(run) -> None:
    """A DOWN node's report says its holdings are unknown instead of showing zeros."""
    lines = run("node", "status", "node-c").stdout.splitlines()
    assert lines[0] == "node-c  DOWN"
    assert lines[2] == "  holds        - (it is DOWN: only its membership record is known)"
    assert not any(line.startswith("  disk") for line in lines)


def test_node_status_json(run, server: FakeServer) -> None:
    """--json is the whole NodeStatus; no NODE means the node at --addr."""
    server.node.members[0].member.disk_full = True
    assert "  master keys  none (cannot encrypt at rest)" in run("node", "status").stdout.splitlines()
    document = json.loads(run("node", "status", "--json").stdout)
    assert (document["node_id"], document["member"]["state"],
            document["member"]["disk_full"]) == ("node-a", "ALIVE", True)
    assert (document["shares_stored"], document["placement_records"],
            document["disk_free_bytes_min"]) == (7, 3, 5 * MIB)
    assert server.node.admin_requests[-1].node_id == ""


def test_drain_waits_for_left_with_one_line_per_change(run, server: FakeServer,
                                                       manual: ManualClock) -> None:
    """Off a terminal the drain prints what is left each time it changes, polls every --poll-s,
    and ends with the LEFT line on stdout, exit 0."""
    result = run("node", "drain", "node-b", "--poll-s", "2.5")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [
        "node-b ALIVE draining: 120 copies (480.0 MiB), 30 placement records, 12 metadata "
        "records left",
        "node-b ALIVE draining: 80 copies (320.0 MiB), 20 placement records, 8 metadata "
        "records left",
        "node-b ALIVE draining: 40 copies (160.0 MiB), 10 placement records, 4 metadata "
        "records left",
    ]
    assert result.stdout == ("node-b is LEFT: it holds no data; stop its process and remove its "
                             "data dir\n")
    assert manual.sleeps == [2.5, 2.5, 2.5]
    assert server.node.calls.count("GetNodeStatus") == 3
    assert server.node.members[1].member.state == membership_pb2.MEMBER_STATE_LEFT


def test_drain_prints_a_line_only_when_something_changed(run, server: FakeServer) -> None:
    """Polls that find the same holdings print nothing new, even while the maintenance time left
    in the line ticks down (2m, 1m, 59s, ...)."""
    server.node.drain_polls_to_left = 6
    server.node.members[1].member.maintenance_until_unix_ms = START_UNIX_MS + 61_000
    held = server.node.node_holdings["node-b"]
    held.shares_stored, held.bytes_stored = 3, 3 * 4 * MIB
    held.placement_records = held.metadata_records = 0
    result = run("node", "drain", "node-b")
    assert result.exit_code == 0
    # 3 copies falling over 6 polls: 3 at the start, then 3, 2, 2, 1, 1, and LEFT (bytes follow
    # the copies).
    lines = result.stderr.splitlines()
    assert [line.split(": ")[0] for line in lines] == [
        "node-b ALIVE draining maint 2m", "node-b ALIVE draining maint 59s",
        "node-b ALIVE draining maint 57s"]
    assert [line.split(": ")[1] for line in lines] == [
        "3 copies (12.0 MiB), 0 placement records, 0 metadata records left",
        "2 copies (8.0 MiB), 0 placement records, 0 metadata records left",
        "1 copy (4.0 MiB), 0 placement records, 0 metadata records left",
    ]
    assert server.node.calls.count("GetNodeStatus") == 6


def test_drain_json_prints_the_last_status(run) -> None:
    """--json prints the LEFT node's status once the wait is over."""
    result = run("node", "drain", "node-b", "--json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert (document["node_id"], document["member"]["state"]) == ("node-b", "LEFT")


def test_drain_no_wait(run, server: FakeServer, manual: ManualClock) -> None:
    """--no-wait starts the drain, says what is to move and how to watch, and polls nothing."""
    result = run("node", "drain", "node-b", "--no-wait")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == ("node-b is draining with 120 copies (480.0 MiB), 30 placement "
                             "records, 12 metadata records left; watch it with `nodectl node "
                             "status node-b`\n")
    assert "GetNodeStatus" not in server.node.calls and manual.sleeps == []
    assert server.node.members[1].member.draining


def test_drain_timeout_is_one_line_with_what_is_left(run, server: FakeServer,
                                                     manual: ManualClock) -> None:
    """A drain not LEFT after --timeout-s exits 4 with what is left and how to check; the last
    wait is cut to the deadline, and the drain itself goes on."""
    server.node.drain_polls_to_left = None
    result = run("node", "drain", "node-b", "--timeout-s", "5", "--poll-s", "2")
    assert_error_line(
        result, 4, "node-b still draining after 5 s with 120 copies (480.0 MiB), 30 placement "
                   "records, 12 metadata records left; the drain goes on in the cluster: check "
                   "it with `nodectl node status node-b`")
    assert manual.sleeps == [2, 2, 1] and manual.now_s == 5
    assert server.node.members[1].member.draining


def test_drain_ctrl_c_says_the_drain_continues(run, server: FakeServer,
                                               manual: ManualClock) -> None:
    """Ctrl-C while waiting exits 130 saying the node keeps draining and how to stop it."""
    def interrupt() -> None:
        raise KeyboardInterrupt

    manual.on_sleep = interrupt
    result = run("node", "drain", "node-b")
    assert_error_line(result, 130, "interrupted: stopped waiting, but node-b keeps draining "
                                        "in the cluster; check it with `nodectl node status "
                                        "node-b`, or stop it with `nodectl node drain node-b "
                                        "--cancel`")
    assert server.node.members[1].member.draining


def test_drain_cancelled_by_someone_else_while_waiting(run, server: FakeServer,
                                                       manual: ManualClock) -> None:
    """A drain cancelled from elsewhere ends the wait with exit 6 and how to start it again."""
    def cancel() -> None:
        with Client(address=server.address) as other:
            other.drain_node("node-b", cancel=True)

    manual.on_sleep = cancel
    result = run("node", "drain", "node-b")
    assert_error_line(result, 6, "the drain of node-b was cancelled with 120 copies "
                                      "(480.0 MiB), 30 placement records, 12 metadata records "
                                      "left; start it again with `nodectl node drain node-b`")


def test_drain_of_a_node_that_turns_out(run, server: FakeServer, manual: ManualClock) -> None:
    """A node that dies mid-drain and turns OUT ends the wait (exit 4): repair takes over."""
    def turn_out() -> None:
        server.node.members[1].member.state = membership_pb2.MEMBER_STATE_OUT

    manual.on_sleep = turn_out
    result = run("node", "drain", "node-b")
    assert "node-b OUT draining: not answering for itself; what it holds is unknown" in (
        result.stderr)
    assert_error_line(result, 4, "node-b turned OUT while draining: repair restores what "
                                      "it held from the other copies; see `nodectl repair "
                                      "status`")


def test_drain_poll_failure_says_the_drain_goes_on(run, server: FakeServer) -> None:
    """A status poll that fails keeps its class's exit code and says the drain goes on."""
    server.node.fail_next("GetNodeStatus", grpc.StatusCode.UNAVAILABLE,
                          "node-b did not answer (DEADLINE_EXCEEDED: )")
    result = run("node", "drain", "node-b")
    assert_error_line(result, 4, "node-b is draining, but asking for its status failed: "
                                      "node-b did not answer (DEADLINE_EXCEEDED: ); the drain "
                                      "goes on in the cluster: check it with `nodectl node "
                                      "status node-b`")


def test_drain_cancel(run, server: FakeServer) -> None:
    """--cancel stops a drain: the node rejoins the ring, nothing is polled."""
    assert run("node", "drain", "node-b", "--no-wait").exit_code == 0
    result = run("node", "drain", "node-b", "--cancel")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == ("node-b is no longer draining: it rejoins the ring (copies already "
                             "moved stay where they are)\n")
    assert server.node.admin_requests[-1].cancel is True
    assert not server.node.members[1].member.draining
    assert "GetNodeStatus" not in server.node.calls


@pytest.mark.parametrize("args,exit_code,fragment", [
    (("node", "drain", "node-c"), 6, "node-c is DOWN: draining moves its data away, so the node "
                                     "must be ALIVE"),
    (("node", "drain", "node-x"), 3, "no member 'node-x' in this cluster; `nodectl status` "
                                     "lists the members"),
    (("node", "status", "node-x"), 3, "no member 'node-x' in this cluster"),
    (("node", "maintenance", "node-c", "--for-s", "60"), 6, "node-c is DOWN: the window rides on "
                                                            "the node's own membership record"),
    (("node", "drain", "Node-B"), 2, "node id 'Node-B' is invalid"),
    (("ring", "plan", "drain", "node-d"), 6, "ring plan: node-d is not one of the 3 ring members"),
    (("ring", "plan", "add", "node-b"), 6, "ring plan: node-b is already one of the 3 ring "
                                           "members"),
])
def test_node_errors_are_one_line_with_their_exit_code(run, args: tuple[str, ...],
                                                       exit_code: int, fragment: str) -> None:
    """Refusals (not ALIVE, unknown node, bad id, a plan of an impossible change) are one stderr
    line with the exit code of their class."""
    assert_error_line(run(*args), exit_code, fragment)


def test_drain_refused_because_the_ring_would_be_too_small(run, server: FakeServer) -> None:
    """The node's FAILED_PRECONDITION (too few ring members left) is exit 6, nothing waited."""
    server.node.fail_next("DrainNode", grpc.StatusCode.FAILED_PRECONDITION,
                          "draining node-b would leave 2 ring members, but replicas=3 (the "
                          "default for new buckets) needs 3; add a node first")
    assert_error_line(run("node", "drain", "node-b"), 6, "would leave 2 ring members")
    assert "GetNodeStatus" not in server.node.calls


def test_maintenance_for_and_end(run, server: FakeServer, manual: ManualClock) -> None:
    """--for-s sets the window and says until when; status shows it counting down; --end ends
    it."""
    result = run("node", "maintenance", "node-b", "--for-s", "1800")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == ("node-b in maintenance until 2023-11-14 22:43:20 UTC (30m): DOWN "
                             "will not turn OUT before then\n")
    assert server.node.admin_requests[-1].duration_s == 1800
    manual.now_s = 125.0
    node_b = run("status").stdout.splitlines()[2]
    assert node_b.split("  ")[:2] == ["node-b", "ALIVE maint 28m"]
    result = run("node", "maintenance", "node-b", "--end")
    assert result.stdout == "node-b is out of maintenance: if it goes DOWN it turns OUT as usual\n"
    assert server.node.admin_requests[-1].duration_s == 0
    assert server.node.members[1].member.maintenance_until_unix_ms == 0


@pytest.mark.parametrize("args,fragment", [
    (("--for-s", "0"), "--for-s 0 is outside 1..604800 seconds (7 days)"),
    (("--for-s", str(MAINTENANCE_S_MAX + 1)), "--for-s 604801 is outside 1..604800 seconds"),
    (("--for-s", "-5"), "--for-s -5 is outside 1..604800"),
    ((), "give either --for-s N or --end"),
    (("--for-s", "60", "--end"), "give either --for-s N or --end"),
    (("--for-s", "ten"), "'ten' is not a valid integer"),
])
def test_maintenance_usage_errors(run, server: FakeServer, args: tuple[str, ...],
                                  fragment: str) -> None:
    """A window outside 1 s..7 days, or not exactly one of --for-s and --end, is exit 2 and
    sends nothing."""
    assert_error_line(run("node", "maintenance", "node-b", *args), 2, fragment)
    assert server.node.calls == []


def test_maintenance_limit_matches_the_node() -> None:
    """The CLI's 7-day limit is the one nodes enforce."""
    import nodectl_fakes
    assert MAINTENANCE_S_MAX == nodectl_fakes.MAINTENANCE_S_MAX == 7 * 24 * 3600


def _canned_plan(server: FakeServer, **changes: object) -> None:
    fields: dict[str, object] = dict(
        moves=[admin_pb2.RingMove(source_node_id="node-a", target_node_id="node-d", copies=25,
                                  bytes=100 * MIB),
               admin_pb2.RingMove(source_node_id="node-b", target_node_id="node-d", copies=15,
                                  bytes=60 * MIB),
               admin_pb2.RingMove(source_node_id="", target_node_id="node-d", copies=2,
                                  bytes=8 * MIB)],
        layouts_total=96, copies_total=288, bytes_total=1152 * MIB, copies_moved=42,
        bytes_moved=168 * MIB, node_ids=["node-a", "node-b"])
    fields.update(changes)
    server.node.ring_plan = admin_pb2.PlanRingResponse(**fields)  # type: ignore[arg-type]


def test_ring_plan_add(run, server: FakeServer) -> None:
    """ring plan add shows the moves and the totals against 1/(ring members after): the fake's
    ring has 3 members, so 4 after the add."""
    _canned_plan(server)
    result = run("ring", "plan", "add", "node-d", "--zone", "z4", "--capacity-bytes", "1000")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "SOURCE     TARGET  COPIES      BYTES",
        "node-a     node-d      25  100.0 MiB",
        "node-b     node-d      15   60.0 MiB",
        "(rebuild)  node-d       2    8.0 MiB",
        "moves 42 of 288 copies (14.6 %), 168.0 MiB of 1.1 GiB; ideal for add to 4 ring "
        "members: 1/4 = 25.0 %",
    ]
    request = server.node.admin_requests[-1]
    assert (request.node_id, request.zone, request.capacity_bytes) == ("node-d", "z4", 1000)


def test_ring_plan_drain_json(run, server: FakeServer) -> None:
    """ring plan drain --json is the plan with the moved and ideal fractions (the drained node's
    own copies over all copies)."""
    _canned_plan(server, moves=[
        admin_pb2.RingMove(source_node_id="node-b", target_node_id="node-a", copies=40,
                           bytes=160 * MIB),
        admin_pb2.RingMove(source_node_id="node-c", target_node_id="node-a", copies=2,
                           bytes=8 * MIB)])
    result = run("ring", "plan", "drain", "node-b", "--json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert (document["change"], document["node_id"], document["copies_moved"]) == (
        "drain", "node-b", 42)
    assert document["moved_fraction"] == pytest.approx(42 / 288)
    assert document["ideal_fraction"] == pytest.approx(40 / 288)
    assert document["moves"][1] == {"source_node_id": "node-c", "target_node_id": "node-a",
                                    "copies": 2, "bytes": 8 * MIB}
    text = run("ring", "plan", "drain", "node-b").stdout.splitlines()
    assert text[-1] == ("moves 42 of 288 copies (14.6 %), 168.0 MiB of 1.1 GiB; ideal for "
                        "drain: node-b's own 40 copies = 13.9 %")


@pytest.mark.parametrize("as_json", [False, True])
def test_ring_plan_with_unplaceable_layouts_exits_6(run, server: FakeServer,
                                                    as_json: bool) -> None:
    """Layouts that could not be placed after the change are listed with their reasons and make
    the exit code 6, what the drain itself would be refused with."""
    _canned_plan(server, layouts_unplaceable=3, unplaceable_reasons=[
        "ec=4+2 needs 6 ring members, 5 left", "replicas=3 needs 3 zones, 2 left"])
    result = run("ring", "plan", "drain", "node-b", *(["--json"] if as_json else []))
    assert result.exit_code == 6 and result.stderr == ""
    if as_json:
        assert json.loads(result.stdout)["layouts_unplaceable"] == 3
    else:
        assert result.stdout.splitlines()[-3:] == [
            "unplaceable: 3 chunk layouts could not be placed after this drain, for example:",
            "  ec=4+2 needs 6 ring members, 5 left",
            "  replicas=3 needs 3 zones, 2 left",
        ]


def test_partial_ring_plan_warns(run, server: FakeServer) -> None:
    """Members that did not answer are warnings and the plan is marked partial; exit 0."""
    _canned_plan(server)
    server.node.unreachable = ["node-e: deadline exceeded after 10.0 s"]
    result = run("ring", "plan", "add", "node-d")
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "warning: node-e did not answer: deadline exceeded after 10.0 s",
        "warning: plan is partial: 1 member did not answer; the chunk layouts they are "
        "responsible for are not counted",
    ]
    assert result.stdout.splitlines()[-1].startswith("moves 42 of 288 copies")


def test_status_state_column_shows_flags(run, server: FakeServer, manual: ManualClock) -> None:
    """status puts draining, maintenance time left and disk full after the state, keeps the table
    aligned, and carries the fields in JSON."""
    node_a, node_b, node_c = (m.member for m in server.node.members)
    node_a.draining = True
    node_b.disk_full = True
    node_c.maintenance_until_unix_ms = START_UNIX_MS + 1_800_000
    manual.now_s = 120.0
    lines = run("status").stdout.splitlines()
    assert lines[:4] == [
        "NODE    STATE           GEN            ADDRESS         ZONE  RING%",
        "node-a  ALIVE draining  1700000000000  127.0.0.1:7401  z1    33.3",
        "node-b  ALIVE full      1700000000000  127.0.0.1:7402  z2    33.3",
        "node-c  DOWN maint 28m  1700000000000  127.0.0.1:7403  z3    33.3",
    ]
    members = json.loads(run("status", "--json").stdout)["members"]
    assert [(m["draining"], m["disk_full"], m["maintenance_until_unix_ms"]) for m in members] == [
        (True, False, 0), (False, True, 0), (False, False, START_UNIX_MS + 1_800_000)]


def test_help_lists_the_new_commands_and_exit_code_6() -> None:
    """`nodectl --help` lists node and ring; the exit-code text says what 6 means for a plan."""
    result = CliRunner().invoke(cli.main, ["--help"])
    commands = result.stdout.split("Commands:")[1]
    assert "node" in commands.split() and "ring" in commands.split()
    assert "ring plan: chunks left unplaceable" in " ".join(result.stdout.split())
