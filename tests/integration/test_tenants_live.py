"""Tenants and their keys with real noded processes: the isolation matrix through every node,
key scopes, revocation in force on every node, and admin calls refused to tenant keys."""

from __future__ import annotations

import time

import pytest

from nodectl.errors import NotFound, PermissionDenied, Unauthenticated
from ringstore.auth.credentials import Credentials

REVOKE_DEADLINE_S = 10.0


def _key(client, tenant, **scopes) -> Credentials:
    made = client.create_key(tenant, **scopes)
    return Credentials(made.key.key_id, made.secret)


@pytest.fixture(scope="module")
def tenants(module_cluster):
    """Tenants alice and bob, each with a key and a bucket holding one object."""
    cluster = module_cluster
    with cluster.client() as operator:
        for name in ("alice", "bob"):
            operator.create_tenant(name)
        keys = {name: _key(operator, name) for name in ("alice", "bob")}
    for name, key in keys.items():
        with cluster.client(credentials=key) as client:
            client.create_bucket(f"{name}-data")
            client.put(f"{name}-data", "docs/readme", f"{name}'s".encode())
    return cluster, keys


CLUSTER_NODES = 3


def test_a_tenant_cannot_touch_another_tenants_bucket_through_any_node(tenants):
    """Every object call of bob on alice's bucket is PERMISSION_DENIED naming the action and the
    bucket, through every node; bob does not see alice's bucket listed; alice's object is unchanged."""
    cluster, keys = tenants
    for node in cluster.nodes.values():
        with cluster.client(node.address, credentials=keys["bob"], retries_max=0) as bob:
            assert [b.name for b in bob.list_buckets()] == ["bob-data"]
            attempts = {
                "list": lambda: list(bob.list_objects("alice-data")),
                "stat": lambda: bob.stat("alice-data", "docs/readme"),
                "get": lambda: bob.get_bytes("alice-data", "docs/readme"),
                "put": lambda: bob.put("alice-data", "docs/readme", b"overwritten"),
                "delete": lambda: bob.delete("alice-data", "docs/readme"),
                "convert": lambda: bob.convert("alice-data", "docs/readme", replicas=2),
                "remove-bucket": lambda: bob.delete_bucket("alice-data"),
            }
            for action, attempt in attempts.items():
                with pytest.raises(PermissionDenied) as info:
                    attempt()
                assert f"may not {action} in bucket 'alice-data'" in str(info.value), (action, str(info.value))
                assert info.value.exit_code == 11
            with pytest.raises(NotFound):
                bob.stat("no-such-bucket", "x")
    with cluster.client(credentials=keys["alice"]) as alice:
        assert alice.get_bytes("alice-data", "docs/readme") == b"alice's"
        assert [b.name for b in alice.list_buckets()] == ["alice-data"]
    with cluster.client() as operator:
        assert {"alice-data", "bob-data"} <= {b.name for b in operator.list_buckets()}


def test_key_scopes_narrow_what_a_key_may_do(tenants):
    """A read-only key reads but cannot write; a bucket key stays in its bucket; a prefix key
    cannot read, write or list outside its prefix."""
    cluster, _ = tenants
    with cluster.client() as operator:
        reader = _key(operator, "alice", read_only=True)
        other_bucket = _key(operator, "alice", bucket="alice-logs")
        prefixed = _key(operator, "alice", prefix="docs/")
    with cluster.client(credentials=reader, retries_max=0) as client:
        assert client.get_bytes("alice-data", "docs/readme") == b"alice's"
        with pytest.raises(PermissionDenied, match="is read-only: it may not put"):
            client.put("alice-data", "new", b"x")
        with pytest.raises(PermissionDenied, match="is read-only: it cannot create bucket"):
            client.create_bucket("alice-more")
    with cluster.client(credentials=other_bucket, retries_max=0) as client:
        with pytest.raises(PermissionDenied, match="is limited to bucket 'alice-logs'"):
            client.stat("alice-data", "docs/readme")
        client.create_bucket("alice-logs")
        client.put("alice-logs", "today", b"log")
        assert [b.name for b in client.list_buckets()] == ["alice-logs"]
    with cluster.client(credentials=prefixed, retries_max=0) as client:
        client.put("alice-data", "docs/more", b"more")
        assert [o.key for o in client.list_objects("alice-data", prefix="docs/")] == ["docs/more", "docs/readme"]
        for attempt in (lambda: client.put("alice-data", "private/x", b"x"),
                        lambda: client.get_bytes("alice-data", "private/x"),
                        lambda: list(client.list_objects("alice-data"))):
            with pytest.raises(PermissionDenied, match="is limited to keys starting with 'docs/'"):
                attempt()


def test_tenant_keys_cannot_call_admin_and_cannot_make_keys(tenants):
    """Every AdminService call from a tenant's key is PERMISSION_DENIED naming the method."""
    cluster, keys = tenants
    with cluster.client(credentials=keys["alice"], retries_max=0) as alice:
        for call in (alice.cluster_status, alice.list_tenants, lambda: alice.create_key("alice"),
                     lambda: alice.drain_node("node-1"), lambda: alice.set_maintenance("node-1", 60)):
            with pytest.raises(PermissionDenied, match="needs the operator's key"):
                call()


def test_a_revoked_key_is_refused_on_every_node_within_seconds(tenants):
    """Revoke through node-1; every node refuses the key within REVOKE_DEADLINE_S (the credential
    cache is 2 s); `key ls` shows it revoked; the tenant's other keys keep working."""
    cluster, keys = tenants
    with cluster.client(cluster.nodes["node-1"].address) as operator:
        doomed = _key(operator, "bob")
        for node in cluster.nodes.values():  # every node has it cached as valid
            with cluster.client(node.address, credentials=doomed) as client:
                client.stat("bob-data", "docs/readme")
        revoked_at = time.monotonic()
        operator.revoke_key(doomed.key_id)
        listed = {k.key_id: k for k in operator.list_keys("bob")}
        assert listed[doomed.key_id].state == "revoked"
    refused_after = {}
    for node_id, node in cluster.nodes.items():
        with cluster.client(node.address, credentials=doomed, retries_max=0) as client:
            while True:
                try:
                    client.stat("bob-data", "docs/readme")
                except Unauthenticated as err:
                    assert f"access key {doomed.key_id} was revoked at" in str(err)
                    refused_after[node_id] = time.monotonic() - revoked_at
                    break
                assert time.monotonic() - revoked_at < REVOKE_DEADLINE_S, f"{node_id} still takes the revoked key"
                time.sleep(0.1)
    print(f"revoked key refused after: {refused_after}")
    with cluster.client(credentials=keys["bob"]) as bob:
        assert bob.get_bytes("bob-data", "docs/readme") == b"bob's"


def test_tenant_management_errors_are_one_line(tenants):
    cluster, _ = tenants
    with cluster.client(retries_max=0) as operator:
        with pytest.raises(Exception, match="reserved"):
            operator.create_tenant("operator")
        with pytest.raises(Exception, match="exists already"):
            operator.create_tenant("alice")
        with pytest.raises(NotFound, match="tenant 'nobody' does not exist"):
            operator.create_key("nobody")
        with pytest.raises(Exception, match="owns 1 bucket"):
            operator.delete_tenant("bob")
        operator.create_tenant("carol")
        carol = _key(operator, "carol")
        assert operator.delete_tenant("carol") == 1
    with cluster.client(credentials=carol, retries_max=0) as client:
        with pytest.raises(Unauthenticated, match="was revoked"):
            client.list_buckets()

