"""Lifecycle through real noded processes, with the lifecycle clock sped up (a day of 1 s,
`repair.lifecycle_day_s`): expiry by rule and by an object's own TTL, noncurrent versions removed
with the newest kept, delete markers with nothing behind them removed, stale uploads aborted, a
transition to erasure coding with the data verified and the old copies freed, a node killed while
the workers run, and `nodectl lifecycle status` and the metrics saying what was done."""

from __future__ import annotations

import json
import os
import time

import pytest
from click.testing import CliRunner

from cluster_checks import metric_total, wait_for
from nodectl.cli import main
from nodectl.client import Client, rules_from_document
from nodectl.errors import InvalidArgument, NotFound
from ringstore.v1 import common_pb2

KIB = 1024
SETTINGS = {"repair.lifecycle_day_s": "1", "repair.lifecycle_interval_s": "0.5", "repair.gc_grace_s": "3",
            "repair.gc_interval_s": "0.5"}



def _absent(client: Client, bucket: str, key: str) -> bool:
    try:
        client.stat(bucket, key)
    except NotFound:
        return True
    return False



def test_rules_and_ttl_act_on_a_sped_up_clock_and_survive_a_killed_node(cluster_factory, tmp_path):
    cluster = cluster_factory(nodes=4, settings=SETTINGS)
    runner = CliRunner()

    def cli(*args):
        return runner.invoke(main, ["--addr", cluster.any_address(), *args], catch_exceptions=False)

    big = os.urandom(300 * KIB)
    with Client(address=cluster.any_address(), timeout_s=30.0) as client:
        # Expiry by rule (logs/ after 3 days) and by TTL; other keys stay.
        client.create_bucket("logs")
        for i in range(6):
            client.put("logs", f"logs/{i}", b"old log")
        client.put("logs", "keep/me", b"kept")
        client.put("logs", "ttl", b"brief", expires_in_s=2)
        info = client.stat("logs", "ttl").info
        assert info.expires_at_unix_ms > info.created_at_unix_ms
        # Old versions: keep the newest one behind the current, drop older ones after 1 day; a delete
        # marker left alone is removed.
        client.create_bucket("ver")
        client.set_versioning("ver", "enabled")
        ids = [client.put("ver", "doc", f"v{i}".encode()).version_id for i in range(4)]
        gone = client.put("ver", "gone", b"x").version_id
        client.delete("ver", "gone")
        client.delete("ver", "gone", version=gone)  # the marker is left with nothing behind it
        # A stale upload, and a cold object to convert to ec=2+1 after 2 days.
        client.create_bucket("cold")
        upload_id = client.create_upload("cold", "big.bin")
        client.put("cold", "archive.bin", big)
        assert client.stat("cold", "archive.bin").info.policy == "replicas=3"

    rules = tmp_path / "logs.json"
    rules.write_text(json.dumps({"rules": [{"id": "logs", "prefix": "logs/", "expiration": {"days": 3}}]}))
    assert cli("lifecycle", "set", "logs", str(rules)).exit_code == 0
    result = cli("lifecycle", "set", "ver", "--rule",
                 "id=old,noncurrent-days=1,noncurrent-keep=1,expired-markers=true")
    assert result.exit_code == 0, result.output
    result = cli("lifecycle", "set", "cold", "--rule", "id=stale,abort-uploads-days=1",
                 "--rule", "id=archive,transition-days=2,transition-policy=ec=2+1")
    assert result.exit_code == 0, result.output
    got = json.loads(cli("lifecycle", "get", "cold").output)
    assert [r["id"] for r in got["rules"]] == ["stale", "archive"]

    # A node dies while the workers run: the others take its buckets over.
    cluster.kill("node-2")
    with Client(address=cluster.any_address(exclude=["node-2"]), timeout_s=30.0) as client:
        wait_for("the TTL object to stop reading", lambda: _absent(client, "logs", "ttl"), timeout_s=10)
        wait_for("logs/ to expire", lambda: all(_absent(client, "logs", f"logs/{i}") for i in range(6)))
        assert client.get_bytes("logs", "keep/me") == b"kept"
        wait_for("old versions to go", lambda: [v.version_id for v in client.versions("ver", "doc")] == ids[:1:-1])
        wait_for("the lone delete marker to go", lambda: list(client.versions("ver", "gone")) == [])
        assert client.get_bytes("ver", "doc") == b"v3"
        wait_for("the stale upload to be aborted", lambda: _upload_gone(client, upload_id))
        wait_for("the archive to become ec=2+1", lambda: client.stat("cold", "archive.bin").info.policy == "ec=2+1")
        assert client.get_bytes("cold", "archive.bin") == big
    # Every other object is inline: what the live nodes store is the archive's. Three replicas (at
    # least two on live nodes: 600 KiB) became three shares of half its size (450 KiB).
    wait_for("the replicated copies of the archive to be freed",
          lambda: metric_total(cluster, "ringstore_stored_bytes") < 2 * len(big))

    status = json.loads(cli("lifecycle", "status", "--json").output)
    totals = {field: sum(n[field] for n in status["nodes"]) for field in
              ("objects_expired", "versions_removed", "markers_removed", "uploads_aborted", "objects_converted")}
    assert totals["objects_expired"] >= 7 and totals["versions_removed"] >= 2
    assert totals["markers_removed"] >= 1 and totals["uploads_aborted"] >= 1 and totals["objects_converted"] >= 1
    assert "node-2" not in [n["node_id"] for n in status["nodes"]]  # killed: its buckets went to others
    assert metric_total(cluster, 'ringstore_lifecycle_actions_total{action="expire"}') >= 7
    table = cli("lifecycle", "status").output
    assert "EXPIRED" in table and "LAST PASS" in table


def test_a_transition_waits_for_days_without_a_read(cluster_factory):
    """Transition after 3 (one-second) days without a read: an object read every quarter second,
    through every node, stays replicated while an unread one beside it is converted; once the reads
    stop it follows. `stat` shows when it was last read."""
    cluster = cluster_factory(nodes=3, settings=SETTINGS)
    hot, cold = os.urandom(100 * KIB), os.urandom(100 * KIB)
    clients = [Client(address=address, timeout_s=30.0) for address in cluster.addresses()]
    try:
        client = clients[0]
        client.create_bucket("tier")
        client.put("tier", "hot.bin", hot)
        client.put("tier", "cold.bin", cold)
        client.set_lifecycle("tier", [common_pb2.LifecycleRule(
            id="cold", enabled=True, transition_days=3, transition_policy=common_pb2.RedundancyPolicy(
                erasure_coding=common_pb2.ErasureCoding(data_shares=2, parity_shares=1)))])
        reads = 0

        def read_hot() -> None:
            nonlocal reads
            assert clients[reads % len(clients)].get_bytes("tier", "hot.bin") == hot
            reads += 1

        deadline = time.monotonic() + 30
        while client.stat("tier", "cold.bin").info.policy != "ec=2+1":
            assert time.monotonic() < deadline, "cold.bin was not converted within 30 s"
            read_hot()
            time.sleep(0.25)
        converted_at = time.monotonic()
        while time.monotonic() - converted_at < 4:  # four more days of reads
            read_hot()
            time.sleep(0.25)
        info = client.stat("tier", "hot.bin").info
        assert info.policy == "replicas=3", "a read object was moved to the cold tier"
        assert info.read_at_unix_ms > info.created_at_unix_ms
        assert client.get_bytes("tier", "cold.bin") == cold
        wait_for("hot.bin to be converted once unread", lambda: client.stat("tier", "hot.bin").info.policy == "ec=2+1",
                 timeout_s=30)
        assert client.get_bytes("tier", "hot.bin") == hot
    finally:
        for c in clients:
            c.close()


def _upload_gone(client: Client, upload_id: str) -> bool:
    try:
        client.list_upload_parts("cold", "big.bin", upload_id)
    except NotFound:
        return True
    return False


def test_bad_lifecycle_input_is_refused_in_one_line(cluster_factory, tmp_path):
    cluster = cluster_factory(nodes=3)
    runner = CliRunner()

    def cli(*args):
        return runner.invoke(main, ["--addr", cluster.any_address(), *args], catch_exceptions=False)

    with Client(address=cluster.any_address(), timeout_s=30.0) as client:
        client.create_bucket("rules")
        with pytest.raises(InvalidArgument, match="cannot be held"):
            client.set_lifecycle("rules", rules_from_document(
                {"rules": [{"id": "t", "transition": {"days": 1, "policy": "ec=6+3"}}]}))
        with pytest.raises(InvalidArgument, match="given twice"):
            client.set_lifecycle("rules", rules_from_document(
                {"rules": [{"id": "a", "expiration": {"days": 1}}, {"id": "a", "expiration": {"days": 2}}]}))
    bad = tmp_path / "bad.json"
    for text, message in (("{not json", "is not JSON"), ('{"rules": [{"id": "x"}]}', "has no action"),
                          ('{"rules": [{"id": "x", "expire": 3}]}', "unknown field 'expire'")):
        bad.write_text(text)
        result = cli("lifecycle", "set", "rules", str(bad))
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, result.output
    result = cli("lifecycle", "set", "rules")
    assert result.exit_code == 2
    assert cli("lifecycle", "get", "rules").output.strip() == '{\n  "rules": []\n}'


def test_s3_lifecycle_configuration_round_trip_and_expiry(cluster_factory, session_operator):
    from botocore.exceptions import ClientError
    from test_s3_live import error_code, s3_client

    cluster = cluster_factory(nodes=3, settings=SETTINGS)
    s3 = s3_client(next(iter(cluster.nodes.values())), session_operator)
    s3.create_bucket(Bucket="s3-life")
    with pytest.raises(ClientError) as info:
        s3.get_bucket_lifecycle_configuration(Bucket="s3-life")
    assert error_code(info) == ("NoSuchLifecycleConfiguration", 404)
    s3.put_bucket_lifecycle_configuration(Bucket="s3-life", LifecycleConfiguration={"Rules": [
        {"ID": "tmp", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 1},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
        {"ID": "old", "Filter": {"Prefix": "old/"}, "Status": "Disabled",
         "NoncurrentVersionExpiration": {"NoncurrentDays": 3, "NewerNoncurrentVersions": 2}}]})
    rules = s3.get_bucket_lifecycle_configuration(Bucket="s3-life")["Rules"]
    assert [(r["ID"], r["Status"], r["Filter"]["Prefix"]) for r in rules] == [("tmp", "Enabled", "tmp/"),
                                                                             ("old", "Disabled", "old/")]
    assert rules[1]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 3, "NewerNoncurrentVersions": 2}
    s3.put_object(Bucket="s3-life", Key="tmp/a", Body=b"short-lived")
    s3.put_object(Bucket="s3-life", Key="stay", Body=b"kept")

    def expired() -> bool:
        try:
            s3.head_object(Bucket="s3-life", Key="tmp/a")
        except ClientError:
            return True
        return False

    wait_for("tmp/a to expire", expired)
    assert s3.get_object(Bucket="s3-life", Key="stay")["Body"].read() == b"kept"
    with pytest.raises(ClientError) as info:
        s3.put_bucket_lifecycle_configuration(Bucket="s3-life", LifecycleConfiguration={"Rules": [
            {"ID": "x", "Filter": {"Prefix": ""}, "Status": "Enabled"}]})
    assert error_code(info) == ("InvalidArgument", 400)  # a rule with no action
    with pytest.raises(ClientError) as info:
        s3.put_bucket_lifecycle_configuration(Bucket="s3-life", LifecycleConfiguration={"Rules": [
            {"ID": "x", "Filter": {"Prefix": ""}, "Status": "Enabled",
             "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]}]})
    assert error_code(info) == ("InvalidStorageClass", 400)
    s3.delete_bucket_lifecycle(Bucket="s3-life")
    with pytest.raises(ClientError) as info:
        s3.get_bucket_lifecycle_configuration(Bucket="s3-life")
    assert error_code(info) == ("NoSuchLifecycleConfiguration", 404)
