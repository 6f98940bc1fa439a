"""Bucket creation and removal are linearizable per name, through a real 5-node cluster.

Five clients, one per node, create one name at the same moment with five different policies: exactly
one is told "created", every other one ALREADY_EXISTS, the policy every node lists is the one the
winner was told, and an object put through another node is stored under it. A removal racing
clients that keep creating the name frees it for exactly one of them, and every node agrees which.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading

import pytest

from cluster_checks import raw_channel
from nodectl.client import BucketInfo, Client
from nodectl.errors import AlreadyExists, NotFound

CLUSTER_NODES = 5
CREATE_ROUNDS = 50
DELETE_RACE_ROUNDS = 20
# The five creators' policies: all different, so the one stored says who won.
POLICIES = ({"replicas": 1}, {"replicas": 2}, {"replicas": 3}, {"ec": "2+1"}, {"ec": "3+2"})
CLIENT_TIMEOUT_S = 30.0
# Creates one racing client makes while waiting for the removal to answer (it takes a few).
CREATE_ATTEMPTS_MAX = 500


@pytest.fixture(scope="module")
def cluster(module_cluster):
    return module_cluster


@pytest.fixture(scope="module")
def clients(cluster):
    """One client per node, in node order."""
    opened = [Client(address=address, timeout_s=CLIENT_TIMEOUT_S) for address in cluster.addresses()]
    try:
        yield opened
    finally:
        for client in opened:
            client.close()


def race(calls):
    """Run the calls at the same moment (a barrier), one thread each; their results or errors."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        try:
            return call()
        except Exception as err:  # noqa: BLE001 - the test sorts outcomes
            return err

    with cf.ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def views(clients, name):
    """What every node lists for `name`: its policy, or None when the bucket is not listed."""
    out = []
    for client in clients:
        found = [b for b in client.list_buckets() if b.name == name]
        out.append(found[0].policy if found else None)
    return out


def test_five_creators_through_five_nodes_exactly_one_is_told_created(clients):
    """50 rounds of five concurrent creates of one name through five nodes, five policies: each round
    exactly one OK and four ALREADY_EXISTS; every node lists the winner's policy, and an object put
    through another node without a policy is stored under it."""
    for round_no in range(CREATE_ROUNDS):
        name = f"race-{round_no}"
        outcomes = race([lambda c=c, p=p: c.create_bucket(name, **p) for c, p in zip(clients, POLICIES)])
        won = [(i, o) for i, o in enumerate(outcomes) if isinstance(o, BucketInfo)]
        assert len(won) == 1, f"round {round_no}: {outcomes}"
        winner, told = won[0]
        lost = [o for i, o in enumerate(outcomes) if i != winner]
        assert all(isinstance(o, AlreadyExists) for o in lost), f"round {round_no}: {outcomes}"
        assert all(told.policy in str(o) for o in lost), f"round {round_no}: {outcomes}"
        assert views(clients, name) == [told.policy] * CLUSTER_NODES, f"round {round_no}"
        stored = clients[(winner + 1) % CLUSTER_NODES].put(name, "k", b"x")
        assert stored.policy == told.policy, f"round {round_no}"


def test_remove_racing_creates_frees_the_name_for_exactly_one(clients):
    """A bucket with replicas=1 is removed through one node while two clients on two other nodes keep
    creating the name (replicas=2, replicas=3) until a create they started after the removal
    returned has an answer. Linearizable: the removal succeeds (the bucket exists until it does),
    then exactly one create is told created and the other ALREADY_EXISTS naming the winner's
    policy, and every node lists the winner's policy."""
    for round_no in range(DELETE_RACE_ROUNDS):
        name = f"remove-race-{round_no}"
        clients[0].create_bucket(name, replicas=1)
        removed_event = threading.Event()

        def remove():
            try:
                clients[1].delete_bucket(name)
            finally:
                removed_event.set()

        def create(client, replicas):
            for _ in range(CREATE_ATTEMPTS_MAX):
                after_removal = removed_event.is_set()
                try:
                    return client.create_bucket(name, replicas=replicas)
                except AlreadyExists as err:
                    if after_removal:
                        return err
            return f"no answer after {CREATE_ATTEMPTS_MAX} creates"

        removed, *created = race([remove, lambda: create(clients[2], 2), lambda: create(clients[3], 3)])
        assert removed is None, f"round {round_no}: the removal said {removed!r}"
        won = [o for o in created if isinstance(o, BucketInfo)]
        assert len(won) == 1, f"round {round_no}: {created}"
        lost = [o for o in created if o is not won[0]]
        assert isinstance(lost[0], AlreadyExists) and won[0].policy in str(lost[0]), f"round {round_no}: {created}"
        assert views(clients, name) == [won[0].policy] * CLUSTER_NODES, f"round {round_no}: {created}"


def test_a_retried_request_gets_its_own_answer_and_others_do_not(cluster):
    """A create sent again with its request id (an answer lost, the client retries) through another
    node is told created with the same record; another request for the same policy is
    ALREADY_EXISTS. A removal sent again with its request id is OK; another one is NOT_FOUND. A
    request id longer than 64 bytes is INVALID_ARGUMENT."""
    import grpc

    from ringstore.v1 import common_pb2, object_pb2

    policy = common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=2))
    first, second = cluster.addresses()[:2]

    def call(address, method, request, response_cls):
        with raw_channel(address) as channel:
            rpc = channel.unary_unary(f"/ringstore.v1.ObjectService/{method}",
                                      request_serializer=type(request).SerializeToString,
                                      response_deserializer=response_cls.FromString)
            return rpc(request, timeout=CLIENT_TIMEOUT_S)

    def create(address, request_id):
        request = object_pb2.CreateBucketRequest(bucket="retried", default_policy=policy, request_id=request_id)
        return call(address, "CreateBucket", request, object_pb2.CreateBucketResponse).bucket

    def remove(address, request_id):
        request = object_pb2.DeleteBucketRequest(bucket="retried", request_id=request_id)
        return call(address, "DeleteBucket", request, object_pb2.DeleteBucketResponse)

    created = create(first, "create-1")
    again = create(second, "create-1")
    assert (again.version, again.default_policy) == (created.version, created.default_policy)
    with pytest.raises(grpc.RpcError) as err:
        create(second, "create-2")
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS and "replicas=2" in err.value.details()
    remove(first, "remove-1")
    remove(second, "remove-1")
    with pytest.raises(grpc.RpcError) as err:
        remove(second, "remove-2")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        create(first, "x" * 65)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "64" in err.value.details()


def test_once_a_removal_answered_no_node_accepts_a_put_into_the_bucket(clients):
    """Every node has the bucket in its 2 s lookup cache (each just stored an object in it); once
    `rb` through one node has answered, a put through any node is NOT_FOUND: the removal told every
    ALIVE node to forget the bucket before answering."""
    name = "cached-then-removed"
    clients[0].create_bucket(name, replicas=2)
    for client in clients:
        client.put(name, "k", b"warm the cache")
    clients[0].delete(name, "k")
    clients[0].delete_bucket(name)
    for index, client in enumerate(clients):
        with pytest.raises(NotFound, match="does not exist"):
            client.put(name, f"after-{index}", b"x")
