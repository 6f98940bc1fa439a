"""Erasure-coded objects (zfec K+M) through a real 6-node cluster: round trips, ranges, degraded reads,
node loss, corruption, policy errors and conversion between policies.

The shared module cluster serves the tests that leave every node running; tests that kill nodes start
their own cluster. Every process started is stopped by pid at teardown (see conftest.py).
"""

from __future__ import annotations

import hashlib
import itertools
import pathlib
import random

import grpc
import pytest

from cluster_checks import raw_channel, metadata_homes
from cluster_sim.cluster import LocalCluster
from nodectl.client import Client
from nodectl.errors import DataLoss, InvalidArgument, Unavailable
from ringstore.v1 import common_pb2, object_pb2

KIB = 1024
MIB = 1024 * KIB
SIZES = [0, 1, 4 * KIB, 4 * KIB + 1, 4 * MIB - 1, 4 * MIB, 4 * MIB + 1, 50 * MIB]
CLUSTER_NODES = 6


def payload(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def share_file(cluster: LocalCluster, node_id: str, chunk_hex: str, index: int, k: int, m: int) -> pathlib.Path:
    """Where a node keeps erasure share `index` of a K+M stripe (the on-disk layout of node/store)."""
    return pathlib.Path(cluster.nodes[node_id].data_dir, "store", "chunks", chunk_hex[:2], chunk_hex[2:4],
                        f"{chunk_hex}.{index}of{k}+{m}")


def replica_file(cluster: LocalCluster, node_id: str, chunk_hex: str) -> pathlib.Path:
    return pathlib.Path(cluster.nodes[node_id].data_dir, "store", "chunks", chunk_hex[:2], chunk_hex[2:4],
                        f"{chunk_hex}.r")


def metric(cluster: LocalCluster, node_id: str, name: str) -> float:
    """Sum of every sample of a metric family on one node's /metrics page."""
    text = cluster.metrics_text(node_id)
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


@pytest.fixture(scope="module")
def cluster(module_cluster):
    return module_cluster


@pytest.fixture(scope="module")
def client(cluster):
    with Client(address=cluster.any_address(), timeout_s=60.0) as c:
        c.create_bucket("ec42", ec="4+2")
        c.create_bucket("plain")
        yield c


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("bucket,ec", [("ec42", None), ("plain", "2+1")])
def test_round_trip_is_byte_identical(client, cluster, size, bucket, ec):
    """EC objects (bucket default 4+2, and a per-object 2+1 override) read back identical from any node."""
    data = payload(size, size + 7)
    key = f"size/{size}/{ec}"
    info = client.put(bucket, key, data, ec=ec)
    expected = "ec=2+1" if ec else "ec=4+2"
    assert info.policy == expected and info.size_bytes == size
    for address in cluster.addresses()[:2]:
        with Client(address=address, timeout_s=60.0) as other:
            assert digest(other.get_bytes(bucket, key)) == digest(data)


def test_stat_shows_each_share_on_its_own_node_and_physical_bytes(client):
    """A 4+2 chunk has 6 shares on 6 distinct ALIVE nodes; physical bytes are 1.5x the logical size."""
    data = payload(8 * MIB, 42)
    client.put("ec42", "stat-me", data)
    stat = client.stat("ec42", "stat-me")
    assert stat.info.policy == "ec=4+2" and len(stat.chunks) == 2
    for chunk in stat.chunks:
        assert sorted(h.share_index for h in chunk.holders) == list(range(6))
        assert len({h.node_id for h in chunk.holders}) == 6
        assert all(h.state == "ALIVE" and not h.handoff_for_node_id for h in chunk.holders)
    assert stat.physical_bytes == 8 * MIB * 6 // 4


@pytest.mark.parametrize("bucket,ec", [("ec42", None), ("plain", "3+2")])
def test_ranges_across_stripe_and_share_boundaries(client, bucket, ec):
    """Byte ranges return exactly those bytes: within one data share, across shares, across stripes,
    and with share sizes that do not divide the chunk (3+2)."""
    data = payload(9 * MIB + 17, 77)
    client.put(bucket, f"ranged-{ec}", data, ec=ec)
    share = -(-4 * MIB // (3 if ec else 4))
    cases = [(0, 10), (share - 5, 10), (share, share), (4 * MIB - 5, 10), (4 * MIB, 4 * MIB),
             (3 * share + 1, 2 * MIB), (8 * MIB + 3, None), (len(data) - 1, 5), (0, None)]
    for start, length in cases:
        got = client.get_bytes(bucket, f"ranged-{ec}", range_start_bytes=start, range_length_bytes=length)
        end = len(data) if length is None else min(len(data), start + length)
        assert got == data[start:end], (start, length)


def test_flipped_byte_in_a_share_is_detected_and_the_read_still_right(client, cluster):
    """A corrupt data share is caught by its blake3, replaced by a parity share, quarantined, counted as a
    degraded read and reported to the repair queue; the bytes returned are the original ones."""
    data = payload(4 * MIB + 100, 5)
    client.put("ec42", "bitrot", data)
    chunk = client.stat("ec42", "bitrot").chunks[0]
    holder = next(h for h in chunk.holders if h.share_index == 1)
    path = share_file(cluster, holder.node_id, chunk.chunk_id_hex, 1, 4, 2)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 3] ^= 0x40
    path.write_bytes(bytes(raw))
    coordinator = holder.node_id  # read through the holder of the bad share: it reads itself first
    before = metric(cluster, coordinator, "ringstore_degraded_reads_total")
    with Client(address=cluster.nodes[coordinator].address, timeout_s=60.0) as via:
        assert digest(via.get_bytes("ec42", "bitrot")) == digest(data)
    assert not path.exists(), "the corrupt share is quarantined, never served again"
    assert metric(cluster, coordinator, "ringstore_degraded_reads_total") > before
    assert metric(cluster, coordinator, 'ringstore_repair_reports_total{reason="corrupt"}') >= 1
    assert metric(cluster, coordinator, "ringstore_erasure_decode_bytes_total") >= len(data) - 100


def test_encode_bytes_are_counted(client, cluster):
    """The coordinator counts the chunk bytes it encoded."""
    address = cluster.any_address()
    node_id = next(n for n, node in cluster.nodes.items() if node.address == address)
    before = metric(cluster, node_id, "ringstore_erasure_encode_bytes_total")
    with Client(address=address, timeout_s=60.0) as via:
        via.put("ec42", "counted", payload(5 * MIB, 3))
    assert metric(cluster, node_id, "ringstore_erasure_encode_bytes_total") - before == 5 * MIB


def test_bad_policies_name_the_numbers(client, cluster):
    """K+M outside 1..32 is INVALID_ARGUMENT from the node itself (a raw client skips nodectl's checks);
    more shares than nodes is INVALID_ARGUMENT for a bucket, UNAVAILABLE for a put."""
    with raw_channel(cluster.any_address()) as channel:
        create = channel.unary_unary("/ringstore.v1.ObjectService/CreateBucket",
                                     request_serializer=object_pb2.CreateBucketRequest.SerializeToString,
                                     response_deserializer=object_pb2.CreateBucketResponse.FromString)
        for k, m, fragment in [(0, 2, "K (data shares) must be at least 1"),
                               (4, 0, "M (parity shares) must be at least 1"),
                               (30, 3, "K+M is 33, at most 32"),
                               (5, 2, "ec=5+2 puts its 7 shares on 7 distinct nodes, but the cluster has 6 nodes")]:
            policy = common_pb2.RedundancyPolicy(erasure_coding=common_pb2.ErasureCoding(data_shares=k,
                                                                                         parity_shares=m))
            with pytest.raises(grpc.RpcError) as err:
                create(object_pb2.CreateBucketRequest(bucket="bad-ec", default_policy=policy), timeout=10)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert fragment in err.value.details(), err.value.details()
    with pytest.raises(Unavailable, match="ec=5\\+2 puts its 7 shares on 7 distinct nodes, but only 6 nodes"):
        client.put("plain", "too-wide", b"x" * 10_000, ec="5+2")
    with pytest.raises(InvalidArgument):
        client.put("plain", "bad", b"x", ec="0+2")


def test_kill_any_two_of_six_and_every_ec_object_reads_back(cluster_factory):
    """Under 4+2 any 2 lost nodes lose nothing: data-share holders, parity holders or a mix, read both
    before the survivors notice (fetches fail) and after (the dead are skipped). A read either
    returns the right bytes or, when both lost nodes were metadata homes of the bucket (manifests
    have 3 replicas and a read needs 2 homes), fails UNAVAILABLE saying so; once they are back every
    object reads. A third share gone while the two holders are down is UNAVAILABLE naming the shares
    it waits for (they may come back); only when even those would not make 4 is it DATA_LOSS naming
    the chunk, the shares found and the nodes asked. Never wrong bytes."""
    c = cluster_factory(nodes=6)
    objects: dict[str, bytes] = {}
    with Client(address=c.any_address(), timeout_s=60.0) as client:
        client.create_bucket("durable", ec="4+2")
        for i, size in enumerate([0, 100, 5 * KIB, 4 * MIB + 1, 9 * MIB]):
            objects[f"obj-{i}"] = payload(size, 1000 + i)
            client.put("durable", f"obj-{i}", objects[f"obj-{i}"])
        first = client.stat("durable", "obj-4").chunks[0]
    holder_of = {h.share_index: h.node_id for h in first.holders}
    ids = sorted(c.nodes)
    read_during_loss = 0
    for pair in [(holder_of[0], holder_of[1]), (holder_of[2], holder_of[4]), (holder_of[4], holder_of[5])]:
        survivors = [n for n in ids if n not in pair]
        for node_id in pair:
            c.kill(node_id, "KILL")
        for phase in ("before DOWN", "after DOWN"):
            if phase == "after DOWN":
                for node_id in pair:
                    c.wait_state(node_id, "DOWN", observers=survivors, timeout_s=20)
            with Client(address=c.nodes[survivors[0]].address, timeout_s=60.0, retries_max=0) as client:
                try:
                    for key, data in objects.items():
                        assert digest(client.get_bytes("durable", key)) == digest(data), (pair, phase, key)
                    got = client.get_bytes("durable", "obj-4", range_start_bytes=MIB + 3, range_length_bytes=3 * MIB)
                    assert got == objects["obj-4"][MIB + 3:4 * MIB + 3], (pair, phase)
                    read_during_loss += 1
                except Unavailable as err:
                    assert "metadata home replicas" in str(err) or "home replicas answered" in str(err), err
        for node_id in pair:
            c.restart(node_id)
        for node_id in pair:
            c.wait_state(node_id, "ALIVE", timeout_s=30)
    assert read_during_loss > 0
    with Client(address=c.any_address(), timeout_s=60.0) as client:
        for key, data in objects.items():
            assert digest(client.get_bytes("durable", key)) == digest(data), key

    # Three shares gone: two holders killed, chosen so that two metadata homes of the bucket and of
    # the bucket directory stay live (the read gets as far as the chunk), and a third share's file
    # deleted on a live holder.
    with Client(address=c.any_address(), timeout_s=60.0) as client:
        bucket_homes, directory_homes = metadata_homes(client, "durable")
    lost = next(list(pair) for pair in itertools.combinations(sorted(holder_of.values()), 2)
                if len(set(pair) & bucket_homes) <= 1 and len(set(pair) & directory_homes) <= 1)
    wiped = next(i for i, node_id in sorted(holder_of.items()) if node_id not in lost)
    share_file(c, holder_of[wiped], first.chunk_id_hex, wiped, 4, 2).unlink()
    survivors = [n for n in ids if n not in lost]
    for node_id in lost:
        c.kill(node_id, "KILL")
    for node_id in lost:
        c.wait_state(node_id, "DOWN", observers=survivors, timeout_s=20)
    with Client(address=c.nodes[survivors[0]].address, timeout_s=60.0, retries_max=0) as client:
        with pytest.raises(Unavailable) as waiting:
            client.get_bytes("durable", "obj-4")
        message = str(waiting.value)
        found = [i for i, node_id in sorted(holder_of.items()) if node_id not in lost and i != wiped]
        assert first.chunk_id_hex[:16] in message and "only 3 of the 4 shares needed are intact" in message
        assert f"found shares: {', '.join(map(str, found))}" in message
        assert "not asked, holder not ALIVE" in message and all(node_id in message for node_id in lost)
        assert holder_of[wiped] in message and "readable again once the holders of shares" in message
        # Two more shares gone on live holders: with the two DOWN ones back there would still be
        # only 3, so the loss is certain.
        for index in found[:2]:
            share_file(c, holder_of[index], first.chunk_id_hex, index, 4, 2).unlink()
        with pytest.raises(DataLoss) as info:
            client.get_bytes("durable", "obj-4")
        message = str(info.value)
        assert first.chunk_id_hex[:16] in message and "only 1 of the 4 shares needed are intact" in message
        assert f"found shares: {found[2]}" in message
        # Objects stored inline in their manifest do not depend on chunk holders.
        assert client.get_bytes("durable", "obj-1") == objects["obj-1"]


def test_ec_put_needs_k_plus_m_live_nodes_and_uses_handoff_for_down_homes(cluster_factory):
    """With one of 6 nodes DOWN a 4+2 put is UNAVAILABLE (it never puts two shares on one node), while
    a 2+1 put succeeds with the DOWN home's share on a stand-in recorded as its handoff."""
    c = cluster_factory(nodes=6)
    ids = sorted(c.nodes)
    c.kill(ids[5], "KILL")
    c.wait_state(ids[5], "DOWN", observers=ids[:5], timeout_s=20)
    with Client(address=c.nodes[ids[0]].address, timeout_s=60.0) as client:
        client.create_bucket("narrow")
        with pytest.raises(Unavailable, match="ec=4\\+2 puts its 6 shares on 6 distinct nodes, but only 5"):
            client.put("narrow", "wide", payload(10 * KIB, 1), ec="4+2")
        handoffs = 0
        for i in range(10):
            data = payload(5 * KIB + i, i)
            client.put("narrow", f"k{i}", data, ec="2+1")
            for chunk in client.stat("narrow", f"k{i}").chunks:
                assert ids[5] not in [h.node_id for h in chunk.holders]
                assert len({h.node_id for h in chunk.holders}) == 3
                handoffs += sum(1 for h in chunk.holders if h.handoff_for_node_id == ids[5])
            assert client.get_bytes("narrow", f"k{i}") == data
        assert handoffs > 0, "some chunk had the dead node among its home holders"


def _convert_and_kill(c: LocalCluster, via: str, bucket: str, key: str, **policy) -> None:
    """Start a conversion through node `via` and kill -9 it as soon as the first chunk is rewritten."""
    killed = []

    def on_progress(progress) -> None:
        if not killed:
            killed.append(progress.chunks_done)
            c.kill(via, "KILL")

    with Client(address=c.nodes[via].address, timeout_s=30.0, retries_max=0) as client:
        with pytest.raises(Unavailable):
            client.convert(bucket, key, progress=on_progress, **policy)
    assert killed, "the conversion reported progress before it was killed"


def test_conversion_both_ways_survives_a_killed_coordinator(cluster_factory):
    """replicas=3 -> ec=4+2 -> replicas=3. Each conversion is first killed (-9) mid-way on its coordinator:
    the object still reads back identical; run again it completes, the policy and physical bytes change,
    and the old copies are gone from every disk."""
    c = cluster_factory(nodes=6)
    ids = sorted(c.nodes)
    data = payload(64 * MIB + 5, 64)
    with Client(address=c.nodes[ids[0]].address, timeout_s=120.0) as client:
        client.create_bucket("conv")
        client.put("conv", "big", data)
        before = client.stat("conv", "big")
    assert before.info.policy == "replicas=3" and before.physical_bytes == 3 * len(data)

    for target, other in [({"ec": "4+2"}, "replicas=3"), ({"replicas": 3}, "ec=4+2")]:
        wanted = "ec=4+2" if "ec" in target else "replicas=3"
        _convert_and_kill(c, ids[1], "conv", "big", **target)
        with Client(address=c.nodes[ids[2]].address, timeout_s=120.0) as client:
            assert client.stat("conv", "big").info.policy in (wanted, other)
            assert digest(client.get_bytes("conv", "big")) == digest(data)
        c.restart(ids[1])
        c.wait_state(ids[1], "ALIVE", timeout_s=30)
        with Client(address=c.nodes[ids[3]].address, timeout_s=120.0) as client:
            progress: list[int] = []
            result = client.convert("conv", "big", progress=lambda p: progress.append(p.chunks_done), **target)
            stat = client.stat("conv", "big")
            assert digest(client.get_bytes("conv", "big")) == digest(data)
        assert result.info.policy == wanted and stat.info.policy == wanted
        assert progress == list(range(1, 18)), "one progress message per chunk, in order"
        assert result.copies_not_reached == 0 and result.copies_released > 0
        assert stat.physical_bytes == (len(data) * 3 if wanted == "replicas=3" else
                                       sum(6 * -(-ch.size_bytes // 4) for ch in stat.chunks))
        # The old layout's files are gone from every node; the new layout's are all there.
        for chunk in stat.chunks:
            for node_id in ids:
                if wanted == "ec=4+2":
                    assert not replica_file(c, node_id, chunk.chunk_id_hex).exists(), (node_id, chunk.chunk_id_hex)
                else:
                    assert not any(share_file(c, node_id, chunk.chunk_id_hex, i, 4, 2).exists() for i in range(6))
            for holder in chunk.holders:
                path = (share_file(c, holder.node_id, chunk.chunk_id_hex, holder.share_index, 4, 2)
                        if wanted == "ec=4+2" else replica_file(c, holder.node_id, chunk.chunk_id_hex))
                assert path.exists(), path
