"""Checks shared by the self-healing and operations tests: fsck, repair status, copy counts, metrics,
each polled with a deadline against a real cluster."""

from __future__ import annotations

import hashlib
import os
import pathlib
import random
import shutil
import time

import grpc

from cluster_sim.cluster import LocalCluster
from node.ring import bucket_directory_position, metadata_position
from nodectl.client import Client
from nodectl.client.auth import SigningInterceptor
from ringstore.auth.credentials import Credentials
from ringstore.v1 import admin_pb2, admin_pb2_grpc

MIB = 1024 * 1024
REPAIR_DEADLINE_S = 90.0
# How long a change of credentials, grants, quotas or links may take to be in force on every node:
# the credential cache's 2 s, with room for a loaded machine.
IN_FORCE_S = 10.0


def in_force(check, what: str, deadline_s: float = IN_FORCE_S):
    """check() until it stops raising AssertionError, within deadline_s; returns its value."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return check()
        except AssertionError as err:
            if time.monotonic() > deadline:
                raise AssertionError(f"not in force after {deadline_s:.0f} s: {what}: {err}") from None
            time.sleep(0.1)


def wait_for(what: str, done, timeout_s: float = 60.0, poll_s: float = 0.25) -> None:
    """Poll done() until it is true; AssertionError naming `what` after timeout_s."""
    deadline_s = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline_s:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        time.sleep(poll_s)


def replace_disk(cluster: LocalCluster, node_id: str) -> None:
    """Kill a node, empty its data dir and start it again under the same id (a disk replaced in
    the same host); returns once it is ALIVE."""
    cluster.kill(node_id)
    data_dir = pathlib.Path(cluster.nodes[node_id].data_dir)
    shutil.rmtree(data_dir)
    data_dir.mkdir()
    cluster.restart(node_id)
    cluster.wait_state(node_id, "ALIVE", timeout_s=15)


def metric_total(cluster: LocalCluster, name: str) -> float:
    """`name` (a metric, or a metric with its labels) summed over every running node."""
    return sum(metric(cluster, node_id, name) for node_id in cluster.running())


def raw_channel(address: str, options=None) -> grpc.Channel:
    """A raw gRPC channel to a node's client port, trusting the session's CA (RINGSTORE_CA) and
    signing with the session's operator key, for tests that call the wire API without the client
    library."""
    with open(os.environ["RINGSTORE_CA"], "rb") as f:
        channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(f.read()), options=options)
    key = Credentials(os.environ["RINGSTORE_ACCESS_KEY_ID"], os.environ["RINGSTORE_SECRET_ACCESS_KEY"])
    return grpc.intercept_channel(channel, SigningInterceptor(key))


def payload(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def metric(cluster: LocalCluster, node_id: str, name: str) -> float:
    text = cluster.metrics_text(node_id)
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + " ") or line.startswith(name + "{"))


def fsck(address: str) -> tuple[admin_pb2.FsckSummary, list[admin_pb2.FsckFinding]]:
    with raw_channel(address) as channel:
        stub = admin_pb2_grpc.AdminServiceStub(channel)
        findings, summary = [], None
        for message in stub.Fsck(admin_pb2.FsckRequest(), timeout=60):
            if message.HasField("finding"):
                findings.append(message.finding)
            elif message.HasField("summary"):
                summary = message.summary
    assert summary is not None, "fsck stream ended without a summary"
    return summary, findings


def repair_status(address: str) -> admin_pb2.GetRepairStatusResponse:
    with raw_channel(address) as channel:
        return admin_pb2_grpc.AdminServiceStub(channel).GetRepairStatus(admin_pb2.GetRepairStatusRequest(),
                                                                          timeout=30)


def copies_repaired(address: str) -> int:
    """Copies or shares repair and rebalancing wrote, summed over every node that answered."""
    return sum(n.copies_repaired_total for n in repair_status(address).nodes)


def copies_stored(cluster: LocalCluster) -> dict[str, int]:
    return {n: int(metric(cluster, n, "ringstore_chunks_stored")) for n in cluster.running()}


def wait_full(cluster: LocalCluster, what: str, *, misplaced_ok: bool = False,
              timeout_s: float = REPAIR_DEADLINE_S) -> admin_pb2.FsckSummary:
    """Poll fsck until every chunk is at full redundancy (and, unless misplaced_ok, at home)."""
    last: list = []

    def clean() -> bool:
        summary, findings = fsck(cluster.any_address())
        last[:] = [summary, findings]
        return (summary.chunks_full == summary.chunks_checked
                and (misplaced_ok or summary.chunks_misplaced == 0))

    cluster.wait_until(clean, timeout_s=timeout_s, interval_s=0.5, what=what,
                       detail=lambda: f"last fsck: {last[0] if last else None} {last[1][:5] if last else ''}")
    return last[0]


def wait_copies(cluster: LocalCluster, expected: int, what: str) -> dict[str, int]:
    """Poll until the copies stored across running nodes add up to `expected` (no surplus left)."""
    seen: dict[str, int] = {}

    def settled() -> bool:
        seen.clear()
        seen.update(copies_stored(cluster))
        return sum(seen.values()) == expected

    cluster.wait_until(settled, timeout_s=REPAIR_DEADLINE_S, interval_s=0.5, what=what,
                       detail=lambda: f"copies per node {seen} (sum {sum(seen.values())}, want {expected})")
    return dict(seen)


def put_mix(client: Client, objects: dict[str, bytes], *, ec: tuple[int, int] = (4, 2)) -> int:
    """Store objects alternately under replicas=3 and ec=K+M (4+2 unless given); returns the copies
    they make."""
    client.create_bucket("mix")
    copies = 0
    for index, (key, data) in enumerate(sorted(objects.items())):
        chunks = -(-len(data) // (4 * MIB))
        if index % 2:
            client.put("mix", key, data, ec=ec)
            copies += sum(ec) * chunks
        else:
            client.put("mix", key, data, replicas=3)
            copies += 3 * chunks
    return copies


def check_all(client: Client, objects: dict[str, bytes]) -> None:
    for key, data in objects.items():
        got = client.get_bytes("mix", key)
        assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest(), f"mix/{key} differs"


def metadata_homes(client: Client, bucket: str, count: int = 3) -> tuple[set[str], set[str]]:
    """The metadata home replicas of `bucket`'s manifests and of the default tenant's bucket
    directory, from the ring the connected node serves (tokens walked clockwise, distinct nodes:
    the ring's order when there are no zones)."""
    tokens = sorted((t.token, t.node_id) for t in client.ring().tokens)

    def homes(position: int) -> set[str]:
        start = next((i for i, (token, _) in enumerate(tokens) if token >= position), 0)
        found: list[str] = []
        for i in range(len(tokens)):
            node_id = tokens[(start + i) % len(tokens)][1]
            if node_id not in found:
                found.append(node_id)
            if len(found) == count:
                break
        return set(found)

    return homes(metadata_position("default", bucket)), homes(bucket_directory_position("default"))
