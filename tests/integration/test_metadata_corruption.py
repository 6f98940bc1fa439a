"""A node whose metadata database was damaged while it was down, through real noded processes.

Two kinds of damage, each on a metadata home of the bucket, written while the node is killed -9:
64 KiB of random bytes over the middle of its `store/meta/data.mdb` (page-level: LMDB's own
b-tree pages break), and a few bytes inside one manifest's value (value-level: LMDB reads fine,
only the record's checksum can tell). In both cases the node must notice, say so in its log and
on /metrics, never answer from the damaged record, and every read through it must work from the
other replicas; fsck must count its metadata replicas that are missing or corrupt until they are
refilled.

Every cluster is started by `cluster_factory` and stopped by pid at teardown (conftest.py). Polls
have deadlines; nothing sleeps a fixed time.
"""

from __future__ import annotations

import pathlib
import random

from cluster_checks import MIB, fsck, metric, payload
from nodectl.client import Client

# Enough inline objects of about 3 KiB that a metadata home's data.mdb is several times the 64 KiB
# overwritten in its middle.
INLINE_OBJECTS = 120
CHUNKED_OBJECTS = 2
DAMAGE_BYTES = 64 * 1024
REFILL_DEADLINE_S = 90.0


def _fill(client: Client) -> dict[str, bytes]:
    client.create_bucket("docs")
    objects = {f"small-{i:04d}": payload(2000 + 13 * i, seed=i) for i in range(INLINE_OBJECTS)}
    objects.update({f"big-{i:04d}": payload(5 * MIB + i, seed=500 + i) for i in range(CHUNKED_OBJECTS)})
    for key, data in sorted(objects.items()):
        client.put("docs", key, data, replicas=3)
    return objects


def _metadata_home(cluster, client: Client) -> str:
    """The running node keeping the most manifests and bucket records."""
    counts = {node: client.node_status(node).metadata_records for node in cluster.running()}
    return max(sorted(counts), key=lambda node: counts[node])


def _meta_file(cluster, node_id: str) -> pathlib.Path:
    return pathlib.Path(cluster.nodes[node_id].data_dir) / "store" / "meta" / "data.mdb"


def _reads_work_through(cluster, node_id: str, objects: dict[str, bytes]) -> None:
    client = Client(address=cluster.nodes[node_id].address, timeout_s=60.0)
    assert sorted(item.key for page in client.list("docs") for item in page.objects) == sorted(objects)
    for key, data in sorted(objects.items()):
        assert client.stat("docs", key).info.size_bytes == len(data)
        assert client.get_bytes("docs", key) == data, f"docs/{key} read through {node_id} differs"
    assert client.node_status(node_id).node_id == node_id


def _wait_metadata_clean(cluster, what: str) -> None:
    last: list = []

    def clean() -> bool:
        summary, findings = fsck(cluster.any_address())
        last[:] = [summary, findings[:3]]
        return (summary.metadata_replicas_missing == 0 and summary.metadata_replicas_corrupt == 0
                and summary.chunks_full == summary.chunks_checked)

    cluster.wait_until(clean, timeout_s=REFILL_DEADLINE_S, interval_s=0.5, what=what,
                       detail=lambda: f"last fsck: {last}")


def test_page_damage_is_detected_at_start_and_the_metadata_is_rebuilt_from_peers(cluster_factory):
    """64 KiB of random bytes over the middle of a metadata home's data.mdb while it is down
    (kill -9): on restart the node logs the damage and counts it on /metrics (an env LMDB cannot
    walk is kept aside owner-only and rebuilt; if the bytes fell on values only, each record fails
    its checksum and is quarantined), gossips its metadata as refilling until it has pulled it
    back from its peers, serves ls/stat/get/node status through itself meanwhile and after, and
    fsck ends with no metadata replica missing or corrupt and every chunk at full redundancy."""
    cluster = cluster_factory(nodes=5)
    client = Client(address=cluster.any_address(), timeout_s=60.0)
    objects = _fill(client)
    victim = _metadata_home(cluster, client)
    path = _meta_file(cluster, victim)

    cluster.kill(victim)
    size_bytes = path.stat().st_size
    assert size_bytes > 4 * DAMAGE_BYTES, f"{path} has only {size_bytes} bytes"
    with open(path, "r+b") as f:
        f.seek(size_bytes // 2 - DAMAGE_BYTES // 2)
        f.write(random.Random(7).randbytes(DAMAGE_BYTES))
    cluster.restart(victim)
    cluster.wait_state(victim, "ALIVE", timeout_s=30)

    log_text = pathlib.Path(cluster.nodes[victim].log_path).read_text(errors="replace")
    rebuilt = metric(cluster, victim, "ringstore_store_metadata_rebuilds_total")
    quarantined = metric(cluster, victim, "ringstore_store_corrupt_records_total")
    aside = [p for p in path.parent.parent.iterdir() if p.name.startswith("meta.corrupt-")]
    if rebuilt:
        assert "metadata env is corrupt" in log_text
        assert len(aside) == 1 and (aside[0].stat().st_mode & 0o077) == 0
    else:
        assert quarantined >= 1 and "found at open" in log_text, "the damage went unnoticed"
        assert not aside
    _reads_work_through(cluster, victim, objects)  # served by the other replicas while refilling

    cluster.wait_until(lambda: metric(cluster, victim, "ringstore_store_metadata_healthy") == 1,
                       timeout_s=REFILL_DEADLINE_S, interval_s=0.5,
                       what=f"{victim} to refill its metadata from its peers")
    assert "metadata refilled from peers" in pathlib.Path(cluster.nodes[victim].log_path).read_text(
        errors="replace")
    cluster.wait_until(lambda: client.cluster_status().health == "healthy", timeout_s=30, interval_s=0.2,
                       what=f"gossip to carry {victim}'s healthy metadata to {cluster.any_address()}")
    _reads_work_through(cluster, victim, objects)
    _wait_metadata_clean(cluster, f"fsck to find {victim}'s metadata replicas refilled")


def test_a_manifest_value_damaged_under_a_running_node_is_quarantined_and_reads_fall_back(cluster_factory):
    """A few bytes of one manifest's value change in a metadata home's data.mdb while it runs
    (LMDB still walks the file; only the record's checksum can tell): fsck through that node
    reports the replica corrupt and exits degraded, the record is dropped and counted in
    ringstore_store_corrupt_records_total{db="manifests"} with one log line, every read through
    the node works from the other replicas (the damaged key is never answered from here, not even
    as absent), and the good copy comes back (fsck clean again, metadata healthy)."""
    cluster = cluster_factory(nodes=5)
    client = Client(address=cluster.any_address(), timeout_s=60.0)
    objects = _fill(client)
    victim = _metadata_home(cluster, client)
    path = _meta_file(cluster, victim)

    raw = path.read_bytes()
    name = b"small-0003"
    # In a manifest value the key is field 4 (tag 0x22) with its length; in the LMDB key it is
    # preceded by an 8-byte length instead.
    places = [i for i in range(2, len(raw)) if raw.startswith(b"\x22\x0a" + name, i - 2)]
    assert places, f"no manifest value of {name!r} found in {path}"
    with open(path, "r+b") as f:
        for at in places:
            f.seek(at)
            f.write(b"SMALL-0003")

    summary, findings = fsck(cluster.nodes[victim].address)
    assert summary.metadata_replicas_corrupt == 1, (summary, findings[:3])
    assert metric(cluster, victim, "ringstore_store_corrupt_records_total") == 1
    log_text = pathlib.Path(cluster.nodes[victim].log_path).read_text(errors="replace")
    assert "corrupt record in db manifests" in log_text

    _reads_work_through(cluster, victim, objects)
    cluster.wait_until(lambda: metric(cluster, victim, "ringstore_store_metadata_healthy") == 1,
                       timeout_s=REFILL_DEADLINE_S, interval_s=0.5,
                       what=f"{victim} to get the damaged manifest back")
    _wait_metadata_clean(cluster, f"the good manifest to be back on {victim}")
