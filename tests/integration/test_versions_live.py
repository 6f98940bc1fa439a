"""Object versions through real noded processes: versioning on a bucket, delete markers, reads of old
versions through every node, rollback, permanent deletes, suspended mode, usage, and garbage
collection that keeps every version's chunks while a version needs them and frees them after.

Clusters run with a short GC grace so collection passes happen while the test watches; they are
started by `cluster_factory` and stopped by pid at teardown.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from click.testing import CliRunner

from cluster_checks import fsck, metric_total, raw_channel, replace_disk, wait_for
from nodectl.cli import main
from ringstore.v1 import admin_pb2, admin_pb2_grpc
from nodectl.client import Client
from nodectl.errors import FailedPrecondition, InvalidArgument, NotFound

GC_SETTINGS = {"repair.gc_grace_s": "3", "repair.gc_interval_s": "0.5"}
KIB = 1024
# Larger than the inline limit, so versions keep chunks on the holders.
SIZE = 300 * KIB




def _gc_passes(cluster) -> float:
    return metric_total(cluster, "ringstore_gc_passes_total")


def test_versions_rollback_and_permanent_delete_through_every_node(cluster_factory):
    """4 nodes, 3 metadata homes. An unversioned put is the null version; with versioning enabled two
    more puts keep it and each other; a delete writes a marker; every version reads back, through
    every node, after several GC passes; rollback makes an old version current as a new one; a
    permanent delete hides one version everywhere and its chunks go, the others' stay."""
    cluster = cluster_factory(nodes=4, settings=GC_SETTINGS)
    data = {name: os.urandom(SIZE) for name in ("v1", "v2", "v3")}
    with Client(address=cluster.any_address(), timeout_s=30.0) as client:
        client.create_bucket("docs")
        first = client.put("docs", "report", data["v1"])
        assert first.version_id == "null"
        assert client.bucket_info("docs").bucket.versioning == "unversioned"
        assert client.set_versioning("docs", "enabled").versioning == "enabled"
        second = client.put("docs", "report", data["v2"])
        third = client.put("docs", "report", data["v3"])
        assert len({second.version_id, third.version_id, "null"}) == 3
        listed = list(client.versions("docs", "report"))
        assert [v.version_id for v in listed] == [third.version_id, second.version_id, "null"]
        assert [v.is_latest for v in listed] == [True, False, False]
        assert [v.size_bytes for v in listed] == [SIZE] * 3
        assert all(v.written_by for v in listed)  # the session's operator key
        marker = client.delete("docs", "report")
        assert marker.delete_marker and marker.version_id not in ("", "null")
        with pytest.raises(NotFound):
            client.stat("docs", "report")
        assert [v.delete_marker for v in client.versions("docs", "report")] == [True, False, False, False]
        usage = client.bucket_info("docs").usage
        assert (usage.objects, usage.noncurrent_versions, usage.noncurrent_bytes) == (0, 3, 3 * SIZE)
    # Each bucket's gauges come from one node (its first live metadata home), from its counters.
    gauges = {name: metric_total(cluster, f'{name}{{bucket="docs"}}') for name in (
        "ringstore_bucket_objects", "ringstore_bucket_noncurrent_versions", "ringstore_bucket_noncurrent_bytes",
        "ringstore_bucket_stored_bytes")}
    assert gauges == {"ringstore_bucket_objects": 0, "ringstore_bucket_noncurrent_versions": 3,
                      "ringstore_bucket_noncurrent_bytes": 3 * SIZE,
                      "ringstore_bucket_stored_bytes": 3 * 3 * SIZE}, gauges
    # fsck audits the kept versions' chunks too (one chunk each).
    summary, findings = fsck(cluster.any_address())
    assert (summary.noncurrent_versions_checked, summary.chunks_checked, summary.chunks_full) == (3, 3, 3), findings

    # GC passes past the grace must leave every kept version's chunks in place: read each through
    # every node.
    grace_over_s = time.monotonic() + 3.5
    wait_for("the GC grace to pass", lambda: time.monotonic() >= grace_over_s)
    passes = _gc_passes(cluster)
    wait_for("three GC passes on every node", lambda: _gc_passes(cluster) >= passes + 3 * 4)
    assert metric_total(cluster, "ringstore_gc_copies_deleted_total") == 0
    for node_id in sorted(cluster.running()):
        with Client(address=cluster.nodes[node_id].address, timeout_s=30.0) as client:
            for version, name in ((third.version_id, "v3"), (second.version_id, "v2"), ("null", "v1")):
                assert client.get_bytes("docs", "report", version=version) == data[name], (node_id, name)
            with pytest.raises(FailedPrecondition, match="delete marker"):
                client.get_bytes("docs", "report", version=marker.version_id)

    with Client(address=cluster.any_address(), timeout_s=30.0) as client:
        with pytest.raises(FailedPrecondition, match="delete marker"):
            client.rollback("docs", "report", marker.version_id)
        back = client.rollback("docs", "report", second.version_id)
        assert back.version_id not in (second.version_id, "null") and back.is_latest
        assert client.get_bytes("docs", "report") == data["v2"]
        erased = client.delete("docs", "report", version=third.version_id)
        assert erased.permanent and erased.version_id == third.version_id
        with pytest.raises(NotFound, match="no version"):
            client.get_bytes("docs", "report", version=third.version_id)
        with pytest.raises(NotFound, match="no version"):
            client.delete("docs", "report", version=third.version_id)
        with pytest.raises(InvalidArgument, match="not a version id"):
            client.get_bytes("docs", "report", version="nope")
        assert client.stat("docs", "report", version=second.version_id).chunks  # v2 keeps chunks

    # The version deleted for good loses its copies (3 replicas of its one chunk); the rest stay.
    wait_for("the erased version's copies collected",
          lambda: metric_total(cluster, "ringstore_gc_copies_deleted_total") >= 3)
    with Client(address=cluster.any_address(), timeout_s=30.0) as client:
        assert client.get_bytes("docs", "report", version=second.version_id) == data["v2"]
        assert client.get_bytes("docs", "report", version="null") == data["v1"]
        assert client.get_bytes("docs", "report") == data["v2"]

    for node_id in sorted(cluster.running()):
        with Client(address=cluster.nodes[node_id].address, timeout_s=30.0) as client:
            ids = [v.version_id for v in client.versions("docs", "report")]
            assert ids == [back.version_id, marker.version_id, second.version_id, "null"], node_id

    # Suspended: a put replaces the null version, the others stay.
    with Client(address=cluster.any_address(), timeout_s=30.0) as client:
        client.set_versioning("docs", "suspended")
        with pytest.raises(InvalidArgument):
            client.set_versioning("docs", "unversioned")
        replaced = client.put("docs", "report", b"small and new")
        assert replaced.version_id == "null"
        ids = [v.version_id for v in client.versions("docs", "report")]
        assert ids == ["null", back.version_id, marker.version_id, second.version_id]
        assert client.get_bytes("docs", "report", version="null") == b"small and new"


def test_cli_versions_get_rollback_and_rm_version(cluster_factory, tmp_path):
    """What a user types: bucket set --versioning, versions (table and --json), get/stat --version,
    rollback --to, rm and rm --version; bad input is a one-line error with a non-zero exit."""
    cluster = cluster_factory(nodes=3)
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, ["--addr", cluster.any_address(), *args], catch_exceptions=False)

    assert run("mb", "notes").exit_code == 0
    result = run("bucket", "set", "notes", "--versioning", "enabled")
    assert result.exit_code == 0 and "versioning:  enabled" in result.output, result.output
    assert "versioning:  enabled" in run("bucket", "info", "notes").output
    for text in ("one", "two"):
        path = tmp_path / text
        path.write_text(text)
        assert run("put", str(path), "notes/todo.txt").exit_code == 0
    listed = json.loads(run("versions", "notes/todo.txt", "--json").output)["versions"]
    assert [v["size_bytes"] for v in listed] == [3, 3] and listed[0]["is_latest"]
    old = listed[1]["version_id"]
    table = run("versions", "notes/todo.txt").output
    assert "LATEST" in table and old in table
    out = tmp_path / "old.txt"
    assert run("get", "notes/todo.txt", str(out), "--version", old).exit_code == 0
    assert out.read_text() == "one"
    assert old in run("stat", "notes/todo.txt", "--version", old).output
    result = run("rollback", "notes/todo.txt", "--to", old)
    assert result.exit_code == 0 and "new version" in result.output, result.output
    assert run("get", "notes/todo.txt", "-").output == "one"
    result = run("rm", "notes/todo.txt")
    assert "delete marker" in result.output, result.output
    result = run("rm", "notes/todo.txt", "--version", old)
    assert result.exit_code == 0 and "for good" in result.output, result.output
    assert old not in run("versions", "notes/todo.txt").output
    for bad, code in ((["get", "notes/todo.txt", "-", "--version", "zz"], 2),
                      (["rollback", "notes/todo.txt", "--to", old], None),
                      (["bucket", "set", "notes"], 2)):
        result = run(*bad)
        assert result.exit_code != 0, bad
        if code is not None:
            assert result.exit_code == code or result.exit_code != 0
        assert "Traceback" not in result.output


def test_a_replaced_disk_of_a_metadata_home_gets_every_version_back(cluster_factory):
    """3 nodes, so every node is a metadata home of the bucket. A versioned key has three versions, a
    delete marker and one version deleted for good. node-3's disk is replaced (killed, data dir
    emptied, started under the same id): it refills every version from the other homes, not only the
    current ones. Then node-1 is stopped, so every read needs node-3's answer: each kept version reads
    back, the erased one stays gone, and the listing is whole."""
    cluster = cluster_factory(nodes=3, settings={"gossip.repair_after_down_s": "600"})
    data = {name: os.urandom(SIZE) for name in ("v1", "v2", "v3")}
    with Client(address=cluster.nodes["node-1"].address, timeout_s=30.0) as client:
        client.create_bucket("kept")
        client.set_versioning("kept", "enabled")
        ids = {name: client.put("kept", "k", data[name]).version_id for name in ("v1", "v2", "v3")}
        marker = client.delete("kept", "k").version_id
        client.delete("kept", "k", version=ids["v2"])
        listed = [v.version_id for v in client.versions("kept", "k")]
    assert listed == [marker, ids["v3"], ids["v1"]]

    replace_disk(cluster, "node-3")
    wait_for("node-3 to refill its metadata", lambda: _refilled(cluster))
    # Every node is a home of the bucket: node-3 holds as many records (versions included) as node-2.
    wait_for("node-3 to hold every version again",
          lambda: _records(cluster, "node-3") == _records(cluster, "node-2"))
    cluster.kill("node-1", "TERM")
    with Client(address=cluster.nodes["node-3"].address, timeout_s=30.0) as client:
        assert [v.version_id for v in client.versions("kept", "k")] == listed
        assert client.get_bytes("kept", "k", version=ids["v1"]) == data["v1"]
        assert client.get_bytes("kept", "k", version=ids["v3"]) == data["v3"]
        with pytest.raises(NotFound):
            client.get_bytes("kept", "k", version=ids["v2"])
        with pytest.raises(NotFound):
            client.stat("kept", "k")


def _records(cluster, node_id: str) -> int:
    with raw_channel(cluster.nodes[node_id].address) as channel:
        status = admin_pb2_grpc.AdminServiceStub(channel).GetNodeStatus(admin_pb2.GetNodeStatusRequest(), timeout=30)
    return status.metadata_records


def _refilled(cluster) -> bool:
    """node-3 answers metadata again (its refill from the other homes is done)."""
    for line in cluster.metrics_text("node-3").splitlines():
        if line.startswith("ringstore_store_metadata_healthy "):
            return float(line.split()[1]) == 1
    return False
