"""`find` through real noded processes: every condition, alone and combined, against a brute-force
filter of a full listing, through every node and from nodectl; and again after a home was stopped
while objects changed (its stale indexes add nothing and hide nothing)."""

from __future__ import annotations

import json
import random

from click.testing import CliRunner

from nodectl.cli import main
from nodectl.client import Client

TYPES = ("image/png", "image/jpeg", "text/plain", "application/json")


def _matches(info, *, prefix="", tags=None, metadata=None, content_type="", larger_than=None, smaller_than=None,
             modified_after_unix_ms=None, modified_before_unix_ms=None) -> bool:
    if not info.key.startswith(prefix):
        return False
    if any(info.tags.get(k) != v for k, v in (tags or {}).items()):
        return False
    if any(info.metadata.get(k) != v for k, v in (metadata or {}).items()):
        return False
    if content_type.endswith("/*") and info.content_type.split("/")[0] != content_type[:-2]:
        return False
    if content_type and not content_type.endswith("/*") and info.content_type != content_type:
        return False
    if larger_than is not None and not info.size_bytes > larger_than:
        return False
    if smaller_than is not None and not info.size_bytes < smaller_than:
        return False
    if modified_after_unix_ms is not None and not info.created_at_unix_ms > modified_after_unix_ms:
        return False
    return modified_before_unix_ms is None or info.created_at_unix_ms < modified_before_unix_ms


def _check_queries(cluster, moment_ms: int) -> None:
    queries = [dict(tags={"team": "red"}), dict(tags={"team": "red", "year": "2026"}), dict(metadata={"owner": "ann"}),
               dict(content_type="image/*"), dict(content_type="text/plain"), dict(larger_than=1000),
               dict(smaller_than=100), dict(larger_than=50, smaller_than=3000, content_type="image/*"),
               dict(modified_after_unix_ms=moment_ms), dict(modified_before_unix_ms=moment_ms),
               dict(prefix="photos/"), dict(prefix="photos/", tags={"team": "blue"})]
    for node_id in sorted(cluster.running()):
        with Client(address=cluster.nodes[node_id].address, timeout_s=30.0) as client:
            listed = [info for page in client.list("found") for info in page.objects]
            for query in queries:
                found = sorted(info.key for info in client.find("found", page_size=7, **query))
                assert found == sorted(i.key for i in listed if _matches(i, **query)), (node_id, query)


def _check_breakdowns(cluster) -> None:
    """`usage --by prefix|type` (counters) agrees with what a listing adds up to."""
    with Client(address=cluster.any_address(), timeout_s=30.0) as client:
        listed = [info for page in client.list("found") for info in page.objects]
        for kind, name_of in (("prefix", lambda i: i.key[:i.key.find("/") + 1] if "/" in i.key else ""),
                              ("type", lambda i: i.content_type)):
            expected: dict[str, list[int]] = {}
            for info in listed:
                totals = expected.setdefault(name_of(info), [0, 0])
                totals[0] += 1
                totals[1] += info.size_bytes
            parts = client.usage(bucket="found", breakdown=kind).buckets[0].breakdown
            assert {p.name: [p.objects, p.logical_bytes] for p in parts if p.objects} == expected, kind
            assert [p.logical_bytes for p in parts] == sorted((p.logical_bytes for p in parts), reverse=True)
        # The history's last day is the bucket as it is now.
        days = client.usage(bucket="found", breakdown="history").buckets[0].breakdown
        assert days and (days[-1].objects, days[-1].logical_bytes) == (len(listed), sum(i.size_bytes for i in listed))
    table = CliRunner().invoke(main, ["--addr", cluster.any_address(), "usage", "--bucket", "found", "--by", "type"],
                               catch_exceptions=False).output
    assert "found by type:" in table and "image/png" in table
    table = CliRunner().invoke(main, ["--addr", cluster.any_address(), "usage", "--bucket", "found", "--history"],
                               catch_exceptions=False).output
    assert "found history:" in table and "DAY" in table


def test_every_condition_agrees_with_a_brute_force_filter(cluster_factory):
    cluster = cluster_factory(nodes=4)
    rng = random.Random(7)
    with Client(address=cluster.any_address(), timeout_s=30.0) as client:
        client.create_bucket("found")
        for i in range(60):
            tags = {name: rng.choice(["red", "blue"] if name == "team" else ["2025", "2026"])
                    for name in rng.sample(["team", "year"], rng.randint(0, 2))}
            client.put("found", f"{rng.choice(['photos/', 'docs/', ''])}obj-{i}", b"x" * rng.choice((10, 500, 2000, 5000)),
                       content_type=rng.choice(TYPES), metadata={"owner": rng.choice(["ann", "bob"])}, tags=tags)
        moment_ms = sorted(info.created_at_unix_ms for page in client.list("found") for info in page.objects)[30]
    _check_queries(cluster, moment_ms)
    _check_breakdowns(cluster)

    # A home misses changes while it is down: its indexes are stale when it is back.
    cluster.kill("node-2", "TERM")
    with Client(address=cluster.any_address(exclude=["node-2"]), timeout_s=30.0) as client:
        for info in list(client.find("found", tags={"team": "red"}))[:5]:
            client.set_tags("found", info.key, {"team": "blue"})
        for info in list(client.find("found", content_type="text/plain"))[:5]:
            client.delete("found", info.key)
    cluster.restart("node-2")
    cluster.wait_state("node-2", "ALIVE", timeout_s=15)
    _check_queries(cluster, moment_ms)
    _check_breakdowns(cluster)

    result = CliRunner().invoke(main, ["--addr", cluster.any_address(), "find", "found", "--type", "image/*",
                                       "--larger-than", "1000", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    keys = [o["key"] for o in json.loads(result.output)["objects"]]
    assert keys and all(o["content_type"].startswith("image/") and o["size_bytes"] > 1000
                        for o in json.loads(result.output)["objects"])
    bad = CliRunner().invoke(main, ["--addr", cluster.any_address(), "find", "found", "--modified-after", "soon"])
    assert bad.exit_code == 2 and "is not a date" in bad.output
