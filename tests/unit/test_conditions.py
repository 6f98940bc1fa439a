"""Unit tests of conditional writes (node/objects/conditions.py) over three real NodeStores as the
key register's acceptors: the condition checks, the stamp rule, one winner of two racing writers,
a chosen write that died before its manifest reached the homes rolled forward (or dropped when too
old), and a put whose own value was made chosen by another writer's round."""

from __future__ import annotations

import concurrent.futures as cf

import blake3
import pytest

from ringstore.v1 import common_pb2

from node import errors
from node.objects.conditions import Condition, ConditionalWrites, check, stamp_text
from node.store import NodeStore
from node.store.metadata import encode_record
from node.store.versions import version_id_of

MIB = 1024 * 1024
HOMES = ("node-1", "node-2", "node-3")
NOW_MS = 1_700_000_000_000


def _manifest(ms: int, data: bytes, *, node: str = "node-1", tombstone: bool = False) -> common_pb2.Manifest:
    return common_pb2.Manifest(format_version=1, tenant="t", bucket="b", key="k", tombstone=tombstone,
                               version=common_pb2.VersionStamp(physical_ms=ms, node_id=node),
                               blake3=blake3.blake3(data).digest(), size_bytes=len(data), inline=True,
                               inline_data=data)


class _Acceptors:
    def __init__(self, stores: dict[str, NodeStore]) -> None:
        self.stores = stores

    def read_key_register(self, node, tenant, bucket, key):
        return self.stores[node].read_key_register(tenant, bucket, key)

    def prepare_key_register(self, node, tenant, bucket, key, ballot):
        return self.stores[node].prepare_key_register(tenant, bucket, key, ballot)

    def accept_key_register(self, node, value):
        return self.stores[node].accept_key_register(value)


@pytest.fixture()
def world(tmp_path):
    stores = {n: NodeStore(str(tmp_path / n), map_size_bytes=64 * MIB) for n in HOMES}
    homes_current: dict[str, common_pb2.Manifest | None] = {"current": None}
    written: list[common_pb2.Manifest] = []

    def write(manifest: common_pb2.Manifest) -> None:
        written.append(manifest)
        current = homes_current["current"]
        if current is None or (manifest.version.physical_ms, manifest.version.node_id) > (
                current.version.physical_ms, current.version.node_id):
            homes_current["current"] = manifest

    pool = cf.ThreadPoolExecutor(8)
    clock = {"ms": NOW_MS}

    def make(node_id: str = "node-1") -> ConditionalWrites:
        return ConditionalWrites(replicas=_Acceptors(stores), homes=lambda t, b: list(HOMES), node_id=node_id,
                                 is_live=lambda n: True, pool=pool, wall_ms=lambda: clock["ms"],
                                 read_current=lambda b, k: homes_current["current"], write=write,
                                 put_duration_max_s=60.0)

    yield make, stores, homes_current, written, clock
    pool.shutdown()
    for store in stores.values():
        store.close()


def test_checks_name_what_they_found():
    live = _manifest(5, b"abc")
    check(Condition(if_absent=True), None, "b/k")
    check(Condition(if_absent=True), _manifest(6, b"", tombstone=True), "b/k")  # a delete marker: absent
    with pytest.raises(errors.ConditionFailed, match="exists"):
        check(Condition(if_absent=True), live, "b/k")
    with pytest.raises(errors.ConditionFailed, match="does not exist"):
        check(Condition(if_match="*"), None, "b/k")
    check(Condition(if_match="*"), live, "b/k")
    tag = live.blake3[:16].hex() + "-1"
    check(Condition(if_match=f'"{tag}"'), live, "b/k")
    with pytest.raises(errors.ConditionFailed, match="has ETag"):
        check(Condition(if_match="0" * 32), live, "b/k")
    check(Condition(if_version=stamp_text(live.version)), live, "b/k")
    versioned = _manifest(7, b"v")
    versioned.version_id = version_id_of(versioned.version)
    check(Condition(if_version=versioned.version_id.hex()), versioned, "b/k")
    with pytest.raises(errors.ConditionFailed, match="is at version"):
        check(Condition(if_version="null"), live, "b/k")


def test_one_of_two_racing_writers_wins_and_the_stamp_rule(world):
    make, stores, homes, written, clock = world
    first, second = make("node-1"), make("node-2")
    a, b = _manifest(NOW_MS + 1, b"a"), _manifest(NOW_MS + 2, b"b", node="node-2")
    first.commit(a, Condition(if_absent=True))
    with pytest.raises(errors.ConditionFailed, match="exists"):
        second.commit(b, Condition(if_absent=True))
    assert homes["current"] == a and b not in written
    # A put that started before the current version was written loses even if its condition holds.
    late = _manifest(NOW_MS, b"late")
    with pytest.raises(errors.ConditionFailed, match="written again while this put ran"):
        second.commit(late, Condition(if_match="*"))
    newer = _manifest(NOW_MS + 3, b"c", node="node-2")
    second.commit(newer, Condition(if_match=a.blake3[:16].hex() + "-1"))
    assert homes["current"] == newer


def test_a_chosen_write_the_homes_lack_is_rolled_forward_or_dropped_when_old(world):
    make, stores, homes, written, clock = world
    writer = make()
    homes["current"] = _manifest(NOW_MS, b"old")
    chosen = _manifest(NOW_MS + 1, b"chosen")
    # Its writer died after the register chose it, before the homes had it.
    value = common_pb2.KeyRegister(format_version=1, tenant="t", bucket="b", key="k", manifest=chosen,
                                   ballot=common_pb2.Ballot(counter=5, node_id="node-9"))
    for node in HOMES:
        assert stores[node].accept_key_register(value)[0]
    mine = _manifest(NOW_MS + 2, b"mine")
    with pytest.raises(errors.ConditionFailed, match="has ETag"):
        writer.commit(mine, Condition(if_match=homes["current"].blake3[:16].hex() + "-1"))
    assert homes["current"] == chosen and written == [chosen]  # rolled forward, then judged against
    # Long after: a chosen value older than a put may take is dropped, not rolled forward.
    homes["current"] = _manifest(NOW_MS + 3, b"newer")
    stale = _manifest(NOW_MS + 4, b"stale")
    value.manifest.CopyFrom(stale)
    value.ballot.counter = 10 ** 15
    for node in HOMES:
        stores[node].accept_key_register(value)
    clock["ms"] = NOW_MS + 120_000
    later = _manifest(NOW_MS + 100_000, b"later")
    make().commit(later, Condition(if_match=homes["current"].blake3[:16].hex() + "-1"))
    assert homes["current"] == later and stale not in written


def test_a_put_whose_own_value_another_round_chose_has_won(world):
    make, stores, homes, written, clock = world
    mine = _manifest(NOW_MS + 1, b"mine")
    value = common_pb2.KeyRegister(format_version=1, tenant="t", bucket="b", key="k", manifest=mine,
                                   ballot=common_pb2.Ballot(counter=5, node_id="node-9"))
    for node in HOMES[:2]:
        stores[node].accept_key_register(value)
    make().commit(mine, Condition(if_absent=True))
    assert homes["current"] == mine


def test_idle_registers_are_purged_and_stale_accepts_refused(tmp_path):
    """A register untouched for the idle period goes (one written before registers were stamped is
    stamped first, and goes a period later); a touched one stays; and an acceptor refuses a value
    whose manifest is older than the register horizon, the rule that makes the purge safe."""
    clock = {"ms": NOW_MS}
    store = NodeStore(str(tmp_path / "s"), map_size_bytes=64 * MIB, now_unix_ms=lambda: clock["ms"])
    try:
        store.set_register_horizon(60.0)
        ballot = common_pb2.Ballot(counter=1, node_id="node-1")
        value = common_pb2.KeyRegister(format_version=1, tenant="t", bucket="b", key="k", ballot=ballot,
                                       manifest=_manifest(NOW_MS - 1000, b"fresh"))
        assert store.accept_key_register(value)[0]
        assert store.prepare_key_register("t", "b", "idle", ballot)[0]
        # A record without a stamp, as registers were written before it existed.
        legacy = common_pb2.KeyRegisterState(format_version=1, promised=ballot)
        with store._meta.write() as txn:
            store._meta.put(txn, store._meta.key_registers, b"t\0b\0legacy", encode_record(legacy, "register"))
        clock["ms"] = NOW_MS + 100_000
        assert store.prepare_key_register("t", "b", "k", common_pb2.Ballot(counter=2, node_id="node-1"))[0]
        assert store.purge_key_registers(idle_before_ms=NOW_MS + 50_000) == 1  # "idle"; "legacy" stamped
        assert store.read_key_register("t", "b", "idle") == (common_pb2.Ballot(), None)
        assert store.read_key_register("t", "b", "k")[1] == value  # touched since: kept
        clock["ms"] = NOW_MS + 300_000
        assert store.purge_key_registers(idle_before_ms=NOW_MS + 250_000) == 2  # "k" idle now, "legacy" too
        assert store.record_counts()["key_registers"] == 0
        # A value stamped longer ago than the horizon is refused, whatever its ballot.
        old = common_pb2.KeyRegister(format_version=1, tenant="t", bucket="b", key="k",
                                     ballot=common_pb2.Ballot(counter=9, node_id="node-2"),
                                     manifest=_manifest(clock["ms"] - 61_000, b"old"))
        assert store.accept_key_register(old)[0] is False
        old.manifest.version.physical_ms = clock["ms"] - 59_000
        assert store.accept_key_register(old)[0] is True
    finally:
        store.close()
