"""`nodectl repair`, `fsck` and `scrub`: the client methods, the reports and their exit codes.

The pure parts (durations, level labels, merging levels across nodes, cluster ETA, finding and
summary lines, fsck's exit code) are table-driven; the commands run through click's CliRunner, and
the client directly, against `nodectl_fakes.FakeServer`, a real grpc.server on a free loopback
port answering with canned per-node statuses that each test sets.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import random
from collections.abc import Iterator

import grpc
import pytest
from click.testing import CliRunner, Result
from ringstore.v1 import admin_pb2

from nodectl import cli, client as client_module, errors
from nodectl.cli import fsck as cli_fsck, progress as cli_progress
from nodectl.client import repair as client_repair
from nodectl.client import (
    Client,
    FsckFinding,
    FsckProgress,
    FsckReport,
    FsckSummary,
    NodeRepairStatus,
    RedundancyLevel,
    RepairStatus,
    merge_levels,
    repair_eta_s,
)
from nodectl_fakes import FakeServer, ManualClock, assert_error_line, clocked_cli

MIB = 1024 * 1024
CHUNK_ID = bytes.fromhex("3fa2c1d0e9b8a7f6" * 4)
SCAN_UNIX_MS = 1_714_564_800_000  # 2024-05-01T12:00:00Z


# ---------------------------------------------------------------------------------------------
# Canned wire data
# ---------------------------------------------------------------------------------------------


def _level(policy: str, present: int, wanted: int, needed: int, chunks: int,
           missing_mib: int) -> admin_pb2.RedundancyLevel:
    return admin_pb2.RedundancyLevel(policy=policy, copies_present=present, copies_wanted=wanted,
                                     copies_needed=needed, chunks=chunks,
                                     bytes_missing=missing_mib * MIB)


def _two_nodes_in_debt() -> list[admin_pb2.NodeRepairStatus]:
    """node-a and node-b each responsible for part of the debt; replicas=3 at 2 of 3 copies and
    ec=4+2 at K+1 appear on both, so merging has something to add up."""
    node_a = admin_pb2.NodeRepairStatus(
        node_id="node-a", chunks_responsible=500, chunks_below_full=20, bytes_left=80 * MIB,
        rate_bytes_per_s=20 * MIB, eta_s=4.0, bytes_repaired_total=300 * MIB,
        copies_repaired_total=75, chunks_misplaced=3, last_scan_unix_ms=SCAN_UNIX_MS,
        last_scan_s=1.5, repair_bandwidth_bytes_per_s=200 * MIB, repair_concurrency_max=4,
        queued=2,
        levels=[_level("replicas=3", 2, 3, 1, 18, 72), _level("ec=4+2", 4, 6, 4, 1, 2),
                _level("ec=4+2", 5, 6, 4, 1, 1)],
        unrepairable=[admin_pb2.UnrepairableChunk(
            chunk_id=CHUNK_ID, policy="ec=4+2", attempts=5,
            reason="3 of 6 shares left, 4 needed: bring node-c back",
            last_attempt_unix_ms=SCAN_UNIX_MS)])
    node_b = admin_pb2.NodeRepairStatus(
        node_id="node-b", chunks_responsible=480, chunks_below_full=17, bytes_left=68 * MIB,
        rate_bytes_per_s=21.2 * MIB, eta_s=-1.0, bytes_repaired_total=3 * 1024 * MIB,
        levels=[_level("replicas=3", 2, 3, 1, 12, 48), _level("replicas=3", 1, 3, 1, 2, 8),
                _level("ec=4+2", 5, 6, 4, 3, 3)])
    return [node_a, node_b]


def _finding(key: str, present: int, *, unreadable: bool = False, policy: str = "ec=4+2",
             wanted: int = 6, needed: int = 4, detail: str = "",
             bucket: str = "photos") -> admin_pb2.FsckFinding:
    return admin_pb2.FsckFinding(
        bucket=bucket, key=key, chunk_id=CHUNK_ID, offset_bytes=8 * MIB, policy=policy,
        copies_present=present, copies_wanted=wanted, copies_needed=needed,
        unreadable=unreadable, detail=detail)


def _summary(*, degraded: int = 0, unreadable: int = 0,
             misplaced: int = 0) -> admin_pb2.FsckSummary:
    return admin_pb2.FsckSummary(
        buckets_checked=12, objects_checked=340, chunks_checked=1020,
        chunks_full=1020 - degraded - unreadable, chunks_degraded=degraded,
        chunks_unreadable=unreadable, chunks_misplaced=misplaced, bytes_checked=4000 * MIB)


# ---------------------------------------------------------------------------------------------
# Pure: durations, levels, totals
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds,text", [
    (0, "0 s"), (3.59, "4 s"), (59.4, "59 s"), (59.6, "1 min 0 s"), (125, "2 min 5 s"),
    (3 * 3600 + 20 * 60 + 7, "3 h 20 min"), (2 * 86400 + 4 * 3600 + 59, "2 d 4 h"),
])
def test_duration_text_shows_the_two_largest_units(seconds: float, text: str) -> None:
    """ETAs and pass times read "4 s", "2 min 5 s", "3 h 20 min", "2 d 4 h"."""
    assert cli.duration_text(seconds) == text


@pytest.mark.parametrize("level,text", [
    (RedundancyLevel("replicas=3", 2, 3, 1, 30, 0), "replicas=3 at 2 of 3 copies"),
    (RedundancyLevel("replicas=3", 0, 3, 1, 1, 0), "replicas=3 at 0 of 3 copies"),
    (RedundancyLevel("ec=4+2", 4, 6, 4, 1, 0), "ec=4+2 at K+0 (4 of 6 shares)"),
    (RedundancyLevel("ec=4+2", 5, 6, 4, 4, 0), "ec=4+2 at K+1 (5 of 6 shares)"),
    (RedundancyLevel("ec=4+2", 3, 6, 4, 1, 0), "ec=4+2 at K-1 (3 of 6 shares)"),
])
def test_level_labels(level: RedundancyLevel, text: str) -> None:
    """Replicated levels count copies; erasure-coded ones say how far above K they are."""
    assert cli.level_text(level) == text


def test_levels_merge_across_nodes_worst_first() -> None:
    """Same policy, present and wanted add up; the order is fewest copies above the minimum
    first, then most copies missing, so chunks one loss from unreadable lead."""
    merged = merge_levels([
        RedundancyLevel("replicas=3", 2, 3, 1, 18, 72),
        RedundancyLevel("ec=4+2", 5, 6, 4, 1, 1),
        RedundancyLevel("replicas=3", 2, 3, 1, 12, 48),
        RedundancyLevel("replicas=3", 1, 3, 1, 2, 8),
        RedundancyLevel("ec=4+2", 4, 6, 4, 1, 2),
        RedundancyLevel("ec=4+2", 3, 6, 4, 2, 6),
        RedundancyLevel("ec=4+2", 5, 6, 4, 3, 3),
        RedundancyLevel("replicas=2", 1, 2, 1, 7, 7),
    ])
    assert [(cli.level_text(lv), lv.chunks, lv.bytes_missing) for lv in merged] == [
        ("ec=4+2 at K-1 (3 of 6 shares)", 2, 6),
        ("ec=4+2 at K+0 (4 of 6 shares)", 1, 2),
        ("replicas=3 at 1 of 3 copies", 2, 8),
        ("replicas=2 at 1 of 2 copies", 7, 7),
        ("ec=4+2 at K+1 (5 of 6 shares)", 4, 4),
        ("replicas=3 at 2 of 3 copies", 30, 120),
    ]


@pytest.mark.parametrize("bytes_left,rate,eta", [
    (0, 0.0, 0.0), (0, 5.0, 0.0), (100, 50.0, 2.0), (100, 0.0, None), (100, -1.0, None),
    (100, math.nan, None), (100, math.inf, None),
])
def test_cluster_eta(bytes_left: int, rate: float, eta: float | None) -> None:
    """ETA is bytes left over the rate; 0 with nothing left; unknown when nothing moves."""
    assert repair_eta_s(bytes_left, rate) == eta


def _node(node_id: str, left: int, rate: float, below: int = 1) -> NodeRepairStatus:
    return NodeRepairStatus(
        node_id=node_id, levels=[], chunks_below_full=below, bytes_left=left,
        rate_bytes_per_s=rate, eta_s=None, bytes_repaired_total=0, copies_repaired_total=0,
        chunks_misplaced=1, copies_dropped_total=0, unrepairable=[], last_scan_unix_ms=0,
        last_scan_s=0.0, chunks_responsible=0, repair_bandwidth_bytes_per_s=0,
        repair_concurrency_max=1, queued=0)


def test_cluster_totals_add_the_nodes_up() -> None:
    """Debt, bytes and rates are summed; the ETA is the sum over the summed rate, not any one
    node's (node-b alone would need 30 s at its 1 B/s)."""
    status = RepairStatus(nodes=[_node("node-a", 70, 6.0, below=3), _node("node-b", 30, 1.0)],
                          unreachable=[])
    assert (status.chunks_below_full, status.chunks_misplaced, status.bytes_left) == (4, 2, 100)
    assert status.rate_bytes_per_s == 7.0
    assert status.eta_s == pytest.approx(100 / 7)
    idle = RepairStatus(nodes=[_node("node-a", 70, 0.0)], unreachable=[])
    assert idle.eta_s is None


def test_format_table_right_aligns_number_columns() -> None:
    """Columns named in `right` are right-aligned, header included; the rest stay left."""
    assert cli.format_table(("NAME", "N"), [("a", "7"), ("bbb", "1234")], right=(1,)) == [
        "NAME     N", "a        7", "bbb   1234"]


@pytest.mark.parametrize("entry,line", [
    ("node-4: deadline exceeded after 5.0 s", "warning: node-4 did not answer: deadline "
                                              "exceeded after 5.0 s"),
    ("node-4: refused: port 7400", "warning: node-4 did not answer: refused: port 7400"),
    ("node-4", "warning: node-4 did not answer"),
    ("node-4: line one\nline two", "warning: node-4 did not answer: line one line two"),
])
def test_unreachable_warning(entry: str, line: str) -> None:
    """The wire's "node-id: reason" becomes one warning line naming the node."""
    assert cli.unreachable_warning(entry) == line


# ---------------------------------------------------------------------------------------------
# Pure: fsck lines and exit codes
# ---------------------------------------------------------------------------------------------


def _plain_finding(**changes: object) -> FsckFinding:
    fields: dict[str, object] = dict(
        bucket="photos", key="cat.jpg", chunk_id_hex=CHUNK_ID.hex(), offset_bytes=8388608,
        policy="ec=4+2", copies_present=5, copies_wanted=6, copies_needed=4, unreadable=False,
        detail="share 3 missing on node-4")
    fields.update(changes)
    return FsckFinding(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("finding,line", [
    (_plain_finding(),
     "degraded: photos/cat.jpg chunk 3fa2c1d0e9b8a7f6 (offset 8388608) ec=4+2: 5 of 6 shares "
     "(share 3 missing on node-4)"),
    (_plain_finding(copies_present=3, unreadable=True, detail="shares 0, 1, 5 missing on node-4"),
     "unreadable: photos/cat.jpg chunk 3fa2c1d0e9b8a7f6 (offset 8388608) ec=4+2: 3 of 6 shares, "
     "4 needed (shares 0, 1, 5 missing on node-4)"),
    (_plain_finding(policy="replicas=3", copies_present=2, copies_wanted=3, copies_needed=1,
                    detail=""),
     "degraded: photos/cat.jpg chunk 3fa2c1d0e9b8a7f6 (offset 8388608) replicas=3: 2 of 3 copies"),
])
def test_finding_lines(finding: FsckFinding, line: str) -> None:
    """Each finding is one line: kind, object, chunk, policy, copies present of wanted, detail."""
    assert cli.format_finding(finding) == line


def _plain_summary(**changes: int) -> FsckSummary:
    fields = dict(buckets_checked=12, objects_checked=340, chunks_checked=1020, chunks_full=1018,
                  chunks_degraded=2, chunks_unreadable=0, chunks_misplaced=3, bytes_checked=0)
    fields.update(changes)
    return FsckSummary(**fields)


@pytest.mark.parametrize("summary,line", [
    (_plain_summary(),
     "fsck: 12 buckets, 340 objects, 1020 chunks: 1018 full, 2 degraded, 0 unreadable "
     "(3 misplaced)"),
    (_plain_summary(buckets_checked=1, objects_checked=1, chunks_checked=1, chunks_full=1,
                    chunks_degraded=0, chunks_misplaced=0),
     "fsck: 1 bucket, 1 object, 1 chunk: 1 full, 0 degraded, 0 unreadable (0 misplaced)"),
])
def test_fsck_summary_line(summary: FsckSummary, line: str) -> None:
    """The summary line counts buckets, objects and chunks by state."""
    assert cli.format_fsck_summary(summary) == line


@pytest.mark.parametrize("findings,summary,omitted,code", [
    ([], _plain_summary(chunks_degraded=0, chunks_misplaced=0), 0, 0),
    ([], _plain_summary(chunks_degraded=0, chunks_misplaced=9), 0, 0),
    ([_plain_finding()], _plain_summary(), 0, 10),
    ([_plain_finding(unreadable=True)], _plain_summary(chunks_unreadable=1), 0, 5),
    ([], _plain_summary(chunks_degraded=0, chunks_unreadable=1), 0, 5),
    # The findings win over a summary that contradicts them; so do findings not kept.
    ([_plain_finding()], _plain_summary(chunks_degraded=0), 0, 10),
    ([_plain_finding(unreadable=True)], _plain_summary(chunks_degraded=0), 0, 5),
    ([], _plain_summary(chunks_degraded=0), 7, 10),
])
def test_fsck_exit_code(findings: list[FsckFinding], summary: FsckSummary, omitted: int,
                        code: int) -> None:
    """0 when all chunks are full (misplaced ones are), 10 when some are degraded, 5 when any
    is unreadable."""
    report = FsckReport(findings=findings, summary=summary, findings_omitted=omitted)
    assert cli.fsck_exit_code(report) == code


def test_exit_code_constants_and_help() -> None:
    """EXIT_DEGRADED is 10 and `nodectl --help` lists it."""
    assert (errors.EXIT_DEGRADED, errors.EXIT_DATA_LOSS) == (10, 5)
    assert "10 degraded" in errors.EXIT_CODES_HELP
    result = CliRunner().invoke(cli.main, ["--help"])
    assert "10 degraded" in " ".join(result.stdout.split())


# ---------------------------------------------------------------------------------------------
# The client against a real in-process server
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(server: FakeServer, sleeps: list[float]) -> Iterator[Client]:
    with Client(address=server.address, timeout_s=10.0, retries_max=3, retry_backoff_s=0.1,
                sleep=sleeps.append, rng=random.Random(1)) as c:
        yield c


def test_repair_status_reads_every_field(server: FakeServer, client: Client) -> None:
    """Per-node statuses come back as plain values: hex chunk ids, the responsible node on each
    unrepairable chunk, eta_s None for the wire's -1; totals merge both nodes."""
    server.node.repair_nodes = _two_nodes_in_debt()
    server.node.unreachable = ["node-d: deadline exceeded after 5.0 s"]
    status = client.repair_status()
    assert [n.node_id for n in status.nodes] == ["node-a", "node-b"]
    node_a, node_b = status.nodes
    assert (node_a.eta_s, node_b.eta_s) == (4.0, None)
    assert (node_a.queued, node_a.last_scan_s, node_a.copies_repaired_total) == (2, 1.5, 75)
    assert node_a.unrepairable[0].chunk_id_hex == CHUNK_ID.hex()
    assert node_a.unrepairable[0].node_id == "node-a"
    assert status.unreachable == ["node-d: deadline exceeded after 5.0 s"]
    assert (status.chunks_below_full, status.bytes_left) == (37, 148 * MIB)
    assert status.rate_bytes_per_s == pytest.approx(41.2 * MIB)
    assert [(lv.policy, lv.copies_present, lv.chunks) for lv in status.levels] == [
        ("ec=4+2", 4, 1), ("replicas=3", 1, 2), ("ec=4+2", 5, 4), ("replicas=3", 2, 30)]
    assert server.node.admin_requests[-1].this_node_only is False


def test_repair_status_this_node_only(server: FakeServer, client: Client) -> None:
    """this_node_only goes on the wire; the answer is the answering node's alone."""
    server.node.repair_nodes = _two_nodes_in_debt()
    server.node.unreachable = ["node-d: refused"]
    status = client.repair_status(this_node_only=True)
    assert server.node.admin_requests[-1].this_node_only is True
    assert [n.node_id for n in status.nodes] == ["node-a"] and status.unreachable == []


@pytest.mark.parametrize("kwargs,message", [
    ({}, "set_repair_config needs at least one of"),
    ({"this_node_only": True}, "set_repair_config needs at least one of"),
    ({"repair_bandwidth_bytes_per_s": -1}, "repair_bandwidth_bytes_per_s must be an integer in "
                                           "0..18446744073709551615, got -1"),
    ({"repair_bandwidth_bytes_per_s": 2**64}, "repair_bandwidth_bytes_per_s must be an integer"),
    ({"repair_concurrency_max": 0}, "repair_concurrency_max must be an integer in "
                                    "1..4294967295, got 0"),
    ({"repair_concurrency_max": True}, "repair_concurrency_max must be an integer"),
    ({"scrub_bandwidth_bytes_per_s": 0}, "scrub_bandwidth_bytes_per_s must be an integer in 1.."),
    ({"scrub_bandwidth_bytes_per_s": 1.5}, "scrub_bandwidth_bytes_per_s must be an integer"),
])
def test_set_repair_config_rejects_bad_values_before_any_rpc(
        server: FakeServer, client: Client, kwargs: dict[str, object], message: str) -> None:
    """Nothing to set, or a value outside the wire's range, is InvalidArgument with no request."""
    with pytest.raises(errors.InvalidArgument) as caught:
        client.set_repair_config(**kwargs)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)
    assert server.node.calls == []


def test_set_repair_config_sends_only_what_was_given(server: FakeServer, client: Client) -> None:
    """Unset arguments stay unset on the wire (the node keeps them); 0 bandwidth is sent as a
    value (unthrottled); the change shows in the next repair status."""
    server.node.unreachable = ["node-d: refused"]
    applied, unreachable = client.set_repair_config(repair_bandwidth_bytes_per_s=0)
    assert (applied, unreachable) == (["node-a", "node-b"], ["node-d: refused"])
    request = server.node.admin_requests[-1]
    assert request.HasField("repair_bandwidth_bytes_per_s")
    assert request.repair_bandwidth_bytes_per_s == 0
    assert not request.HasField("repair_concurrency_max")
    assert not request.HasField("scrub_bandwidth_bytes_per_s")
    status = client.repair_status()
    assert [(n.repair_bandwidth_bytes_per_s, n.repair_concurrency_max) for n in status.nodes] == [
        (0, 4), (0, 4)]


def test_fsck_streams_progress_findings_and_summary(server: FakeServer, client: Client) -> None:
    """Progress goes to the callback; findings and the summary come back as plain values."""
    server.node.fsck_progress = [admin_pb2.FsckProgress(objects_checked=n, chunks_checked=3 * n,
                                                        bytes_checked=n * MIB) for n in (1, 2)]
    server.node.fsck_findings = [_finding("a", 5, detail="share 3 missing on node-4"),
                                 _finding("b", 3, unreadable=True)]
    server.node.fsck_summary = _summary(degraded=1, unreadable=1, misplaced=3)
    seen: list[FsckProgress] = []
    report = client.fsck(progress=seen.append)
    assert seen == [FsckProgress(1, 3, MIB), FsckProgress(2, 6, 2 * MIB)]
    assert [(f.key, f.unreadable, f.copies_present) for f in report.findings] == [
        ("a", False, 5), ("b", True, 3)]
    assert report.findings[0].chunk_id_hex == CHUNK_ID.hex()
    assert report.findings[0].detail == "share 3 missing on node-4"
    assert (report.summary.chunks_degraded, report.summary.chunks_unreadable,
            report.summary.chunks_misplaced, report.findings_omitted) == (1, 1, 3, 0)
    assert server.node.admin_requests[-1].bucket == ""


def test_fsck_of_one_bucket(server: FakeServer, client: Client) -> None:
    """A bucket is checked, then sent; a missing one is NotFound from the node."""
    with pytest.raises(errors.InvalidArgument, match="bucket name 'Photos' is invalid"):
        client.fsck("Photos")
    assert server.node.calls == []
    with pytest.raises(errors.NotFound, match="bucket 'photos' not found"):
        client.fsck("photos")
    client.create_bucket("photos")
    server.node.fsck_findings = [_finding("a", 5), _finding("x", 5, bucket="other")]
    report = client.fsck("photos")
    assert server.node.admin_requests[-1].bucket == "photos"
    assert [f.bucket for f in report.findings] == ["photos"]


def test_fsck_keeps_at_most_the_findings_limit(server: FakeServer, client: Client,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Past FSCK_FINDINGS_MAX findings are counted in findings_omitted, not kept."""
    monkeypatch.setattr(client_repair, "FSCK_FINDINGS_MAX", 2)
    server.node.fsck_findings = [_finding(key, 5) for key in ("a", "b", "c", "d")]
    server.node.fsck_summary = _summary(degraded=4)
    report = client.fsck()
    assert [f.key for f in report.findings] == ["a", "b"] and report.findings_omitted == 2


def test_fsck_is_retried_from_the_start_after_unavailable(
        server: FakeServer, client: Client, sleeps: list[float]) -> None:
    """An audit broken by UNAVAILABLE is run again; the report is the new attempt's alone."""
    server.node.fsck_findings = [_finding("a", 5), _finding("b", 5)]
    server.node.fsck_break_after_findings = 1
    report = client.fsck()
    assert server.node.calls.count("Fsck") == 2 and len(sleeps) == 1
    assert [f.key for f in report.findings] == ["a", "b"]


def test_fsck_deadline_is_per_message_not_per_audit(server: FakeServer) -> None:
    """An audit longer than timeout_s finishes while messages keep coming within timeout_s;
    a node silent for longer than timeout_s is cut off with DeadlineExceeded (exit 4)."""
    server.node.fsck_progress = [admin_pb2.FsckProgress(objects_checked=n) for n in range(1, 5)]
    server.node.fsck_message_gap_s = 0.15
    with Client(address=server.address, timeout_s=0.5, retries_max=0) as c:
        report = c.fsck()  # four gaps of 0.15 s: 0.6 s in all, more than timeout_s
        assert report.summary == client_module.fsck_summary_from_pb(server.node.fsck_summary)
        server.node.fsck_message_gap_s = 0.0
        server.node.fsck_stall_s = 5.0
        with pytest.raises(errors.DeadlineExceeded, match=r"fsck: no message from the node for "
                           r"0\.5 s, \d+\.\d s in \(4 objects checked\)") as caught:
            c.fsck()
    assert caught.value.exit_code == 4


def test_scrub_start_and_status(server: FakeServer, client: Client) -> None:
    """start_scrub names the nodes now scrubbing; scrub_status shows them running."""
    server.node.unreachable = ["node-d: refused"]
    assert client.start_scrub(this_node_only=True) == (["node-a"], [])
    assert server.node.admin_requests[-1].this_node_only is True
    status = client.scrub_status()
    assert [(n.node_id, n.running) for n in status.nodes] == [("node-a", True), ("node-b", False)]
    assert status.unreachable == ["node-d: refused"]
    assert client.start_scrub() == (["node-a", "node-b"], ["node-d: refused"])


# ---------------------------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def run(server: FakeServer):
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli.main, ["--retries-max", "0", *args],
                             env={"RINGSTORE_ADDR": server.address})

    return invoke


def _assert_one_line_error(result: Result, exit_code: int, fragment: str) -> None:
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("nodectl: error: ")
    assert fragment in result.stderr, result.stderr
    assert "Traceback" not in result.output


def test_repair_status_report(run, server: FakeServer) -> None:
    """The report: cluster line, merged levels worst first, one row per node, unrepairable
    chunks; the unreachable node is a warning on stderr and the exit code is 0."""
    server.node.repair_nodes = _two_nodes_in_debt()
    server.node.unreachable = ["node-d: deadline exceeded after 5.0 s"]
    result = run("repair", "status")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "repair: 37 chunks below full redundancy, 148.0 MiB left, 41.2 MiB/s, ETA 4 s",
        "LEVEL                          CHUNKS    MISSING",
        "ec=4+2 at K+0 (4 of 6 shares)       1    2.0 MiB",
        "replicas=3 at 1 of 3 copies         2    8.0 MiB",
        "ec=4+2 at K+1 (5 of 6 shares)       4    4.0 MiB",
        "replicas=3 at 2 of 3 copies        30  120.0 MiB",
        "NODE    RESPONSIBLE  BELOW FULL  MISPLACED      LEFT        RATE  ETA       REPAIRED"
        "  LAST SCAN",
        "node-a          500          20          3  80.0 MiB  20.0 MiB/s  4 s      300.0 MiB"
        "  2024-05-01T12:00:00Z",
        "node-b          480          17          0  68.0 MiB  21.2 MiB/s  unknown    3.0 GiB"
        "  -",
        "unrepairable: chunk 3fa2c1d0e9b8a7f6 (ec=4+2) on node-a, 5 attempts: 3 of 6 shares "
        "left, 4 needed: bring node-c back",
    ]
    assert result.stderr == "warning: node-d did not answer: deadline exceeded after 5.0 s\n"


@pytest.mark.parametrize("bytes_left,rate,first_line", [
    (0, 0.0, "repair: all chunks at full redundancy"),
    (12 * MIB, 6 * MIB, "repair: all chunks at full redundancy; 12.0 MiB of moves left, "
                        "6.0 MiB/s, ETA 2 s"),
])
def test_repair_status_at_full_redundancy(run, server: FakeServer, bytes_left: int, rate: float,
                                          first_line: str) -> None:
    """With no debt there is no level table; moves still pending are shown with their ETA."""
    server.node.repair_nodes[0].bytes_left = bytes_left
    server.node.repair_nodes[0].rate_bytes_per_s = rate
    lines = run("repair", "status").stdout.splitlines()
    assert lines[0] == first_line
    assert lines[1].startswith("NODE ") and len(lines) == 4  # header line, table header, 2 nodes


def test_repair_status_eta_unknown(run, server: FakeServer) -> None:
    """Debt with no repair rate measured yet reads "ETA unknown", for the cluster and the node."""
    server.node.repair_nodes[0].chunks_below_full = 2
    server.node.repair_nodes[0].bytes_left = 8 * MIB
    server.node.repair_nodes[0].eta_s = -1.0
    server.node.repair_nodes[0].levels.append(_level("replicas=3", 2, 3, 1, 2, 8))
    result = run("repair", "status")
    lines = result.stdout.splitlines()
    assert lines[0] == "repair: 2 chunks below full redundancy, 8.0 MiB left, 0 B/s, ETA unknown"
    node_a = next(line for line in lines if line.startswith("node-a"))
    assert "  unknown  " in node_a
    document = json.loads(run("repair", "status", "--json").stdout)
    assert document["cluster"]["eta_s"] is None and document["nodes"][0]["eta_s"] is None


def test_repair_status_json(run, server: FakeServer) -> None:
    """--json prints one document: the nodes, unreachable, and the cluster totals with levels
    merged worst first and every unrepairable chunk; the warning still goes to stderr."""
    server.node.repair_nodes = _two_nodes_in_debt()
    server.node.unreachable = ["node-d: refused"]
    result = run("repair", "status", "--json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert set(document) == {"nodes", "unreachable", "cluster"}
    assert document["unreachable"] == ["node-d: refused"]
    cluster = document["cluster"]
    assert (cluster["chunks_below_full"], cluster["bytes_left"], cluster["chunks_misplaced"]) == (
        37, 148 * MIB, 3)
    assert cluster["eta_s"] == pytest.approx(148 / 41.2)
    assert [(lv["policy"], lv["copies_present"], lv["chunks"], lv["bytes_missing"])
            for lv in cluster["levels"]] == [
        ("ec=4+2", 4, 1, 2 * MIB), ("replicas=3", 1, 2, 8 * MIB), ("ec=4+2", 5, 4, 4 * MIB),
        ("replicas=3", 2, 30, 120 * MIB)]
    assert cluster["unrepairable"] == [{
        "node_id": "node-a", "chunk_id_hex": CHUNK_ID.hex(), "policy": "ec=4+2", "attempts": 5,
        "reason": "3 of 6 shares left, 4 needed: bring node-c back",
        "last_attempt_unix_ms": SCAN_UNIX_MS}]
    node_a = document["nodes"][0]
    assert (node_a["node_id"], node_a["eta_s"], node_a["repair_concurrency_max"]) == (
        "node-a", 4.0, 4)
    assert len(node_a["levels"]) == 3  # per node: as the node sent them
    assert result.stderr == "warning: node-d did not answer: refused\n"


def test_repair_status_node_only(run, server: FakeServer) -> None:
    """--node-only asks the node at --addr alone: one row, no fan-out warnings."""
    server.node.unreachable = ["node-d: refused"]
    result = run("repair", "status", "--node-only")
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == ["NODE", "node-a"]
    assert result.stderr == "" and server.node.admin_requests[-1].this_node_only is True


def test_repair_set(run, server: FakeServer) -> None:
    """repair set sends the given throttles and names the nodes that applied them."""
    result = run("repair", "set", "--bandwidth-bytes-per-s", "52428800", "--concurrency", "8")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == ("set repair_bandwidth_bytes_per_s=52428800 (50.0 MiB/s), "
                             "repair_concurrency_max=8 on node-a, node-b\n")
    request = server.node.admin_requests[-1]
    assert (request.repair_bandwidth_bytes_per_s, request.repair_concurrency_max) == (
        52428800, 8)
    assert not request.HasField("scrub_bandwidth_bytes_per_s") and not request.this_node_only
    result = run("repair", "set", "--scrub-bandwidth-bytes-per-s", "1048576", "--node-only")
    assert result.stdout == "set scrub_bandwidth_bytes_per_s=1048576 (1.0 MiB/s) on node-a\n"
    assert server.node.admin_requests[-1].this_node_only is True
    result = run("repair", "set", "--bandwidth-bytes-per-s", "0")
    assert result.stdout == "set repair_bandwidth_bytes_per_s=0 (unthrottled) on node-a, node-b\n"


@pytest.mark.parametrize("args,fragment", [
    ((), "give at least one of --bandwidth-bytes-per-s, --concurrency and "
         "--scrub-bandwidth-bytes-per-s"),
    (("--node-only",), "give at least one of"),
    (("--concurrency", "0"), "--concurrency"),
    (("--bandwidth-bytes-per-s", "-1"), "--bandwidth-bytes-per-s"),
    (("--scrub-bandwidth-bytes-per-s", "0"), "--scrub-bandwidth-bytes-per-s"),
])
def test_repair_set_usage_errors(run, server: FakeServer, args: tuple[str, ...],
                                 fragment: str) -> None:
    """No option, or an out-of-range one, is a usage error (exit 2) and sends nothing."""
    _assert_one_line_error(run("repair", "set", *args), 2, fragment)
    assert server.node.calls == []


@pytest.mark.parametrize("args,stdout,what", [
    (("repair", "set", "--concurrency", "2"), "set repair_concurrency_max=2 on node-a, node-b\n",
     "repair config"),
    (("scrub", "start"), "scrub running on node-a, node-b\n", "scrub start"),
])
def test_fan_out_actions_exit_4_when_a_node_did_not_answer(
        run, server: FakeServer, args: tuple[str, ...], stdout: str, what: str) -> None:
    """An action some ALIVE member missed still names who applied it, then exits 4 naming who
    did not: the cluster now runs with mixed settings."""
    server.node.unreachable = ["node-d: deadline exceeded after 5.0 s", "node-e: refused"]
    result = run(*args)
    assert result.stdout == stdout
    _assert_one_line_error(
        result, 4, f"{what} not applied on 2 nodes that did not answer (node-d: deadline "
                   "exceeded after 5.0 s; node-e: refused); run it again once they do")


def _fsck_data(server: FakeServer, *, degraded: int, unreadable: int) -> None:
    server.node.fsck_findings = (
        [_finding(f"d{i}", 5, detail="share 3 missing on node-4") for i in range(degraded)]
        + [_finding(f"u{i}", 3, unreadable=True) for i in range(unreadable)])
    server.node.fsck_summary = _summary(degraded=degraded, unreadable=unreadable, misplaced=3)


@pytest.mark.parametrize("degraded,unreadable,exit_code", [(0, 0, 0), (2, 0, 10), (1, 1, 5)])
def test_fsck_report_and_exit_codes(run, server: FakeServer, degraded: int, unreadable: int,
                                    exit_code: int) -> None:
    """fsck prints one line per finding and the summary; it exits 0 when all chunks are full
    (misplaced ones are), 10 when some are degraded, 5 when any is unreadable."""
    _fsck_data(server, degraded=degraded, unreadable=unreadable)
    result = run("fsck")
    assert result.exit_code == exit_code, result.stderr
    full = 1020 - degraded - unreadable
    expected = (
        [f"degraded: photos/d{i} chunk 3fa2c1d0e9b8a7f6 (offset 8388608) ec=4+2: 5 of 6 shares "
         "(share 3 missing on node-4)" for i in range(degraded)]
        + [f"unreadable: photos/u{i} chunk 3fa2c1d0e9b8a7f6 (offset 8388608) ec=4+2: 3 of 6 "
           "shares, 4 needed" for i in range(unreadable)]
        + [f"fsck: 12 buckets, 340 objects, 1020 chunks: {full} full, {degraded} degraded, "
           f"{unreadable} unreadable (3 misplaced)"])
    assert result.stdout.splitlines() == expected
    assert result.stderr == ""  # not a terminal: no progress line


def test_fsck_reports_metadata_replicas_missing_or_corrupt_and_exits_10(run, server: FakeServer) -> None:
    """Metadata home replicas lacking an object's current manifest, or holding it corrupt, get one
    line each, the summary counts them, and fsck exits 10 (degraded) though every chunk is full."""
    server.node.fsck_findings = [
        admin_pb2.FsckMetadataFinding(bucket="photos", key="a", node_id="node-2", corrupt=True,
                                      detail="DATA_LOSS: corrupt record in db manifests"),
        admin_pb2.FsckMetadataFinding(bucket="photos", key="b", node_id="node-2", detail="no manifest")]
    summary = _summary(degraded=0, unreadable=0, misplaced=0)
    summary.metadata_replicas_missing, summary.metadata_replicas_corrupt = 1, 1
    server.node.fsck_summary = summary
    result = run("fsck")
    assert result.exit_code == 10, result.stderr
    assert result.stdout.splitlines() == [
        "metadata corrupt: photos/a on node-2 (DATA_LOSS: corrupt record in db manifests)",
        "metadata missing: photos/b on node-2 (no manifest)",
        "fsck: 12 buckets, 340 objects, 1020 chunks: 1020 full, 0 degraded, 0 unreadable (0 misplaced); "
        "metadata replicas: 1 missing, 1 corrupt"]
    document = json.loads(run("fsck", "--json").stdout)
    assert document["summary"]["metadata_replicas_corrupt"] == 1
    assert [f["node_id"] for f in document["metadata_findings"]] == ["node-2", "node-2"]


def test_fsck_reports_usage_counters_that_disagree_and_exits_10(run, server: FakeServer) -> None:
    """A home whose usage counters are not what the audit counted gets one line, and exit 10."""
    server.node.fsck_findings = [admin_pb2.FsckUsageFinding(
        bucket="photos", node_id="node-3", counted_objects=4, counted_logical_bytes=400, audited_objects=5,
        audited_logical_bytes=500)]
    summary = _summary(degraded=0, unreadable=0, misplaced=0)
    summary.usage_counters_checked, summary.usage_counters_disagreeing = 36, 1
    server.node.fsck_summary = summary
    result = run("fsck")
    assert result.exit_code == 10, result.stderr
    assert result.stdout.splitlines() == [
        "usage counters: photos on node-3 say 4 objects, 400 bytes; the audit found 5 objects, 500 bytes",
        "fsck: 12 buckets, 340 objects, 1020 chunks: 1020 full, 0 degraded, 0 unreadable (0 misplaced); "
        "usage counters: 1 of 36 disagree"]
    document = json.loads(run("fsck", "--json").stdout)
    assert document["usage_findings"][0]["audited_objects"] == 5


def test_fsck_reports_dedup_counters_that_disagree_and_exits_10(run, server: FakeServer) -> None:
    """A node whose deduplication savings record is not what its reference rows add up to gets one
    line, and exit 10."""
    server.node.fsck_findings = [admin_pb2.FsckUsageFinding(
        bucket="", node_id="node-2", dedup=True, counted_saved_bytes=4096, audited_saved_bytes=8192)]
    summary = _summary(degraded=0, unreadable=0, misplaced=0)
    summary.dedup_counters_checked, summary.dedup_counters_disagreeing = 9, 1
    server.node.fsck_summary = summary
    result = run("fsck")
    assert result.exit_code == 10, result.stderr
    assert result.stdout.splitlines() == [
        "dedup counters: everything on node-2 say 4096 bytes saved; its reference rows add up to 8192",
        "fsck: 12 buckets, 340 objects, 1020 chunks: 1020 full, 0 degraded, 0 unreadable (0 misplaced); "
        "dedup counters: 1 of 9 disagree"]


@pytest.mark.parametrize("degraded,unreadable,exit_code", [(0, 0, 0), (2, 0, 10), (1, 1, 5)])
def test_fsck_json_and_exit_codes(run, server: FakeServer, degraded: int, unreadable: int,
                                  exit_code: int) -> None:
    """fsck --json prints {"findings": [...], "summary": {...}} and exits as the report does."""
    _fsck_data(server, degraded=degraded, unreadable=unreadable)
    result = run("fsck", "--json")
    assert result.exit_code == exit_code
    document = json.loads(result.stdout)
    assert set(document) == {"findings", "summary", "findings_omitted", "metadata_findings", "usage_findings"}
    assert [f["unreadable"] for f in document["findings"]] == (
        [False] * degraded + [True] * unreadable)
    if document["findings"]:
        assert document["findings"][0]["chunk_id_hex"] == CHUNK_ID.hex()
        assert document["findings"][0]["offset_bytes"] == 8 * MIB
    assert document["summary"] == {
        "buckets_checked": 12, "objects_checked": 340, "chunks_checked": 1020,
        "chunks_full": 1020 - degraded - unreadable, "chunks_degraded": degraded,
        "chunks_unreadable": unreadable, "chunks_misplaced": 3, "bytes_checked": 4000 * MIB,
        "metadata_replicas_missing": 0, "metadata_replicas_corrupt": 0, "usage_counters_checked": 0,
        "usage_counters_disagreeing": 0, "noncurrent_versions_checked": 0, "dedup_counters_checked": 0,
        "dedup_counters_disagreeing": 0, "dedup_saved_bytes": 0}


def test_fsck_shows_progress_on_a_terminal(run, server: FakeServer,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal, progress (objects, chunks, bytes) is drawn on stderr, ending in a newline."""
    monkeypatch.setattr(cli_progress, "_stderr_is_terminal", lambda: True)
    server.node.fsck_progress = [admin_pb2.FsckProgress(objects_checked=170, chunks_checked=510,
                                                        bytes_checked=2000 * MIB)]
    server.node.fsck_summary = _summary()
    result = run("fsck")
    assert result.exit_code == 0
    assert result.stderr.startswith("\rfsck  170 objects, 510 chunks  2.0 GiB  ")
    assert result.stderr.endswith("\n")


def test_fsck_of_one_bucket_and_its_errors(run, server: FakeServer) -> None:
    """fsck BUCKET audits that bucket; a bad name is exit 2 before any request, a missing one 3."""
    _assert_one_line_error(run("fsck", "Photos"), 2, "bucket name 'Photos' is invalid")
    assert server.node.calls == []
    _assert_one_line_error(run("fsck", "photos"), 3, "bucket 'photos' not found")
    assert run("mb", "photos").exit_code == 0
    _fsck_data(server, degraded=1, unreadable=0)
    result = run("fsck", "photos")
    assert result.exit_code == 10 and server.node.admin_requests[-1].bucket == "photos"


def test_fsck_says_how_many_findings_it_did_not_keep(run, server: FakeServer,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Findings past the limit are not printed; a line says how many, and the exit code still
    counts them."""
    monkeypatch.setattr(client_repair, "FSCK_FINDINGS_MAX", 1)
    monkeypatch.setattr(cli_fsck, "FSCK_FINDINGS_MAX", 1)
    _fsck_data(server, degraded=3, unreadable=0)
    result = run("fsck")
    assert result.exit_code == 10
    assert result.stdout.splitlines()[1:] == [
        "fsck: 2 more findings not shown (only the first 1 are kept; the summary counts them all)",
        "fsck: 12 buckets, 340 objects, 1020 chunks: 1017 full, 3 degraded, 0 unreadable "
        "(3 misplaced)"]


def test_scrub_commands(run, server: FakeServer) -> None:
    """scrub start names the nodes scrubbing; scrub status shows the table and the JSON."""
    node_b = server.node.scrub_nodes[1]
    node_b.copies_checked, node_b.copies_total = 1200, 5000
    node_b.bytes_checked, node_b.bytes_total = 1 * MIB, 4 * MIB
    node_b.corrupt_found, node_b.corrupt_found_total, node_b.passes_completed = 1, 3, 12
    node_b.last_pass_finished_unix_ms, node_b.last_pass_s = SCAN_UNIX_MS, 200.0
    result = run("scrub", "start", "--node-only")
    assert (result.exit_code, result.stdout) == (0, "scrub running on node-a\n")
    assert server.node.admin_requests[-1].this_node_only is True
    result = run("scrub", "status")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "NODE    RUNNING  CHECKED                 CORRUPT  PASSES  LAST PASS",
        "node-a  yes      0/0 copies              0 / 0         0  -",
        "node-b  no       1200/5000 copies (25%)  1 / 3        12  "
        "2024-05-01T12:00:00Z (3 min 20 s)",
    ]
    document = json.loads(run("scrub", "status", "--json").stdout)
    assert set(document) == {"nodes", "unreachable"}
    assert document["nodes"][1] == {
        "node_id": "node-b", "running": False, "copies_checked": 1200, "copies_total": 5000,
        "bytes_checked": MIB, "bytes_total": 4 * MIB, "corrupt_found": 1,
        "corrupt_found_total": 3, "passes_completed": 12,
        "last_pass_finished_unix_ms": SCAN_UNIX_MS, "last_pass_s": 200.0,
        "scrub_bandwidth_bytes_per_s": 20 * MIB}


def test_scrub_status_warns_about_unreachable_nodes(run, server: FakeServer) -> None:
    """scrub status is a report: members that did not answer are warnings, the exit code 0."""
    server.node.unreachable = ["node-d: refused", "node-e: deadline exceeded after 5.0 s"]
    result = run("scrub", "status")
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "warning: node-d did not answer: refused",
        "warning: node-e did not answer: deadline exceeded after 5.0 s"]
    assert run("scrub", "status", "--node-only").stderr == ""


@pytest.mark.parametrize("method,args", [
    ("GetRepairStatus", ("repair", "status")),
    ("SetRepairConfig", ("repair", "set", "--concurrency", "2")),
    ("Fsck", ("fsck",)),
    ("StartScrub", ("scrub", "start")),
    ("GetScrubStatus", ("scrub", "status", "--json")),
])
@pytest.mark.parametrize("code,exit_code", [
    (grpc.StatusCode.UNAVAILABLE, 4), (grpc.StatusCode.PERMISSION_DENIED, 11),
    (grpc.StatusCode.INVALID_ARGUMENT, 2),
])
def test_errors_are_one_line_with_their_class_exit_code(
        run, server: FakeServer, method: str, args: tuple[str, ...], code: grpc.StatusCode,
        exit_code: int) -> None:
    """A node's refusal of any of these calls is one stderr line and the exit code of its class."""
    server.node.fail_next(method, code, "repair_concurrency_max must be in 1..64, got 65")
    _assert_one_line_error(run(*args), exit_code,
                           "repair_concurrency_max must be in 1..64, got 65")


# ---------------------------------------------------------------------------------------------
# repair wait
# ---------------------------------------------------------------------------------------------


def _status(*nodes: tuple[str, int, int, int], unreachable: tuple[str, ...] = (),
            unrepairable: int = 0, rate: float = 0.0, queued: int = 0) -> RepairStatus:
    """(node id, last scan ms, chunks below full, bytes left) per node; the rest on the first."""
    built = []
    for index, (node_id, scan_ms, below, left) in enumerate(nodes):
        first = index == 0
        built.append(NodeRepairStatus(
            node_id=node_id, levels=[], chunks_below_full=below, bytes_left=left,
            rate_bytes_per_s=rate if first else 0.0, eta_s=0.0, bytes_repaired_total=0,
            copies_repaired_total=0, chunks_misplaced=0, copies_dropped_total=0,
            unrepairable=[client_module.UnrepairableChunk(
                node_id=node_id, chunk_id_hex=CHUNK_ID.hex(), policy="ec=4+2", attempts=3,
                reason="needs 6 ring members, the ring has 5", last_attempt_unix_ms=scan_ms)
                for _ in range(unrepairable if first else 0)],
            last_scan_unix_ms=scan_ms, last_scan_s=0.1, chunks_responsible=10,
            repair_bandwidth_bytes_per_s=0, repair_concurrency_max=4,
            queued=queued if first else 0))
    return RepairStatus(nodes=built, unreachable=list(unreachable))


BEFORE = {"node-a": 100, "node-b": 100}


@pytest.mark.parametrize("status,done,stuck", [
    # Zero debt, but from scans that ended before the wait: not yet an answer.
    (_status(("node-a", 100, 0, 0), ("node-b", 101, 0, 0)), False, False),
    (_status(("node-a", 101, 0, 0), ("node-b", 100, 0, 0)), False, False),
    (_status(("node-a", 101, 0, 0), ("node-b", 101, 0, 0)), True, False),
    # A node first seen now (joined meanwhile) needs any scan.
    (_status(("node-a", 101, 0, 0), ("node-b", 101, 0, 0), ("node-c", 5, 0, 0)), True, False),
    (_status(("node-a", 101, 0, 0), ("node-c", 0, 0, 0)), False, False),
    (_status(("node-a", 101, 1, 4 * MIB), ("node-b", 101, 0, 0)), False, False),
    (_status(("node-a", 101, 0, 0), ("node-b", 101, 0, 0), queued=1), False, False),
    (_status(("node-a", 101, 0, 0), ("node-b", 101, 0, 0), unreachable=("node-c: refused",)),
     False, False),
    # Only unrepairable chunks left, nothing moving: stuck, once the scans are fresh.
    (_status(("node-a", 101, 1, 0), ("node-b", 101, 0, 0), unrepairable=1), False, True),
    (_status(("node-a", 100, 1, 0), ("node-b", 101, 0, 0), unrepairable=1), False, False),
    (_status(("node-a", 101, 2, 0), ("node-b", 101, 0, 0), unrepairable=1), False, False),
    (_status(("node-a", 101, 1, 0), ("node-b", 101, 0, 0), unrepairable=1, rate=MIB), False, False),
    (_status(), False, False),
])
def test_repair_done_and_stuck(status: RepairStatus, done: bool, stuck: bool) -> None:
    assert (cli.repair_done(status, BEFORE), cli.repair_stuck(status, BEFORE)) == (done, stuck)


@pytest.fixture
def manual() -> ManualClock:
    return ManualClock(SCAN_UNIX_MS)


@pytest.fixture
def run_clocked(server: FakeServer, manual: ManualClock):
    return clocked_cli(server, manual)


def _scripted(server: FakeServer, manual: ManualClock,
              steps: list[list[admin_pb2.NodeRepairStatus]]) -> None:
    """The fake answers steps[0] now and steps[i] after the i-th sleep (the last one after that)."""
    server.node.repair_nodes = steps[0]
    remaining = list(steps[1:])

    def advance() -> None:
        if remaining:
            server.node.repair_nodes = remaining.pop(0)

    manual.on_sleep = advance


def _wire(node_id: str, scan_ms: int, below: int, left_mib: int, repaired_mib: int,
          **fields: object) -> admin_pb2.NodeRepairStatus:
    return admin_pb2.NodeRepairStatus(
        node_id=node_id, last_scan_unix_ms=scan_ms, chunks_below_full=below,
        bytes_left=left_mib * MIB, bytes_repaired_total=repaired_mib * MIB,
        rate_bytes_per_s=2 * MIB if left_mib else 0.0, eta_s=left_mib / 2 if left_mib else 0.0,
        chunks_responsible=10, **fields)


def test_repair_wait_shows_each_change_and_ends_on_a_fresh_clean_scan(
        run_clocked, server: FakeServer, manual: ManualClock) -> None:
    """Off a terminal each change of the debt is one stderr line; the wait ends only once both
    nodes finished a scan after it began and report nothing left; stdout is the final status."""
    t0 = SCAN_UNIX_MS
    _scripted(server, manual, [
        [_wire("node-a", t0, 3, 12, 0), _wire("node-b", t0, 1, 4, 0)],
        [_wire("node-a", t0, 3, 12, 0), _wire("node-b", t0, 1, 4, 0)],  # unchanged: no line
        [_wire("node-a", t0, 1, 4, 8), _wire("node-b", t0, 0, 0, 4)],
        [_wire("node-a", t0, 0, 0, 12), _wire("node-b", t0, 0, 0, 4)],  # no scan since: not yet
        [_wire("node-a", t0 + 9000, 0, 0, 12), _wire("node-b", t0 + 8000, 0, 0, 4)],
    ])
    result = run_clocked("repair", "wait", "--poll-s", "3")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [
        "repair: 4 chunks below full redundancy, 16.0 MiB left, 4.0 MiB/s, ETA 4 s",
        "repair: 1 chunk below full redundancy, 4.0 MiB left, 2.0 MiB/s, ETA 2 s",
        "repair: all chunks at full redundancy",
    ]
    assert result.stdout.splitlines()[0] == "repair: all chunks at full redundancy"
    assert manual.sleeps == [3, 3, 3, 3]
    assert server.node.calls.count("GetRepairStatus") == 5


def test_repair_wait_on_a_terminal_draws_bytes_repaired_against_the_total() -> None:
    out = io.StringIO()
    manual = ManualClock(SCAN_UNIX_MS)
    view = cli.RepairView(stream=out, terminal=True, clock=manual.clock())
    view.show(_status(("node-a", 1, 4, 12 * MIB)))
    manual.now_s = 2.0
    moving = _status(("node-a", 2, 1, 4 * MIB))
    view.show(dataclasses.replace(moving, nodes=[dataclasses.replace(moving.nodes[0],
                                                                     bytes_repaired_total=8 * MIB)]))
    view.finish()
    frames = out.getvalue().split("\r")[1:]
    assert frames[0].startswith("repair  4 chunks below full, 0 misplaced  0 B / 12.0 MiB    0%")
    assert frames[-1].startswith("repair  1 chunk below full, 0 misplaced  8.0 MiB / 12.0 MiB   67%")
    assert frames[-1].endswith("4.2 MB/s\n")


def test_repair_wait_timeout_is_one_line_with_what_is_left(run_clocked, server: FakeServer,
                                                           manual: ManualClock) -> None:
    server.node.repair_nodes = [_wire("node-a", SCAN_UNIX_MS, 2, 8, 0)]
    result = run_clocked("repair", "wait", "--timeout-s", "5", "--poll-s", "2")
    assert_error_line(result, 4, "repair not finished after 5 s: 2 chunks below full redundancy, "
                                 "8.0 MiB left, 2.0 MiB/s, ETA 4 s; it goes on in the cluster: "
                                 "watch it with `nodectl repair status`")
    assert result.stderr.splitlines()[0].startswith("repair: 2 chunks below full redundancy")
    assert manual.sleeps == [2, 2, 1]


def test_repair_wait_exits_10_when_only_unrepairable_chunks_are_left(
        run_clocked, server: FakeServer, manual: ManualClock) -> None:
    stuck = admin_pb2.UnrepairableChunk(chunk_id=CHUNK_ID, policy="ec=4+2", attempts=4,
                                        reason="ec=4+2 needs 6 ring members, the ring has 5; "
                                               "add nodes or convert to a smaller policy")
    _scripted(server, manual, [
        [_wire("node-a", SCAN_UNIX_MS, 1, 0, 0, unrepairable=[stuck])],
        [_wire("node-a", SCAN_UNIX_MS + 2000, 1, 0, 0, unrepairable=[stuck])],
    ])
    result = run_clocked("repair", "wait")
    assert_error_line(result, 10, "repair cannot finish: 1 chunk cannot be repaired (chunk "
                                       "3fa2c1d0e9b8a7f6 (ec=4+2) on node-a: ec=4+2 needs 6 ring "
                                       "members, the ring has 5; add nodes or convert")
    assert manual.sleeps == [2.0]


def test_repair_wait_ctrl_c_says_repair_goes_on(run_clocked, server: FakeServer,
                                                manual: ManualClock) -> None:
    def interrupt() -> None:
        raise KeyboardInterrupt

    server.node.repair_nodes = [_wire("node-a", SCAN_UNIX_MS, 2, 8, 0)]
    manual.on_sleep = interrupt
    result = run_clocked("repair", "wait")
    assert_error_line(result, 130, "interrupted: stopped waiting; repair goes on in the cluster")


def test_fsck_deep_sends_the_flag_and_the_bandwidth(server: FakeServer) -> None:
    """`fsck --deep --bandwidth-bytes-per-s N` asks the node for a deep audit at N bytes/s; plain
    fsck asks for none; --bandwidth-bytes-per-s without --deep is a usage error sending nothing."""
    runner = CliRunner()
    env = {"RINGSTORE_ADDR": server.address}
    assert runner.invoke(cli.main, ["fsck"], env=env).exit_code == 0
    assert runner.invoke(cli.main, ["fsck", "--deep", "--bandwidth-bytes-per-s", "5000000"],
                         env=env).exit_code == 0
    assert runner.invoke(cli.main, ["fsck", "--deep"], env=env).exit_code == 0
    plain, deep, default_rate = server.node.admin_requests[-3:]
    assert (plain.deep, plain.bandwidth_bytes_per_s) == (False, 0)
    assert (deep.deep, deep.bandwidth_bytes_per_s) == (True, 5_000_000)
    assert (default_rate.deep, default_rate.bandwidth_bytes_per_s) == (True, 0)
    before = len(server.node.admin_requests)
    result = runner.invoke(cli.main, ["fsck", "--bandwidth-bytes-per-s", "5"], env=env)
    assert_error_line(result, 2, "add --deep")
    assert len(server.node.admin_requests) == before
