"""fsck and repair against what is really on a holder's disk, through real noded processes: a
chunk file deleted behind the node's back, and a flipped byte only `fsck --deep` can see.

Before HasChunk stat'ed the file, fsck (and repair's scan, which probes the same way) trusted the
holder's index: a deleted chunk file was reported full and never rebuilt. Every cluster is
started by `cluster_factory` and stopped by pid at teardown.
"""

from __future__ import annotations

import pathlib

from click.testing import CliRunner

from cluster_checks import MIB, REPAIR_DEADLINE_S, fsck, payload, wait_full
from nodectl.cli import main
from nodectl.client import Client


def _replica_files(cluster) -> list[pathlib.Path]:
    return sorted(pathlib.Path(cluster.directory).glob("node-*/store/chunks/*/*/*.r"))


def _fsck_cli(cluster, *args: str):
    return CliRunner().invoke(main, ["--addr", cluster.any_address(), "--timeout-s", "60", "fsck",
                                     *args, "--json"])


def test_fsck_sees_a_deleted_chunk_file_and_deep_fsck_a_flipped_byte(cluster_factory):
    """3 nodes, replicas=3, repair scans off (one an hour) so nothing else looks first.
    (1) One holder's chunk file of object A is deleted: fsck reports A's chunk degraded (exit 10),
    naming the node, where it used to report it full. (2) One holder's chunk file of object B gets
    a flipped byte (same size): plain fsck cannot see it (B full), `fsck --deep
    --bandwidth-bytes-per-s 50000000` reports it degraded (exit 10) and the holder quarantines the
    copy."""
    cluster = cluster_factory(nodes=3, settings={"repair.repair_scan_interval_s": "3600"})
    client = Client(address=cluster.any_address(), timeout_s=60.0)
    client.create_bucket("disk", replicas=3)
    client.put("disk", "a", payload(1 * MIB, seed=1))
    files_a = _replica_files(cluster)
    assert len(files_a) == 3
    summary, _ = fsck(cluster.any_address())
    assert summary.chunks_full == summary.chunks_checked == 1

    victim = files_a[0]
    victim_node = victim.relative_to(cluster.directory).parts[0]
    victim.unlink()
    result = _fsck_cli(cluster)
    assert result.exit_code == 10, result.output
    assert '"chunks_degraded": 1' in result.stdout and victim_node in result.stdout, result.stdout

    client.put("disk", "b", payload(1 * MIB, seed=2))
    flipped = next(p for p in _replica_files(cluster) if p.parent != victim.parent and p not in files_a)
    raw = bytearray(flipped.read_bytes())
    raw[len(raw) // 3] ^= 0x01
    flipped.write_bytes(bytes(raw))
    shallow = _fsck_cli(cluster, "disk")
    assert '"chunks_degraded": 1' in shallow.stdout, shallow.stdout  # only A's
    deep = _fsck_cli(cluster, "disk", "--deep", "--bandwidth-bytes-per-s", "50000000")
    assert deep.exit_code == 10, deep.output
    assert '"chunks_degraded": 2' in deep.stdout, deep.stdout
    node_dir = pathlib.Path(cluster.directory, flipped.relative_to(cluster.directory).parts[0])
    assert not flipped.exists() and list(node_dir.glob("store/quarantine/*")), \
        "the holder should have quarantined the corrupt copy"


def test_a_deleted_chunk_file_is_rebuilt_by_repair(cluster_factory):
    """3 nodes, replicas=3, repair scans every 2 s (the local profile). One holder's chunk file is
    deleted: repair's scan sees the copy lost and rebuilds the same bytes in place, and fsck is
    clean again. Before, the scan trusted the index and the copy stayed lost."""
    cluster = cluster_factory(nodes=3)
    client = Client(address=cluster.any_address(), timeout_s=60.0)
    client.create_bucket("disk", replicas=3)
    data = payload(1 * MIB, seed=3)
    client.put("disk", "c", data)
    victim = _replica_files(cluster)[1]
    original = victim.read_bytes()
    victim.unlink()
    cluster.wait_until(lambda: victim.exists() and victim.read_bytes() == original,
                       timeout_s=REPAIR_DEADLINE_S, interval_s=0.3,
                       what="repair to rebuild the deleted chunk file")
    wait_full(cluster, "fsck to see the chunk at full redundancy again")
    assert client.get_bytes("disk", "c") == data
