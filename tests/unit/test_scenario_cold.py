"""Unit tests for the cold set's yardstick (cluster-sim/scenarios/cold.py): what a node holds of an
object version as a stat names it, which of it is still current at the end, the snapshot's handling
of missing keys, and loading the victim until it holds enough of every policy. Nothing here starts
a node: stats are nodectl ObjectStat values built by hand, puts go through a stand-in writer."""

from __future__ import annotations

import pytest

from cluster_sim.errors import ClusterError
from cluster_sim.scenarios import cold
from cluster_sim.scenarios.checker import Checker
from cluster_sim.scenarios.spec import Cold
from cluster_sim.scenarios.workload import COLD_BUCKETS, BUCKET, bucket_of
from nodectl.client import ChunkStatus, HolderStatus, ObjectInfo, ObjectStat
from nodectl.errors import NotFound, Unavailable

MIB = 1024 * 1024


def stat(digest: str, chunks: list[tuple[int, list[str]]], *, ec: tuple[int, int] | None = None,
         handoff: dict[str, str] | None = None) -> ObjectStat:
    """An ObjectStat whose chunks have these sizes and holders (node ids; `handoff` maps a holder to the
    node it keeps a handoff copy for)."""
    info = ObjectInfo(bucket="b", key="k", size_bytes=sum(size for size, _ in chunks), blake3_hex=digest,
                      version="1.0.node-1", content_type="", metadata={}, replicas=None if ec else 3,
                      chunk_count=len(chunks), created_at_unix_ms=0, inline=not chunks, ec=ec)
    return ObjectStat(info=info, chunks=[
        ChunkStatus(chunk_id_hex=f"{index:064x}", size_bytes=size, offset_bytes=0,
                    holders=[HolderStatus(node_id=node, share_index=share, state="ALIVE",
                                          handoff_for_node_id=(handoff or {}).get(node, ""))
                             for share, node in enumerate(holders)])
        for index, (size, holders) in enumerate(chunks)])


def test_a_replica_weighs_its_chunk_and_a_share_ceil_size_over_k():
    """Replicas count the chunk's bytes, erasure shares ceil(size/K); other nodes' copies, handoff
    copies kept for another node and inline objects count nothing."""
    replicated = stat("aa", [(4 * MIB, ["node-1", "node-3", "node-4"]), (1000, ["node-3", "node-2", "node-5"])])
    assert cold.held_on(replicated, "node-3") == cold.Held("aa", 2, 4 * MIB + 1000,
                                                         ((f"{0:064x}", 1), (f"{1:064x}", 1)))
    assert cold.held_on(replicated, "node-6") == cold.Held("aa", 0, 0)
    coded = stat("bb", [(1001, ["node-3", "node-1", "node-2"]), (7, ["node-1", "node-3", "node-2"])], ec=(2, 1))
    assert cold.held_on(coded, "node-3") == cold.Held("bb", 2, 501 + 4, ((f"{0:064x}", 1), (f"{1:064x}", 1)))
    handoff = stat("cc", [(100, ["node-3", "node-1", "node-2"])], handoff={"node-3": "node-4"})
    assert cold.held_on(handoff, "node-3").copies == 0
    assert cold.held_on(stat("dd", []), "node-3") == cold.Held("dd", 0, 0)


def test_only_versions_still_the_one_legal_value_count():
    """Overwritten, deleted and possibly-replaced (a failed put after) versions are not current; the
    cold set's share of the rest is named."""
    checker = Checker()
    for key, value in (("k-1", "v1"), ("k-2", "v2"), ("k-3", "v3"), ("k-4", "v4"), ("cold-00001", "c1")):
        checker.put_acknowledged(key, value)
    checker.put_acknowledged("k-2", "v2b")  # overwritten
    checker.delete_acknowledged("k-3")
    checker.put_failed("k-4", "v4b")  # may have landed
    held = {"k-1": cold.Held("v1", 2, 300), "k-2": cold.Held("v2", 1, 50), "k-3": cold.Held("v3", 1, 70),
            "k-4": cold.Held("v4", 1, 90), "k-5": cold.Held("v5", 0, 0), "cold-00001": cold.Held("c1", 1, 1000)}
    assert cold.still_current(held, checker.state) == cold.Holdings(keys=2, copies=3, size_bytes=1300,
                                                                    cold_size_bytes=1000)


def test_the_snapshot_skips_deleted_keys_and_counts_stats_that_failed():
    """A key deleted since (NOT_FOUND) holds nothing; a stat that failed leaves its key out, counted."""
    answers = {"k-1": stat("aa", [(10, ["node-3"])]), "k-2": NotFound("gone"), "k-3": Unavailable("busy")}

    def fake_stat(key: str) -> ObjectStat:
        answer = answers[key]
        if isinstance(answer, Exception):
            raise answer
        return answer

    held, failed = cold.snapshot(["k-1", "k-2", "k-3"], fake_stat, "node-3")
    assert held == {"k-1": cold.Held("aa", 1, 10, ((f"{0:064x}", 1),))} and failed == 1


def test_a_store_lacks_the_copies_whose_chunk_files_are_gone_whatever_their_share_index(tmp_path):
    """Per chunk, the copies/shares held less the chunk files the store has now (any suffix: a
    refilled node may get another share of the stripe); temp files elsewhere do not count."""
    one, two, three = "ab" * 32, "cd" * 32, "ef" * 32
    for name in (f"{one}.r", f"{two}.1of2+1", f"{two}.2of2+1"):
        path = tmp_path / "store" / "chunks" / name[0:2] / name[2:4] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    (tmp_path / "store" / "tmp").mkdir()
    (tmp_path / "store" / "tmp" / f"{three}.r.0123").write_bytes(b"x")
    held = {"k-1": cold.Held("d1", 1, 10, ((one, 1),)), "k-2": cold.Held("d2", 3, 30, ((two, 3),)),
            "k-3": cold.Held("d3", 1, 10, ((three, 1),))}
    assert cold.missing_from_store(held, tmp_path) == 0 + 1 + 1
    assert cold.missing_from_store({"k-1": held["k-1"]}, tmp_path) == 0


class FakeWriter:
    """Puts that land (or fail, for the keys in `failing`) and a stat naming node-3 as a holder of
    every other object; records (key, policy, size) of each put."""

    def __init__(self, failing: set[str] = frozenset()) -> None:
        self.puts: list[tuple[str, str, int]] = []
        self.failing = failing

    def put(self, key: str, kind: str, *, policy: str, size_bytes: int) -> bool:
        assert kind == "cold"
        self.puts.append((key, policy, size_bytes))
        return key not in self.failing

    def stat(self, key: str) -> ObjectStat:
        _, policy, size = next(put for put in self.puts if put[0] == key)
        index = int(key.split("-")[1])
        holders = ["node-3", "node-1", "node-2"] if index % 2 == 0 else ["node-1", "node-2", "node-4"]
        return stat(key, [(size, holders)], ec=(2, 1) if policy.startswith("ec") else None)


def test_the_cold_set_is_put_until_the_victim_holds_enough_of_every_policy():
    """Puts alternate over the policies still short, skip failed puts, and stop once the victim
    holds size_bytes of each; objects it does not hold are put (and checked) all the same."""
    writer = FakeWriter(failing={"cold-00002"})
    held = cold.write(Cold(node="node-3", size_bytes=2 * MIB, object_size_bytes=MIB),
                      ["replicas=3", "ec=2+1"], writer, writer.stat)
    on_victim = {}
    for key, item in held.items():
        policy = next(put[1] for put in writer.puts if put[0] == key)
        on_victim[policy] = on_victim.get(policy, 0) + item.size_bytes
    assert on_victim["replicas=3"] >= 2 * MIB and on_victim["ec=2+1"] >= 2 * MIB
    assert "cold-00002" not in held and all(key.startswith("cold-") for key in held)
    assert {size for _, _, size in writer.puts} == {MIB}


def test_a_victim_that_never_gets_a_copy_fails_the_cold_set_in_one_line():
    """Loading stops after COLD_PUTS_MAX puts with one line saying what the victim got."""
    writer = FakeWriter()
    with pytest.raises(ClusterError, match=r"the cold set did not load node-9 with 1024 bytes per policy"):
        cold.write(Cold(node="node-9", size_bytes=1024, object_size_bytes=512), ["replicas=3"], writer,
                   writer.stat)
    assert len(writer.puts) == cold.COLD_PUTS_MAX


def test_cold_keys_live_in_buckets_of_their_own_and_the_workload_keys_in_its_bucket():
    """Cold keys spread over all cold buckets (manifests on several preference lists); workload keys
    stay in the workload's bucket."""
    assert bucket_of("k-00001") == BUCKET
    assert {bucket_of(cold.cold_key(index)) for index in range(20)} == {f"cold-{n}" for n in
                                                                         range(1, COLD_BUCKETS + 1)}
