"""Unit tests for the pure parts of cluster-sim: cluster.json, signals, pid ownership, waiting.

Nothing here starts noded; the few subprocesses are `python -c "sleep"` stand-ins for checking what
cluster-sim will and will not signal.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from click.testing import CliRunner

from cluster_sim import ClusterError, LocalCluster, NodeProcess
from cluster_sim._status import StatusReader, StatusUnavailable, state_name
from cluster_sim.cli import _holder_ids, main
from cluster_sim.cluster import parse_address, write_secret_file, zone_for
from cluster_sim.clusterfile import (
    ClusterFile,
    cluster_file_path,
    natural_key,
    read_cluster_file,
    write_cluster_file,
)
from cluster_sim.processes import cmdline_owns, node_command, owns_pid, parse_signal, pid_alive, tail_log
from ringstore.v1 import admin_pb2, admin_pb2_grpc, membership_pb2


class FakeClock:
    """Manual clock: sleep advances time at once."""

    def __init__(self) -> None:
        self.now_s = 100.0
        self.sleeps_s: list[float] = []

    def monotonic_s(self) -> float:
        return self.now_s

    def sleep(self, seconds: float) -> None:
        self.sleeps_s.append(seconds)
        self.now_s += seconds


def _node(tmp_path: Path, node_id: str, **fields) -> NodeProcess:
    return NodeProcess(node_id=node_id, data_dir=str(tmp_path / node_id),
                       log_path=str(tmp_path / "logs" / f"{node_id}.log"),
                       secret_file=str(tmp_path / "cluster.secret"), **fields)


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                            start_new_session=True)


# ------------------------------------------------------------------ cluster.json


def test_cluster_file_round_trips_every_field(tmp_path: Path) -> None:
    """What cluster.json records (ids, addresses, pids, dirs, logs, secret file) reads back equal."""
    original = ClusterFile(
        secret_file=str(tmp_path / "cluster.secret"), profile="local", replicas=2,
        nodes=[
            _node(tmp_path, "node-1", pid=1234, port=40001, address="127.0.0.1:40001",
                  metrics_address="127.0.0.1:40002", generation=1_700_000_000_000, zone="zone-1"),
            _node(tmp_path, "node-2", pid=1235, capacity_bytes=10 * 2**30, paused=True),
        ])
    write_cluster_file(tmp_path, original)
    assert read_cluster_file(tmp_path) == original
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")], "temp file left behind"


def test_load_orders_nodes_naturally(tmp_path: Path) -> None:
    """LocalCluster.load keeps every recorded node, node-2 before node-10."""
    nodes = [_node(tmp_path, f"node-{i}", address=f"127.0.0.1:{40000 + i}") for i in (10, 2, 1)]
    write_cluster_file(tmp_path, ClusterFile(secret_file="s", replicas=1, nodes=nodes))
    cluster = LocalCluster.load(tmp_path)
    assert list(cluster.nodes) == ["node-1", "node-2", "node-10"]
    assert cluster.addresses() == ["127.0.0.1:40001", "127.0.0.1:40002", "127.0.0.1:40010"]
    assert cluster.replicas == 1 and cluster.secret_file == "s"


@pytest.mark.parametrize("content, message", [
    ("{}", "format_version None is not supported"),
    ('{"format_version": 1, "secret_file": "s"}', "format_version 1 is not supported"),
    ('{"format_version": 2}', "lacks field 'secret_file'"),
    ('{"format_version": 2, "secret_file": "s"}', "lacks field 'ca_dir'"),
    ('{"format_version": 2, "secret_file": "s", "ca_dir": "", "nodes": [{"node_id": "n"}]}', "incomplete"),
    ('{"format_version": 2, "secret_file": "s", "ca_dir": "", "nodes": [{"node_id": "n", "x": 1}]}',
     "unknown fields ['x']"),
    ("[1]", "must hold a JSON object"),
    ("{", "not valid JSON"),
])
def test_cluster_file_rejects_bad_content(tmp_path: Path, content: str, message: str) -> None:
    """A cluster.json we did not write (or from another version) is refused with a reason."""
    cluster_file_path(tmp_path).write_text(content)
    with pytest.raises(ClusterError, match=message.replace("[", r"\[").replace("(", r"\(")):
        read_cluster_file(tmp_path)


def test_load_without_cluster_file_names_the_path(tmp_path: Path) -> None:
    """load() of a directory with no cluster says where it looked."""
    with pytest.raises(ClusterError, match="cluster.json not found"):
        LocalCluster.load(tmp_path)


def test_up_refuses_a_directory_that_already_holds_a_cluster(tmp_path: Path) -> None:
    """up() never starts a second cluster over a recorded one (it would orphan the first)."""
    write_cluster_file(tmp_path, ClusterFile(secret_file="s"))
    with pytest.raises(ClusterError, match="already holds a cluster"):
        LocalCluster.up(tmp_path, nodes=1)


@pytest.mark.parametrize("kwargs, message", [
    ({"nodes": 0}, "nodes must be in"),
    ({"nodes": 65}, "nodes must be in"),
    ({"nodes": 3, "replicas": 0}, "replicas must be >= 1"),
    ({"nodes": 3, "zones": -1}, "zones must be >= 0"),
    ({"nodes": 3, "timeout_s": 0}, "timeout_s must be > 0"),
    ({"nodes": 3, "profile": "wan"}, "unknown profile"),
])
def test_up_rejects_bad_arguments_before_starting_anything(tmp_path: Path, kwargs, message) -> None:
    """Bad arguments are a ValueError and leave no cluster.json behind."""
    with pytest.raises(ValueError, match=message):
        LocalCluster.up(tmp_path / "c", **kwargs)
    assert not cluster_file_path(tmp_path / "c").exists()


def test_natural_key_orders_numbers_by_value() -> None:
    """node-2 sorts before node-10."""
    assert sorted(["node-10", "node-2", "node-1", "a"], key=natural_key) == [
        "a", "node-1", "node-2", "node-10"]


# ------------------------------------------------------------------ signals and pids


@pytest.mark.parametrize("name, expected", [
    ("KILL", signal.SIGKILL), ("kill", signal.SIGKILL), ("SIGKILL", signal.SIGKILL),
    ("TERM", signal.SIGTERM), (" stop ", signal.SIGSTOP), ("SigCont", signal.SIGCONT),
])
def test_parse_signal_accepts_the_four_names(name: str, expected: signal.Signals) -> None:
    """KILL|TERM|STOP|CONT in any case, with or without SIG."""
    assert parse_signal(name) == expected


@pytest.mark.parametrize("name", ["USR1", "INT", "SIGINT", "9", "", "SIG", "KILLALL"])
def test_parse_signal_refuses_other_signals(name: str) -> None:
    """Anything else is a ValueError that lists the accepted names."""
    with pytest.raises(ValueError, match="use one of KILL, TERM, STOP, CONT"):
        parse_signal(name)


@pytest.mark.parametrize("cmdline, data_dir, owned", [
    (["python", "-m", "node", "--data-dir", "/c/node-1"], "/c/node-1", True),
    (["python", "-m", "node", "--data-dir=/c/node-1"], "/c/node-1", True),
    (["python", "-m", "node", "--data-dir", "/c/node-10"], "/c/node-1", False),  # prefix only
    (["python", "-m", "node", "--data-dir", "/c/node-1/x"], "/c/node-1", False),
    (["bash"], "/c/node-1", False),
    ([], "/c/node-1", False),
])
def test_cmdline_owns_needs_the_data_dir_as_a_whole_argument(cmdline, data_dir, owned) -> None:
    """Ownership is an exact argument match, so node-1's check never claims node-10's process."""
    assert cmdline_owns(cmdline, data_dir) is owned


def test_owns_pid_reads_proc_cmdline(tmp_path: Path) -> None:
    """owns_pid reads /proc/<pid>/cmdline (NUL-separated); a missing pid is not owned."""
    proc = tmp_path / "proc"
    (proc / "42").mkdir(parents=True)
    (proc / "42" / "cmdline").write_bytes(b"python\0-m\0node\0--data-dir\0/c/node-1\0")
    assert owns_pid(42, "/c/node-1", proc_root=proc)
    assert not owns_pid(42, "/c/node-2", proc_root=proc)
    assert not owns_pid(43, "/c/node-1", proc_root=proc)
    assert not owns_pid(0, "/c/node-1", proc_root=proc)


def test_kill_and_down_refuse_a_pid_whose_cmdline_lacks_the_data_dir(tmp_path: Path) -> None:
    """A recorded pid that now belongs to another process (pid reuse) is never signalled."""
    stranger = _sleeper()
    try:
        cluster = LocalCluster(tmp_path)
        cluster.nodes["node-1"] = _node(tmp_path, "node-1", pid=stranger.pid,
                                        address="127.0.0.1:1")
        with pytest.raises(ClusterError, match=f"refusing to signal pid {stranger.pid}"):
            cluster.kill("node-1", "KILL")
        cluster.down()
        assert stranger.poll() is None, "down() signalled a process it does not own"
    finally:
        stranger.kill()
        stranger.wait()


def test_pid_alive_treats_a_zombie_as_gone(tmp_path: Path) -> None:
    """A child that exited but is not reaped yet counts as gone (only its parent could reap it)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    assert pid_alive(os.getpid())
    cluster = LocalCluster(tmp_path)
    cluster.wait_until(lambda: not pid_alive(child.pid), timeout_s=30.0, what="the child to exit")
    assert child.wait() == 0
    assert not pid_alive(child.pid)
    assert not pid_alive(0)


def test_kill_of_an_exited_node_is_a_no_op_but_stop_is_an_error(tmp_path: Path) -> None:
    """KILL/TERM of a node already gone do nothing; STOP/CONT of it say it is not running."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    cluster = LocalCluster(tmp_path)
    cluster.nodes["node-1"] = _node(tmp_path, "node-1", pid=child.pid)
    cluster.kill("node-1", "KILL")
    cluster.kill("node-1", "TERM")
    with pytest.raises(ClusterError, match="is not running"):
        cluster.kill("node-1", "STOP")
    with pytest.raises(ClusterError, match="no node 'node-9'"):
        cluster.kill("node-9")


def test_restart_many_starts_every_node_before_waiting_for_any(tmp_path: Path, monkeypatch) -> None:
    """A whole cluster started again: every process is spawned before cluster-sim waits for the first
    node.json (a node waited for alone would find none of the members it remembers and exit 4). They
    join a running node outside the set if there is one, else nothing (their members files), unless
    `join` says otherwise; `extra_args` reach every spawn."""
    cluster = LocalCluster(tmp_path)
    for node_id in ("node-1", "node-2", "node-3"):
        cluster.nodes[node_id] = _node(tmp_path, node_id, address=f"{node_id}:7400", peer_address=f"{node_id}:7401")
    running = {"node-3"}
    events: list[tuple] = []
    monkeypatch.setattr(cluster, "_alive", lambda node: node.node_id in running)
    monkeypatch.setattr(cluster, "_spawn", lambda node, *, join, extra_args=(): events.append(
        ("spawn", node.node_id, join, extra_args)))
    monkeypatch.setattr(cluster, "_wait_serving", lambda node, *, timeout_s: events.append(("wait", node.node_id)))
    cluster.restart_many(["node-1", "node-2"], extra_args=("--allow-alone",))
    assert events == [("spawn", "node-1", ("node-3:7401",), ("--allow-alone",)),
                      ("spawn", "node-2", ("node-3:7401",), ("--allow-alone",)), ("wait", "node-1"), ("wait", "node-2")]
    running.clear()
    events.clear()
    cluster.restart_many(["node-1", "node-2", "node-3"])
    assert [e[:3] for e in events if e[0] == "spawn"] == [("spawn", f"node-{i}", ()) for i in (1, 2, 3)]
    events.clear()
    cluster.restart("node-2", join=("node-2:7401",))
    assert events == [("spawn", "node-2", ("node-2:7401",), ()), ("wait", "node-2")]


# ------------------------------------------------------------------ waiting


def test_wait_until_times_out_with_the_message() -> None:
    """On timeout: ClusterError('timed out after T s waiting for WHAT') plus the detail, after a
    bounded number of polls and with the predicate tried once more at the deadline."""
    clock = FakeClock()
    cluster = LocalCluster("/nonexistent-cluster-dir", clock=clock)
    calls = []
    with pytest.raises(ClusterError) as raised:
        cluster.wait_until(lambda: calls.append(clock.now_s) or False, timeout_s=2.0,
                           interval_s=0.5, what="the moon", detail=lambda: "node-1 sees nothing")
    assert raised.value.message == "timed out after 2.0 s waiting for the moon"
    assert raised.value.detail == "node-1 sees nothing"
    assert "node-1 sees nothing" in str(raised.value)
    assert calls == [100.0, 100.5, 101.0, 101.5, 102.0]


@pytest.mark.parametrize("true_after_calls, interval_s, expected_s", [
    (1, 0.05, 0.0),
    (3, 0.5, 1.0),
    (4, 0.3, 0.9),
])
def test_wait_until_returns_elapsed_seconds(true_after_calls, interval_s, expected_s) -> None:
    """wait_until returns how long the predicate took to become true."""
    clock = FakeClock()
    cluster = LocalCluster("/nonexistent-cluster-dir", clock=clock)
    calls = []

    def predicate() -> bool:
        calls.append(1)
        return len(calls) >= true_after_calls

    assert cluster.wait_until(predicate, timeout_s=10.0, interval_s=interval_s,
                              what="x") == pytest.approx(expected_s)


def test_wait_until_never_sleeps_past_the_deadline() -> None:
    """The last sleep is cut to the deadline, so a timeout costs timeout_s, not a whole interval more."""
    clock = FakeClock()
    cluster = LocalCluster("/nonexistent-cluster-dir", clock=clock)
    with pytest.raises(ClusterError):
        cluster.wait_until(lambda: False, timeout_s=1.0, interval_s=0.75, what="x")
    assert clock.sleeps_s == [0.75, pytest.approx(0.25)]


@pytest.mark.parametrize("timeout_s, interval_s", [(0, 0.1), (-1, 0.1), (1, 0), (1, -0.1)])
def test_wait_until_rejects_non_positive_times(timeout_s, interval_s) -> None:
    """A zero or negative timeout or interval is a caller's mistake (ValueError)."""
    cluster = LocalCluster("/nonexistent-cluster-dir", clock=FakeClock())
    with pytest.raises(ValueError):
        cluster.wait_until(lambda: True, timeout_s=timeout_s, interval_s=interval_s, what="x")


# ------------------------------------------------------------------ small pure helpers


@pytest.mark.parametrize("kwargs, present, absent", [
    ({}, ["--data-dir", "/d", "--listen", "127.0.0.1:0", "--metrics-listen", "--node-id", "n1",
          "--cluster-secret-file", "/s", "--profile", "local"], ["--join", "--zone", "--capacity-bytes"]),
    ({"port": 4100, "join_addresses": ("127.0.0.1:1", "127.0.0.1:2")},
     ["--join", "127.0.0.1:1", "127.0.0.1:2"], ["--zone"]),
    ({"zone": "zone-2", "capacity_bytes": 1024, "default_replicas": 2},
     ["--zone", "zone-2", "--capacity-bytes", "1024", "--default-replicas", "2"], ["--join"]),
])
def test_node_command_follows_the_noded_contract(kwargs, present, absent) -> None:
    """The command line is `python -m node` with the contract's flags, optional ones only when set."""
    defaults = dict(data_dir="/d", port=0, node_id="n1", secret_file="/s", profile="local")
    command = node_command(**{**defaults, **kwargs})
    assert command[:3] == [sys.executable, "-m", "node"]
    for item in present:
        assert item in command
    for item in absent:
        assert item not in command
    assert command.count("--join") == len(kwargs.get("join_addresses", ()))
    assert command[command.index("--listen") + 1] == f"127.0.0.1:{kwargs.get('port', 0)}"


@pytest.mark.parametrize("index, zones, expected", [
    (1, 0, ""), (5, 0, ""), (1, 3, "zone-1"), (3, 3, "zone-3"), (4, 3, "zone-1"), (5, 2, "zone-1"),
])
def test_zone_for_is_round_robin(index: int, zones: int, expected: str) -> None:
    """Nodes are spread round-robin over zone-1..zone-Z."""
    assert zone_for(index, zones) == expected


def test_secret_file_is_private_hex_text(tmp_path: Path) -> None:
    """The secret file is mode 0600 and holds the secret as hex text; short secrets are refused."""
    path = tmp_path / "cluster.secret"
    path.write_text("old")
    path.chmod(0o644)
    write_secret_file(path, bytes(range(32)))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == bytes(range(32)).hex() + "\n"
    with pytest.raises(ValueError, match="at least 16 bytes"):
        write_secret_file(path, b"short")


@pytest.mark.parametrize("address, ok", [
    ("127.0.0.1:4100", True), ("127.0.0.1", False), ("127.0.0.1:0", False), (":80", False),
    ("h:99999", False), (None, False), ("h:x", False),
])
def test_parse_address_accepts_only_host_port(address, ok: bool) -> None:
    """node.json's address must be HOST:PORT with a real port."""
    if ok:
        assert parse_address(address) == ("127.0.0.1", 4100)
    else:
        with pytest.raises(ClusterError, match="bad address"):
            parse_address(address)


def test_tail_log_returns_the_last_whole_lines(tmp_path: Path) -> None:
    """tail_log keeps the last lines and drops the line cut by the byte limit."""
    log = tmp_path / "n.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert tail_log(log, lines_max=3) == "line 97\nline 98\nline 99"
    assert tail_log(log, lines_max=50, bytes_max=20) == "line 98\nline 99"
    assert tail_log(tmp_path / "missing.log").startswith("(no log")


@pytest.mark.parametrize("state, expected", [
    (membership_pb2.MEMBER_STATE_DOWN, "DOWN"), ("MEMBER_STATE_ALIVE", "ALIVE"), ("out", "OUT"),
    ("LEFT", "LEFT"),
])
def test_state_name_normalises_enum_values_and_names(state, expected: str) -> None:
    """Stub enums and nodectl's names both become 'ALIVE', 'DOWN', ..."""
    assert state_name(state) == expected


def test_holder_ids_reads_either_stat_shape() -> None:
    """The demo finds holders whether nodectl exposes holder.node_id or holder.holder.node_id."""
    from types import SimpleNamespace as NS
    flat = NS(chunks=[NS(holders=[NS(node_id="node-2"), NS(node_id="node-3")]),
                      NS(holders=[NS(node_id="node-3"), NS(node_id="node-4")])])
    nested = NS(chunks=[NS(holders=[NS(holder=NS(node_id="node-5"), state="ALIVE")])])
    assert _holder_ids(flat) == ["node-2", "node-3", "node-4"]
    assert _holder_ids(nested) == ["node-5"]
    assert _holder_ids(NS()) == []


# ------------------------------------------------------------------ status over a real gRPC server


class _Admin(admin_pb2_grpc.AdminServiceServicer):
    def GetClusterStatus(self, request, context):
        members = [admin_pb2.MemberStatus(member=membership_pb2.Member(
            node_id=node_id, address=f"127.0.0.1:{port}", generation=7, state=state))
            for node_id, port, state in [("node-1", 1, membership_pb2.MEMBER_STATE_ALIVE),
                                         ("node-2", 2, membership_pb2.MEMBER_STATE_DOWN)]]
        return admin_pb2.GetClusterStatusResponse(node_id="node-1", health="degraded",
                                                  members=members)


def test_status_reader_normalises_a_view_and_reports_a_dead_node() -> None:
    """StatusReader turns GetClusterStatus into node_id -> state names; a stopped server is
    StatusUnavailable (a ClusterError), not a gRPC exception."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    admin_pb2_grpc.add_AdminServiceServicer_to_server(_Admin(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    reader = StatusReader(timeout_s=2.0)
    try:
        view = reader.read(f"127.0.0.1:{port}")
        assert view.node_id == "node-1" and view.health == "degraded"
        assert view.states() == {"node-1": "ALIVE", "node-2": "DOWN"}
        assert view.members["node-2"].generation == 7
        server.stop(grace=None).wait()
        with pytest.raises(StatusUnavailable, match=f"127.0.0.1:{port} did not answer"):
            reader.read(f"127.0.0.1:{port}")
    finally:
        reader.close()
        server.stop(grace=None)


# ------------------------------------------------------------------ CLI


@pytest.mark.parametrize("args, message", [
    (["status", "--dir", "{tmp}"], "cluster.json not found"),
    (["kill", "--dir", "{tmp}", "--signal", "USR1", "node-1"], "unknown signal 'USR1'"),
    (["down", "--dir", "{tmp}"], "cluster.json not found"),
])
def test_cli_errors_are_one_line_and_exit_1(tmp_path: Path, args, message: str) -> None:
    """A cluster or user error prints `cluster-sim: error: ...` on one line and exits 1."""
    result = CliRunner().invoke(main, [arg.replace("{tmp}", str(tmp_path)) for arg in args])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cluster-sim: error: ") and message in lines[0]


def test_the_exit_code_for_a_taken_port_is_the_one_noded_uses() -> None:
    """cluster-sim starts a restarted node on new ports only on noded's own exit code for a taken
    port; the two constants must agree."""
    from cluster_sim.cluster import EXIT_ADDRESS_UNAVAILABLE
    from node.daemon import EXIT_ADDRESS_UNAVAILABLE as NODED_EXIT_ADDRESS_UNAVAILABLE

    assert EXIT_ADDRESS_UNAVAILABLE == NODED_EXIT_ADDRESS_UNAVAILABLE
