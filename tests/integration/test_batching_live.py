"""Manifest writes and reads batched between nodes (node/peers/batch.py), through real noded
processes: under concurrency they do go in batches (and a coordinator's own copies commit together),
and every acknowledged put survives a metadata
home killed with SIGKILL mid-run and reads back, from every node, as the newest acknowledged value or
a later one that failed (a failed put may still have taken effect), never an older one.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading

from cluster_checks import metadata_homes, metric
from nodectl.errors import RingstoreError

WRITERS = 16
PUTS_PER_WRITER = 24
KILL_AFTER_ACKS = 120


def test_batched_manifest_writes_keep_every_acknowledged_put_through_a_kill(cluster_factory):
    cluster = cluster_factory(nodes=5)
    with cluster.client() as client:
        client.create_bucket("batched", replicas=3)
        homes, _ = metadata_homes(client, "batched")
    coordinator, victim = sorted(homes)[:2]
    address = cluster.nodes[coordinator].address
    # Per key, every value put in order with whether it was acknowledged. Each writer owns its keys:
    # "one-N" written once, "last" overwritten on every put.
    history: dict[str, list[tuple[bytes, bool]]] = {}
    lock = threading.Lock()
    acknowledged = threading.Semaphore(0)

    def writer(number: int) -> None:
        with cluster.client(address, retries_max=0, timeout_s=30.0) as client:
            for i in range(PUTS_PER_WRITER):
                for key in (f"w{number}/one-{i}", f"w{number}/last"):
                    value = f"{key} {i} ".encode() * 40
                    try:
                        client.put("batched", key, value)
                        stored = True
                    except RingstoreError:
                        stored = False
                    with lock:
                        history.setdefault(key, []).append((value, stored))
                    if stored:
                        acknowledged.release()

    with cf.ThreadPoolExecutor(WRITERS + 1) as pool:
        writers = [pool.submit(writer, number) for number in range(WRITERS)]
        for _ in range(KILL_AFTER_ACKS):
            assert acknowledged.acquire(timeout=60), "the writers stopped being acknowledged before the kill"
        cluster.kill(victim, "KILL")
        for future in writers:
            future.result(timeout=300)

    acked = sum(stored for values in history.values() for _, stored in values)
    assert acked >= WRITERS * PUTS_PER_WRITER  # two homes stayed live: nearly every put goes through

    def legal(key: str) -> set[bytes]:
        """The last acknowledged value and every value put after it (failed, so maybe stored)."""
        values = history[key]
        last = max((i for i, (_, stored) in enumerate(values) if stored), default=None)
        return {value for value, _ in values[last if last is not None else 0:]}

    survivors = [node_id for node_id in cluster.nodes if node_id != victim]
    for node_id in survivors:
        with cluster.client(cluster.nodes[node_id].address) as client:
            for key in history:
                if any(stored for _, stored in history[key]):
                    assert client.get_bytes("batched", key) in legal(key), f"{key} through {node_id}"

    # Reads through the coordinator from 16 clients at once batch too, and agree.
    keys = sorted(key for key in history if any(stored for _, stored in history[key]))

    def reader(number: int) -> None:
        with cluster.client(address) as client:
            for key in keys[number::WRITERS]:
                assert client.get_bytes("batched", key) in legal(key), key

    with cf.ThreadPoolExecutor(WRITERS) as pool:
        for future in [pool.submit(reader, number) for number in range(WRITERS)]:
            future.result(timeout=300)

    # The victim comes back having missed writes; reads through it still find the newest.
    cluster.restart(victim)
    with cluster.client(cluster.nodes[victim].address) as client:
        for key in keys:
            assert client.get_bytes("batched", key) in legal(key), f"{key} through the restarted {victim}"

    # The coordinator is a home: its own copies of concurrent writes commit together too.
    for call in ("put_manifest", "get_manifest", "put_manifest_local"):
        labels = '{call="' + call + '"}'
        calls = metric(cluster, coordinator, "ringstore_peer_batch_items_count" + labels)
        items = metric(cluster, coordinator, "ringstore_peer_batch_items_sum" + labels)
        assert calls > 0 and items > calls, f"{call}: {items} items in {calls} calls, none batched"
