"""Restarting without a join list (node/rejoin.py): a node finds its cluster through the members it
remembers in DIR/members.json, and one that can reach none of them refuses to run as a cluster of
one (exit 4) unless started with --allow-alone."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cluster_sim.errors import NodeExitedError
from node.daemon import EXIT_JOIN_UNREACHABLE
from nodectl.cli import main as nodectl_main

# A short join deadline so that a refusal takes seconds, not the lan default's 30 s.
JOIN_DEADLINE_S = 3.0
WAIT_S = 30.0


def remembered(cluster, node_id: str) -> dict[str, str]:
    path = Path(cluster.nodes[node_id].data_dir) / "members.json"
    return {m["node_id"]: m["state"] for m in json.loads(path.read_text())["members"]}


def status_through(cluster, node_id: str) -> dict[str, str]:
    """`nodectl status --json` asked of `node_id`'s client port: member -> state."""
    result = CliRunner().invoke(nodectl_main, ["--addr", cluster.nodes[node_id].address, "status", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return {m["node_id"]: m["state"] for m in json.loads(result.output)["members"]}


def wait_remembered_by_all(cluster) -> None:
    """Every node's members file lists every other node ALIVE (written within the local profile's
    members_file_interval_s of the last join)."""
    for node_id in cluster.nodes:
        expected = {other: "ALIVE" for other in cluster.nodes if other != node_id}
        cluster.wait_until(lambda node_id=node_id, expected=expected: remembered(cluster, node_id) == expected,
                           timeout_s=WAIT_S, what=f"{node_id} to write every peer into its members file")


def log_text(cluster, node_id: str) -> str:
    return Path(cluster.nodes[node_id].log_path).read_text(errors="replace")


def test_a_node_stopped_gracefully_rejoins_through_the_members_it_remembers(cluster_factory):
    """node-3 is SIGTERMed (LEFT everywhere) and started again with --join naming only itself, then
    with no --join at all: each time it joins the others through its members file instead of running
    alone, they see it ALIVE, it sees them, and nodectl status through it lists all three."""
    cluster = cluster_factory(nodes=3, settings={"gossip.join_deadline_s": str(JOIN_DEADLINE_S)})
    others = ["node-1", "node-2"]
    wait_remembered_by_all(cluster)
    path = Path(cluster.nodes["node-3"].data_dir) / "members.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    for join in ((cluster.nodes["node-3"].peer_address,), ()):
        print(f"SIGTERM node-3, then start it with --join {list(join) or 'nothing'}")
        cluster.kill("node-3", "TERM")
        cluster.wait_state("node-3", "LEFT", observers=others, timeout_s=WAIT_S)
        started_s = time.monotonic()
        cluster.restart("node-3", join=join, timeout_s=WAIT_S)
        print(f"  serving again after {time.monotonic() - started_s:.2f} s")
        elapsed_s = cluster.wait_state("node-3", "ALIVE", observers=others, timeout_s=WAIT_S)
        print(f"  ALIVE on node-1 and node-2 {elapsed_s:.2f} s later")
        cluster.wait_until(lambda: status_through(cluster, "node-3") == {
            "node-1": "ALIVE", "node-2": "ALIVE", "node-3": "ALIVE"}, timeout_s=WAIT_S,
            what="nodectl status through node-3 to list three ALIVE members")
    text = log_text(cluster, "node-3")
    assert text.count("join candidates: 0 --join, 2 remembered") == 2
    # The Join answer said the cluster had counted it LEFT: its kept manifests went (node/repair/tombstones.py).
    assert text.count("the cluster counted this node LEFT before it started again") == 2
    assert "running as a cluster of one" not in text


def test_a_node_that_reaches_none_of_its_members_refuses_to_run_alone(cluster_factory):
    """node-1 and node-2 are killed; node-3, started with no --join, exits 4 with one line naming the
    members it tried and --allow-alone, and its members file is left as it was. With --allow-alone it
    starts alone; node-1 and node-2, started again with no --join, rejoin through it."""
    cluster = cluster_factory(nodes=3, settings={"gossip.join_deadline_s": str(JOIN_DEADLINE_S)})
    wait_remembered_by_all(cluster)
    for node_id in ("node-1", "node-2"):
        cluster.kill(node_id, "KILL")
    path = Path(cluster.nodes["node-3"].data_dir) / "members.json"
    print("node-1 and node-2 killed; starting node-3 with no --join")
    cluster.kill("node-3", "TERM")
    before = path.read_bytes()
    started_s = time.monotonic()
    with pytest.raises(NodeExitedError) as raised:
        cluster.restart("node-3", join=(), timeout_s=WAIT_S)
    print(f"  exited {raised.value.exit_code} after {time.monotonic() - started_s:.2f} s")
    assert raised.value.exit_code == EXIT_JOIN_UNREACHABLE
    errors = [line for line in log_text(cluster, "node-3").splitlines() if line.startswith("noded: error:")]
    assert len(errors) == 1, errors
    line = errors[0]
    print(f"  {line}")
    peer = {node_id: cluster.nodes[node_id].peer_address for node_id in ("node-1", "node-2")}
    assert line.startswith("noded: error: this node was a member of a cluster, and none of the 2 members it "
                           f"remembers answered within {JOIN_DEADLINE_S:.0f} s (node-1 at {peer['node-1']} ALIVE, "
                           f"node-2 at {peer['node-2']} ALIVE; last: ")
    assert line.endswith("or pass --allow-alone to start a cluster of one from this data dir on purpose "
                         f"({path} lists the members it remembers)")
    assert path.read_bytes() == before

    print("starting node-3 with --allow-alone")
    cluster.restart("node-3", join=(), extra_args=("--allow-alone",), timeout_s=WAIT_S)
    assert status_through(cluster, "node-3") == {"node-3": "ALIVE"}
    assert "running as a cluster of one (--allow-alone)" in log_text(cluster, "node-3")
    cluster.wait_until(lambda: remembered(cluster, "node-3") == {}, timeout_s=WAIT_S,
                       what="node-3 to forget the members it could not reach")

    print("starting node-1 and node-2 together with no --join: they remember node-3")
    cluster.restart_many(["node-1", "node-2"], join=(), timeout_s=WAIT_S)
    expected = {"node-1": "ALIVE", "node-2": "ALIVE", "node-3": "ALIVE"}
    for observer in ("node-1", "node-2", "node-3"):
        cluster.wait_until(lambda observer=observer: cluster.view(observer) == expected, timeout_s=WAIT_S,
                           what=f"{observer} to see all three ALIVE")
    cluster.wait_until(lambda: remembered(cluster, "node-3") == {"node-1": "ALIVE", "node-2": "ALIVE"},
                       timeout_s=WAIT_S, what="node-3 to remember the members that joined it")
    assert os.path.exists(path)
