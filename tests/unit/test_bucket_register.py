"""The bucket register (node/objects/register.py) over real acceptors: NodeStores in temporary
data dirs, reached through an in-process transport that can interleave proposers, lose requests or
answers, and deliver messages twice. No gRPC: the protocol is what is under test here; the RPCs are
covered by the integration test of concurrent creates."""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import random
import threading
import uuid

import pytest

from node import errors
from node.hlc import HybridLogicalClock
from node.objects.register import PROPOSE_ATTEMPTS_MAX, BucketRegister
from node.objects.replicas import HolderError
from node.store import BUCKET_RECORD_FORMAT_VERSION, NodeStore
from ringstore.v1 import common_pb2

TENANT = "default"
# Attempts a simulated client makes of one request after UNAVAILABLE (lost messages).
CLIENT_RETRIES_MAX = 20
NAME = "photos"
NODES = ("node-a", "node-b", "node-c")


class Transport:
    """Acceptors for a proposer: each call goes to that node's NodeStore. `faults(phase, node)`
    returns what happens to one message: "ok", "drop" (request lost), "lose_answer" (applied, answer
    lost) or "twice" (delivered twice). `before(phase, node)` runs before delivery (interleaving)."""

    def __init__(self, stores: dict[str, NodeStore]) -> None:
        self.stores = stores
        self.faults = lambda phase, node: "ok"
        self.before = lambda phase, node: None
        self.sent: list[tuple[str, str, object]] = []

    def _deliver(self, phase: str, node: str, apply):
        self.before(phase, node)
        fault = self.faults(phase, node)
        if fault == "drop":
            raise HolderError(node, "unavailable", "request lost")
        answer = apply()
        if fault == "twice":
            answer = apply()
        if fault == "lose_answer":
            raise HolderError(node, "unavailable", "answer lost")
        return answer

    def read_bucket(self, node_id, tenant, name):
        self.sent.append(("read", node_id, name))
        return self._deliver("read", node_id, lambda: self.stores[node_id].read_bucket(tenant, name))

    def prepare_bucket(self, node_id, tenant, name, ballot):
        self.sent.append(("prepare", node_id, ballot))
        return self._deliver("prepare", node_id, lambda: self.stores[node_id].prepare_bucket(tenant, name, ballot))

    def accept_bucket(self, node_id, record):
        self.sent.append(("accept", node_id, record))
        return self._deliver("accept", node_id, lambda: self.stores[node_id].accept_bucket(record))


@pytest.fixture
def stores(tmp_path):
    opened = {n: NodeStore(str(tmp_path / n), map_size_bytes=64 * 1024 * 1024) for n in NODES}
    yield opened
    for store in opened.values():
        store.close()


@pytest.fixture
def pool():
    with cf.ThreadPoolExecutor(max_workers=16) as executor:
        yield executor


def proposer(node_id: str, transport: Transport, pool, *, live=lambda n: True, seed: int = 0,
             wall_ms=lambda: 1_000) -> BucketRegister:
    return BucketRegister(node_id=node_id, acceptors=transport, homes=lambda tenant: NODES, is_live=live,
                          pool=pool, wall_ms=wall_ms, rng=random.Random(seed), sleep=lambda s: None)


def creating(hlc: HybridLogicalClock, replicas: int, request_id: str):
    """The coordinator's create function, reduced to what the register sees."""
    def create(current):
        if current is not None and not current.tombstone:
            if current.request_id == request_id:
                return current
            raise errors.AlreadyExists(f"bucket {NAME!r} already exists")
        if current is not None:
            hlc.observe(current.version)
        return common_pb2.BucketRecord(
            format_version=BUCKET_RECORD_FORMAT_VERSION, tenant=TENANT, name=NAME, version=hlc.now(),
            default_policy=common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=replicas)),
            request_id=request_id)
    return create


def removing(hlc: HybridLogicalClock):
    def remove(current):
        if current is None or current.tombstone:
            raise errors.NotFound(f"bucket {NAME!r} does not exist")
        hlc.observe(current.version)
        tombstone = common_pb2.BucketRecord()
        tombstone.CopyFrom(current)
        tombstone.version.CopyFrom(hlc.now())
        tombstone.tombstone = True
        return tombstone
    return remove


def clock(node_id: str) -> HybridLogicalClock:
    return HybridLogicalClock(node_id, wall_ms=lambda: 1_000)


def stored(stores) -> dict[str, common_pb2.BucketRecord | None]:
    return {n: s.get_bucket(TENANT, NAME) for n, s in stores.items()}


def same(one, other) -> bool:
    """The same version of the bucket record (a confirming round may accept it again under a
    higher ballot: that is the same record)."""
    return (one.tombstone, one.version, one.default_policy, one.request_id) == (
        other.tombstone, other.version, other.default_policy, other.request_id)


def replicas_of(record) -> int:
    return record.default_policy.replication.replicas


# -- the acceptor (NodeStore) -------------------------------------------------------------------

def ballot(counter: int, node: str = "node-x") -> common_pb2.Ballot:
    return common_pb2.Ballot(counter=counter, node_id=node)


def record(counter: int, *, tombstone: bool = False, physical_ms: int = 5) -> common_pb2.BucketRecord:
    return common_pb2.BucketRecord(format_version=BUCKET_RECORD_FORMAT_VERSION, tenant=TENANT, name=NAME,
                                   ballot=ballot(counter), tombstone=tombstone,
                                   version=common_pb2.VersionStamp(physical_ms=physical_ms, node_id="n"))


def test_acceptor_promises_only_rising_ballots_and_keeps_them_across_a_restart(tmp_path):
    """A promise refuses every lower ballot, also after the store is closed and opened again;
    a repeated prepare of the promised ballot (a duplicate) is promised again."""
    path = str(tmp_path / "a")
    with NodeStore(path, map_size_bytes=64 * 1024 * 1024) as store:
        assert store.prepare_bucket(TENANT, NAME, ballot(5))[:2] == (True, ballot(5))
        assert store.prepare_bucket(TENANT, NAME, ballot(5))[0] is True
        refused, highest, accepted = store.prepare_bucket(TENANT, NAME, ballot(4))
        assert (refused, highest, accepted) == (False, ballot(5), None)
    with NodeStore(path, map_size_bytes=64 * 1024 * 1024) as store:
        assert store.prepare_bucket(TENANT, NAME, ballot(4))[:2] == (False, ballot(5))
        assert store.accept_bucket(record(4)) == (False, ballot(5))
        assert store.get_bucket(TENANT, NAME) is None
        assert store.accept_bucket(record(5)) == (True, ballot(5))
        assert store.accept_bucket(record(5)) == (True, ballot(5))  # a duplicate changes nothing
        promised, highest, accepted = store.prepare_bucket(TENANT, NAME, ballot(6))
        assert promised and accepted == record(5)


def test_acceptor_counts_the_ballot_of_a_record_metadata_sync_brought():
    """A record pushed by metadata sync carries its ballot but no promise: prepares below that
    ballot are refused all the same, and a record with a higher ballot supersedes one with a newer
    version stamp (ballots order first); a format 1 record (no ballot) orders below both."""
    import tempfile
    with tempfile.TemporaryDirectory() as path, NodeStore(path, map_size_bytes=64 * 1024 * 1024) as store:
        legacy = common_pb2.BucketRecord(format_version=1, tenant=TENANT, name=NAME,
                                         version=common_pb2.VersionStamp(physical_ms=99))
        assert store.put_bucket(legacy) is False
        assert store.put_bucket(record(7, physical_ms=1)) is False
        assert store.put_bucket(legacy) is True
        assert store.put_bucket(record(6, physical_ms=50)) is True
        assert store.prepare_bucket(TENANT, NAME, ballot(6))[:2] == (False, ballot(7))
        assert store.delete_bucket_if(record(6, physical_ms=1)) is False
        assert store.delete_bucket_if(record(7, physical_ms=1)) is True


# -- the proposer ----------------------------------------------------------------------------------

def test_a_proposer_that_loses_its_accept_starts_again_from_the_winner(stores, pool):
    """A prepares; B prepares higher and creates with replicas=3 before A's accept lands; A's accept
    is refused, A starts again, sees B's bucket and is told ALREADY_EXISTS. The stored policy is
    the one B was told, on every acceptor."""
    transport_a, transport_b = Transport(stores), Transport(stores)
    a = proposer("node-a", transport_a, pool, wall_ms=lambda: 1_000)
    b = proposer("node-b", transport_b, pool, wall_ms=lambda: 2_000)
    told_b = []
    first = threading.Lock()  # A's other accepts wait until B is done

    def before(phase, node):
        if phase == "accept":
            with first:
                if not told_b:
                    told_b.append(b.change(TENANT, NAME, creating(clock("node-b"), 3, "req-b")))

    transport_a.before = before
    with pytest.raises(errors.AlreadyExists):
        a.change(TENANT, NAME, creating(clock("node-a"), 1, "req-a"))
    assert replicas_of(told_b[0]) == 3
    kept = [r for r in stored(stores).values() if r is not None]
    assert len(kept) >= 2 and all(same(r, told_b[0]) for r in kept)
    assert same(a.confirm(TENANT, NAME), told_b[0])


def test_a_refused_create_writes_nothing_and_does_not_disturb_a_removal(stores, pool):
    """A create of a name whose record is on every home is refused after reads alone (no promise,
    no accept), so a removal whose accept it lands between finishes in its first round instead of
    losing to it (many creators retrying used to starve a removal this way)."""
    hlc = clock("node-a")
    created = proposer("node-a", Transport(stores), pool).change(TENANT, NAME, creating(hlc, 1, "req-1"))
    # The change returned once a majority accepted; the third accept may have been cancelled before it
    # was sent. Put the record on every home, as this case is about.
    for store in stores.values():
        assert store.accept_bucket(created)[0]
    remover_transport, creator_transport = Transport(stores), Transport(stores)
    creator = proposer("node-b", creator_transport, pool, wall_ms=lambda: 9_000)
    refused = []
    first = threading.Lock()

    def before(phase, node):
        if phase == "accept":
            with first:
                if not refused:
                    with pytest.raises(errors.AlreadyExists):
                        creator.change(TENANT, NAME, creating(clock("node-b"), 3, "req-2"))
                    refused.append(True)

    remover_transport.before = before
    removed = proposer("node-c", remover_transport, pool, wall_ms=lambda: 2_000).change(TENANT, NAME, removing(hlc))
    assert refused and removed.tombstone
    assert {phase for phase, _, _ in creator_transport.sent} == {"read"}
    assert sum(1 for phase, _, _ in remover_transport.sent if phase == "prepare") == len(NODES)


def test_lost_answers_then_a_retry_of_the_same_request_is_told_created(stores, pool):
    """Every accept answer of a create is lost (two acceptors applied it): the proposer says
    UNAVAILABLE. The client's retry with the same request id is told created with the record
    stored, and a different creator is told ALREADY_EXISTS."""
    transport = Transport(stores)
    transport.faults = lambda phase, node: {"node-a": "lose_answer", "node-b": "lose_answer"}.get(node, "drop") \
        if phase == "accept" else "ok"
    register = proposer("node-a", transport, pool)
    hlc = clock("node-a")
    with pytest.raises(errors.Unavailable, match="accept reached 0 of the 2"):
        register.change(TENANT, NAME, creating(hlc, 2, "req-1"))
    transport.faults = lambda phase, node: "ok"
    told = register.change(TENANT, NAME, creating(hlc, 2, "req-1"))
    assert replicas_of(told) == 2 and told.request_id == "req-1"
    other = proposer("node-b", Transport(stores), pool, wall_ms=lambda: 5_000)
    with pytest.raises(errors.AlreadyExists):
        other.change(TENANT, NAME, creating(clock("node-b"), 3, "req-2"))
    assert same(other.confirm(TENANT, NAME), told)


def test_a_change_left_on_one_acceptor_is_settled_once_by_a_read(stores, pool):
    """A create whose accept reached only node-c (a minority) is not a bucket yet: a confirming
    read either adopts it on a majority or overturns it with a tombstone; either way every later
    read and every create agree with what that read said."""
    transport = Transport(stores)
    transport.faults = lambda phase, node: "drop" if phase == "accept" and node != "node-c" else "ok"
    with pytest.raises(errors.Unavailable):
        proposer("node-a", transport, pool).change(TENANT, NAME, creating(clock("node-a"), 1, "req-1"))
    reader = proposer("node-b", Transport(stores), pool, wall_ms=lambda: 3_000)
    seen = reader.confirm(TENANT, NAME)
    assert seen is not None
    again = proposer("node-c", Transport(stores), pool, wall_ms=lambda: 4_000).confirm(TENANT, NAME)
    assert same(again, seen)
    creator = proposer("node-c", Transport(stores), pool, wall_ms=lambda: 5_000)
    if seen.tombstone:
        assert replicas_of(creator.change(TENANT, NAME, creating(clock("node-c"), 3, "req-2"))) == 3
    else:
        with pytest.raises(errors.AlreadyExists):
            creator.change(TENANT, NAME, creating(clock("node-c"), 3, "req-2"))


def test_duplicate_and_late_deliveries_change_nothing(stores, pool):
    """Every message delivered twice gives the same outcome as once; an accept of an old round
    replayed after a later removal is refused and the tombstone stays."""
    transport = Transport(stores)
    transport.faults = lambda phase, node: "twice"
    register = proposer("node-a", transport, pool)
    hlc = clock("node-a")
    created = register.change(TENANT, NAME, creating(hlc, 2, "req-1"))
    old_accepts = [(node, r) for phase, node, r in transport.sent if phase == "accept"]
    register.change(TENANT, NAME, removing(hlc))
    for node, old in old_accepts:
        assert stores[node].accept_bucket(old)[0] is False
    # The removal is chosen on a majority; a round stops asking once a majority answered, so the
    # third home may not have been reached (a later round or metadata sync brings it along).
    assert sum(r.tombstone for r in stored(stores).values()) >= 2
    assert register.confirm(TENANT, NAME).tombstone
    assert replicas_of(created) == 2


def test_format_1_records_from_before_ballots_are_read_and_adopted(stores, pool):
    """A bucket written before ballots (format 1, no ballot) on two of three homes is the current
    record: a create is ALREADY_EXISTS, and a removal replaces it on every home it reaches."""
    legacy = common_pb2.BucketRecord(
        format_version=1, tenant=TENANT, name=NAME, version=common_pb2.VersionStamp(physical_ms=500, node_id="old"),
        default_policy=common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=1)))
    for node in NODES[:2]:
        stores[node].put_bucket(legacy)
    register = proposer("node-c", Transport(stores), pool)
    hlc = clock("node-c")
    with pytest.raises(errors.AlreadyExists):
        register.change(TENANT, NAME, creating(hlc, 3, "req"))
    assert same(register.confirm(TENANT, NAME), legacy)
    removed = register.change(TENANT, NAME, removing(hlc))
    assert removed.tombstone and removed.format_version == BUCKET_RECORD_FORMAT_VERSION
    assert replicas_of(register.change(TENANT, NAME, creating(hlc, 3, "req-2"))) == 3


def test_two_acceptors_down_is_unavailable_in_one_line(stores, pool):
    """With one of three homes live there is no majority: UNAVAILABLE at once, naming the homes."""
    register = proposer("node-a", Transport(stores), pool, live=lambda n: n == "node-a")
    with pytest.raises(errors.Unavailable) as caught:
        register.change(TENANT, NAME, creating(clock("node-a"), 1, "req"))
    assert "1 of 3 bucket directory homes are live" in str(caught.value) and "\n" not in str(caught.value)


def test_a_proposer_that_always_loses_gives_up_after_the_limit(stores, pool):
    """Another proposer's higher prepare lands before each of this one's accepts: after
    PROPOSE_ATTEMPTS_MAX lost rounds the caller gets UNAVAILABLE, and nothing was accepted."""
    transport = Transport(stores)
    rival = itertools.count(10**15)

    def before(phase, node):
        if phase == "accept":
            stores[node].prepare_bucket(TENANT, NAME, common_pb2.Ballot(counter=next(rival), node_id="node-z"))

    transport.before = before
    with pytest.raises(errors.Unavailable, match=f"{PROPOSE_ATTEMPTS_MAX} rounds"):
        proposer("node-a", transport, pool).change(TENANT, NAME, creating(clock("node-a"), 1, "req"))
    assert all(r is None for r in stored(stores).values())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_five_concurrent_creators_over_lossy_links_one_wins(stores, pool, seed):
    """Five proposers create one name at once, 20 rounds (create, then remove), with 10 % of
    messages lost and 10 % delivered twice, each creator retrying its own request (same id) after
    UNAVAILABLE as the client does: each round exactly one is told created, the others
    ALREADY_EXISTS, and the record every acceptor settles on is the winner's."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def faults(phase, node):
        with lock:
            roll = rng.random()
        return "drop" if roll < 0.1 else "twice" if roll < 0.2 else "ok"

    transports = [Transport(stores) for _ in range(5)]
    for t in transports:
        t.faults = faults
    clocks = [clock(f"node-{i}") for i in range(5)]
    registers = [proposer(f"node-{i}", t, pool, seed=seed * 10 + i, wall_ms=lambda: 1_000)
                 for i, t in enumerate(transports)]
    with cf.ThreadPoolExecutor(max_workers=5) as creators:
        for _ in range(20):
            ids = [uuid.uuid4().hex for _ in range(5)]

            def create(i):
                for _ in range(CLIENT_RETRIES_MAX):
                    try:
                        return registers[i].change(TENANT, NAME, creating(clocks[i], i + 1, ids[i]))
                    except errors.AlreadyExists as err:
                        return err
                    except errors.Unavailable as err:
                        last = err
                return last

            outcomes = list(creators.map(create, range(5)))
            won = [o for o in outcomes if isinstance(o, common_pb2.BucketRecord)]
            assert len(won) == 1, outcomes
            assert all(isinstance(o, errors.AlreadyExists) for o in outcomes if o is not won[0]), outcomes
            transports[0].faults = lambda phase, node: "ok"
            assert same(registers[0].confirm(TENANT, NAME), won[0])
            registers[0].change(TENANT, NAME, removing(clocks[0]))
            transports[0].faults = faults
