"""Tombstone purging through real noded processes: a deleted key's record goes once every metadata
home holds it, and a replica that was away while it went does not bring the key back.

Every cluster runs with a tombstone grace of a few seconds (repair.tombstone_grace_s), so a node
stopped for longer than half of it is "away too long" when it comes back. Clusters are started by
`cluster_factory` and stopped by pid at teardown.
"""

from __future__ import annotations

import pathlib
import time

import pytest

from cluster_checks import metadata_homes
from nodectl.client import Client
from nodectl.errors import NotFound

TOMBSTONE_GRACE_S = 6.0
SETTINGS = {"repair.tombstone_grace_s": str(TOMBSTONE_GRACE_S), "repair.gc_interval_s": "0.5"}
# Long enough for OUT (repair_after_down_s, 10 s local), metadata sync to the new home, the stable
# window (3 scan intervals + ring settle, 8 s local) and the grace: well under a minute.
PURGE_DEADLINE_S = 90.0
POLL_S = 0.25


def _gauge(text: str, name: str) -> float:
    lines = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(lines[0].split()[1]) if lines else 0.0


def _wait(what: str, done, timeout_s: float = PURGE_DEADLINE_S) -> None:
    deadline_s = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline_s:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        time.sleep(POLL_S)


def _reads_absent_everywhere(cluster, bucket: str, key: str) -> None:
    for node_id in sorted(cluster.running()):
        with Client(address=cluster.nodes[node_id].address, timeout_s=30.0) as client:
            with pytest.raises(NotFound):
                client.stat(bucket, key)
            listed = [info.key for info in client.list_objects(bucket)]
            assert key not in listed and "kept" in listed, (node_id, listed)


def test_a_replica_away_while_the_others_purged_does_not_bring_the_key_back(cluster_factory):
    """4 nodes, 3 metadata homes per bucket. A home of the bucket is killed; the key is deleted while
    it is down; it turns OUT, a new home gets the partition, and the homes purge the tombstone once
    past the grace. Then the old home starts again on its old data dir, which still holds the key's
    live version: it is a home again, and without care its copy would win every read (the others
    hold nothing) and be pushed back to them. It was away longer than half the grace, so it drops its
    manifests and refills them: the key stays deleted through every node, then and after several
    metadata sync passes, while a key nobody deleted reads back."""
    cluster = cluster_factory(nodes=4, settings=SETTINGS)
    with Client(address=cluster.any_address(), timeout_s=30.0) as client:
        client.create_bucket("tomb")
        homes, _ = metadata_homes(client, "tomb")
        client.put("tomb", "k", b"deleted while a home was away")
        client.put("tomb", "kept", b"still here")
    victim = sorted(homes)[0]
    others = [n for n in sorted(cluster.nodes) if n != victim]
    cluster.kill(victim)
    cluster.wait_state(victim, "DOWN", observers=others, timeout_s=30)
    with Client(address=cluster.nodes[others[0]].address, timeout_s=30.0) as client:
        client.delete("tomb", "k")
    cluster.wait_state(victim, "OUT", observers=others, timeout_s=60)
    print(f"{victim} is OUT; waiting for the others to purge the tombstone")
    with Client(address=cluster.nodes[others[0]].address, timeout_s=30.0) as client:
        assert sum(client.node_status(n).tombstones_held for n in others) >= 2, "the delete left tombstones"
    _wait("a purge on the homes", lambda: sum(
        _gauge(cluster.metrics_text(n), "ringstore_tombstones_purged_total") for n in others) >= 1)
    _wait("no tombstone left on any running node", lambda: all(
        _gauge(cluster.metrics_text(n), "ringstore_tombstones") == 0 for n in others))
    _reads_absent_everywhere(cluster, "tomb", "k")
    with Client(address=cluster.nodes[others[0]].address, timeout_s=30.0) as client:
        assert [client.node_status(n).tombstones_held for n in others] == [0] * len(others)

    print(f"starting {victim} again on its old data dir")
    cluster.restart(victim)
    cluster.wait_state(victim, "ALIVE", observers=others, timeout_s=30)
    _wait(f"{victim}'s metadata answers again",
          lambda: _gauge(cluster.metrics_text(victim), "ringstore_store_metadata_healthy") == 1)
    _reads_absent_everywhere(cluster, "tomb", "k")
    time.sleep(3 * 2.0)  # three metadata sync passes (2 s local): nothing may push the key back
    _reads_absent_everywhere(cluster, "tomb", "k")
    assert "dropped the" in pathlib.Path(cluster.nodes[victim].log_path).read_text(), "it dropped its manifests"
