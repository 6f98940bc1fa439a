"""Access keys with real noded processes: every ObjectService and AdminService call is signed, the
cluster's first operator key comes from `nodectl admin init` with the cluster secret, and a
revoked or wrong key is refused on every node."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cluster_checks import metric
from nodectl.errors import AlreadyExists, Unauthenticated
from ringstore.auth import signing
from ringstore.auth.credentials import Credentials
from ringstore.auth.keys import new_access_key
from ringstore.v1 import admin_pb2, object_pb2, object_pb2_grpc

NODECTL = os.path.join(os.path.dirname(sys.executable), "nodectl")
UNKNOWN_OR_WRONG = "the signature does not match: check the access key id and secret"
# Every AdminService call that changes something, with a request that would be valid.
MUTATING_ADMIN = [
    ("SetRepairConfig", admin_pb2.SetRepairConfigRequest()),
    ("StartScrub", admin_pb2.StartScrubRequest()),
    ("DrainNode", admin_pb2.DrainNodeRequest(node_id="node-3", cancel=True)),
    ("SetMaintenance", admin_pb2.SetMaintenanceRequest(node_id="node-3", duration_s=0)),
    ("SetFaults", admin_pb2.SetFaultsRequest()),
]


def _admin_call(channel, name, request, metadata=()):
    response_cls = {"SetRepairConfig": admin_pb2.SetRepairConfigResponse, "StartScrub": admin_pb2.StartScrubResponse,
                    "DrainNode": admin_pb2.NodeStatus, "SetMaintenance": admin_pb2.NodeStatus,
                    "SetFaults": admin_pb2.SetFaultsResponse}[name]
    method = f"/ringstore.v1.AdminService/{name}"
    call = channel.unary_unary(method, request_serializer=type(request).SerializeToString,
                               response_deserializer=response_cls.FromString)
    return call(request, timeout=10, metadata=metadata)


def test_every_call_needs_a_valid_key_on_every_node(cluster_factory):
    """No key, an unknown key id and a wrong secret are UNAUTHENTICATED on every node with one line
    (the same for the last two), before anything is done; each is counted by reason; health stays
    open; a valid key works through every node."""
    cluster = cluster_factory(nodes=3, fault_injection=True)
    stranger = Credentials(*new_access_key())
    wrong_secret = Credentials(cluster.credentials.key_id, new_access_key()[1])
    for node in cluster.nodes.values():
        for credentials, message in ((False, "this call needs an access key"), (stranger, UNKNOWN_OR_WRONG),
                                     (wrong_secret, UNKNOWN_OR_WRONG)):
            with cluster.client(node.address, credentials=credentials, retries_max=0) as client:
                with pytest.raises(Unauthenticated) as info:
                    client.create_bucket("refused")
            assert message in str(info.value) and "\n" not in str(info.value), str(info.value)
            assert info.value.exit_code == 9
        with cluster.channel(node.address) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            for name, request in MUTATING_ADMIN:
                with pytest.raises(grpc.RpcError) as err:
                    _admin_call(channel, name, request)
                assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED, name
            forged = signing.sign(stranger.key_id, stranger.secret, "/ringstore.v1.AdminService/SetFaults", "")
            with pytest.raises(grpc.RpcError) as err:
                _admin_call(channel, "SetFaults", admin_pb2.SetFaultsRequest(), metadata=forged)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with cluster.client() as client:
        with pytest.raises(Exception):
            client.stat("refused", "anything")  # nothing above created it
        client.create_bucket("allowed")
    for node in cluster.nodes.values():
        with cluster.client(node.address) as client:
            assert "allowed" in [b.name for b in client.list_buckets()]
    failures = sum(metric(cluster, node_id, 'ringstore_auth_failures_total{reason="' + reason + '"}')
                   for node_id in cluster.nodes for reason in ("missing", "unknown_key", "bad_signature"))
    assert failures >= 3 * (3 + len(MUTATING_ADMIN) + 1)


def test_a_signature_for_another_resource_or_too_old_is_refused(cluster_factory):
    """A signature is bound to the method, the bucket and key, and its time: replayed on another
    object, on another method or outside the window it is UNAUTHENTICATED, naming the skew."""
    cluster = cluster_factory(nodes=3)
    key = cluster.credentials
    with cluster.client() as client:
        client.create_bucket("bound")
        client.put("bound", "a", b"x")
        client.put("bound", "b", b"y")
    stat = "/ringstore.v1.ObjectService/StatObject"
    with cluster.channel(cluster.any_address()) as channel:
        stub = object_pb2_grpc.ObjectServiceStub(channel)
        for_a = signing.sign(key.key_id, key.secret, stat, signing.resource("bound", "a"))
        assert stub.StatObject(object_pb2.StatObjectRequest(bucket="bound", key="a"), metadata=for_a, timeout=10)
        with pytest.raises(grpc.RpcError) as err:
            stub.StatObject(object_pb2.StatObjectRequest(bucket="bound", key="b"), metadata=for_a, timeout=10)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        old = signing.sign(key.key_id, key.secret, stat, signing.resource("bound", "a"),
                           now_ms=int(time.time() * 1000) - 900_000)
        with pytest.raises(grpc.RpcError) as err:
            stub.StatObject(object_pb2.StatObjectRequest(bucket="bound", key="a"), metadata=old, timeout=10)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED and "dated 900" in err.value.details()
        # A small put in one message signs the bucket and key of its header: a signature for "a"
        # cannot overwrite "b", and an unsigned one is refused.
        put_small = "/ringstore.v1.ObjectService/PutSmallObject"
        small_for_a = signing.sign(key.key_id, key.secret, put_small, signing.resource("bound", "a"))

        def small(object_key: str) -> object_pb2.PutSmallObjectRequest:
            return object_pb2.PutSmallObjectRequest(
                header=object_pb2.PutObjectHeader(bucket="bound", key=object_key), data=b"z",
                end=object_pb2.PutObjectEnd(size_bytes=1))
        for metadata in (small_for_a, None):
            with pytest.raises(grpc.RpcError) as err:
                stub.PutSmallObject(small("b"), metadata=metadata, timeout=10)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert stub.PutSmallObject(small("a"), metadata=small_for_a, timeout=10).object.size_bytes == 1
    with cluster.client() as client:
        assert client.get_bytes("bound", "b") == b"y" and client.get_bytes("bound", "a") == b"z"


def test_nodectl_admin_init_makes_the_operator_key_once(cluster_factory, tmp_path):
    """A TLS cluster nobody initialised refuses every call saying how to initialise it. `nodectl
    admin init` with the cluster secret prints the operator key once and saves it as a profile;
    the profile works on every node; a second init is refused (exit 6) and one with a wrong cluster
    secret is UNAUTHENTICATED (exit 9)."""
    cluster = cluster_factory(nodes=3, initialise=False)
    env = {**os.environ, "HOME": str(tmp_path), "RINGSTORE_ADDR": cluster.any_address(),
           "RINGSTORE_CA": cluster.ca_file}
    for name in ("RINGSTORE_ACCESS_KEY_ID", "RINGSTORE_SECRET_ACCESS_KEY", "RINGSTORE_CREDENTIALS_FILE"):
        env.pop(name, None)
    profile_file = tmp_path / ".config" / "ringstore" / "credentials"

    def nodectl(*args, extra=None):
        return subprocess.run([NODECTL, *args], capture_output=True, text=True, timeout=60,
                              env={**env, **(extra or {})})

    before = nodectl("ls")
    assert before.returncode == 9, before.stderr
    assert "nodectl admin init --cluster-secret-file" in before.stderr
    done = nodectl("admin", "init", "--cluster-secret-file", cluster.secret_file, "--save-profile", "ops")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("operator key: RK")
    assert oct(os.stat(profile_file).st_mode & 0o777) == "0o600"
    for node in cluster.nodes.values():
        listed = nodectl("--profile", "ops", "--addr", node.address, "mb", f"made-{node.node_id}")
        assert listed.returncode == 0, listed.stderr
    again = nodectl("admin", "init", "--cluster-secret-file", cluster.secret_file)
    assert again.returncode == 6 and "initialised already" in again.stderr, again.stderr
    wrong = tmp_path / "wrong.secret"
    wrong.write_text("00" * 32)
    wrong.chmod(0o600)
    refused = nodectl("admin", "init", "--cluster-secret-file", str(wrong))
    assert refused.returncode == 9 and "not signed with this cluster's key" in refused.stderr, refused.stderr


def test_init_with_a_given_key_is_idempotent(cluster_factory, session_operator):
    """cluster-sim initialises with the session's key; asking again with that key answers
    created=False, with another key ALREADY_EXISTS."""
    cluster = cluster_factory(nodes=3)
    with open(cluster.secret_file, "rb") as f:
        cluster_key = f.read().strip()
    with cluster.client(credentials=False) as client:
        again = client.init_cluster(cluster_key, key_id=session_operator.key_id, secret=session_operator.secret)
        assert (again.key_id, again.created) == (session_operator.key_id, False)
        other = Credentials(*new_access_key())
        with pytest.raises(AlreadyExists):
            client.init_cluster(cluster_key, key_id=other.key_id, secret=other.secret)
